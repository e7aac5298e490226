#!/usr/bin/env python3
# Checks a delivery from printmeter:
#   verify_signature.py SECRET TIMESTAMP SIGNATURE BODY_FILE
import hashlib, hmac, sys, time

def verify(secret: bytes, timestamp: str, signature: str, body: bytes) -> bool:
    """timestamp, signature: the X-Printmeter-Timestamp and
    X-Printmeter-Signature headers; body: the request's bytes as received."""
    mac = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256)
    fresh = abs(time.time() - int(timestamp)) < 300  # refuse old replays
    return fresh and hmac.compare_digest("sha256=" + mac.hexdigest(), signature)

if __name__ == "__main__":
    secret, timestamp, signature, path = sys.argv[1:5]
    with open(path, "rb") as f:
        sys.exit(0 if verify(secret.encode(), timestamp, signature, f.read()) else 1)

// One delivery: the HTTP request a target receives for a logged event (body,
// headers, signature), and a POST of it with a deadline.
//
// Headers: X-Printmeter-Event and Idempotency-Key (the event's id in the
// log, the same on every retry and after restarts), X-Printmeter-Device,
// X-Printmeter-Timestamp (unix seconds of this attempt) and, with a secret,
// X-Printmeter-Signature: "sha256=" + hex HMAC-SHA256(secret, TIMESTAMP +
// "." + BODY).
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "forward/options.h"
#include "store/store.h"

namespace pm {

// An http:// URL taken apart. kInvalid, saying why, for anything else
// (https:// is refused: forwarding speaks plain HTTP, e.g. to a local
// relay).
struct HttpUrl {
  std::string host;
  std::string port;    // "80" when none is given
  std::string target;  // path and query, "/" when empty
};
Result<HttpUrl> ParseHttpUrl(std::string_view url);

// `url` with any user info taken out, fit for logs and the API.
std::string UrlWithoutCredentials(std::string_view url);

struct Delivery {
  int64_t event_id = 0;
  std::string device;
  std::string content_type;
  std::string body;
};

// The original request as received, its picture put back where it was cut
// out; nullopt for an event with no request (a `swept`).
std::optional<Delivery> OriginalDelivery(const EventRecord& record);

// hex(HMAC-SHA256(secret, timestamp + "." + body)).
std::string Signature(std::string_view secret, int64_t timestamp,
                      std::string_view body);

// Headers of one attempt at `timestamp` (unix seconds), signed when
// `secret` is not empty.
std::map<std::string, std::string> DeliveryHeaders(const Delivery& d,
                                                   std::string_view secret,
                                                   int64_t timestamp);

// Cancels a Post in flight from another thread.
class PostCanceller {
 public:
  void Cancel();
  // Called by Post: `cancel` runs on Cancel() (at once when already
  // cancelled); Reset() forgets it.
  void Set(std::function<void()> cancel);
  void Reset();

 private:
  std::mutex mu_;
  bool cancelled_ = false;                // guarded by mu_
  std::function<void()> cancel_;          // guarded by mu_
};

// POSTs `body` with `headers` to `url` (HTTP/1.1, connection closed after)
// and returns the status code. kUnavailable when it cannot connect, send or
// read an answer within `timeout`, or when cancelled.
Result<int> Post(const HttpUrl& url,
                 const std::map<std::string, std::string>& headers,
                 const std::string& body, std::chrono::milliseconds timeout,
                 PostCanceller* canceller = nullptr);

}  // namespace pm

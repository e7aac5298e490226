// One delivery: the HTTP request a target receives for a logged event (body,
// headers, signature), and a POST of it with a deadline over a target's
// kept-alive connection (HTTP, or HTTPS verified against the system's CAs or
// the target's ca_file).
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
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "forward/options.h"
#include "store/store.h"

namespace pm {

// An http:// or https:// URL taken apart. kInvalid, saying why, for
// anything else.
struct HttpUrl {
  bool tls = false;  // https://
  std::string host;
  std::string port;    // "80" (http) or "443" (https) when none is given
  std::string target;  // path and query, "/" when empty
};
Result<HttpUrl> ParseHttpUrl(std::string_view url);

// `url` with any user info taken out, fit for logs and the API.
std::string UrlWithoutCredentials(std::string_view url);

struct Delivery {
  int64_t event_id = 0;  // the log's event; 0 for a notice
  std::string device;
  std::string content_type;
  std::string body;
  // X-Printmeter-Event and Idempotency-Key when not empty (a notice's own
  // stable id, e.g. "maintenance:mk3:nozzle:1718000000000"); else event_id.
  std::string key;
};

// The original request as received, its picture put back where it was cut
// out (a request with its fields in the query string and no body, as a GET
// sends them: the query as an x-www-form-urlencoded body), and the
// printer's secret masked (decode/mask.h: `apiSecret` and the
// like become "********", everything else byte for byte): a target has no
// use for it, and whoever runs one could pose as the printer with it.
// nullopt for an event with no request (a `swept`), and for a body that
// cannot be read well enough to mask it with certainty (MaskBody), which is
// then not sent at all; `unsent` (when given) says why in that case.
std::optional<Delivery> OriginalDelivery(const EventRecord& record,
                                         std::string* unsent = nullptr);

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

// One target's connection, kept alive between POSTs and opened again when
// the server closed it or an attempt failed. Not thread-safe: one owner
// (the target's thread); Cancel() alone may come from another thread
// through the PostCanceller.
class TargetConnection {
 public:
  // For https, `ca_file` (PEM) holds the CAs trusted in place of the
  // system's store ("": the system's).
  explicit TargetConnection(HttpUrl url, std::string ca_file = "");
  ~TargetConnection();
  TargetConnection(const TargetConnection&) = delete;
  TargetConnection& operator=(const TargetConnection&) = delete;

  // Loads the trusted CAs for https: kInvalid naming ca_file when it cannot
  // be read as PEM certificates. Call once before Post.
  Status Init();

  // POSTs `body` with `headers` (HTTP/1.1, kept alive) and returns the
  // status code. kUnavailable, saying which step failed, when it cannot
  // connect, verify the server's certificate ("certificate verify failed:
  // REASON for host HOST"), send, or read an answer within `timeout`, or
  // when cancelled. A request that fails on a reused connection before any
  // answer (the server had closed it) is sent once more on a new one.
  Result<int> Post(const std::map<std::string, std::string>& headers,
                   const std::string& body, std::chrono::milliseconds timeout,
                   PostCanceller* canceller = nullptr);

  // Connections opened so far (TCP connects that succeeded).
  int opened() const { return opened_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int opened_ = 0;
};

}  // namespace pm

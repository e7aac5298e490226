// The read side over HTTP: /api/v1/..., /metrics (api.md "HTTP").
//
// Transport-free: the HTTP server (http/server.h) turns a request into an
// ApiRequest, calls Api::Handle on a thread that may block on the store, and
// writes the ApiResponse back. Everything here reads through the Store
// interface only, so every store implementation gets it.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/options.h"
#include "common/time.h"
#include "store/store.h"

namespace pm {

struct ApiRequest {
  std::string_view method;         // "GET", "PUT", ...
  std::string_view target;         // path and query, "/api/v1/sessions?x=1"
  std::string_view authorization;  // Authorization header, "" when absent
  std::string_view body;
  bool from_loopback = false;  // the peer is 127.0.0.0/8 or ::1
};

struct ApiResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
};

// Counters the receiver feeds for /metrics (webhook requests by result and
// their latency). Thread-safe.
class ReceiverMetrics {
 public:
  virtual ~ReceiverMetrics() = default;
  // result: "stored", "duplicate", "test", or the rejection ("invalid",
  // "unauthorized", "forbidden", "too_large", "unsupported", "unavailable").
  virtual void RecordWebhook(std::string_view device, std::string_view result,
                             double latency_s) = 0;
};

class Api {
 public:
  virtual ~Api() = default;
  // Whether `path` (no query) is served here: /api/..., /metrics.
  static bool Serves(std::string_view path);
  virtual ApiResponse Handle(const ApiRequest& request) = 0;
  // The counters the receiver must feed.
  virtual ReceiverMetrics& metrics() = 0;
};

// Attributes a session to a person (PUT /api/v1/sessions/{id}/user): a
// write, so `serve` passes its single writer's (IngestWriter::Attribute).
using AttributeFn = std::function<Status(int64_t session, const std::string& user)>;

// An Api over `store`, answering as `options` say; it keeps a copy of them.
// `store`, `clock` and what `attribute` refers to must outlive it. Without
// `attribute` (a process with no ingest writer, such as a test of the read
// side) attributions are written through the store's own writer connection.
std::unique_ptr<Api> MakeApi(Store& store, const ApiOptions& options,
                             const Clock& clock, AttributeFn attribute = {});

}  // namespace pm

// Server: printmeter's HTTP front (Boost.Beast on Asio, C++20 coroutines).
//
// Routes (a table in server.cc):
//   POST/PUT/GET/DELETE .../webhook, .../webhook/{device}  the receiver
//   GET /healthz, GET /readyz                              liveness, storage
//   /api/..., /metrics                                     the Api (api.h)
//   GET /api/v1/stream                                     server-sent events
//   any other GET/HEAD                                     the dashboard
//                                                          (embedded, or
//                                                          files in web_root)
// The receiver decodes on the I/O threads, hands the event to the
// IngestWriter and answers only after the writer committed it (ledger.md
// section 2). Every rejection is logged and counted in Api::metrics().
//
// Live updates: when the Api answers 200 with text/event-stream (after its
// token check), the connection stays open and gets the Api's opening, then
// an event `printer` ({"device","event"}) for every stored webhook that is
// neither a test nor a duplicate, an event `session` ({"session"}) for every
// successful change through the API (an attribution), and a comment line
// every stream_keepalive. At most max_streams are open; more get 503.
//
// Limits a hostile client cannot get past are in ServerOptions (options.h); a client that
// breaks one gets its status code (400, 413, 414, 431, 503) or, when it is
// too slow, a closed connection, while the others keep being served: however
// many idle, slow or half-sent connections clients hold, a new connection's
// request is read at once, and large bodies reach the writer one at a time
// so that a small webhook never waits behind several snapshots.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "api/api.h"
#include "common/result.h"
#include "common/time.h"
#include "http/options.h"
#include "ingest/writer.h"
#include "store/store.h"

namespace pm {

// Splits "HOST:PORT" ("0.0.0.0:8080", "[::1]:8080", ":8080") into the
// options; an error a person can act on otherwise.
Status ParseListen(const std::string& listen, ServerOptions& options);

class Server {
 public:
  // `store`, `writer` and `clock` must outlive the server; `api` may be
  // null (then /api and /metrics answer 404).
  Server(ServerOptions options, Store& store, IngestWriter& writer, Api* api,
         const Clock& clock);
  ~Server();  // Stop()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts serving on the I/O threads. An error naming the address
  // and the reason when it cannot bind.
  Status Start();
  // The port it listens on (after Start).
  uint16_t port() const;
  // Stops accepting, lets in-flight requests finish (their writes committed
  // and answered, at most `grace`), then closes every connection and joins
  // the I/O threads. The writer keeps running: stop it afterwards. Idempotent.
  void Stop(TimeMs grace = 10 * kSecondMs);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pm

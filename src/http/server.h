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
// Limits a hostile client cannot get past are in ServerOptions; a client that
// breaks one gets its status code (400, 413, 414, 431, 503) or, when it is
// too slow, a closed connection, while the others keep being served: however
// many idle, slow or half-sent connections clients hold, a new connection's
// request is read at once, and large bodies reach the writer one at a time
// so that a small webhook never waits behind several snapshots.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "api/api.h"
#include "common/result.h"
#include "common/time.h"
#include "decode/decode.h"
#include "http/embedded_files.h"
#include "ingest/writer.h"
#include "store/store.h"

namespace pm {

struct ServerOptions {
  std::string host = "0.0.0.0";
  uint16_t port = 8080;               // 0: any free port (see Server::port)
  int io_threads = 2;
  size_t max_body = 1 << 20;          // 1 MiB
  size_t max_snapshot_body = 16 << 20;  // 16 MiB, multipart with a snapshot
  size_t max_header = 16 << 10;       // 16 KiB (431 beyond)
  size_t max_target = 8 << 10;        // 8 KiB (414 beyond)

  // Connections (request_reader.h, connection_table.h). Over a cap, idle
  // and then the slowest unfinished connections are closed to serve a new
  // one. When every slot holds a request being answered (milliseconds
  // each), the new one waits up to admit_wait for one of them to finish,
  // then gets 503; at most max_connections wait at once, more get 503 at
  // once. The process's open-file limit is raised to fit max_connections
  // when it allows.
  size_t max_connections = 1024;
  size_t max_connections_per_client = 256;
  TimeMs admit_wait = kSecondMs;
  TimeMs header_timeout = 10 * kSecondMs;  // from a request's first byte
  TimeMs idle_timeout = 30 * kSecondMs;    // between kept-alive requests
  TimeMs body_timeout = 10 * kSecondMs;    // a body's allowance, plus:
  size_t min_body_rate = 64 << 10;         // bytes/s: each adds a second
  TimeMs write_timeout = 10 * kSecondMs;   // for the client to read an answer

  // Bodies held at once (upload_budget.h). A body over the budget waits up
  // to upload_wait, then gets 503. A budget below max_snapshot_body refuses
  // the largest snapshots.
  size_t upload_budget = 32 << 20;
  size_t small_body = 64 << 10;     // never waits behind large ones
  size_t small_headroom = 8 << 20;  // room only small bodies may use
  TimeMs upload_wait = 2 * kSecondMs;

  DecodeLimits decode;
  // The dashboard built into the binary (EmbeddedDashboard()), served when
  // web_root is "". Empty: "/" says how to get a dashboard.
  std::span<const EmbeddedFile> dashboard;
  // A built dashboard on disk (web/dist) to serve instead, for developing it.
  std::string web_root;
  // Live dashboards (GET /api/v1/stream) open at once; each holds a
  // connection, so keep this well under max_connections.
  size_t max_streams = 16;
  TimeMs stream_keepalive = 15 * kSecondMs;  // a comment line this often
};

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

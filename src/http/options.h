// ServerOptions: the HTTP front's options (server.h, request_reader.h),
// owned here and filled in by the shell (cli/) from the configuration.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "common/time.h"
#include "decode/decode.h"
#include "http/embedded_files.h"

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

}  // namespace pm

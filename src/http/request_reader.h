// ReadRequest: reads one HTTP request off a connection, within the time and
// memory a printer's request needs and no more (ledger.md section 2).
//
// - Idle: a kept-alive connection may wait `idle_timeout` for its next
//   request; a fresh one gets `header_timeout` from its accept.
// - Headers: whole within `header_timeout` of the request's first byte (of
//   the accept, on a fresh connection), at most `max_header` bytes (431),
//   a target of at most `max_target` bytes (414).
// - Body: `body_timeout` plus one second for every `min_body_rate` bytes
//   received so far, so a big snapshot over slow Wi-Fi arrives while a
//   body trickled a byte a second is cut off after about `body_timeout`.
//   Its size is reserved in the UploadBudget first; without room after
//   `upload_wait`, the request is refused with 503 before its body is read.
//
// The caller owns the stream, the buffer (which may hold pipelined bytes of
// the next request afterwards) and the parser; `activity` is kept up to date
// for the ConnectionTable.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <string>

#include "common/time.h"
#include "decode/decode.h"
#include "http/connection_table.h"
#include "http/options.h"
#include "http/upload_budget.h"

namespace pm {

using HttpRequest =
    boost::beast::http::request<boost::beast::http::string_body>;
using RequestParser =
    boost::beast::http::request_parser<boost::beast::http::string_body>;

struct ReadContext {
  const ServerOptions& options;
  Activity& activity;
  UploadLease& lease;
  bool fresh = true;    // the connection's first request
  SteadyTime accepted;  // when the connection was accepted
  // Counted up once the headers are in (the request is then in flight for
  // Server::Stop); the caller counts it down when the answer is written.
  std::atomic<size_t>* in_flight = nullptr;
};

struct ReadOutcome {
  enum Kind {
    kRequest,  // the parser holds a whole request
    kClosed,   // the client left or was too slow: close without answering
    kRefused,  // answer `status` with `message`, then close
  };
  Kind kind = kClosed;
  bool counted = false;  // whether in_flight was counted up
  int status = 0;
  std::string message;  // kRefused: the answer's error; kClosed: why, for
                        // the log ("" when the client simply went away)
};

// Reads the next request into `parser` (see the file comment).
boost::asio::awaitable<ReadOutcome> ReadRequest(
    boost::beast::tcp_stream& stream, boost::beast::flat_buffer& buffer,
    RequestParser& parser, ReadContext ctx);

// The refusal for a parse error of the headers or body: 431, 414, 413 or
// 400, in words a person can act on. `buffer` holds the unparsed bytes.
ReadOutcome RefusalFor(const boost::beast::error_code& ec,
                       const boost::beast::flat_buffer& buffer,
                       const ServerOptions& options);

// The decoder's view of a request read whole, received at `received_at`:
// its method, target, Content-Type, Authorization, X-Api-Key and body. The
// view points into `req`, which must outlive it.
Request DecoderRequest(const HttpRequest& req, TimeMs received_at);

}  // namespace pm

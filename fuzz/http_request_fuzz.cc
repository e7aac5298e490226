// libFuzzer target for the receiver's request reading: the bytes a client
// sends on one connection, read by the server's own ReadRequest
// (src/http/request_reader.h) with ServerOptions' defaults, one request after
// the other as the server's connection loop does (pipelined requests
// included), each request read whole turned into the decoder's Request
// (DecoderRequest) and decoded, and the stored request masked for display.
//
// The connection is one end of a local socket pair on an io_context; the
// client writes the input on the other end and then shuts it, so the reader
// meets the end of the bytes as a server meets a client that left.
//
// Input: raw HTTP/1.1 bytes, e.g. a fixture's .http file.
#include <sys/socket.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>

#include "decode/decode.h"
#include "decode/mask.h"
#include "http/request_reader.h"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

constexpr pm::TimeMs kReceived = 1'700'000'000'123;

const pm::ServerOptions& Options() {
  static const pm::ServerOptions options;
  return options;
}

void Check(bool promise, const char* what) {
  if (!promise) {
    std::fprintf(stderr, "broken promise: %s\n", what);
    std::abort();
  }
}

// What the receiver does with a request it read whole (server.cc Webhook).
void Receive(const pm::HttpRequest& req) {
  const pm::ServerOptions& o = Options();
  Check(req.target().size() <= o.max_target, "a longer target is refused");
  const pm::Request r = pm::DecoderRequest(req, kReceived);
  const auto decoded = pm::Decode(r, o.decode);
  if (!decoded) {
    Check(!decoded.error().message.empty(), "errors have a message");
    return;
  }
  if (r.body.size() > o.max_body && !decoded->snapshot) return;  // 413
  // What the API would show of the stored request: the secrets masked,
  // nothing else changed.
  const std::string auth = pm::MaskHeader("Authorization", r.authorization);
  Check(r.authorization.empty() || auth != r.authorization ||
            auth.find("********") != std::string::npos,
        "an Authorization header is masked");
  const auto body = pm::MaskBody(r.content_type, r.body);
  if (!body) return;
  const std::string target = pm::MaskTarget(r.target);
  pm::Request masked = r;
  masked.body = *body;
  masked.target = target;
  const auto again = pm::Decode(masked, o.decode);
  Check(again.ok(), "a masked request still decodes");
  Check(again->event == decoded->event, "masking keeps the event");
}

// A refusal is one of the receiver's statuses, with a JSON error to send.
void CheckRefusal(const pm::ReadOutcome& read) {
  const int s = read.status;
  Check(s == 400 || s == 413 || s == 414 || s == 431 || s == 503,
        "a refusal is 400, 413, 414, 431 or 503");
  Check(read.message.starts_with("{\"error\":"), "a refusal says why");
}

// The server's connection loop (server.cc Serve) without the answers:
// requests are read until the client leaves, one is refused, or one does
// not keep the connection alive.
asio::awaitable<void> Serve(beast::tcp_stream& stream, bool& finished) {
  const pm::ServerOptions& o = Options();
  pm::UploadBudget budget({o.upload_budget, o.small_body, o.small_headroom});
  pm::Activity activity;
  beast::flat_buffer buffer;
  const auto accepted = std::chrono::steady_clock::now();
  for (bool fresh = true, keep_alive = true; keep_alive; fresh = false) {
    pm::RequestParser parser;
    pm::UploadLease lease(budget);
    pm::ReadContext ctx{o, activity, lease, fresh, accepted, nullptr};
    pm::ReadOutcome read = co_await pm::ReadRequest(stream, buffer, parser, ctx);
    if (read.kind == pm::ReadOutcome::kRefused) CheckRefusal(read);
    if (read.kind != pm::ReadOutcome::kRequest) break;
    Check(parser.is_done(), "a request is read whole");
    pm::HttpRequest request = parser.release();
    keep_alive = request.keep_alive();
    Receive(request);
  }
  finished = true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    std::perror("socketpair");
    std::abort();
  }
  asio::io_context ioc;
  // The server's end in the stream type it reads from; asio reads and
  // writes the descriptor alike whatever its address family.
  beast::tcp_stream stream(ioc);
  stream.socket().assign(asio::ip::tcp::v4(), fds[0]);
  asio::local::stream_protocol::socket client(ioc);
  client.assign(asio::local::stream_protocol(), fds[1]);
  asio::async_write(client, asio::buffer(data, size),
                    [&client](const beast::error_code&, size_t) {
                      beast::error_code ignored;
                      client.shutdown(asio::socket_base::shutdown_send,
                                      ignored);
                    });
  bool finished = false;
  asio::co_spawn(ioc, Serve(stream, finished), [&](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);  // a crash for libFuzzer
    beast::error_code ignored;
    client.close(ignored);  // a write the reader stopped taking ends too
  });
  ioc.run();
  Check(finished, "the reader ends when the client's bytes end");
  return 0;
}

// libFuzzer target for the receiver's request reading: the bytes a client
// sends on one connection, read as the server reads them (Boost.Beast's
// request parser with ServerOptions' limits: 16 KiB of headers, 8 KiB of
// target, a 1 MiB body or 16 MiB with a snapshot part; pipelined requests
// one after the other), then turned into the decoder's Request the way the
// receiver does and decoded, and the stored request masked for display.
//
// Input: raw HTTP/1.1 bytes, e.g. a fixture's .http file.
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "decode/decode.h"
#include "decode/mask.h"

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;

// ServerOptions' defaults (src/http/server.h).
constexpr size_t kMaxBody = 1 << 20;
constexpr size_t kMaxSnapshotBody = 16 << 20;
constexpr size_t kMaxHeader = 16 << 10;
constexpr size_t kMaxTarget = 8 << 10;
constexpr pm::TimeMs kReceived = 1'700'000'000'123;

void Check(bool promise, const char* what) {
  if (!promise) {
    std::fprintf(stderr, "broken promise: %s\n", what);
    std::abort();
  }
}

// What the receiver does with a request it read whole (server.cc Webhook).
void Receive(const http::request<http::string_body>& req) {
  if (req.target().size() > kMaxTarget) return;  // 414
  pm::Request r;
  r.method = req.method_string();
  r.target = req.target();
  r.content_type = req[http::field::content_type];
  r.authorization = req[http::field::authorization];
  r.api_key = req["X-Api-Key"];
  r.body = req.body();
  r.received_at = kReceived;
  const auto decoded = pm::Decode(r);
  if (!decoded) {
    Check(!decoded.error().message.empty(), "errors have a message");
    return;
  }
  if (r.body.size() > kMaxBody && !decoded->snapshot) return;  // 413
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
  const auto again = pm::Decode(masked);
  Check(again.ok(), "a masked request still decodes");
  Check(again->event == decoded->event, "masking keeps the event");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  net::const_buffer input(data, size);
  // One connection: requests one after the other, until the bytes end or a
  // request is malformed (the server then answers 400 and closes).
  for (int i = 0; i < 16 && input.size() > 0; ++i) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<uint32_t>(kMaxHeader));
    parser.body_limit(kMaxSnapshotBody);
    parser.eager(true);
    beast::error_code ec;
    size_t used = 0;
    while (!parser.is_done() && input.size() > 0) {
      size_t n = parser.put(input, ec);
      input += n;
      used += n;
      if (ec == http::error::need_more) {
        ec = {};
        if (n == 0) break;
        continue;
      }
      if (ec) break;
    }
    if (ec || !parser.is_done()) return 0;  // 400/413/431, or more to come
    Receive(parser.get());
    if (!parser.keep_alive() || used == 0) return 0;
  }
  return 0;
}

#include "http/request_reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/json.hpp>
#include <string_view>

namespace pm {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr size_t kReadSize = 16 << 10;
constexpr auto kBudgetPoll = std::chrono::milliseconds(10);

using SteadyClock = std::chrono::steady_clock;

std::chrono::milliseconds Ms(TimeMs ms) {
  return std::chrono::milliseconds(ms);
}

std::string Mib(size_t bytes) {
  return fmt::format("{:g} MiB", static_cast<double>(bytes) / (1 << 20));
}

std::string JsonError(std::string_view message) {
  boost::json::object o;
  o["error"] = message;
  return boost::json::serialize(o) + "\n";
}

ReadOutcome Refuse(int status, std::string_view message) {
  return {ReadOutcome::kRefused, false, status, JsonError(message)};
}

ReadOutcome Whole() {
  ReadOutcome whole;
  whole.kind = ReadOutcome::kRequest;
  return whole;
}

ReadOutcome Closed(std::string why = "") {
  return {ReadOutcome::kClosed, false, 0, std::move(why)};
}

bool IsMultipart(std::string_view content_type) {
  constexpr std::string_view kMultipart = "multipart/form-data";
  return content_type.size() >= kMultipart.size() &&
         beast::iequals(content_type.substr(0, kMultipart.size()), kMultipart);
}

// Feeds the buffered bytes to the parser until it needs more (need_more),
// finished the headers (`headers_only`) or the message, or failed.
// `consumed` counts the bytes the parser took.
beast::error_code Feed(RequestParser& parser, beast::flat_buffer& buffer,
                       bool headers_only, size_t& consumed) {
  beast::error_code ec;
  while (buffer.size() > 0) {
    size_t used = parser.put(buffer.data(), ec);
    buffer.consume(used);
    consumed += used;
    if (ec || parser.is_done()) return ec;
    if (headers_only && parser.is_header_done()) return {};
    if (used == 0) break;
  }
  return http::error::need_more;
}

// Reads once into `buffer` before `deadline`.
asio::awaitable<beast::error_code> ReadSome(beast::tcp_stream& stream,
                                            beast::flat_buffer& buffer,
                                            Activity& activity,
                                            SteadyTime deadline) {
  stream.expires_at(deadline);
  auto [ec, n] =
      co_await stream.async_read_some(buffer.prepare(kReadSize), kTuple);
  buffer.commit(n);
  activity.Received(n);
  co_return ec;
}

// The checks on a whole header before its body is read; nullopt when fine.
std::optional<ReadOutcome> CheckHeader(RequestParser& parser,
                                       const ServerOptions& o) {
  if (parser.get().target().size() > o.max_target) {
    return Refuse(414, fmt::format("the request target is longer than {} "
                                   "bytes",
                                   o.max_target));
  }
  auto length = parser.content_length();
  bool multipart = IsMultipart(parser.get()[http::field::content_type]);
  if (!multipart) parser.body_limit(o.max_body);
  size_t limit = multipart ? o.max_snapshot_body : o.max_body;
  if (length && *length > limit) {
    return RefusalFor(http::error::body_limit, {}, o);
  }
  return std::nullopt;
}

// Waits up to upload_wait for room for the body's `size` bytes.
asio::awaitable<bool> ReserveBody(beast::tcp_stream& stream, ReadContext& ctx,
                                  size_t size) {
  if (ctx.lease.GrowTo(size, size)) co_return true;
  ctx.activity.Enter(Phase::kHandling, SteadyClock::now());
  asio::steady_timer timer(stream.get_executor());
  auto give_up = SteadyClock::now() + Ms(ctx.options.upload_wait);
  while (SteadyClock::now() < give_up) {
    timer.expires_after(kBudgetPoll);
    co_await timer.async_wait(kTuple);
    if (ctx.lease.GrowTo(size, size)) co_return true;
  }
  co_return false;
}

ReadOutcome HeadersTooLarge(const ServerOptions& o) {
  return Refuse(431, fmt::format("the request headers are larger than {} "
                                 "bytes in all",
                                 o.max_header));
}

ReadOutcome BudgetRefusal(const ServerOptions& o) {
  return Refuse(503,
                fmt::format("printmeter is receiving more uploads than it has "
                            "room for ({} of request bodies at once); this "
                            "request was not read or stored, send it again",
                            Mib(o.upload_budget)));
}

asio::awaitable<ReadOutcome> ReadBody(beast::tcp_stream& stream,
                                      beast::flat_buffer& buffer,
                                      RequestParser& parser, ReadContext& ctx) {
  const ServerOptions& o = ctx.options;
  auto length = parser.content_length();
  if (length) {
    bool room = co_await ReserveBody(stream, ctx, *length);
    if (!room) co_return BudgetRefusal(o);
  }
  if (beast::iequals(parser.get()[http::field::expect], "100-continue")) {
    http::response<http::empty_body> go{http::status::continue_, 11};
    stream.expires_after(Ms(o.write_timeout));
    auto [ec, n] = co_await http::async_write(stream, go, kTuple);
    if (ec) co_return Closed();
  }
  auto start = SteadyClock::now();
  ctx.activity.Enter(Phase::kBody, start);
  uint64_t received = buffer.size();
  for (size_t consumed = 0;;) {
    auto ec = Feed(parser, buffer, false, consumed);
    if (!length && !parser.get().body().empty()) {
      size_t held = parser.get().body().capacity();
      if (!ctx.lease.GrowTo(held, held)) co_return BudgetRefusal(o);
    }
    if (!ec) co_return Whole();
    if (ec != http::error::need_more) co_return RefusalFor(ec, buffer, o);
    auto allowance =
        Ms(o.body_timeout) +
        std::chrono::milliseconds(received * 1000 /
                                  std::max<size_t>(1, o.min_body_rate));
    size_t before = buffer.size();
    ec = co_await ReadSome(stream, buffer, ctx.activity, start + allowance);
    received += buffer.size() - before;
    if (ec == beast::error::timeout) {
      co_return Closed(fmt::format(
          "the request body stalled ({} bytes in {} ms; a body may take {} ms "
          "plus a second per {} received)",
          received,
          std::chrono::duration_cast<std::chrono::milliseconds>(
              SteadyClock::now() - start)
              .count(),
          o.body_timeout, Mib(o.min_body_rate)));
    }
    if (ec) co_return Closed();
  }
}

asio::awaitable<ReadOutcome> ReadHeader(beast::tcp_stream& stream,
                                        beast::flat_buffer& buffer,
                                        RequestParser& parser, ReadContext& ctx,
                                        SteadyTime deadline) {
  // Beast takes the start line and each whole field as it comes, and
  // limits only what is still unparsed: the header block's size is
  // counted here.
  const size_t limit = ctx.options.max_header;
  for (size_t consumed = 0;;) {
    auto ec = Feed(parser, buffer, true, consumed);
    bool too_big = consumed + (ec ? buffer.size() : 0) > limit;
    if (ec == http::error::header_limit || too_big) {
      co_return consumed > 0
          ? HeadersTooLarge(ctx.options)
          : RefusalFor(http::error::header_limit, buffer, ctx.options);
    }
    if (!ec) co_return Whole();
    if (ec != http::error::need_more) {
      co_return RefusalFor(ec, buffer, ctx.options);
    }
    ec = co_await ReadSome(stream, buffer, ctx.activity, deadline);
    if (ec == beast::error::timeout) {
      co_return Closed(
          fmt::format("the request headers did not arrive within "
                      "{} ms",
                      ctx.options.header_timeout));
    }
    if (ec) co_return Closed();
  }
}

}  // namespace

ReadOutcome RefusalFor(const beast::error_code& ec,
                       const beast::flat_buffer& buffer,
                       const ServerOptions& o) {
  if (ec == http::error::header_limit) {
    // The request line alone too long: the target; else the header block.
    std::string_view data(static_cast<const char*>(buffer.data().data()),
                          buffer.size());
    size_t line = data.find('\n');
    if (line == std::string_view::npos || line > o.max_target + 64) {
      return Refuse(414, fmt::format("the request target is longer than {} "
                                     "bytes",
                                     o.max_target));
    }
    return HeadersTooLarge(o);
  }
  if (ec == http::error::body_limit) {
    return Refuse(413, fmt::format("the request body is larger than {} ({} "
                                   "for a multipart request carrying a "
                                   "snapshot)",
                                   Mib(o.max_body), Mib(o.max_snapshot_body)));
  }
  return Refuse(400, fmt::format("malformed HTTP request: {}", ec.message()));
}

asio::awaitable<ReadOutcome> ReadRequest(beast::tcp_stream& stream,
                                         beast::flat_buffer& buffer,
                                         RequestParser& parser,
                                         ReadContext ctx) {
  const ServerOptions& o = ctx.options;
  parser.header_limit(static_cast<uint32_t>(o.max_header));
  parser.body_limit(std::max(o.max_body, o.max_snapshot_body));
  auto now = SteadyClock::now();
  ctx.activity.Enter(Phase::kIdle, now);
  SteadyTime header_deadline = ctx.accepted + Ms(o.header_timeout);
  if (buffer.size() == 0) {
    auto idle_until = ctx.fresh ? header_deadline : now + Ms(o.idle_timeout);
    auto ec = co_await ReadSome(stream, buffer, ctx.activity, idle_until);
    if (ec) co_return Closed();  // idle too long, or the client left
    if (!ctx.fresh) header_deadline = SteadyClock::now() + Ms(o.header_timeout);
  } else if (!ctx.fresh) {
    header_deadline = now + Ms(o.header_timeout);
  }
  ctx.activity.Enter(Phase::kHeaders, SteadyClock::now());
  ctx.activity.Received(buffer.size());
  ReadOutcome header =
      co_await ReadHeader(stream, buffer, parser, ctx, header_deadline);
  if (header.kind != ReadOutcome::kRequest) co_return header;
  if (ctx.in_flight) ++*ctx.in_flight;
  if (auto refused = CheckHeader(parser, o)) {
    refused->counted = ctx.in_flight != nullptr;
    co_return *refused;
  }
  // (No co_await inside ?: or a braced argument: g++ 12 miscompiles them.)
  ReadOutcome body = Whole();
  if (!parser.is_done()) {
    body = co_await ReadBody(stream, buffer, parser, ctx);
  }
  body.counted = ctx.in_flight != nullptr;
  co_return body;
}

Request DecoderRequest(const HttpRequest& req, TimeMs received_at) {
  Request r;
  r.method = req.method_string();
  r.target = req.target();
  r.content_type = req[http::field::content_type];
  r.authorization = req[http::field::authorization];
  r.api_key = req["X-Api-Key"];
  r.body = req.body();
  r.received_at = received_at;
  return r;
}

}  // namespace pm

#include "forward/delivery.h"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

namespace pm {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

Result<HttpUrl> ParseHttpUrl(std::string_view text) {
  auto parsed = boost::urls::parse_uri(text);
  if (!parsed) {
    return Invalid(fmt::format("`{}` is not a URL; write it as "
                               "http://host:port/path",
                               UrlWithoutCredentials(text)));
  }
  if (parsed->scheme() != "http") {
    return Invalid(fmt::format(
        "`{}`: forwarding speaks plain http:// only; for https, forward to a "
        "local relay (a reverse proxy) that adds TLS",
        UrlWithoutCredentials(text)));
  }
  HttpUrl url;
  url.host = parsed->host();
  if (url.host.empty()) {
    return Invalid(fmt::format("`{}` names no host", text));
  }
  url.port = parsed->has_port() ? std::string(parsed->port()) : "80";
  url.target = parsed->encoded_target();
  if (url.target.empty() || url.target.front() != '/') {
    url.target = "/" + url.target;
  }
  return url;
}

std::string UrlWithoutCredentials(std::string_view text) {
  auto parsed = boost::urls::parse_uri(text);
  if (!parsed || !parsed->has_userinfo()) return std::string(text);
  boost::urls::url url = *parsed;
  url.remove_userinfo();
  return std::string(url.buffer());
}

std::optional<Delivery> OriginalDelivery(const EventRecord& record) {
  if (!record.request) return std::nullopt;
  const StoredRequest& r = *record.request;
  Delivery d{record.event.id, record.event.device, r.content_type, r.body};
  if (r.picture && !r.picture->bytes.empty() &&
      r.picture->offset <= static_cast<int64_t>(d.body.size())) {
    d.body.insert(static_cast<size_t>(r.picture->offset), r.picture->bytes);
  }
  return d;
}

std::string Signature(std::string_view secret, int64_t timestamp,
                      std::string_view body) {
  std::string message = fmt::format("{}.", timestamp);
  message.append(body);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(),
       mac, &size);
  std::string hex;
  for (unsigned int i = 0; i < size; ++i) hex += fmt::format("{:02x}", mac[i]);
  return hex;
}

std::map<std::string, std::string> DeliveryHeaders(const Delivery& d,
                                                   std::string_view secret,
                                                   int64_t timestamp) {
  std::map<std::string, std::string> h;
  std::string id = std::to_string(d.event_id);
  h["Content-Type"] =
      d.content_type.empty() ? "application/octet-stream" : d.content_type;
  h["X-Printmeter-Event"] = id;
  h["Idempotency-Key"] = id;
  h["X-Printmeter-Device"] = d.device;
  h["X-Printmeter-Timestamp"] = std::to_string(timestamp);
  if (!secret.empty()) {
    h["X-Printmeter-Signature"] =
        "sha256=" + Signature(secret, timestamp, d.body);
  }
  return h;
}

// The cancel function runs under the lock, so that it never runs once
// Reset() returned (the Post it would stop is then gone).
void PostCanceller::Cancel() {
  std::lock_guard lock(mu_);
  cancelled_ = true;
  if (cancel_) cancel_();
}

void PostCanceller::Set(std::function<void()> cancel) {
  std::lock_guard lock(mu_);
  cancel_ = std::move(cancel);
  if (cancelled_) cancel_();
}

void PostCanceller::Reset() {
  std::lock_guard lock(mu_);
  cancel_ = nullptr;
}

Result<int> Post(const HttpUrl& url,
                 const std::map<std::string, std::string>& headers,
                 const std::string& body, std::chrono::milliseconds timeout,
                 PostCanceller* canceller) {
  asio::io_context io;
  tcp::resolver resolver(io);
  beast::tcp_stream stream(io);
  http::request<http::string_body> req{http::verb::post, url.target, 11};
  req.set(http::field::host, url.host);
  req.set(http::field::user_agent, "printmeter");
  req.set(http::field::connection, "close");
  for (const auto& [name, value] : headers) req.set(name, value);
  req.body() = body;
  req.prepare_payload();
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  beast::error_code failure;
  std::string step = "resolve";
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto fail = [&](beast::error_code ec, std::string_view what) {
    failure = ec;
    step = what;
  };

  resolver.async_resolve(
      url.host, url.port,
      [&](beast::error_code ec, tcp::resolver::results_type endpoints) {
        if (ec) return fail(ec, "resolve");
        stream.expires_at(deadline);
        stream.async_connect(endpoints, [&](beast::error_code ec,
                                            const tcp::endpoint&) {
          if (ec) return fail(ec, "connect");
          http::async_write(stream, req, [&](beast::error_code ec, size_t) {
            if (ec) return fail(ec, "send");
            http::async_read(stream, buffer, res,
                             [&](beast::error_code ec, size_t) {
                               if (ec) return fail(ec, "read the answer");
                               step.clear();
                             });
          });
        });
      });
  if (canceller) {
    canceller->Set([&io] { io.stop(); });
  }
  // A resolve has no deadline of its own: the whole run has one.
  io.run_for(timeout + std::chrono::milliseconds(100));
  if (canceller) canceller->Reset();
  if (!step.empty()) {
    std::string why = failure ? failure.message()
                              : std::string("no answer in time");
    if (failure == beast::error::timeout) why = "no answer in time";
    return Unavailable(fmt::format("cannot {} at {}:{}: {}", step, url.host,
                                   url.port, why));
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  return static_cast<int>(res.result_int());
}

}  // namespace pm

#include "forward/delivery.h"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>
#include <optional>

#include "decode/mask.h"

namespace pm {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

Result<HttpUrl> ParseHttpUrl(std::string_view text) {
  auto parsed = boost::urls::parse_uri(text);
  if (!parsed) {
    return Invalid(
        fmt::format("`{}` is not a URL; write it as "
                    "https://host:port/path",
                    UrlWithoutCredentials(text)));
  }
  if (parsed->scheme() != "http" && parsed->scheme() != "https") {
    return Invalid(
        fmt::format("`{}`: forwarding speaks http:// and "
                    "https:// only",
                    UrlWithoutCredentials(text)));
  }
  HttpUrl url;
  url.host = parsed->host();
  if (url.host.empty()) {
    return Invalid(fmt::format("`{}` names no host", text));
  }
  url.tls = parsed->scheme() == "https";
  url.port = parsed->has_port() ? std::string(parsed->port())
                                : (url.tls ? "443" : "80");
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

std::optional<Delivery> OriginalDelivery(const EventRecord& record,
                                         std::string* unsent) {
  if (!record.request) return std::nullopt;
  const StoredRequest& r = *record.request;
  std::string body = r.body;
  if (r.picture && !r.picture->bytes.empty() &&
      r.picture->offset <= static_cast<int64_t>(body.size())) {
    body.insert(static_cast<size_t>(r.picture->offset), r.picture->bytes);
  }
  std::string content_type = r.content_type;
  // A GET (or PUT, DELETE) with its fields in the query string: the target
  // gets them as a form body, which is how they would be POSTed.
  if (body.empty()) {
    std::string target = MaskTarget(r.target);
    if (size_t q = target.find('?'); q != std::string::npos) {
      return Delivery{record.event.id, record.event.device,
                      "application/x-www-form-urlencoded", target.substr(q + 1),
                      ""};
    }
  }
  std::optional<std::string> masked = MaskBody(content_type, body);
  if (!masked) {
    if (unsent) {
      *unsent = fmt::format(
          "its body ({}) cannot be read well enough to mask the printer's "
          "secret in it",
          content_type.empty() ? "no Content-Type" : content_type);
    }
    return std::nullopt;
  }
  return Delivery{record.event.id, record.event.device, content_type,
                  std::move(*masked), ""};
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
  std::string id = d.key.empty() ? std::to_string(d.event_id) : d.key;
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

namespace {

// Errors of a request sent on a connection the server had already closed:
// nothing of it was read, so it may be sent again on a new one.
bool ClosedByServer(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset ||
         ec == asio::error::connection_aborted ||
         ec == asio::error::broken_pipe || ec == ssl::error::stream_truncated;
}

bool IsAddress(const std::string& host) {
  beast::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

}  // namespace

struct TargetConnection::Impl {
  HttpUrl url;
  std::string ca_file;
  asio::io_context io;
  ssl::context tls{ssl::context::tls_client};
  tcp::resolver resolver{io};
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;
  // Set when a step is given up (its deadline, or Cancel): the handlers
  // still to run start nothing more. Only the thread running `io` uses it.
  bool abandoned = false;

  bool open() const { return plain || secure; }
  beast::tcp_stream& Lowest() {
    return secure ? beast::get_lowest_layer(*secure) : *plain;
  }
  // Ends what is in flight: the socket closes, so its operations complete
  // (aborted) on the next run of `io`. The streams stay, for those
  // handlers use them (an SSL stream's engine above all).
  void Abandon() {
    abandoned = true;
    resolver.cancel();
    CloseSocket();
  }
  void CloseSocket() {
    if (!open()) return;
    beast::error_code ignored;
    Lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    Lowest().close();
  }
  // Forgets the connection. Nothing may be in flight on it.
  void Close() {
    CloseSocket();
    plain.reset();
    secure.reset();
    buffer.clear();
  }
  // Runs what was started until it is done, the deadline (and a little:
  // a resolve has no deadline of its own) or Cancel (posted to `io`, so
  // it runs here, between handlers); when `step` is not done (not empty),
  // abandons it, drains what that aborted while the streams still exist,
  // then closes the connection: no handler outlives the caller's locals
  // or the streams it uses. A cancel may also close the connection after
  // the step is done (`step` empty, `open()` false).
  void Run(std::chrono::milliseconds timeout, const std::string& step) {
    io.restart();
    io.run_for(timeout + std::chrono::milliseconds(100));
    if (!step.empty() && !abandoned) Abandon();
    io.restart();
    io.run();
    if (abandoned) {
      Close();
      abandoned = false;
    }
  }
  // Resolves, connects and, for https, shakes hands and verifies the
  // server's certificate for url.host. "" when connected, else the error.
  std::string Connect(std::chrono::steady_clock::time_point deadline,
                      std::chrono::milliseconds timeout);
  // A failed TLS handshake, said so that a person can act on it.
  std::string HandshakeError(const beast::error_code& ec);
};

std::string TargetConnection::Impl::HandshakeError(
    const beast::error_code& ec) {
  long verify =
      secure ? SSL_get_verify_result(secure->native_handle()) : X509_V_OK;
  if (verify == X509_V_OK) {
    return fmt::format("TLS handshake with {}:{} failed: {}", url.host,
                       url.port, ec.message());
  }
  return fmt::format(
      "certificate verify failed: {} for host {} (port {}); if the receiver "
      "has its own CA or a self-signed certificate, name it with ca_file in "
      "its [[forward]] table",
      X509_verify_cert_error_string(verify), url.host, url.port);
}

std::string TargetConnection::Impl::Connect(
    std::chrono::steady_clock::time_point deadline,
    std::chrono::milliseconds timeout) {
  if (url.tls) {
    secure.emplace(io, tls);
    secure->set_verify_mode(ssl::verify_peer);
    // The chain as OpenSSL checks it, then the name: a mismatch is marked
    // as such so that HandshakeError names it.
    secure->set_verify_callback(
        [check = ssl::host_name_verification(url.host)](
            bool preverified, ssl::verify_context& ctx) mutable {
          bool ok = check(preverified, ctx);
          if (!ok && preverified) {
            X509_STORE_CTX_set_error(ctx.native_handle(),
                                     X509_V_ERR_HOSTNAME_MISMATCH);
          }
          return ok;
        });
    if (!IsAddress(url.host)) {  // SNI names a host, never an address
      SSL_set_tlsext_host_name(secure->native_handle(), url.host.c_str());
    }
  } else {
    plain.emplace(io);
  }
  std::string step = "resolve", error;
  // An operation aborted by the deadline's close says nothing more.
  auto fail = [&](const beast::error_code& ec, std::string_view what) {
    if (ec == asio::error::operation_aborted) return;
    error = fmt::format(
        "cannot {} at {}:{}: {}", what, url.host, url.port,
        ec == beast::error::timeout ? "no answer in time" : ec.message());
  };
  resolver.async_resolve(
      url.host, url.port,
      [&](beast::error_code ec, tcp::resolver::results_type endpoints) {
        if (abandoned) return;
        if (ec) return fail(ec, "resolve");
        step = "connect";
        Lowest().expires_at(deadline);
        Lowest().async_connect(
            endpoints, [&](beast::error_code ec, const tcp::endpoint&) {
              if (abandoned) return;
              if (ec) return fail(ec, "connect");
              if (!secure) return step.clear();
              step = "handshake";
              secure->async_handshake(
                  ssl::stream_base::client, [&](beast::error_code ec) {
                    if (abandoned || ec == asio::error::operation_aborted) {
                      return;
                    }
                    if (ec) {
                      error = HandshakeError(ec);
                      return;
                    }
                    step.clear();
                  });
            });
      });
  Run(timeout, step);
  // Done, unless a cancel came just after and closed the connection.
  if (step.empty() && open()) return "";
  if (step.empty()) {
    error = fmt::format("cancelled while connecting to {}:{}", url.host,
                        url.port);
  } else if (error.empty()) {
    error = fmt::format("cannot {} at {}:{}: no answer in time", step, url.host,
                        url.port);
  }
  return error;
}

TargetConnection::TargetConnection(HttpUrl url, std::string ca_file)
    : impl_(std::make_unique<Impl>()) {
  impl_->url = std::move(url);
  impl_->ca_file = std::move(ca_file);
}

TargetConnection::~TargetConnection() { impl_->Close(); }

Status TargetConnection::Init() {
  if (!impl_->url.tls) return {};
  beast::error_code ec;
  if (impl_->ca_file.empty()) {
    impl_->tls.set_default_verify_paths(ec);
    if (ec) {
      return Invalid(
          fmt::format("cannot read the system's CA certificates: "
                      "{}; name the receiver's CA with ca_file",
                      ec.message()));
    }
    return {};
  }
  impl_->tls.load_verify_file(impl_->ca_file, ec);
  if (ec) {
    return Invalid(
        fmt::format("ca_file {} cannot be read as PEM "
                    "certificates: {}",
                    impl_->ca_file, ec.message()));
  }
  return {};
}

Result<int> TargetConnection::Post(
    const std::map<std::string, std::string>& headers, const std::string& body,
    std::chrono::milliseconds timeout, PostCanceller* canceller) {
  Impl& c = *impl_;
  http::request<http::string_body> req{http::verb::post, c.url.target, 11};
  req.set(http::field::host, c.url.host);
  req.set(http::field::user_agent, "printmeter");
  for (const auto& [name, value] : headers) req.set(name, value);
  req.body() = body;
  req.keep_alive(true);
  req.prepare_payload();
  // Cancel, from another thread, abandons the step on this one.
  if (canceller) {
    canceller->Set([&c] { asio::post(c.io, [&c] { c.Abandon(); }); });
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string error;
  int answer = 0;
  for (int attempt = 0; attempt < 2; ++attempt) {
    bool reused = c.open();
    if (!reused) {
      error = c.Connect(deadline, timeout);
      if (!error.empty()) break;
      ++opened_;
    }
    http::response<http::string_body> res;
    beast::error_code failure;
    std::string step = "send";
    auto exchange = [&](auto& stream) {
      http::async_write(stream, req, [&](beast::error_code ec, size_t) {
        if (c.abandoned) return;
        if (ec) {
          if (ec != asio::error::operation_aborted) failure = ec;
          return;
        }
        step = "read the answer";
        http::async_read(stream, c.buffer, res,
                         [&](beast::error_code ec, size_t) {
                           if (c.abandoned) return;
                           if (ec) {
                             if (ec != asio::error::operation_aborted) {
                               failure = ec;
                             }
                             return;
                           }
                           step.clear();
                         });
      });
    };
    c.Lowest().expires_at(deadline);
    if (c.secure) {
      exchange(*c.secure);
    } else {
      exchange(*c.plain);
    }
    c.Run(timeout, step);
    if (step.empty()) {
      if (!res.keep_alive()) c.Close();
      answer = static_cast<int>(res.result_int());
      error.clear();
      break;
    }
    error = fmt::format("cannot {} at {}:{}: {}", step, c.url.host, c.url.port,
                        !failure || failure == beast::error::timeout
                            ? std::string("no answer in time")
                            : failure.message());
    if (!reused || !ClosedByServer(failure) ||
        std::chrono::steady_clock::now() >= deadline) {
      break;
    }
  }
  if (canceller) canceller->Reset();
  if (!error.empty()) return Unavailable(error);
  return answer;
}

}  // namespace pm

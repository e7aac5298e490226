#include "http/test_client.h"

#include <fmt/format.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <chrono>
#include <fstream>
#include <iterator>

namespace pm {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct TestClient::Impl {
  asio::io_context ioc;
  tcp::socket socket{ioc};
  beast::flat_buffer buffer;
  tcp::endpoint endpoint;
  bool connected = false;
  std::chrono::milliseconds timeout{0};

  // Runs the async operation `start(handler)` to completion, or gives up
  // after `timeout` (then the socket is closed).
  template <typename Start>
  beast::error_code Run(Start start) {
    if (timeout.count() == 0) {
      beast::error_code ec;
      start([&](beast::error_code e, auto&&...) { ec = e; });
      ioc.restart();
      ioc.run();
      return ec;
    }
    bool done = false;
    beast::error_code ec;
    start([&](beast::error_code e, auto&&...) {
      ec = e;
      done = true;
    });
    ioc.restart();
    ioc.run_for(timeout);
    if (done) return ec;
    beast::error_code ignored;
    socket.close(ignored);
    ioc.restart();
    ioc.run();
    return asio::error::timed_out;
  }

  Status Connect() {
    if (connected) return {};
    beast::error_code ec;
    socket = tcp::socket(ioc);
    ec = Run([&](auto h) { socket.async_connect(endpoint, std::move(h)); });
    if (ec) return Unavailable("connect: " + ec.message());
    socket.set_option(tcp::no_delay(true), ec);
    buffer.clear();
    connected = true;
    return {};
  }
};

TestClient::TestClient(uint16_t port, std::string host)
    : impl_(std::make_unique<Impl>()) {
  impl_->endpoint = tcp::endpoint(asio::ip::make_address(host), port);
}

TestClient::~TestClient() { Close(); }

void TestClient::Close() {
  if (!impl_->connected) return;
  beast::error_code ignored;
  impl_->socket.shutdown(tcp::socket::shutdown_both, ignored);
  impl_->socket.close(ignored);
  impl_->connected = false;
}

Status TestClient::Write(std::string_view bytes) {
  if (auto s = impl_->Connect(); !s) return s;
  beast::error_code ec = impl_->Run([&](auto h) {
    asio::async_write(impl_->socket, asio::buffer(bytes.data(), bytes.size()),
                      std::move(h));
  });
  if (ec) {
    Close();
    return Unavailable("write: " + ec.message());
  }
  return {};
}

Result<HttpReply> TestClient::ReadReply() {
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 << 20);
  beast::error_code ec = impl_->Run([&](auto h) {
    http::async_read(impl_->socket, impl_->buffer, parser, std::move(h));
  });
  if (ec) {
    Close();
    return Unavailable("read: " + ec.message());
  }
  const auto& res = parser.get();
  HttpReply reply;
  reply.status = static_cast<int>(res.result_int());
  for (const auto& field : res) {
    std::string name(field.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(c));
    reply.headers[name] = std::string(field.value());
  }
  reply.body = res.body();
  reply.keep_alive = res.keep_alive();
  if (!reply.keep_alive) Close();
  return reply;
}

Result<HttpReply> TestClient::SendRaw(std::string_view bytes) {
  if (auto s = Write(bytes); !s) return s.error();
  return ReadReply();
}

Result<HttpReply> TestClient::Send(std::string_view method,
                                   std::string_view target,
                                   std::string_view content_type,
                                   std::string_view body,
                                   std::string_view extra_headers) {
  return SendRaw(
      BuildRequest(method, target, content_type, body, extra_headers));
}

bool TestClient::ServerClosed() {
  if (!impl_->connected) return true;
  char byte;
  beast::error_code ec = impl_->Run([&](auto h) {
    impl_->socket.async_read_some(asio::buffer(&byte, 1), std::move(h));
  });
  if (ec) Close();
  return ec == asio::error::eof || ec == asio::error::connection_reset;
}

void TestClient::SetTimeout(int64_t ms) {
  impl_->timeout = std::chrono::milliseconds(ms);
}

std::string BuildRequest(std::string_view method, std::string_view target,
                         std::string_view content_type, std::string_view body,
                         std::string_view extra_headers) {
  std::string head = fmt::format("{} {} HTTP/1.1\r\nHost: 127.0.0.1\r\n",
                                 method, target);
  if (!content_type.empty()) {
    head += fmt::format("Content-Type: {}\r\n", content_type);
  }
  head += fmt::format("Content-Length: {}\r\n{}\r\n", body.size(),
                      extra_headers);
  head.append(body);
  return head;
}

std::string ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)),
                     std::istreambuf_iterator<char>());
}

}  // namespace pm

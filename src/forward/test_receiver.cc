#include "forward/test_receiver.h"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <boost/asio/ip/address.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/algorithm/string/case_conv.hpp>

namespace pm::testing {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

TestReceiver::TestReceiver()
    : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
  port_ = acceptor_.local_endpoint().port();
  thread_ = std::thread([this] { Accept(); });
}

TestReceiver::~TestReceiver() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  changed_.notify_all();
  boost::system::error_code ec;
  acceptor_.close(ec);
  // Wakes the blocking accept() with a connection of our own.
  {
    tcp::socket poke(io_);
    poke.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_), ec);
  }
  thread_.join();
  std::vector<std::thread> connections;
  {
    std::lock_guard lock(mu_);
    connections.swap(connections_);
  }
  for (std::thread& t : connections) t.join();
}

std::string TestReceiver::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

void TestReceiver::set_mode(Mode mode) {
  {
    std::lock_guard lock(mu_);
    mode_ = mode;
  }
  changed_.notify_all();
}

std::vector<ReceivedRequest> TestReceiver::requests() const {
  std::lock_guard lock(mu_);
  return received_;
}

std::vector<ReceivedRequest> TestReceiver::accepted() const {
  std::lock_guard lock(mu_);
  std::vector<ReceivedRequest> out;
  for (const ReceivedRequest& r : received_) {
    if (r.answered / 100 == 2) out.push_back(r);
  }
  return out;
}

bool TestReceiver::WaitFor(size_t count, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return changed_.wait_for(lock, timeout,
                           [&] { return received_.size() >= count; });
}

void TestReceiver::Accept() {
  for (;;) {
    tcp::socket socket(io_);
    boost::system::error_code ec;
    acceptor_.accept(socket, ec);
    std::lock_guard lock(mu_);
    if (stopping_) return;
    if (ec) continue;
    connections_.emplace_back(
        [this, s = std::move(socket)]() mutable { Serve(std::move(s)); });
  }
}

void TestReceiver::Serve(tcp::socket socket) {
  boost::beast::flat_buffer buffer;
  http::request<http::string_body> req;
  boost::system::error_code ec;
  http::read(socket, buffer, req, ec);
  if (ec) return;
  ReceivedRequest got;
  got.target = std::string(req.target());
  for (const auto& field : req) {
    got.headers[boost::algorithm::to_lower_copy(std::string(field.name_string()))] =
        std::string(field.value());
  }
  got.body = req.body();
  size_t index;
  Mode mode;
  {
    std::unique_lock lock(mu_);
    index = received_.size();
    received_.push_back(got);
    changed_.notify_all();
    // A stalled request stays unanswered until the receiver stops (the
    // sender's timeout ends it) or is told to answer.
    changed_.wait(lock, [&] { return stopping_ || mode_ != Mode::kStall; });
    if (stopping_) return;
    mode = mode_;
  }
  http::response<http::string_body> res{
      mode == Mode::kAccept ? http::status::ok
                            : http::status::internal_server_error,
      11};
  res.body() = mode == Mode::kAccept ? "ok" : "down";
  res.prepare_payload();
  http::write(socket, res, ec);
  if (!ec) {
    std::lock_guard lock(mu_);
    received_[index].answered = res.result_int();
    changed_.notify_all();
  }
}

std::string Hmac(const std::string& key, const std::string& message) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(),
       mac, &size);
  std::string hex;
  for (unsigned int i = 0; i < size; ++i) hex += fmt::format("{:02x}", mac[i]);
  return hex;
}

}  // namespace pm::testing

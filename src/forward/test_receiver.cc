#include "forward/test_receiver.h"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/socket.h>

#include <boost/algorithm/string/case_conv.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstdlib>
#include <fstream>
#include <stdexcept>

namespace pm::testing {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

namespace ssl = asio::ssl;

TestCertificates MakeTestCertificates(const std::string& dir,
                                      const std::string& tag,
                                      const std::string& names) {
  TestCertificates out{dir + "/" + tag + "-ca.pem", dir + "/" + tag + ".pem",
                       dir + "/" + tag + ".key"};
  std::string ca_key = dir + "/" + tag + "-ca.key";
  std::string csr = dir + "/" + tag + ".csr";
  std::string ext = dir + "/" + tag + ".ext";
  std::ofstream(ext) << "subjectAltName=" << names
                     << "\nbasicConstraints=CA:FALSE\n"
                        "extendedKeyUsage=serverAuth\n";
  const std::string key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1";
  std::string commands = fmt::format(
      "openssl req -x509 {0} -nodes -keyout {1} -out {2} -days 2 "
      "-subj '/CN=printmeter test CA {3}' "
      "-addext 'basicConstraints=critical,CA:TRUE' "
      "-addext 'keyUsage=critical,keyCertSign,cRLSign' && "
      "openssl req {0} -nodes -keyout {4} -out {5} -subj '/CN={3}' && "
      "openssl x509 -req -in {5} -CA {2} -CAkey {1} -CAcreateserial "
      "-out {6} -days 2 -extfile {7}",
      key, ca_key, out.ca, tag, out.key, csr, out.cert, ext);
  std::string quiet = "(" + commands + ") >/dev/null 2>&1";
  if (std::system(quiet.c_str()) != 0) {
    throw std::runtime_error("openssl could not make test certificates: " +
                             commands);
  }
  return out;
}

TestReceiver::TestReceiver()
    : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
  port_ = acceptor_.local_endpoint().port();
  thread_ = std::thread([this] { Accept(); });
}

TestReceiver::TestReceiver(const TestCertificates& tls)
    : tls_(true),
      tls_context_(std::make_unique<ssl::context>(ssl::context::tls_server)),
      acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
  tls_context_->use_certificate_chain_file(tls.cert);
  tls_context_->use_private_key_file(tls.key, ssl::context::pem);
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
    // Wakes the reads that wait on kept-alive connections.
    for (int fd : open_sockets_) ::shutdown(fd, SHUT_RDWR);
  }
  for (std::thread& t : connections) t.join();
}

std::string TestReceiver::url(const std::string& path,
                              const std::string& host) const {
  return fmt::format("{}://{}:{}{}", tls_ ? "https" : "http", host, port_,
                     path);
}

int TestReceiver::connections() const {
  std::lock_guard lock(mu_);
  return accepted_;
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
    ++accepted_;
    open_sockets_.insert(socket.native_handle());
    connections_.emplace_back(
        [this, s = std::move(socket)]() mutable { Serve(std::move(s)); });
  }
}

void TestReceiver::Serve(tcp::socket socket) {
  int fd = socket.native_handle();
  if (tls_) {
    ssl::stream<tcp::socket&> stream(socket, *tls_context_);
    boost::system::error_code ec;
    stream.handshake(ssl::stream_base::server, ec);
    if (!ec) Exchange(stream);
  } else {
    Exchange(socket);
  }
  std::lock_guard lock(mu_);
  open_sockets_.erase(fd);
}

template <typename Stream>
void TestReceiver::Exchange(Stream& stream) {
  boost::beast::flat_buffer buffer;
  for (;;) {
    http::request<http::string_body> req;
    boost::system::error_code ec;
    http::read(stream, buffer, req, ec);
    if (ec) return;
    ReceivedRequest got;
    got.target = std::string(req.target());
    for (const auto& field : req) {
      got.headers[boost::algorithm::to_lower_copy(
          std::string(field.name_string()))] = std::string(field.value());
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
    bool fail = mode == Mode::kFail;
    http::response<http::string_body> res{
        fail ? http::status::internal_server_error : http::status::ok, 11};
    res.body() = fail ? "down" : "ok";
    res.keep_alive(req.keep_alive() && mode != Mode::kClose);
    res.prepare_payload();
    http::write(stream, res, ec);
    if (!ec) {
      std::lock_guard lock(mu_);
      received_[index].answered = res.result_int();
      changed_.notify_all();
    }
    if (ec || !res.keep_alive() || mode == Mode::kDropIdle) return;
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

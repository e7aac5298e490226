// A real HTTP receiver on a free loopback port for the forwarding tests: it
// records every request and answers as told (accept with 200, fail with
// 500, or stall: read the request and never answer until told otherwise).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace pm::testing {

struct ReceivedRequest {
  std::string target;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
  int answered = 0;  // the status sent back; 0 when none was
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

class TestReceiver {
 public:
  enum class Mode { kAccept, kFail, kStall };

  TestReceiver();
  ~TestReceiver();  // stops answering, closes every connection

  std::string url(const std::string& path = "/hook") const;
  void set_mode(Mode mode);
  // Every request received so far (answered or not).
  std::vector<ReceivedRequest> requests() const;
  // Waits up to `timeout` until `count` requests were received.
  bool WaitFor(size_t count,
               std::chrono::milliseconds timeout = std::chrono::seconds(20));
  // The requests answered 2xx so far.
  std::vector<ReceivedRequest> accepted() const;

 private:
  void Accept();
  void Serve(boost::asio::ip::tcp::socket socket);

  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  unsigned short port_ = 0;
  std::thread thread_;

  mutable std::mutex mu_;
  std::condition_variable changed_;
  Mode mode_ = Mode::kAccept;             // guarded by mu_
  bool stopping_ = false;                 // guarded by mu_
  std::vector<ReceivedRequest> received_;  // guarded by mu_
  std::vector<std::thread> connections_;  // guarded by mu_
};

// HMAC-SHA256 of `message` under `key`, in lower-case hex: what a
// receiver computes to check X-Printmeter-Signature, done here with OpenSSL
// apart from the forwarder's own code.
std::string Hmac(const std::string& key, const std::string& message);

}  // namespace pm::testing

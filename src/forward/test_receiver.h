// A real HTTP (or HTTPS) receiver on a free loopback port for the
// forwarding tests: it records every request and answers as told (accept
// with 200, fail with 500, stall: read the request and never answer until
// told otherwise, or accept and close the connection), keeping connections
// alive otherwise and counting those it accepted.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
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

// A CA and a server certificate it signed, PEM files in one folder.
struct TestCertificates {
  std::string ca;    // the CA's certificate (what a client trusts)
  std::string cert;  // the server's certificate
  std::string key;   // the server's private key
};

// Makes a CA and a server certificate for `names` (subjectAltName entries,
// e.g. "DNS:localhost", "IP:127.0.0.1") in `dir` with the openssl command,
// the files named after `tag`. Throws std::runtime_error when openssl fails.
TestCertificates MakeTestCertificates(const std::string& dir,
                                      const std::string& tag,
                                      const std::string& names);

class TestReceiver {
 public:
  // kClose: answers 200 with `Connection: close` and closes. kDropIdle:
  // answers 200 as if keeping the connection alive, then closes it (as a
  // server whose idle timeout ran out: the client learns it on its next
  // request).
  enum class Mode { kAccept, kFail, kStall, kClose, kDropIdle };

  TestReceiver();  // plain HTTP
  // HTTPS with `tls.cert` and `tls.key`.
  explicit TestReceiver(const TestCertificates& tls);
  ~TestReceiver();  // stops answering, closes every connection

  // http://127.0.0.1:PORT/hook, or https:// and `host` for HTTPS.
  std::string url(const std::string& path = "/hook",
                  const std::string& host = "127.0.0.1") const;
  void set_mode(Mode mode);
  // TCP connections accepted so far.
  int connections() const;
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
  // Reads and answers requests on `stream` until the peer closes it, the
  // mode is kClose or the receiver stops.
  template <typename Stream>
  void Exchange(Stream& stream);

  bool tls_ = false;
  std::unique_ptr<boost::asio::ssl::context> tls_context_;
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
  std::set<int> open_sockets_;            // guarded by mu_
  int accepted_ = 0;                      // guarded by mu_
};

// HMAC-SHA256 of `message` under `key`, in lower-case hex: what a
// receiver computes to check X-Printmeter-Signature, done here with OpenSSL
// apart from the forwarder's own code.
std::string Hmac(const std::string& key, const std::string& message);

}  // namespace pm::testing

// A small blocking HTTP/1.1 client for printmeter's tests and load tool:
// sends raw bytes (a whole request as captured) or builds a request, and
// reads the answer. Loopback only; no TLS.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"

namespace pm {

struct HttpReply {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  bool keep_alive = false;
};

class TestClient {
 public:
  explicit TestClient(uint16_t port, std::string host = "127.0.0.1");
  ~TestClient();

  // Sends `bytes` as they are and reads one answer. Connects first when not
  // connected (or when the server closed the previous connection).
  Result<HttpReply> SendRaw(std::string_view bytes);
  // Sends only `bytes` (no answer read yet); then ReadReply().
  Status Write(std::string_view bytes);
  Result<HttpReply> ReadReply();
  // A POST (or other method) with a body; Host and Content-Length added.
  Result<HttpReply> Send(std::string_view method, std::string_view target,
                         std::string_view content_type, std::string_view body,
                         std::string_view extra_headers = "");
  // Whether the server closed the connection (reads EOF, or a reset).
  bool ServerClosed();
  // From now on a connect, write or read that takes longer than `ms` fails
  // with an error saying "timed out" and closes the connection (0: wait for
  // ever, the default).
  void SetTimeout(int64_t ms);
  void Close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Builds the bytes of a request with a body.
std::string BuildRequest(std::string_view method, std::string_view target,
                         std::string_view content_type, std::string_view body,
                         std::string_view extra_headers = "");

// The whole content of a file ("" when unreadable).
std::string ReadFileBytes(const std::string& path);

}  // namespace pm

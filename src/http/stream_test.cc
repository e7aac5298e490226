// GET /api/v1/stream over real HTTP on loopback: the opening, an event per
// stored webhook and per attribution, keep-alive comments, the cap, the read
// token, the end at Stop; and the embedded dashboard as a browser gets it.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "http/embedded_files.h"
#include "http/test_harness.h"

namespace pm {

std::span<const EmbeddedFile> EmbeddedTestDashboard();

namespace {

using testing::FixturesDir;
using testing::Harness;
using testing::TempDir;

// A raw connection that sends one GET and reads whatever arrives, as a
// browser's EventSource does. Waits are bounded so a broken server fails
// the test instead of hanging it.
class StreamClient {
 public:
  StreamClient(uint16_t port, const std::string& headers = "",
               const std::string& method = "GET") {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ =
        ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    std::string request = method +
                          " /api/v1/stream HTTP/1.1\r\nHost: t\r\n"
                          "Accept: text/event-stream\r\n" +
                          headers + "\r\n";
    if (connected_) {
      connected_ = ::send(fd_, request.data(), request.size(), 0) ==
                   static_cast<ssize_t>(request.size());
    }
  }
  ~StreamClient() { ::close(fd_); }

  // Reads until `part` has arrived (true), or the connection closed or 20 s
  // passed (false). Everything read stays in text().
  bool ReadUntil(const std::string& part) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (text_.find(part, seen_) == std::string::npos) {
      if (!ReadSome(deadline)) return false;
    }
    seen_ = text_.find(part, seen_) + part.size();
    return true;
  }
  // Reads until the server closes the connection (true) or 20 s passed.
  bool ReadToEnd() {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!closed_) {
      if (!ReadSome(deadline) && !closed_) return false;
    }
    return true;
  }
  const std::string& text() const { return text_; }
  bool connected() const { return connected_; }

 private:
  bool ReadSome(std::chrono::steady_clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || closed_) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char buf[4096];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) {
      closed_ = true;
      return false;
    }
    text_.append(buf, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  bool connected_ = false;
  bool closed_ = false;
  std::string text_;
  size_t seen_ = 0;
};

std::string Fixture(const std::string& name) {
  return ReadFileBytes(FixturesDir() + "/" + name);
}

Result<HttpReply> PostFixture(TestClient& c, const std::string& name) {
  return c.Send("POST", "/webhook", "application/json", Fixture(name));
}

// The "event":N id of a webhook's answer.
std::string EventIdOf(const HttpReply& reply) {
  size_t at = reply.body.find("\"event\":");
  size_t end = reply.body.find(',', at);
  return reply.body.substr(at + 8, end - at - 8);
}

TEST(StreamTest, OpensWithHelloThenAnEventPerStoredWebhook) {
  TempDir dir;
  Harness h(dir.path());
  h.Start({}, {}, /*with_api=*/true);
  StreamClient stream(h.port());
  ASSERT_TRUE(stream.connected());
  ASSERT_TRUE(stream.ReadUntil("event: hello\n")) << stream.text();
  EXPECT_NE(stream.text().find("HTTP/1.1 200"), std::string::npos);
  EXPECT_NE(stream.text().find("Content-Type: text/event-stream"),
            std::string::npos)
      << stream.text();
  EXPECT_NE(stream.text().find("retry: "), std::string::npos);

  TestClient c(h.port());
  auto test = PostFixture(c, "plugin/10_test_print_started.json");
  ASSERT_TRUE(test.ok());
  ASSERT_EQ(test->status, 200) << test->body;
  auto real = PostFixture(c, "seed/01-octoprint-print-started.json");
  ASSERT_TRUE(real.ok());
  ASSERT_EQ(real->status, 200) << real->body;
  // The test webhook changes no printer: the first event is the real one.
  ASSERT_TRUE(stream.ReadUntil("event: printer\n")) << stream.text();
  std::string want =
      "data: {\"device\":\"delta\",\"event\":" + EventIdOf(*real) + "}\n\n";
  EXPECT_TRUE(stream.ReadUntil(want)) << stream.text();
  EXPECT_EQ(stream.text().find("\"event\":" + EventIdOf(*test) + "}"),
            std::string::npos)
      << stream.text();

  // An exact resend is a duplicate: no event; the next print start is one.
  auto resent = PostFixture(c, "seed/01-octoprint-print-started.json");
  ASSERT_TRUE(resent.ok());
  EXPECT_NE(resent->body.find("\"duplicate\":true"), std::string::npos);
  auto done = PostFixture(c, "seed/02-octoprint-print-done.json");
  ASSERT_TRUE(done.ok());
  ASSERT_TRUE(stream.ReadUntil("\"event\":" + EventIdOf(*done) + "}"))
      << stream.text();
  EXPECT_EQ(stream.text().find("\"event\":" + EventIdOf(*resent) + "}"),
            std::string::npos);
}

TEST(StreamTest, AttributionIsASessionEvent) {
  TempDir dir;
  Harness h(dir.path());
  h.Start({}, {}, /*with_api=*/true);
  TestClient c(h.port());
  ASSERT_TRUE(PostFixture(c, "seed/03-sdcard-print-started.json").ok());
  StreamClient stream(h.port());
  ASSERT_TRUE(stream.ReadUntil("event: hello\n"));
  auto put = c.Send("PUT", "/api/v1/sessions/1/user", "application/json",
                    "{\"user\":\"alice\"}");
  ASSERT_TRUE(put.ok());
  ASSERT_EQ(put->status, 200) << put->body;
  EXPECT_TRUE(stream.ReadUntil("event: session\ndata: {\"session\":1}\n\n"))
      << stream.text();
}

TEST(StreamTest, KeepAliveCommentWhenNothingHappens) {
  TempDir dir;
  Harness h(dir.path());
  ServerOptions options;
  options.stream_keepalive = 50;
  h.Start({}, options, /*with_api=*/true);
  StreamClient stream(h.port());
  ASSERT_TRUE(stream.ReadUntil("event: hello\n"));
  EXPECT_TRUE(stream.ReadUntil(": keep-alive\n\n")) << stream.text();
  EXPECT_TRUE(stream.ReadUntil(": keep-alive\n\n")) << stream.text();
}

TEST(StreamTest, OverTheCapRefusedWhilePrintersAreServed) {
  TempDir dir;
  Harness h(dir.path());
  ServerOptions options;
  options.max_streams = 1;
  h.Start({}, options, /*with_api=*/true);
  StreamClient first(h.port());
  ASSERT_TRUE(first.ReadUntil("event: hello\n"));
  StreamClient second(h.port());
  ASSERT_TRUE(second.ReadUntil("polling")) << second.text();
  EXPECT_NE(second.text().find("HTTP/1.1 503"), std::string::npos)
      << second.text();
  EXPECT_NE(second.text().find("live dashboards are open"), std::string::npos);
  EXPECT_NE(second.text().find("Retry-After: 30"), std::string::npos);
  TestClient c(h.port());
  auto posted = PostFixture(c, "seed/01-octoprint-print-started.json");
  ASSERT_TRUE(posted.ok());
  EXPECT_EQ(posted->status, 200);
  EXPECT_TRUE(first.ReadUntil("event: printer\n")) << first.text();
}

TEST(StreamTest, ReadTokenApplies) {
  TempDir dir;
  Harness h(dir.path());
  h.api_options.read_token = "r34d";
  h.Start({}, {}, /*with_api=*/true);
  StreamClient anonymous(h.port());
  ASSERT_TRUE(anonymous.ReadUntil("\r\n\r\n"));
  EXPECT_NE(anonymous.text().find("HTTP/1.1 401"), std::string::npos)
      << anonymous.text();
  StreamClient reader(h.port(), "Authorization: Bearer r34d\r\n");
  EXPECT_TRUE(reader.ReadUntil("event: hello\n")) << reader.text();
}

TEST(StreamTest, HeadAnswersWithoutStreaming) {
  TempDir dir;
  Harness h(dir.path());
  h.Start({}, {}, /*with_api=*/true);
  StreamClient head(h.port(), "Connection: close\r\n", "HEAD");
  // An ordinary answer: its length announced, no body, and the connection
  // ends as asked instead of staying open as a stream would.
  ASSERT_TRUE(head.ReadToEnd()) << head.text();
  EXPECT_NE(head.text().find("HTTP/1.1 200"), std::string::npos);
  EXPECT_NE(head.text().find("text/event-stream"), std::string::npos);
  EXPECT_NE(head.text().find("Content-Length:"), std::string::npos)
      << head.text();
  EXPECT_EQ(head.text().find("event: hello"), std::string::npos);
}

TEST(StreamTest, StopEndsTheStream) {
  TempDir dir;
  Harness h(dir.path());
  h.Start({}, {}, /*with_api=*/true);
  StreamClient stream(h.port());
  ASSERT_TRUE(stream.ReadUntil("event: hello\n"));
  h.server->Stop();
  EXPECT_TRUE(stream.ReadToEnd());
}

TEST(EmbeddedDashboardTest, ServedFromMemoryWithGzipAndEtag) {
  TempDir dir;
  Harness h(dir.path());
  ServerOptions options;
  options.dashboard = EmbeddedTestDashboard();
  h.Start({}, options, /*with_api=*/true);
  TestClient c(h.port());
  auto page = c.Send("GET", "/", "", "", "Accept-Encoding: gzip, br\r\n");
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->status, 200);
  EXPECT_EQ(page->headers["content-encoding"], "gzip");
  EXPECT_EQ(page->headers["vary"], "Accept-Encoding");
  EXPECT_NE(page->headers["content-type"].find("text/html"), std::string::npos);
  EXPECT_EQ(static_cast<unsigned char>(page->body.at(0)), 0x1f);
  std::string etag = page->headers["etag"];
  ASSERT_FALSE(etag.empty());

  auto again =
      c.Send("GET", "/", "", "",
             "Accept-Encoding: gzip\r\nIf-None-Match: " + etag + "\r\n");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->status, 304);
  EXPECT_TRUE(again->body.empty());

  auto plain = c.Send("GET", "/index.html", "", "");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->status, 200);
  EXPECT_NE(plain->body.find("<title>printmeter</title>"), std::string::npos);
  EXPECT_EQ(plain->headers.count("content-encoding"), 0u);

  auto js = c.Send("GET", "/assets/index-Bx9_a-2Q.js", "", "");
  ASSERT_TRUE(js.ok());
  EXPECT_EQ(js->status, 200);
  EXPECT_NE(js->headers["content-type"].find("text/javascript"),
            std::string::npos);
  auto traversal = c.Send("GET", "/assets/../../CMakeLists.txt", "", "");
  ASSERT_TRUE(traversal.ok());
  EXPECT_EQ(traversal->status, 404);
}

TEST(EmbeddedDashboardTest, NoneBuiltInSaysHowToBuildIt) {
  TempDir dir;
  Harness h(dir.path());
  h.Start({}, {}, /*with_api=*/true);
  TestClient c(h.port());
  auto page = c.Send("GET", "/", "", "");
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->status, 404);
  EXPECT_NE(page->body.find("make build"), std::string::npos) << page->body;
}

}  // namespace
}  // namespace pm

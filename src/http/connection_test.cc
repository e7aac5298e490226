// No client can keep a printer from being heard (ledger.md section 2): the
// real server on loopback, held by idle, slow and half-sent connections and
// big uploads, still answers a printer's request on a new connection within
// a second. Short timeouts through ServerOptions keep the cut-offs fast.
// Prints its figures as `reliability-figure:` lines for `make reliability`.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <boost/asio.hpp>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "http/test_harness.h"

namespace pm {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using testing::AllEvents;
using testing::Harness;
using testing::TempDir;
using SteadyClock = std::chrono::steady_clock;

constexpr int64_t kPrinterPatienceMs = 1000;  // ledger.md: within 1 s

void Figure(const std::string& what, const std::string& value) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::printf("reliability-figure: %s.%s: %s: %s\n", info->test_suite_name(),
              info->name(), what.c_str(), value.c_str());
  std::fflush(stdout);
}

// Enough file descriptors for `n` client sockets plus the server's own.
void RaiseFileLimit(rlim_t n) {
  rlimit limit{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
  if (limit.rlim_cur >= n) return;
  ASSERT_GE(limit.rlim_max, n) << "the hard open-file limit is too low";
  limit.rlim_cur = n;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &limit), 0);
}

// Raw client connections that send what the test says, from `source`.
class Crowd {
 public:
  Crowd(uint16_t port, size_t n, const std::string& source = "127.0.0.1") {
    tcp::endpoint server(asio::ip::make_address("127.0.0.1"), port);
    for (size_t i = 0; i < n; ++i) {
      auto s = std::make_unique<tcp::socket>(ioc_);
      s->open(tcp::v4());
      s->bind(tcp::endpoint(asio::ip::make_address(source), 0));
      boost::system::error_code ec;
      s->connect(server, ec);
      EXPECT_FALSE(ec) << "connection " << i << ": " << ec.message();
      if (ec) return;
      sockets_.push_back(std::move(s));
    }
  }
  // Sends `bytes` on every connection (errors ignored: it may be closed).
  void SendAll(const std::string& bytes) {
    for (auto& s : sockets_) {
      boost::system::error_code ec;
      asio::write(*s, asio::buffer(bytes), ec);
    }
  }
  // How many of them the server closed (read to the end of what it sent,
  // then EOF or a reset), waiting up to `ms` for the first.
  size_t ClosedByServer(int64_t ms) {
    size_t closed = 0;
    auto until = SteadyClock::now() + std::chrono::milliseconds(ms);
    for (auto& s : sockets_) {
      s->non_blocking(true);
      for (;;) {
        char sink[4096];
        boost::system::error_code ec;
        s->read_some(asio::buffer(sink), ec);
        if (!ec) continue;  // an answer it was sent: read past it
        if (ec == asio::error::would_block) {
          if (SteadyClock::now() >= until) break;
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
          continue;
        }
        ++closed;
        break;
      }
    }
    return closed;
  }
  size_t size() const { return sockets_.size(); }

 private:
  asio::io_context ioc_;
  std::vector<std::unique_ptr<tcp::socket>> sockets_;
};

std::string PrinterBody(int n = 0) {
  return R"({"deviceIdentifier":"prusa-door","topic":"Print Progress",)"
         R"("extra":{"progress":)" +
         std::to_string(n) + "}}";
}

// A printer's request on a new connection: its status, and the time taken.
std::pair<int, int64_t> PrinterRequest(uint16_t port, int n = 0) {
  TestClient printer(port);
  printer.SetTimeout(kPrinterPatienceMs);
  auto start = SteadyClock::now();
  auto reply = printer.Send("POST", "/webhook", "application/json",
                            PrinterBody(n), "Connection: close\r\n");
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                SteadyClock::now() - start)
                .count();
  EXPECT_TRUE(reply.ok()) << "the printer was not answered within "
                          << kPrinterPatienceMs
                          << " ms: " << reply.error().message;
  return {reply.ok() ? reply->status : 0, ms};
}

std::string Multipart(size_t snapshot_bytes, const std::string& device) {
  const std::string b = "b0undaryXyZ";
  return "--" + b +
         "\r\nContent-Disposition: form-data; "
         "name=\"deviceIdentifier\"\r\n\r\n" +
         device + "\r\n--" + b +
         "\r\nContent-Disposition: form-data; name=\"topic\"\r\n\r\nPrint "
         "Progress\r\n--" +
         b +
         "\r\nContent-Disposition: form-data; name=\"snapshot\"; "
         "filename=\"snapshot.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n" +
         std::string(snapshot_bytes, '\xff') + "\r\n--" + b + "--\r\n";
}
const char* kMultipartType = "multipart/form-data; boundary=b0undaryXyZ";

class ConnectionTest : public ::testing::Test {
 protected:
  void Start(ServerOptions options = {}) {
    RaiseFileLimit(4096);
    h_.Start({}, options);
  }
  size_t Stored() { return AllEvents(*h_.store).size(); }

  TempDir dir_;
  Harness h_{dir_.path()};
};

TEST_F(ConnectionTest, PrinterAnsweredWhile1000IdleHeld) {
  Start();  // the default caps: 1,024 in all, 256 per client address
  Crowd idle(h_.port(), 1000);
  ASSERT_EQ(idle.size(), 1000u);
  auto [status, ms] = PrinterRequest(h_.port());
  EXPECT_EQ(status, 200);
  Figure("idle connections held", "1000");
  Figure("printer answered in", std::to_string(ms) + " ms");
  TestClient health(h_.port());
  health.SetTimeout(kPrinterPatienceMs);
  auto reply = health.Send("GET", "/healthz", "", "");
  ASSERT_TRUE(reply.ok()) << reply.error().message;
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(Stored(), 1u);
}

// Connections that made a request and stay kept-alive are idle too.
TEST_F(ConnectionTest, PrinterAnsweredWhileKeptAliveConnectionsHeld) {
  ServerOptions options;
  options.max_connections = 64;
  Start(options);
  Crowd crowd(h_.port(), 64);
  crowd.SendAll("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  for (int i = 0; i < 5; ++i) {
    auto [status, ms] = PrinterRequest(h_.port(), i);
    EXPECT_EQ(status, 200);
  }
  EXPECT_EQ(Stored(), 5u);
  // Idle connections made room, one per printer at most (a printer leaving
  // frees its slot, unless the next one comes first).
  size_t closed = crowd.ClosedByServer(500);
  EXPECT_GE(closed, 1u);
  EXPECT_LE(closed, 5u);
}

TEST_F(ConnectionTest, PrinterAnsweredWhileHeadersTrickleAndTheyAreCutOff) {
  ServerOptions options;
  options.max_connections = 100;
  options.header_timeout = 500;
  Start(options);
  Crowd slow(h_.port(), 150);
  slow.SendAll("POST /webhook HTTP/1.1\r\nHost: x\r\n");
  auto start = SteadyClock::now();
  for (int i = 0; i < 5; ++i) {
    slow.SendAll("X");  // a byte now and then does not buy more time
    auto [status, ms] = PrinterRequest(h_.port(), i);
    EXPECT_EQ(status, 200);
  }
  // Every slow one is gone after header_timeout, none answered.
  std::this_thread::sleep_until(start + std::chrono::milliseconds(800));
  EXPECT_EQ(slow.ClosedByServer(500), slow.size());
  EXPECT_EQ(Stored(), 5u);
}

TEST_F(ConnectionTest, PrinterAnsweredWhileBodiesStallAndTheyAreCutOff) {
  ServerOptions options;
  options.max_connections = 100;
  options.body_timeout = 400;
  Start(options);
  Crowd half(h_.port(), 150);
  half.SendAll(
      BuildRequest("POST", "/webhook", "application/json", PrinterBody())
          .substr(0, 120));  // the headers and a few body bytes
  for (int i = 0; i < 5; ++i) {
    auto [status, ms] = PrinterRequest(h_.port(), i);
    EXPECT_EQ(status, 200);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(half.ClosedByServer(500), half.size());
  EXPECT_EQ(Stored(), 5u);  // the half-sent ones stored nothing
}

// The idle go first, then the slowest unfinished request.
TEST_F(ConnectionTest, OverTheCapIdleThenSlowestAreClosed) {
  ServerOptions options;
  options.max_connections = 3;
  Start(options);
  Crowd trickling(h_.port(), 1);
  trickling.SendAll("POST /webhook HTTP/1.1\r\n");
  Crowd faster(h_.port(), 1);
  faster.SendAll(
      "POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: "
      "application/json\r\nContent-Length: 500\r\n\r\n{\"a\":1");
  Crowd idle(h_.port(), 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto [s1, ms1] = PrinterRequest(h_.port(), 1);
  EXPECT_EQ(s1, 200);
  EXPECT_EQ(idle.ClosedByServer(500), 1u);
  EXPECT_EQ(trickling.ClosedByServer(0), 0u);
  Crowd fastest(h_.port(), 1);  // the cap is full again, none idle
  fastest.SendAll(
      "POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: "
      "application/json\r\nContent-Length: 900\r\n\r\n" +
      std::string(400, ' '));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto [s2, ms2] = PrinterRequest(h_.port(), 2);
  EXPECT_EQ(s2, 200);
  EXPECT_EQ(trickling.ClosedByServer(500), 1u);  // 24 bytes: the slowest
  EXPECT_EQ(faster.ClosedByServer(0), 0u);
  EXPECT_EQ(fastest.ClosedByServer(0), 0u);
}

// One client address gets at most its share; the others keep theirs.
TEST_F(ConnectionTest, PerClientCapClosesThatClientsConnectionsOnly) {
  ServerOptions options;
  options.max_connections = 100;
  options.max_connections_per_client = 10;
  Start(options);
  Crowd other(h_.port(), 5, "127.0.0.3");
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  Crowd greedy(h_.port(), 30, "127.0.0.2");
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(greedy.ClosedByServer(500), 20u);
  EXPECT_EQ(other.ClosedByServer(0), 0u);
}

TEST_F(ConnectionTest, BigSnapshotOverASlowLinkArrives) {
  // Scaled down 20x: 300 ms allowance plus 1 s per 1 MiB received; 3 MB at
  // 2 MB/s takes 1.5 s, five times the fixed allowance.
  ServerOptions options;
  options.body_timeout = 300;
  options.min_body_rate = 1 << 20;
  Start(options);
  std::string request = BuildRequest("POST", "/webhook", kMultipartType,
                                     Multipart(3'000'000, "prusa-door"));
  TestClient upload(h_.port());
  upload.SetTimeout(5000);
  auto start = SteadyClock::now();
  constexpr size_t kStep = 20'000;  // 100 writes of 20 kB, 10 ms apart
  for (size_t at = 0; at < request.size(); at += kStep) {
    ASSERT_TRUE(upload.Write(std::string_view(request).substr(at, kStep)).ok());
    std::this_thread::sleep_until(
        start + std::chrono::milliseconds((at + kStep) / 2'000));
  }
  auto reply = upload.ReadReply();
  ASSERT_TRUE(reply.ok()) << reply.error().message;
  EXPECT_EQ(reply->status, 200) << reply->body;
  Figure(
      "3 MB snapshot at 2 MB/s, 300 ms + 1 s/MiB allowance",
      "answered " + std::to_string(reply->status) + " after " +
          std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                             SteadyClock::now() - start)
                             .count()) +
          " ms");
  auto events = AllEvents(*h_.store);
  ASSERT_EQ(events.size(), 1u);
  auto snapshot = h_.store->GetSnapshot(events[0].event.id);
  ASSERT_TRUE(snapshot.ok() && snapshot->has_value());
  EXPECT_EQ((*snapshot)->bytes.size(), 3'000'000u);
}

TEST_F(ConnectionTest, BodyTrickledAByteAtATimeIsCutOff) {
  ServerOptions options;
  options.body_timeout = 300;
  Start(options);
  std::string request =
      BuildRequest("POST", "/webhook", "application/json", PrinterBody());
  TestClient slow(h_.port());
  size_t head = request.find("\r\n\r\n") + 4;
  ASSERT_TRUE(slow.Write(request.substr(0, head)).ok());
  bool cut = false;
  for (size_t at = head; at < request.size() && !cut; ++at) {
    cut = !slow.Write(request.substr(at, 1)).ok();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(cut || slow.ServerClosed());
  EXPECT_EQ(Stored(), 0u);
}

// Uploads over the budget wait briefly, then get 503; small webhooks pass.
TEST_F(ConnectionTest, UploadsOverTheBudgetGet503AndSmallWebhooksPass) {
  ServerOptions options;
  options.upload_budget = 4 << 20;
  options.upload_wait = 200;
  Start(options);
  std::string big = BuildRequest("POST", "/webhook", kMultipartType,
                                 Multipart(3 << 20, "prusa-door"));
  TestClient holder(h_.port());  // reserves 3 MiB, then pauses
  ASSERT_TRUE(holder.Write(std::string_view(big).substr(0, 1000)).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  TestClient second(h_.port());
  second.SetTimeout(3000);
  auto refused = second.SendRaw(big);
  ASSERT_TRUE(refused.ok()) << refused.error().message;
  EXPECT_EQ(refused->status, 503) << refused->body;
  EXPECT_NE(refused->body.find("send it again"), std::string::npos);
  auto [status, ms] = PrinterRequest(h_.port());
  EXPECT_EQ(status, 200);
  ASSERT_TRUE(holder.Write(std::string_view(big).substr(1000)).ok());
  auto held = holder.ReadReply();
  ASSERT_TRUE(held.ok()) << held.error().message;
  EXPECT_EQ(held->status, 200) << held->body;
  EXPECT_EQ(Stored(), 2u);  // the holder's and the printer's, not the 503
}

TEST_F(ConnectionTest, UploadWaitsBrieflyForRoomThenIsStored) {
  ServerOptions options;
  options.upload_budget = 4 << 20;
  options.upload_wait = 3000;
  Start(options);
  std::string big = BuildRequest("POST", "/webhook", kMultipartType,
                                 Multipart(3 << 20, "prusa-door"));
  TestClient holder(h_.port());
  ASSERT_TRUE(holder.Write(std::string_view(big).substr(0, 1000)).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  TestClient waiter(h_.port());
  // The server reads none of it until there is room: send from a thread.
  std::thread send([&] { EXPECT_TRUE(waiter.Write(big).ok()); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ASSERT_TRUE(holder.Write(std::string_view(big).substr(1000)).ok());
  auto first = holder.ReadReply();
  send.join();
  auto second = waiter.ReadReply();
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->status, 200) << first->body;
  EXPECT_EQ(second->status, 200) << second->body;
  EXPECT_EQ(Stored(), 2u);
}

}  // namespace
}  // namespace pm

// End to end, the built `printmeter serve` under abuse: stopped with SIGSTOP
// under load, and held by idle connections while big bodies stream in.
// Prints its figures as `reliability-figure:` lines for `make reliability`.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "binary_harness.h"
#include "http/test_client.h"
#include "http/test_harness.h"

namespace pm {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using testing::AllEvents;
using testing::TempDir;
using SteadyClock = std::chrono::steady_clock;

void Figure(const std::string& what, const std::string& value) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::printf("reliability-figure: %s.%s: %s: %s\n", info->test_suite_name(),
              info->name(), what.c_str(), value.c_str());
  std::fflush(stdout);
}

int64_t MsSince(SteadyClock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             SteadyClock::now() - start)
      .count();
}

std::string Webhook(const std::string& device, int n, size_t pad = 0) {
  return R"({"deviceIdentifier":")" + device +
         R"(","topic":"Print Progress","extra":{"progress":)" +
         std::to_string(n) +
         (pad ? R"(,"pad":")" + std::string(pad, 'p') + "\"" : std::string()) +
         "}}";
}

// `printmeter serve` on a free port, its stderr read away on a thread so
// that its log never fills the pipe and blocks it.
struct Served {
  Child child;
  uint16_t port = 0;
  std::thread drain;

  explicit Served(const std::string& db) {
    port = StartServe(child, db, {"--auth", "open"});
    if (port == 0) return;
    drain = std::thread([fd = child.err] {
      char sink[4096];
      while (read(fd, sink, sizeof sink) > 0) {
      }
    });
  }
  ~Served() {
    if (!drain.joinable()) return;
    kill(child.pid, SIGKILL);
    drain.join();
    child.Wait();
  }
  // SIGTERM; its exit status.
  int Stop() {
    kill(child.pid, SIGTERM);
    drain.join();
    return child.Wait();
  }
  // Resident memory in MiB, from /proc (-1 when it cannot be read).
  long RssMib() const {
    std::ifstream in("/proc/" + std::to_string(child.pid) + "/status");
    std::string key;
    while (in >> key) {
      if (key == "VmRSS:") {
        long kib = -1;
        in >> kib;
        return kib < 0 ? -1 : kib / 1024;
      }
    }
    return -1;
  }
};

// The event id of a 200 answer, or 0.
int64_t EventId(const Result<HttpReply>& reply) {
  if (!reply.ok() || reply->status != 200) return 0;
  auto at = reply->body.find("\"event\":");
  return at == std::string::npos ? 0 : std::stoll(reply->body.substr(at + 8));
}

TEST(ServeReliability, SigstopUnderLoadLosesNothingAcknowledged) {
  TempDir dir;
  std::string db = "sqlite:" + (dir.path() / "pm.db").string();
  Served server(db);
  ASSERT_NE(server.port, 0) << server.child.log;
  const uint16_t port = server.port;

  constexpr int kClients = 8;
  std::mutex mu;
  std::map<int64_t, std::string> acknowledged;  // event id -> device
  std::atomic<int> sent{0}, timed_out{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      std::string device = "printer-" + std::to_string(c);
      TestClient client(port);
      client.SetTimeout(1500);
      for (int n = 0; !stop; ++n) {
        ++sent;
        auto reply = client.Send("POST", "/webhook", "application/json",
                                 Webhook(device, n));
        if (!reply.ok()) {
          ++timed_out;  // the connection is closed: the next one is new
          continue;
        }
        EXPECT_EQ(reply->status, 200) << reply->body;
        if (int64_t id = EventId(reply)) {
          std::lock_guard lock(mu);
          acknowledged[id] = device;
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  ASSERT_EQ(kill(server.child.pid, SIGSTOP), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(3000));
  ASSERT_EQ(kill(server.child.pid, SIGCONT), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  stop = true;
  for (auto& t : clients) t.join();
  EXPECT_EQ(server.Stop(), 0);

  auto store = testing::MustOpen(db);
  std::map<int64_t, std::string> stored;
  for (const EventRecord& r : AllEvents(*store)) {
    stored[r.event.id] = r.event.device;
  }
  size_t lost = 0;
  for (const auto& [id, device] : acknowledged) {
    auto it = stored.find(id);
    if (it == stored.end() || it->second != device) ++lost;
  }
  EXPECT_EQ(lost, 0u);
  EXPECT_LE(stored.size(), static_cast<size_t>(sent.load()));
  EXPECT_GT(acknowledged.size(), 0u);
  Figure("server stopped (SIGSTOP) for", "3000 ms");
  Figure("requests sent", std::to_string(sent.load()));
  Figure("acknowledged (2xx)", std::to_string(acknowledged.size()));
  Figure("clients timed out (1.5 s)", std::to_string(timed_out.load()));
  Figure("acknowledged but not stored", std::to_string(lost));
}

// Resident memory stays under kCeilingMib while 1,000 idle connections are
// held and six clients stream bodies at the size limits (three 16 MiB
// multipart requests with a snapshot, three 1 MiB JSON bodies), and every
// printer request is answered. The ceiling, 192 MiB: the 32 MiB upload
// budget held about three times over at worst (the body, the decoded
// snapshot, the writer's copy until the commit), plus the idle connections,
// SQLite's cache and the binary; measured 120 MiB on a 2-core VM. (Before
// the budget, 32 such uploads took 460 MiB and kept 175 MiB afterwards.)
TEST(ServeReliability, MemoryBoundedUnderIdleConnectionsAndBigBodies) {
  constexpr long kCeilingMib = 192;
  rlimit limit{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
  if (limit.rlim_cur < 4096 && limit.rlim_max >= 4096) {
    limit.rlim_cur = 4096;
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &limit), 0);
  }
  TempDir dir;
  std::string db = "sqlite:" + (dir.path() / "pm.db").string();
  Served server(db);
  ASSERT_NE(server.port, 0) << server.child.log;
  const uint16_t port = server.port;
  long base_mib = server.RssMib();

  asio::io_context ioc;
  std::vector<std::unique_ptr<tcp::socket>> idle;
  tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), port);
  for (int i = 0; i < 1000; ++i) {
    auto s = std::make_unique<tcp::socket>(ioc);
    boost::system::error_code ec;
    s->connect(endpoint, ec);
    ASSERT_FALSE(ec) << ec.message();
    idle.push_back(std::move(s));
  }

  const std::string boundary = "b0undaryXyZ";
  const std::string snapshot_body =
      "--" + boundary +
      "\r\nContent-Disposition: form-data; name=\"deviceIdentifier\"\r\n\r\n"
      "webcam\r\n--" +
      boundary +
      "\r\nContent-Disposition: form-data; name=\"snapshot\"; "
      "filename=\"s.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n" +
      std::string((16 << 20) - 400, '\xff') + "\r\n--" + boundary + "--\r\n";
  const std::string json_body = Webhook("bulky", 0, (1 << 20) - 200);

  std::atomic<bool> stop{false};
  std::atomic<long> peak_mib{base_mib};
  std::thread sampler([&] {
    while (!stop) {
      long rss = server.RssMib();
      long peak = peak_mib;
      while (rss > peak && !peak_mib.compare_exchange_weak(peak, rss)) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  std::mutex mu;
  std::map<int, int> answers;  // status -> count (0: no answer)
  std::vector<std::thread> senders;
  for (int c = 0; c < 6; ++c) {
    senders.emplace_back([&, c] {
      bool big = c % 2 == 0;
      while (!stop) {
        TestClient client(port);
        client.SetTimeout(20'000);
        auto reply =
            big ? client.Send("POST", "/webhook",
                              "multipart/form-data; boundary=" + boundary,
                              snapshot_body)
                : client.Send("POST", "/webhook", "application/json",
                              json_body);
        std::lock_guard lock(mu);
        ++answers[reply.ok() ? reply->status : 0];
      }
    });
  }
  int64_t slowest_printer_ms = 0;
  int printer_answers = 0, printer_late = 0;
  auto start = SteadyClock::now();
  for (int n = 0; MsSince(start) < 6000; ++n) {
    TestClient printer(port);
    printer.SetTimeout(5000);
    auto sent_at = SteadyClock::now();
    auto reply =
        printer.Send("POST", "/webhook", "application/json",
                     Webhook("prusa-door", n), "Connection: close\r\n");
    ASSERT_TRUE(reply.ok())
        << "printer request " << n << " unanswered: " << reply.error().message;
    EXPECT_EQ(reply->status, 200) << reply->body;
    ++printer_answers;
    int64_t ms = MsSince(sent_at);
    if (ms > 1000) ++printer_late;
    slowest_printer_ms = std::max(slowest_printer_ms, ms);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  stop = true;
  for (auto& t : senders) t.join();
  sampler.join();
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  long after_mib = server.RssMib();
  EXPECT_LT(peak_mib.load(), kCeilingMib);
  EXPECT_EQ(answers[0], 0) << "a body got no answer at all";
  Figure("resident memory ceiling", std::to_string(kCeilingMib) + " MiB");
  Figure("resident memory at start", std::to_string(base_mib) + " MiB");
  Figure("resident memory peak", std::to_string(peak_mib.load()) + " MiB");
  Figure("resident memory 1 s after", std::to_string(after_mib) + " MiB");
  Figure("bodies answered 200", std::to_string(answers[200]));
  Figure("bodies answered 503", std::to_string(answers[503]));
  Figure("printer requests answered", std::to_string(printer_answers));
  // Reported, not asserted: a printer's webhook that reaches the writer
  // behind a snapshot waits for that snapshot's commit (16 MiB written and
  // synced), which the connection layer cannot shorten. The connection
  // layer's own bound (1 s with 1,000 idle) is asserted in connection_test.
  Figure("printer requests answered after more than 1 s",
         std::to_string(printer_late));
  Figure("slowest printer answer", std::to_string(slowest_printer_ms) + " ms");
  EXPECT_EQ(server.Stop(), 0);
}

}  // namespace
}  // namespace pm

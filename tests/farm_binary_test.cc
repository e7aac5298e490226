// End to end, a print farm as the README sets it up: two `printmeter serve`
// processes on one PostgreSQL database, behind nginx with the README's own
// config file. Printers post through the proxy while one instance at a time
// is killed (SIGKILL) and restarted, and the database crashes (`pg_ctl stop
// -m immediate`) and comes back. Afterwards every acknowledged request is in
// the log once, and the ledger the instances folded across all of it is the
// one `printmeter rebuild` folds from the log (ledger.md section 2).
// Prints its figures as `reliability-figure:` lines for `make reliability`.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "binary_harness.h"
#include "served_ledger.h"
#include "store/pg_test_cluster.h"

namespace pm {
namespace {

using testing::ExpectEachAcknowledgedLoggedOnce;
using testing::LedgerView;
using testing::PrinterClient;
using testing::ServedLedger;
using testing::TempDir;

void Figure(const char* what, const std::string& value) {
  std::cout << "reliability-figure: FarmBinaryTest."
            << ::testing::UnitTest::GetInstance()->current_test_info()->name()
            << ": " << what << ": " << value << std::endl;
}

// A loopback port nothing listens on right now.
uint16_t FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  uint16_t port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

// The README's nginx config (the ```nginx block of the print farm section),
// pointed at this test's instances and listening on `port`.
std::string ReadmeNginxConfig(const std::vector<uint16_t>& instances,
                              uint16_t port) {
  std::ifstream in(std::string(PM_SOURCE_DIR) + "/README.md");
  std::string readme((std::istreambuf_iterator<char>(in)), {});
  size_t begin = readme.find("```nginx\n");
  if (begin == std::string::npos) return "";
  begin += 9;
  size_t end = readme.find("```", begin);
  std::string config = readme.substr(begin, end - begin);
  std::string servers;
  for (uint16_t p : instances) {
    servers += fmt::format("    server 127.0.0.1:{} max_fails=0"
                           ";\n",
                           p);
  }
  // The upstream's server lines become this test's instances.
  config = std::regex_replace(config, std::regex(R"(( *server [0-9.]+:\d+[^;]*;\n)+)"),
                              servers);
  config = std::regex_replace(config, std::regex(R"(listen 80;)"),
                              fmt::format("listen 127.0.0.1:{};", port));
  return config;
}

// nginx in `dir` with `site` as its only server, in the foreground.
Child StartNginx(const std::filesystem::path& dir, const std::string& site) {
  for (const char* d : {"body", "proxy", "fastcgi", "uwsgi", "scgi"}) {
    std::filesystem::create_directories(dir / d);
  }
  std::ofstream(dir / "printmeter.conf") << site;
  std::ofstream conf(dir / "nginx.conf");
  conf << fmt::format(
      "daemon off;\n{}worker_processes 1;\npid {}/nginx.pid;\n"
      "error_log {}/error.log warn;\nevents {{ worker_connections 1024; }}\n"
      "http {{\n  log_format up '$msec $status $upstream_addr $upstream_status';\n  access_log {}/access.log up;\n  client_body_temp_path {}/body;\n"
      "  proxy_temp_path {}/proxy;\n  fastcgi_temp_path {}/fastcgi;\n"
      "  uwsgi_temp_path {}/uwsgi;\n  scgi_temp_path {}/scgi;\n"
      "  include {}/printmeter.conf;\n}}\n",
      geteuid() == 0 ? "user root;\n" : "", dir.string(), dir.string(),
      dir.string(), dir.string(), dir.string(), dir.string(), dir.string(), dir.string(),
      dir.string());
  conf.close();
  return Spawn({"/usr/sbin/nginx", "-p", dir.string() + "/", "-e",
                (dir / "error.log").string(), "-c",
                (dir / "nginx.conf").string()});
}

// `printmeter serve` on a database, listening on a port of its own. Its
// log is read away on a thread while it runs, so that a long log (every
// 503 while the database is away is a line) never fills the pipe and
// blocks it.
class Instance {
 public:
  ~Instance() { Stop(SIGKILL); }
  // False when it did not start (log() says why).
  bool Start(const std::string& url, uint16_t port) {
    child_ = Spawn({Binary(), "serve", "--listen",
                    fmt::format("127.0.0.1:{}", port), "--db", url,
                    "--config", ""});
    bool started = !child_.WaitFor("listening on 127.0.0.1:").empty();
    drain_ = std::thread([this] {
      char buf[4096];
      ssize_t n;
      while ((n = read(child_.err, buf, sizeof buf)) > 0) {
        child_.log.append(buf, static_cast<size_t>(n));
      }
    });
    return started;
  }
  // Sends `signal` and waits for the exit: its status, or 128 + the signal
  // that ended it.
  int Stop(int signal) {
    if (child_.pid <= 0) return -1;
    kill(child_.pid, signal);
    int status = 0;
    waitpid(child_.pid, &status, 0);
    child_.pid = -1;
    if (drain_.joinable()) drain_.join();
    close(child_.err);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  const std::string& log() const { return child_.log; }
  pid_t pid() const { return child_.pid; }

 private:
  Child child_;
  std::thread drain_;
};

bool Answers(uint16_t port, const std::string& target, int status) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    TestClient c(port);
    c.SetTimeout(2000);
    auto r = c.Send("GET", target, "", "");
    if (r.ok() && r->status == status) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

// Whether the running process `pid` has libpq mapped.
bool MapsLibpq(pid_t pid) {
  std::ifstream maps(fmt::format("/proc/{}/maps", pid));
  std::string line;
  while (std::getline(maps, line)) {
    if (line.find("/libpq.so") != std::string::npos) return true;
  }
  return false;
}

// libpq and the sixteen libraries it brings are loaded for a PostgreSQL
// database only (store/libpq.h): a Raspberry Pi on SQLite does not carry
// them. Both servers below answer a webhook, so both opened their store.
TEST(FarmBinaryTest, LibpqIsLoadedForAPostgresqlDatabaseOnly) {
  TempDir dir;
  std::string body = ReadFileBytes(
      testing::FixturesDir() + "/seed/01-octoprint-print-started.json");
  auto post = [&body](uint16_t port) {
    TestClient client(port);
    auto reply = client.Send("POST", "/webhook", "application/json", body);
    return reply.ok() ? reply->status : -1;
  };

  Instance on_sqlite;
  uint16_t port = FreePort();
  ASSERT_TRUE(
      on_sqlite.Start("sqlite:" + (dir.path() / "pm.db").string(), port))
      << on_sqlite.log();
  EXPECT_EQ(post(port), 200) << on_sqlite.log();
  EXPECT_FALSE(MapsLibpq(on_sqlite.pid()));
  EXPECT_EQ(on_sqlite.Stop(SIGTERM), 0) << on_sqlite.log();

  auto cluster = testing::PgCluster::Start();
  ASSERT_TRUE(cluster.ok()) << cluster.error().message;
  auto url = (*cluster)->NewDatabase();
  ASSERT_TRUE(url.ok()) << url.error().message;
  Instance on_postgresql;
  port = FreePort();
  ASSERT_TRUE(on_postgresql.Start(*url, port)) << on_postgresql.log();
  EXPECT_EQ(post(port), 200) << on_postgresql.log();
  EXPECT_TRUE(MapsLibpq(on_postgresql.pid()));
  EXPECT_EQ(on_postgresql.Stop(SIGTERM), 0) << on_postgresql.log();
}

TEST(FarmBinaryTest, BehindTheReadmesNginxNothingIsLostAcrossKillsAndACrash) {
  ASSERT_TRUE(std::filesystem::exists("/usr/sbin/nginx"))
      << "nginx is not installed: `make test-deps` installs nginx-light";
  auto cluster = testing::PgCluster::Start();
  ASSERT_TRUE(cluster.ok()) << cluster.error().message;
  auto url = (*cluster)->NewDatabase();
  ASSERT_TRUE(url.ok()) << url.error().message;
  uint64_t seed = std::random_device{}();
  if (const char* s = std::getenv("PM_CRASH_SEED"); s && *s) {
    seed = std::stoull(s);
  }
  SCOPED_TRACE(fmt::format("PM_CRASH_SEED={}", seed));
  std::mt19937_64 rng(seed);

  std::vector<uint16_t> ports = {FreePort(), FreePort()};
  ASSERT_NE(ports[0], ports[1]);
  std::vector<Instance> instances(2);
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(instances[i].Start(*url, ports[i])) << instances[i].log();
  }
  TempDir dir;
  uint16_t proxy = FreePort();
  std::string site = ReadmeNginxConfig(ports, proxy);
  ASSERT_NE(site.find(fmt::format("server 127.0.0.1:{}", ports[1])),
            std::string::npos)
      << "the README's nginx config was not found or not understood:\n"
      << site;
  Child nginx = StartNginx(dir.path(), site);
  ASSERT_TRUE(Answers(proxy, "/healthz", 200))
      << "nginx did not answer: " << nginx.log;

  std::vector<PrinterClient> clients = testing::MakeClients(rng);
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (auto& client : clients) {
    threads.emplace_back(
        [&client, proxy, &stop] { client.Run(proxy, stop, true); });
  }
  // One instance at a time is killed and restarted on its port; in the
  // middle, the database crashes and comes back.
  constexpr int kKills = 4;
  int database_crashes = 0;
  auto started = std::chrono::steady_clock::now();
  for (int k = 0; k < kKills; ++k) {
    std::this_thread::sleep_for(
        std::chrono::milliseconds(1500 + static_cast<int64_t>(rng() % 1000)));
    Instance& victim = instances[k % 2];
    EXPECT_EQ(victim.Stop(SIGKILL), 128 + SIGKILL);
    if (k == kKills / 2) {
      ASSERT_TRUE((*cluster)->Crash().ok());
      ++database_crashes;
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      Status restarted = (*cluster)->Restart();
      ASSERT_TRUE(restarted.ok()) << restarted.error().message;
    }
    ASSERT_TRUE(victim.Start(*url, ports[k % 2])) << victim.log();
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  stop = true;
  for (auto& t : threads) t.join();
  int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - started)
                   .count();
  for (Instance& instance : instances) {
    EXPECT_EQ(instance.Stop(SIGTERM), 0) << instance.log();
  }
  kill(nginx.pid, SIGTERM);
  nginx.Wait();
  std::string proxy_log = ReadFileBytes((dir.path() / "error.log").string());
  SCOPED_TRACE("nginx's error log ends: " +
               proxy_log.substr(proxy_log.size() -
                                std::min<size_t>(proxy_log.size(), 3000)));

  // Through the proxy a request may be stored again as a duplicate of
  // itself (its instance died before answering); while the database was
  // away, answers were 503.
  testing::LogTally tally = ExpectEachAcknowledgedLoggedOnce(
      *url, clients, {.proxied = true, .unavailable_allowed = true});
  LedgerView served = ServedLedger(*url);
  auto [status, output] =
      RunCommand(Binary() + " rebuild --db '" + *url + "' --config ''");
  ASSERT_EQ(status, 0) << output;
  LedgerView rebuilt = ServedLedger(*url);
  EXPECT_EQ(served.sessions.size(), rebuilt.sessions.size());
  EXPECT_TRUE(served.sessions == rebuilt.sessions)
      << "sessions differ:"
      << testing::Differences(served.sessions, rebuilt.sessions);
  EXPECT_TRUE(served.events == rebuilt.events)
      << "events' sessions differ:"
      << testing::Differences(served.events, rebuilt.events);

  int unavailable = 0, unanswered = 0;
  for (const auto& client : clients) {
    auto it = client.log.rejected_by_status.find(503);
    if (it != client.log.rejected_by_status.end()) unavailable += it->second;
    unanswered += client.log.unanswered;
  }
  // What the run exercised, so that a pass means something.
  EXPECT_GT(tally.acked, 200u) << "too little got through the proxy";
  EXPECT_GT(unavailable, 0) << "no answer saw the database away";
  EXPECT_GT(rebuilt.sessions.size(), 4u);
  Figure("seed", std::to_string(seed));
  Figure("faults", fmt::format("{} instance kills, {} database crash, in {} "
                               "ms",
                               kKills, database_crashes, ms));
  Figure("requests acknowledged of sent",
         fmt::format("{} of {} ({} duplicates answered, {} answered 503 "
                     "while the database was away, {} unanswered)",
                     tally.acked, tally.sent, tally.duplicates_answered,
                     unavailable, unanswered));
  Figure("sessions (after rebuild)",
         fmt::format("{}, {} events", rebuilt.sessions.size(),
                     rebuilt.events.size()));
}

}  // namespace
}  // namespace pm

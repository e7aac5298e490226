// End to end: the built `printmeter` binary. SIGTERM with a request in
// flight: it is answered and stored, and the server exits 0. Also the
// devices/import/rebuild commands on a real config file and database.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "cli/config.h"
#include "http/test_client.h"
#include "http/test_harness.h"
#include "binary_harness.h"

namespace pm {
namespace {

using testing::AllEvents;
using testing::AllSessions;
using testing::TempDir;

// Whether `pid` is gone (or a zombie nobody has reaped yet).
bool Gone(pid_t pid) {
  if (kill(pid, 0) != 0) return true;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), {});
  size_t close = text.rfind(')');
  return close == std::string::npos || text.substr(close + 2, 1) == "Z";
}

// A test that ends (fails, crashes) without stopping the server it started
// leaves none running: a process stands in for the test, starts a server,
// says its pid and exits.
TEST(HarnessTest, AServerDoesNotOutliveTheTestThatStartedIt) {
  TempDir dir;
  std::string db = "sqlite:" + (dir.path() / "pm.db").string();
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t test = fork();
  ASSERT_GE(test, 0);
  if (test == 0) {
    close(fds[0]);
    // Inherited by the server: it must not end merely by writing to the
    // stderr nobody reads any more (SIGPIPE), as it would not under
    // systemd (IgnoreSIGPIPE=yes).
    signal(SIGPIPE, SIG_IGN);
    Child server;
    pid_t pid = StartServe(server, db) != 0 ? server.pid : -1;
    (void)!write(fds[1], &pid, sizeof pid);
    _exit(0);  // no kill, no wait
  }
  close(fds[1]);
  pid_t server = -1;
  ASSERT_EQ(read(fds[0], &server, sizeof server),
            static_cast<ssize_t>(sizeof server));
  close(fds[0]);
  int status = 0;
  waitpid(test, &status, 0);
  ASSERT_GT(server, 0) << "the server did not start";
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!Gone(server) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  bool gone = Gone(server);
  if (!gone) kill(server, SIGKILL);
  EXPECT_TRUE(gone) << "printmeter serve (pid " << server
                    << ") outlived the test that started it";
}

// Its stderr closed by whoever read it (a log shipper that went away), the
// server goes on answering: a log line it cannot write is lost, not the
// server.
TEST(ServeBinaryTest, AClosedStderrDoesNotStopTheServer) {
  TempDir dir;
  Child server;
  uint16_t port = StartServe(server, "sqlite:" + (dir.path() / "pm.db").string(),
                             {"--auth", "open"});
  ASSERT_NE(port, 0) << server.log;
  close(server.err);
  server.err = -1;
  std::string body = ReadFileBytes(
      testing::FixturesDir() + "/seed/01-octoprint-print-started.json");
  for (int i = 0; i < 3; ++i) {  // each a line it would log
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    TestClient client(port);
    auto reply = client.Send("POST", "/webhook", "application/json", body);
    ASSERT_TRUE(reply.ok()) << "request " << i << ": "
                            << reply.error().message;
    EXPECT_EQ(reply->status, 200) << reply->body;
  }
  ASSERT_EQ(kill(server.pid, SIGTERM), 0);
  int status = 0;
  waitpid(server.pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "status " << status;
}

TEST(ServeBinaryTest, SigtermAnswersTheRequestInFlightAndExitsZero) {
  TempDir dir;
  std::string db = "sqlite:" + (dir.path() / "pm.db").string();
  Child server = Spawn({Binary(), "serve", "--listen", "127.0.0.1:0", "--db",
                        db, "--config", "", "--auth", "tofu"});
  std::string line = server.WaitFor("listening on 127.0.0.1:");
  ASSERT_FALSE(line.empty()) << server.log;
  uint16_t port = static_cast<uint16_t>(
      std::stoi(line.substr(line.rfind(':') + 1)));
  EXPECT_FALSE(server.WaitFor("/webhook").empty()) << server.log;

  std::string body = ReadFileBytes(
      testing::FixturesDir() + "/seed/01-octoprint-print-started.json");
  TestClient client(port);
  // Head first; the 100 Continue proves the server holds the request.
  ASSERT_TRUE(client
                  .Write("POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: "
                         "application/json\r\nExpect: 100-continue\r\n"
                         "Content-Length: " +
                         std::to_string(body.size()) + "\r\n\r\n")
                  .ok());
  auto go = client.ReadReply();
  ASSERT_TRUE(go.ok()) << go.error().message;
  ASSERT_EQ(go->status, 100);
  ASSERT_EQ(kill(server.pid, SIGTERM), 0);
  EXPECT_FALSE(server.WaitFor("SIGTERM").empty()) << server.log;
  ASSERT_TRUE(client.Write(body).ok());
  auto reply = client.ReadReply();
  ASSERT_TRUE(reply.ok()) << reply.error().message;
  EXPECT_EQ(reply->status, 200) << reply->body;
  EXPECT_EQ(server.Wait(), 0) << server.log;

  auto store = testing::MustOpen(db);
  auto events = AllEvents(*store);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].event.device, "delta");
  EXPECT_EQ(AllSessions(*store).size(), 1u);
}

TEST(ServeBinaryTest, DevicesAddListRemoveEditTheConfigFile) {
  TempDir dir;
  std::string config = (dir.path() / "pm.toml").string();
  std::string db = "sqlite:" + (dir.path() / "pm.db").string();
  std::string base = Binary() + " devices ";
  auto [rc, out] = RunCommand(base + "add delta --name 'MK3S by the door' --secret "
                       "abc123 --rate-per-hour 1.5 --config " + config);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("/webhook"), std::string::npos) << out;
  EXPECT_NE(out.find("abc123"), std::string::npos) << out;
  EXPECT_NE(out.find("Print Started"), std::string::npos) << out;
  auto loaded = LoadConfigFile(config, true);
  ASSERT_TRUE(loaded.ok());
  ASSERT_EQ(loaded->devices.count("delta"), 1u);
  EXPECT_EQ(loaded->devices.at("delta").secret, "abc123");
  EXPECT_EQ(loaded->devices.at("delta").rates.rate_per_hour, 1.5);

  // A generated secret when none is given.
  std::tie(rc, out) = RunCommand(base + "add mk4 --config " + config);
  ASSERT_EQ(rc, 0) << out;
  loaded = LoadConfigFile(config, true);
  ASSERT_TRUE(loaded.ok());
  ASSERT_TRUE(loaded->devices.at("mk4").secret.has_value());
  EXPECT_EQ(loaded->devices.at("mk4").secret->size(), 32u);

  // Import a seed so that list shows a device heard from.
  std::tie(rc, out) = RunCommand(Binary() + " import --config " + config + " --db " +
                          db + " " + testing::FixturesDir() +
                          "/seed/03-sdcard-print-started.json");
  // delta is configured with secret abc123; the seed sends "": refused.
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("rejected 1"), std::string::npos) << out;
  std::tie(rc, out) = RunCommand(base + "remove delta --config " + config);
  ASSERT_EQ(rc, 0) << out;
  std::tie(rc, out) = RunCommand(Binary() + " import --config " + config + " --db " +
                          db + " " + testing::FixturesDir() +
                          "/seed/03-sdcard-print-started.json " +
                          testing::FixturesDir() +
                          "/seed/04-sdcard-print-done.json");
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("stored 2"), std::string::npos) << out;

  std::tie(rc, out) = RunCommand(base + "list --config " + config + " --db " + db);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("mk4"), std::string::npos) << out;
  EXPECT_NE(out.find("delta"), std::string::npos) << out;  // heard from
  EXPECT_NE(out.find("tofu"), std::string::npos) << out;

  std::tie(rc, out) = RunCommand(Binary() + " rebuild --config " + config +
                          " --db " + db);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("rebuilt 1 session"), std::string::npos) << out;

  std::tie(rc, out) = RunCommand(base + "remove nosuch --config " + config);
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("not in"), std::string::npos) << out;
}

}  // namespace
}  // namespace pm

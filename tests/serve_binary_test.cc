// End to end: the built `printmeter` binary. SIGTERM with a request in
// flight: it is answered and stored, and the server exits 0. Also the
// devices/import/rebuild commands on a real config file and database.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "http/test_client.h"
#include "http/test_harness.h"

namespace pm {
namespace {

using testing::AllEvents;
using testing::AllSessions;
using testing::TempDir;

std::string Binary() {
  const char* dir = std::getenv("PM_BUILD_DIR");
  return std::string(dir ? dir : ".") + "/printmeter";
}

// A running child process with its stderr on a pipe.
struct Child {
  pid_t pid = -1;
  int err = -1;       // read end of its stderr
  std::string log;    // what it wrote so far

  // Reads stderr until `needle` appears (or EOF); returns the line.
  std::string WaitFor(const std::string& needle) {
    char buf[4096];
    for (;;) {
      size_t at = log.find(needle);
      if (at != std::string::npos) {
        size_t end = log.find('\n', at);
        size_t begin = log.rfind('\n', at);
        begin = begin == std::string::npos ? 0 : begin + 1;
        return log.substr(begin, end - begin);
      }
      ssize_t n = read(err, buf, sizeof buf);
      if (n <= 0) return "";
      log.append(buf, static_cast<size_t>(n));
    }
  }
  int Wait() {
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
};

Child Spawn(const std::vector<std::string>& args) {
  int pipe_fds[2];
  EXPECT_EQ(pipe(pipe_fds), 0);
  Child child;
  child.pid = fork();
  if (child.pid == 0) {
    dup2(pipe_fds[1], 2);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(pipe_fds[1]);
  child.err = pipe_fds[0];
  return child;
}

// Runs a command to completion; returns its exit status and stdout.
std::pair<int, std::string> RunCommand(const std::string& command) {
  std::string out;
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
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

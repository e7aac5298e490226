// Helpers for end-to-end tests of the built `printmeter` binary: run a
// command to completion, or spawn a server and read its log.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "http/test_client.h"

namespace pm {

// Waits until the server on `port` has folded into its ledger every event
// it answered (/readyz says "lag_events":0); false after 10 s. The ledger
// trails the answers by a moment (ledger.md section 2).
inline bool WaitForLedger(uint16_t port) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    TestClient client(port);
    auto ready = client.Send("GET", "/readyz", "", "");
    if (ready.ok() && ready->body.find("\"lag_events\":0,") != std::string::npos) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

// The binary under test: $PM_BUILD_DIR/printmeter.
inline std::string Binary() {
  const char* dir = std::getenv("PM_BUILD_DIR");
  return std::string(dir ? dir : ".") + "/printmeter";
}

// A running child process with its stderr on a pipe.
struct Child {
  pid_t pid = -1;
  int err = -1;     // read end of its stderr
  std::string log;  // what it wrote so far

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
  // Waits for the exit: its status, or 128 + the signal that ended it. The
  // rest of its stderr is read into `log` first.
  int Wait() {
    int status = 0;
    waitpid(pid, &status, 0);
    WaitFor("\x01");  // the rest of stderr, to EOF
    close(err);
    err = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
};

// Starts `args` (args[0] a path) with its stderr on a pipe. The child is
// killed (SIGKILL) when the thread that spawned it ends, so a test that
// fails or crashes before it stops its server leaves nothing running.
inline Child Spawn(const std::vector<std::string>& args) {
  int pipe_fds[2];
  EXPECT_EQ(pipe(pipe_fds), 0);
  Child child;
  const pid_t parent = getpid();
  child.pid = fork();
  if (child.pid == 0) {
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) {
      _exit(127);  // the test is already gone
    }
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

// `printmeter serve` on a free loopback port; its port, or 0 when it did not
// start (then `child.log` says why).
inline uint16_t StartServe(Child& child, const std::string& db,
                           std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {Binary(), "serve", "--listen", "127.0.0.1:0",
                                   "--db",   db,      "--config", ""};
  args.insert(args.end(), extra.begin(), extra.end());
  child = Spawn(args);
  std::string line = child.WaitFor("listening on 127.0.0.1:");
  if (line.empty()) return 0;
  return static_cast<uint16_t>(std::stoi(line.substr(line.rfind(':') + 1)));
}

// Runs a command to completion; returns its exit status and stdout.
inline std::pair<int, std::string> RunCommand(const std::string& command) {
  std::string out;
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

}  // namespace pm

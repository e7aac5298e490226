// End to end, on the built `printmeter` binary: killed with SIGKILL under
// load again and again, it loses nothing it acknowledged; a database file it
// must not use makes every command refuse to start, naming the file and
// what to do, and leaves it untouched; a second writer through another name
// for the same file is refused.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>

#include <atomic>
#include <boost/json/parse.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "binary_harness.h"
#include "http/test_client.h"
#include "http/test_harness.h"
#include "store/write_batch.h"

namespace pm {
namespace {

using testing::TempDir;

void Figure(const char* test, const char* what, const std::string& value) {
  std::cout << "reliability-figure: FaultsBinaryTest." << test << ": " << what
            << ": " << value << std::endl;
}

std::string Body(int client, int i) {
  return fmt::format(
      R"({{"deviceIdentifier":"printer-{}","apiSecret":"s","topic":"{}",)"
      R"("extra":{{"name":"part.gcode","progress":{}}},"currentTime":{}}})",
      client, i % 50 == 0 ? "Print Started" : "Print Progress", i % 100,
      1722000000 + i);
}

// Clients post until the server dies; every 200 is an acknowledged id.
struct Load {
  std::mutex mu;
  std::set<int64_t> acked;  // guarded by mu
  std::atomic<int> sent{0};

  void Run(uint16_t port, int client, std::atomic<bool>& stop, int& next) {
    TestClient c(port);
    while (!stop) {
      auto r =
          c.Send("POST", "/webhook", "application/json", Body(client, next++));
      ++sent;
      if (!r.ok()) return;  // the server is gone
      if (r->status != 200) continue;
      int64_t id = boost::json::parse(r->body).at("event").as_int64();
      std::lock_guard lock(mu);
      acked.insert(id);
    }
  }
  size_t count() {
    std::lock_guard lock(mu);
    return acked.size();
  }
};

TEST(FaultsBinaryTest, SigkillUnderLoadLosesNothingAcknowledged) {
  TempDir dir;
  std::string db = "sqlite:" + (dir.path() / "pm.db").string();
  constexpr int kKills = 20;
  constexpr int kClients = 4;
  Load load;
  std::vector<int> next(kClients, 0);
  for (int k = 0; k < kKills; ++k) {
    Child server;
    uint16_t port = StartServe(server, db, {"--auth", "open"});
    ASSERT_NE(port, 0) << server.log;
    std::atomic<bool> stop{false};
    std::vector<std::thread> clients;
    for (int c = 0; c < kClients; ++c) {
      clients.emplace_back([&, c] { load.Run(port, c, stop, next[c]); });
    }
    // Kill once a few hundred more requests were acknowledged.
    size_t target = load.count() + 100 + 20 * k;
    auto give_up = std::chrono::steady_clock::now() + std::chrono::minutes(2);
    while (load.count() < target &&
           std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    EXPECT_GE(load.count(), target) << "the server stopped acknowledging";
    ASSERT_EQ(kill(server.pid, SIGKILL), 0);
    EXPECT_EQ(server.Wait(), 128 + SIGKILL);
    stop = true;
    for (auto& t : clients) t.join();
  }
  auto store = testing::MustOpen(db);
  ASSERT_NE(store, nullptr);
  std::set<int64_t> stored;
  for (const EventRecord& r : testing::AllEvents(*store)) {
    stored.insert(r.event.id);
  }
  size_t found = 0;
  for (int64_t id : load.acked) found += stored.count(id);
  EXPECT_EQ(found, load.acked.size()) << "acknowledged events were lost";
  Figure("SigkillUnderLoadLosesNothingAcknowledged", "kills survived",
         std::to_string(kKills));
  Figure("SigkillUnderLoadLosesNothingAcknowledged",
         "requests acknowledged and found",
         fmt::format("{} of {} ({} sent)", found, load.acked.size(),
                     load.sent.load()));
}

std::string Slurp(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Every command that opens the database refuses `file`: exit status 1-125,
// the message names the file and `words`; the file is unchanged.
void ExpectEveryCommandRefuses(const std::filesystem::path& file,
                               const std::string& words) {
  std::string before = Slurp(file);
  std::string db = "sqlite:" + file.string();
  const std::vector<std::vector<std::string>> commands = {
      {Binary(), "serve", "--listen", "127.0.0.1:0", "--db", db, "--config",
       ""},
      {Binary(), "rebuild", "--db", db, "--config", ""},
      {Binary(), "report", "--db", db, "--config", ""},
      {Binary(), "sessions", "--db", db, "--config", ""},
  };
  for (const auto& args : commands) {
    Child child = Spawn(args);
    int status = child.Wait();
    EXPECT_GT(status, 0) << args[1] << " started on " << file;
    EXPECT_LT(status, 126) << args[1] << ": " << child.log;
    EXPECT_NE(child.log.find(file.string()), std::string::npos)
        << args[1] << ": " << child.log;
    EXPECT_NE(child.log.find(words), std::string::npos)
        << args[1] << ": " << child.log;
    EXPECT_EQ(Slurp(file), before) << args[1] << " changed " << file;
  }
}

TEST(FaultsBinaryTest, EveryCommandRefusesADatabaseItMustNotUse) {
  TempDir dir;
  std::filesystem::path empty = dir.path() / "empty.db";
  std::ofstream(empty).close();
  ExpectEveryCommandRefuses(empty, "backup");

  std::filesystem::path garbage = dir.path() / "garbage.db";
  std::ofstream(garbage) << "this is not a database\n";
  ExpectEveryCommandRefuses(garbage, "not an SQLite database");

  // A real ledger, cut short.
  std::filesystem::path cut = dir.path() / "cut.db";
  {
    auto store = testing::MustOpen("sqlite:" + cut.string());
    WriteBatch batch;
    for (int i = 0; i < 300; ++i) {
      batch.devices.push_back(
          {"p" + std::to_string(i), std::string(200, 's'), 1, 2});
    }
    ASSERT_TRUE(CommitBatch(*store, batch).ok());
  }
  std::filesystem::resize_file(cut, std::filesystem::file_size(cut) / 2);
  ExpectEveryCommandRefuses(cut, "truncated");

  std::filesystem::path newer = dir.path() / "newer.db";
  { auto store = testing::MustOpen("sqlite:" + newer.string()); }
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(newer.c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(
      sqlite3_exec(raw, "PRAGMA user_version = 999", nullptr, nullptr, nullptr),
      SQLITE_OK);
  sqlite3_close(raw);
  ExpectEveryCommandRefuses(newer, "upgrade printmeter");
}

TEST(FaultsBinaryTest, ASecondServeThroughASymlinkOrHardLinkIsRefused) {
  TempDir dir;
  std::filesystem::path file = dir.path() / "pm.db";
  Child first;
  uint16_t port = StartServe(first, "sqlite:" + file.string());
  ASSERT_NE(port, 0) << first.log;
  std::filesystem::create_symlink(file, dir.path() / "link.db");
  std::filesystem::create_hard_link(file, dir.path() / "hard.db");
  for (const char* name : {"link.db", "hard.db"}) {
    Child second;
    std::string db = "sqlite:" + (dir.path() / name).string();
    EXPECT_EQ(StartServe(second, db), 0) << name << " started";
    EXPECT_NE(second.Wait(), 0);
    EXPECT_NE(second.log.find("is being written by another printmeter"),
              std::string::npos)
        << second.log;
  }
  // The first one still takes webhooks.
  TestClient c(port);
  auto r = c.Send("POST", "/webhook", "application/json", Body(0, 0));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200) << r->body;
  ASSERT_EQ(kill(first.pid, SIGTERM), 0);
  EXPECT_EQ(first.Wait(), 0) << first.log;
}

}  // namespace
}  // namespace pm

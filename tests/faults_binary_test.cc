// End to end, on the built `printmeter` binary: killed with SIGKILL under
// load again and again, it loses nothing it acknowledged, and the ledger it
// builds across the crashes is the one `rebuild` folds from the log; a
// database file it must not use makes every command refuse to start,
// naming the file and what to do, and leaves it untouched; a second writer
// through another name for the same file is refused.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>

#include <atomic>
#include <boost/json/parse.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "binary_harness.h"
#include "http/test_client.h"
#include "http/test_harness.h"
#include "printer_sim.h"
#include "served_ledger.h"
#include "store/write_batch.h"

namespace pm {
namespace {

using testing::ClientLog;
using testing::Differences;
using testing::ExpectEachAcknowledgedLoggedOnce;
using testing::GetJson;
using testing::LedgerView;
using testing::LogTally;
using testing::MakeClients;
using testing::PrinterClient;
using testing::ServedLedger;
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
  auto store = testing::MustOpenAfterServe(db);
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

// --- the ledger across crashes ---

// The log's length beyond the projection's position, read from the file
// itself (after a kill: what the next start must fold); -1 when unreadable.
int64_t ProjectionLagInFile(const std::filesystem::path& file) {
  sqlite3* db = nullptr;
  int64_t lag = -1;
  if (sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) ==
      SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    const char* sql =
        "SELECT (SELECT coalesce(max(id), 0) FROM events) - "
        "(SELECT coalesce(max(position), 0) FROM projection)";
    if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
      lag = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return lag;
}

struct KillRun {
  int kills = 0;
  int readyz_lagging = 0;  // /readyz said lag_events > 0 just before
  int behind_in_file = 0;  // the file's projection trailed its log after
  int64_t ms = 0;
};

// Starts the server on `file` and SIGKILLs it under the clients' load,
// `max_kills` times or until `budget` is spent.
KillRun KillUnderLoad(const std::filesystem::path& file,
                      std::vector<PrinterClient>& clients, std::mt19937_64& rng,
                      int max_kills, std::chrono::seconds budget) {
  KillRun run;
  auto started = std::chrono::steady_clock::now();
  while (run.kills < max_kills &&
         std::chrono::steady_clock::now() - started < budget) {
    Child server;
    uint16_t port = StartServe(server, "sqlite:" + file.string());
    EXPECT_NE(port, 0) << server.log;
    if (port == 0) break;
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    for (auto& client : clients) {
      threads.emplace_back([&client, port, &stop] { client.Run(port, stop); });
    }
    // Some kills come right after a start, while the server folds what
    // the last crash left; the others after a while under load.
    int64_t wait_ms = run.kills % 4 == 0
                          ? static_cast<int64_t>(rng() % 60)
                          : 100 + static_cast<int64_t>(rng() % 600);
    std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms));
    auto ready = GetJson(port, "/readyz");
    if (ready.is_object() && ready.at("lag_events").as_int64() > 0) {
      ++run.readyz_lagging;
    }
    EXPECT_EQ(kill(server.pid, SIGKILL), 0);
    EXPECT_EQ(server.Wait(), 128 + SIGKILL);
    stop = true;
    for (auto& t : threads) t.join();
    ++run.kills;
    if (ProjectionLagInFile(file) > 0) ++run.behind_in_file;
  }
  run.ms = std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now() - started)
               .count();
  return run;
}

// Kills the server at random moments while printers send their prints'
// requests (late ones and resends among them), restarting it on the same
// file each time. Then: every acknowledged request is in the log once, with
// the id it was answered with, and the ledger built across the crashes is
// the one `printmeter rebuild` folds from the whole log (ledger.md section
// 2: the projection converges to the fold of the log, whatever crashed).
// PM_CRASH_SEED=N repeats a run's requests (not its kill moments).
TEST(FaultsBinaryTest, LedgerBuiltAcrossKillsEqualsTheRebuiltLedger) {
  TempDir dir;
  std::filesystem::path file = dir.path() / "pm.db";
  std::string db = "sqlite:" + file.string();
  uint64_t seed = std::random_device{}();
  if (const char* s = std::getenv("PM_CRASH_SEED"); s && *s) {
    seed = std::stoull(s);
  }
  SCOPED_TRACE(fmt::format("PM_CRASH_SEED={}", seed));
  std::mt19937_64 rng(seed);
  std::vector<PrinterClient> clients = MakeClients(rng);
  KillRun run = KillUnderLoad(file, clients, rng, 20, std::chrono::seconds(20));

  // The ledger the projection built across the crashes, caught up.
  LedgerView served = ServedLedger(db);
  LogTally tally = ExpectEachAcknowledgedLoggedOnce(db, clients);

  // The same log, folded whole by `printmeter rebuild`.
  auto [status, output] =
      RunCommand(Binary() + " rebuild --db " + db + " --config ''");
  ASSERT_EQ(status, 0) << output;
  LedgerView rebuilt = ServedLedger(db);
  EXPECT_EQ(served.sessions.size(), rebuilt.sessions.size());
  EXPECT_TRUE(served.sessions == rebuilt.sessions)
      << "sessions differ:" << Differences(served.sessions, rebuilt.sessions);
  EXPECT_EQ(served.events.size(), rebuilt.events.size());
  EXPECT_TRUE(served.events == rebuilt.events)
      << "events' sessions differ:"
      << Differences(served.events, rebuilt.events);

  // What the run exercised, so that a pass means something.
  std::map<std::string, int> by_status;
  int inferred = 0;
  for (const auto& [id, text] : rebuilt.sessions) {
    auto s = boost::json::parse(text).as_object();
    ++by_status[std::string(s.at("status").as_string())];
    inferred += s.at("start_inferred").as_bool();
  }
  EXPECT_GE(run.kills, 5) << "too few kills within the time budget";
  EXPECT_GT(run.behind_in_file, 0) << "no kill left the ledger behind the log";
  EXPECT_GT(tally.late, 0);
  EXPECT_GT(tally.duplicates_answered, 0);
  for (const char* name : {"completed", "cancelled", "interrupted"}) {
    EXPECT_GT(by_status[name], 0) << name;
  }
  std::string statuses;
  for (const auto& [name, n] : by_status) {
    statuses += fmt::format("{} {}, ", name, n);
  }
  const char* test = "LedgerBuiltAcrossKillsEqualsTheRebuiltLedger";
  Figure(test, "seed", std::to_string(seed));
  Figure(test,
         "kills (readyz lagging just before / projection behind the log in "
         "the file after)",
         fmt::format("{} ({} / {}) in {} ms", run.kills, run.readyz_lagging,
                     run.behind_in_file, run.ms));
  Figure(test, "requests acknowledged of sent",
         fmt::format("{} of {} ({} duplicates, {} late in the log, {} "
                     "rejected)",
                     tally.acked, tally.sent, tally.duplicates_answered,
                     tally.late, tally.rejected));
  Figure(test, "sessions (after rebuild)",
         fmt::format("{} ({}{} start inferred), {} events",
                     rebuilt.sessions.size(), statuses, inferred,
                     rebuilt.events.size()));
  RecordProperty("seed", std::to_string(seed));
  RecordProperty("kills", run.kills);
  RecordProperty("kills_with_readyz_lag", run.readyz_lagging);
  RecordProperty("kills_with_projection_behind_in_file", run.behind_in_file);
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

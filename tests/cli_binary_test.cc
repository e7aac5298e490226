// End to end: the built `printmeter` binary's commands as a user meets them:
// the cost of every print across a rate change, read-only commands on a
// missing or read-only database, `devices add|remove` editing a hand-written
// config file, settings as flags, one log format, /metrics accepted by
// `promtool check metrics`, and `maintenance list|done`.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <boost/json/parse.hpp>
#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "binary_harness.h"
#include "cli/config.h"
#include "http/test_client.h"
#include "http/test_harness.h"
#include "store/pg_test_cluster.h"

namespace pm {
namespace {

namespace json = boost::json;
using testing::TempDir;

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

std::string Seed(const char* name) {
  return testing::FixturesDir() + "/seed/" + name;
}

// A server on a free loopback port, stopped (SIGTERM) when destroyed.
struct Server {
  Child child;
  uint16_t port = 0;

  explicit Server(std::vector<std::string> args) {
    args.insert(args.begin(), {Binary(), "serve", "--listen", "127.0.0.1:0"});
    child = Spawn(args);
    std::string line = child.WaitFor("listening on 127.0.0.1:");
    EXPECT_FALSE(line.empty()) << child.log;
    if (!line.empty()) {
      port = static_cast<uint16_t>(std::stoi(line.substr(line.rfind(':') + 1)));
    }
  }
  int Stop() {
    if (child.pid <= 0) return -1;
    kill(child.pid, SIGTERM);
    int rc = child.Wait();
    child.pid = -1;
    return rc;
  }
  ~Server() { Stop(); }
};

size_t RateRows(const std::string& db) {
  auto store = testing::MustOpen(db);
  auto changes = store->LoadRateChanges();
  EXPECT_TRUE(changes.ok());
  return changes.ok() ? changes->size() : 0;
}

// session id -> cost, from `printmeter sessions --format json`.
std::map<int64_t, double> Costs(const std::string& args,
                                std::string* currency) {
  auto [rc, out] = RunCommand(Binary() + " sessions --format json " + args);
  EXPECT_EQ(rc, 0) << out;
  std::map<int64_t, double> costs;
  boost::system::error_code ec;
  json::value v = json::parse(out, ec);
  EXPECT_FALSE(ec) << out;
  if (ec) return costs;
  if (currency && v.at("currency").is_string()) {
    *currency = v.at("currency").as_string();
  }
  for (const auto& s : v.at("sessions").as_array()) {
    costs[s.at("id").as_int64()] = s.at("cost").to_number<double>();
  }
  return costs;
}

// On each store: import, devices add, sessions, report, serve and rebuild
// are the same commands on a SQLite file and on PostgreSQL.
class CostBinaryTest : public ::testing::TestWithParam<std::string> {};
INSTANTIATE_TEST_SUITE_P(Stores, CostBinaryTest,
                         ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

TEST_P(CostBinaryTest, EachPrintKeepsThePriceOfItsStartAcrossARateChange) {
  TempDir dir;
  std::string config = (dir.path() / "pm.toml").string();
  std::string db = "sqlite:" + (dir.path() / "pm.db").string();
  if (GetParam() == "postgresql") {
    testing::PgCluster* cluster = testing::SharedPgCluster();
    ASSERT_NE(cluster, nullptr) << "no PostgreSQL server for the tests";
    auto url = cluster->NewDatabase();
    ASSERT_TRUE(url.ok()) << url.error().message;
    db = *url;
  }
  std::string flags = " --config " + config + " --db " + db;
  WriteFile(config,
            "auth = \"open\"\ncurrency = \"EUR\"\n\n[devices.delta]\n"
            "rate_per_hour = 3.6\n");
  // The first print: 1150 s at 3.60/h = 1.15.
  auto [rc, out] = RunCommand(Binary() + " import" + flags + " " +
                              Seed("01-octoprint-print-started.json") + " " +
                              Seed("02-octoprint-print-done.json"));
  ASSERT_EQ(rc, 0) << out;
  std::string currency;
  auto costs = Costs(flags, &currency);
  ASSERT_EQ(costs.size(), 1u);
  EXPECT_DOUBLE_EQ(costs.begin()->second, 1.15);
  EXPECT_EQ(currency, "EUR");

  // New rates; the next print (stamped now) costs at least 7.
  std::tie(rc, out) = RunCommand(Binary() +
                                 " devices add delta --rate-per-hour "
                                 "36 --minimum 7" +
                                 flags);
  ASSERT_EQ(rc, 0) << out;
  std::string start = (dir.path() / "start.json").string();
  std::string done = (dir.path() / "done.json").string();
  WriteFile(start, R"({"deviceIdentifier": "delta", "topic": "Print Started",
    "extra": {"name": "cube.gcode", "path": "cube.gcode", "origin": "local"}})");
  WriteFile(done, R"({"deviceIdentifier": "delta", "topic": "Print Done",
    "extra": {"name": "cube.gcode", "path": "cube.gcode", "time": 1}})");
  std::tie(rc, out) =
      RunCommand(Binary() + " import" + flags + " " + start + " " + done);
  ASSERT_EQ(rc, 0) << out;
  costs = Costs(flags, nullptr);
  ASSERT_EQ(costs.size(), 2u);
  EXPECT_DOUBLE_EQ(costs.begin()->second, 1.15);  // never re-priced
  EXPECT_DOUBLE_EQ(costs.rbegin()->second, 7);    // its own rates
  // Usage sums the sessions' own costs.
  std::tie(rc, out) = RunCommand(Binary() +
                                 " report --format json --from "
                                 "2024-01-01" +
                                 flags);
  ASSERT_EQ(rc, 0) << out;
  json::value report = json::parse(out);
  EXPECT_DOUBLE_EQ(report.at("totals").at("cost").to_number<double>(), 8.15);
  EXPECT_EQ(report.at("currency").as_string(), "EUR");

  // Unchanged config: a restart, a report and a rebuild record nothing, and
  // rebuild keeps the prices.
  size_t rows = RateRows(db);
  {
    Server server({"--config", config, "--db", db});
    EXPECT_EQ(server.Stop(), 0) << server.child.log;
  }
  std::tie(rc, out) = RunCommand(Binary() + " rebuild" + flags);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(RateRows(db), rows);
  EXPECT_EQ(Costs(flags, nullptr), costs);
  // CSV and the table show it too.
  std::tie(rc, out) = RunCommand(Binary() + " sessions --format csv" + flags);
  EXPECT_NE(out.find(",cost\r\n"), std::string::npos) << out;
  EXPECT_NE(out.find(",1.15\r\n"), std::string::npos) << out;
  std::tie(rc, out) = RunCommand(Binary() + " sessions" + flags);
  EXPECT_NE(out.find("COST"), std::string::npos) << out;
  EXPECT_NE(out.find("costs in EUR"), std::string::npos) << out;
  std::tie(rc, out) = RunCommand(Binary() + " devices list" + flags);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("delta"), std::string::npos) << out;
}

TEST(CliBinaryTest, ReadOnlyCommandsRefuseAPathThatNamesNoDatabase) {
  TempDir dir;
  std::string missing = (dir.path() / "typo.db").string();
  for (std::string command : {"report", "sessions", "devices list"}) {
    auto [rc, out] = RunCommand(Binary() + " " + command +
                                " --config '' --db sqlite:" + missing);
    EXPECT_EQ(rc, 1) << command << ": " << out;
    EXPECT_NE(out.find("no database at " + missing +
                       "; start `printmeter serve --db"),
              std::string::npos)
        << command << ": " << out;
    EXPECT_FALSE(std::filesystem::exists(missing)) << command;
  }
}

TEST(CliBinaryTest, ReadOnlyCommandsWorkOnAReadOnlyFileAndLeaveItAlone) {
  TempDir dir;
  std::string path = (dir.path() / "pm.db").string();
  std::string flags = " --config '' --db sqlite:" + path;
  auto [rc, out] = RunCommand(Binary() + " import" + flags + " " +
                              Seed("01-octoprint-print-started.json") + " " +
                              Seed("02-octoprint-print-done.json"));
  ASSERT_EQ(rc, 0) << out;
  // Record the history first (an empty history gets its marker entry).
  std::tie(rc, out) = RunCommand(Binary() + " report" + flags);
  ASSERT_EQ(rc, 0) << out;
  std::string before = ReadFileBytes(path);
  ASSERT_EQ(chmod(path.c_str(), 0444), 0);
  for (std::string command :
       {"report", "sessions --format json", "devices list"}) {
    std::tie(rc, out) = RunCommand(Binary() + " " + command + flags);
    EXPECT_EQ(rc, 0) << command << ": " << out;
    EXPECT_EQ(out.find("not writable"), std::string::npos) << out;
  }
  EXPECT_NE(out.find("delta"), std::string::npos) << out;
  EXPECT_EQ(ReadFileBytes(path), before);
}

constexpr const char* kHandWritten = R"(# the makerspace's printmeter
auth = "tofu"
stale_after = "2h"   # short prints

[devices.delta]
name = "Prusa by the door"
rate_per_m = 0.05
)";

TEST(CliBinaryTest, DevicesAddAndRemoveEditOnlyTheirTable) {
  TempDir dir;
  std::string config = (dir.path() / "pm.toml").string();
  std::string db = "sqlite:" + (dir.path() / "pm.db").string();
  WriteFile(config, kHandWritten);
  // A printer that registered itself on first contact (tofu).
  auto [rc, out] = RunCommand(Binary() + " import --config '' --db " + db +
                              " " + Seed("01-octoprint-print-started.json"));
  ASSERT_EQ(rc, 0) << out;
  std::tie(rc, out) =
      RunCommand(Binary() +
                 " devices add delta --rate-per-hour 2 --secret "
                 "s3 --config " +
                 config + " --db " + db);
  ASSERT_EQ(rc, 0) << out;
  std::string want(kHandWritten);
  want += "secret = \"s3\"\nrate_per_hour = 2\n";
  EXPECT_EQ(ReadFileBytes(config), want);
  EXPECT_NE(out.find("registered its own secret on first contact"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("paste it into"), std::string::npos) << out;

  // The same rule for ids as the receiver's /webhook/my%20printer.
  std::tie(rc, out) = RunCommand(Binary() +
                                 " devices add 'my printer' "
                                 "--secret s4 --config " +
                                 config);
  ASSERT_EQ(rc, 0) << out;
  auto loaded = LoadConfigFile(config, true);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(loaded->devices.at("my printer").secret, "s4");
  EXPECT_EQ(loaded->devices.at("delta").rates.rate_per_m, 0.05);
  EXPECT_EQ(loaded->stale_after, 2 * kHourMs);
  std::tie(rc, out) = RunCommand(Binary() +
                                 " devices add \"$(printf "
                                 "'bad\\tid')\" --config " +
                                 config);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("control character"), std::string::npos) << out;

  std::tie(rc, out) = RunCommand(Binary() +
                                 " devices remove 'my printer' "
                                 "--config " +
                                 config);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(ReadFileBytes(config), want + "\n");
}

TEST(CliBinaryTest, EverySettingIsAFlagAndHelpSaysWhatItDoes) {
  auto [rc, help] = RunCommand(Binary() + " serve --help");
  ASSERT_EQ(rc, 0) << help;
  for (const char* text :
       {"--read-token", "--admin-token", "--timezone", "--currency", "--listen",
        "--auth", "--stale-after", "PRINTMETER_READ_TOKEN",
        "Authorization: Bearer TOKEN", "config admin_token"}) {
    EXPECT_NE(help.find(text), std::string::npos) << text;
  }
  TempDir dir;
  std::string db = "sqlite:" + (dir.path() / "pm.db").string();
  Server server({"--config", "", "--db", db, "--read-token", "r-secret",
                 "--timezone", "Europe/Berlin"});
  ASSERT_NE(server.port, 0);
  TestClient client(server.port);
  auto denied = client.Send("GET", "/api/v1/printers", "", "");
  ASSERT_TRUE(denied.ok());
  EXPECT_EQ(denied->status, 401);
  auto allowed = client.Send("GET", "/api/v1/printers", "", "",
                             "Authorization: Bearer r-secret\r\n");
  ASSERT_TRUE(allowed.ok());
  EXPECT_EQ(allowed->status, 200);
  auto usage = client.Send("GET", "/api/v1/usage", "", "",
                           "Authorization: Bearer r-secret\r\n");
  ASSERT_TRUE(usage.ok());
  EXPECT_NE(usage->body.find("\"tz\":\"Europe/Berlin\""), std::string::npos)
      << usage->body;
  // A bad value is an error that names the flag.
  std::tie(rc, help) = RunCommand(Binary() + " serve --config '' --db " + db +
                                  " --auth sometimes");
  EXPECT_EQ(rc, 1);
  EXPECT_NE(help.find("--auth sometimes is not one of"), std::string::npos)
      << help;
}

TEST(CliBinaryTest, ImportLogsLikeServe) {
  TempDir dir;
  std::string db = "sqlite:" + (dir.path() / "pm.db").string();
  auto [rc, out] = RunCommand(Binary() + " import --config '' --db " + db +
                              " " + Seed("01-octoprint-print-started.json"));
  ASSERT_EQ(rc, 0) << out;
  // serve's pattern: "2026-12-02T16:21:00.123 info ...".
  std::regex line(
      R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3} (\x1b\[[0-9;]*m)?info(\x1b\[[0-9;]*m)? registered device "delta")");
  bool found = false;
  std::istringstream lines(out);
  for (std::string l; std::getline(lines, l);) {
    found |= std::regex_search(l, line);
  }
  EXPECT_TRUE(found) << out;
}

// JSON lines from a pipe (`zcat log.jsonl.gz | printmeter import
// /dev/stdin`): read once, as they come, without a total for the bar.
TEST(CliBinaryTest, ImportReadsJsonLinesFromAPipe) {
  TempDir dir;
  std::string db = "sqlite:" + (dir.path() / "pm.db").string();
  std::string lines = (dir.path() / "log.jsonl").string();
  {
    std::ofstream out(lines);
    out << R"({"deviceIdentifier":"a","topic":"Print Started","currentTime":1722000000})"
        << "\n"
        << R"({"deviceIdentifier":"a","topic":"Print Done","currentTime":1722000600})"
        << "\n";
  }
  auto [rc, out] = RunCommand("cat " + lines + " | " + Binary() +
                              " import --config '' --db " + db +
                              " /dev/stdin");
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("stored 2, duplicates 0"), std::string::npos) << out;
  std::tie(rc, out) =
      RunCommand(Binary() + " sessions --config '' --db " + db);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("completed"), std::string::npos) << out;
}

// A file of anything but webhooks: the summary names the ten most frequent
// reasons and counts the rest, instead of a line per distinct reason.
TEST(CliBinaryTest, ImportSummarizesManyReasonsInElevenLines) {
  TempDir dir;
  std::string db = "sqlite:" + (dir.path() / "pm.db").string();
  std::string lines = (dir.path() / "notes.txt").string();
  {
    std::ofstream out(lines);
    for (int i = 0; i < 14; ++i) {  // 14 distinct reasons, one of them 3x
      out << std::string(static_cast<size_t>(i), ' ') << "x" << i << "\n";
    }
    out << "x0\nx0\n";
  }
  auto [rc, out] = RunCommand(Binary() + " import --config '' --db " + db +
                              " " + lines);
  EXPECT_EQ(rc, 1) << out;
  size_t summary = out.find("stored 0, duplicates 0, test events 0, rejected 16");
  ASSERT_NE(summary, std::string::npos) << out;
  std::istringstream after(out.substr(summary));
  int reason_lines = 0;
  for (std::string l; std::getline(after, l);) {
    reason_lines += l.starts_with("  rejected ");
  }
  EXPECT_EQ(reason_lines, 10 + 1) << out;
  EXPECT_NE(out.find("rejected 3x: body is not valid JSON at byte 0"),
            std::string::npos)
      << out;  // the most frequent, first
  EXPECT_NE(out.find("rejected 4x for 4 other reason(s)"), std::string::npos)
      << out;
}

// `rebuild` and `migrate` show each pass as a bar with its total (the log's
// size), and the copy's ledger is the original's.
// A serve killed before it moved its last answers from the append journal
// into the database (store/append_journal.h): `migrate` moves them in
// before it copies, as the next serve would, so nothing answered is left
// behind on the Pi.
TEST(CliBinaryTest, MigrateCopiesWhatAKilledServeLeftInItsJournal) {
  TempDir dir;
  const std::string old_path = (dir.path() / "old.db").string();
  std::string new_db = "sqlite:" + (dir.path() / "new.db").string();
  constexpr int kEvents = 6;
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {  // answers, and dies without moving anything
    auto store = OpenStore("sqlite:" + old_path,
                           {.writer = true, .program = "a killed serve",
                            .append_journal = true});
    if (!store.ok()) _exit(2);
    for (int i = 0; i < kEvents; ++i) {
      LogBatch b;
      b.decide_duplicates = true;
      EventRecord r;
      r.event.device = "pi";
      r.event.topic = "Print Progress";
      r.event.kind = Kind::kProgress;
      r.event.time = r.event.received_at = 1722000000000 + 1000 * i;
      r.event.has_current_time = true;
      r.request = StoredRequest{"POST", "/webhook", "application/json",
                                "{\"n\":" + std::to_string(i) + "}"};
      b.events.push_back(std::move(r));
      if (!(*store)->Append(b).ok()) _exit(3);
    }
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  {
    auto reader = testing::MustOpen("sqlite:" + old_path);
    ASSERT_NE(reader, nullptr);
    EXPECT_TRUE(testing::AllEvents(*reader).empty())
        << "the answers were still in the journal only";
  }
  auto [rc, out] = RunCommand(Binary() + " migrate --config '' --from sqlite:" +
                              old_path + " --to " + new_db);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("copied 6 event(s)"), std::string::npos) << out;
  auto copy = testing::MustOpen(new_db);
  ASSERT_NE(copy, nullptr);
  std::vector<EventRecord> events = testing::AllEvents(*copy);
  ASSERT_EQ(events.size(), size_t{kEvents});
  EXPECT_EQ(events.back().request->body, "{\"n\":5}");
}

TEST(CliBinaryTest, RebuildAndMigrateShowEachPassAndCopyTheLedger) {
  TempDir dir;
  std::string old_db = "sqlite:" + (dir.path() / "old.db").string();
  std::string new_db = "sqlite:" + (dir.path() / "new.db").string();
  std::string lines = (dir.path() / "log.jsonl").string();
  {
    std::ofstream out(lines);
    for (int print = 0; print < 3; ++print) {
      for (const char* device : {"a", "b"}) {
        long t = 1722000000 + print * 3600;
        out << fmt::format(
            R"({{"deviceIdentifier":"{}","topic":"Print Started","currentTime":{}}})"
            "\n"
            R"({{"deviceIdentifier":"{}","topic":"Print Done","currentTime":{}}})"
            "\n",
            device, t, device, t + 600);
      }
    }
  }
  auto [rc, out] = RunCommand(Binary() + " import --config '' --auth open --db " +
                              old_db + " " + lines);
  ASSERT_EQ(rc, 0) << out;
  std::tie(rc, out) =
      RunCommand(Binary() + " rebuild --config '' --db " + old_db);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("reading the log: 100% 12/12"), std::string::npos) << out;
  EXPECT_NE(out.find("folding the ledger: 100% 12/12"), std::string::npos)
      << out;
  EXPECT_NE(out.find("rebuilt 6 session(s) on 2 printer(s) from 12 event(s)"),
            std::string::npos)
      << out;
  // This version read every request as it imported them: none is decoded
  // again, unless asked.
  EXPECT_EQ(out.find("decoded again"), std::string::npos) << out;
  std::tie(rc, out) =
      RunCommand(Binary() + " rebuild --decode-all --config '' --db " + old_db);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("12 stored request(s) decoded again"), std::string::npos)
      << out;
  EXPECT_NE(out.find("reading the log: 100% 12/12"), std::string::npos) << out;

  std::tie(rc, out) = RunCommand(Binary() + " migrate --config '' --from " +
                                 old_db + " --to " + new_db);
  ASSERT_EQ(rc, 0) << out;
  for (const char* bar : {"copying the log: 100% 12/12",
                          "reading the copy again: 100% 12/12",
                          "folding the ledger: 100% 12/12"}) {
    EXPECT_NE(out.find(bar), std::string::npos) << bar << "\n" << out;
  }
  EXPECT_NE(out.find("copied 12 event(s), 2 printer(s)"), std::string::npos)
      << out;
  auto [old_rc, old_sessions] = RunCommand(
      Binary() + " sessions --config '' --format csv --db " + old_db);
  auto [new_rc, new_sessions] = RunCommand(
      Binary() + " sessions --config '' --format csv --db " + new_db);
  ASSERT_EQ(old_rc, 0) << old_sessions;
  ASSERT_EQ(new_rc, 0) << new_sessions;
  EXPECT_EQ(new_sessions, old_sessions);
  EXPECT_EQ(std::count(new_sessions.begin(), new_sessions.end(), '\n'), 7)
      << new_sessions;
}

TEST(MetricsBinaryTest, PromtoolAcceptsTheExpositionOfARunningServer) {
  if (RunCommand("command -v promtool").first != 0) {
    GTEST_SKIP() << "promtool is not installed (Debian package prometheus; "
                    "scripts/install-deps.sh --test installs it)";
  }
  TempDir dir;
  std::string db = "sqlite:" + (dir.path() / "pm.db").string();
  Server server({"--config", "", "--db", db});
  ASSERT_NE(server.port, 0);
  TestClient client(server.port);
  // A finished print, an open one and a rejected request: every family.
  for (const char* seed :
       {"01-octoprint-print-started.json", "02-octoprint-print-done.json",
        "03-sdcard-print-started.json"}) {
    auto r = client.Send("POST", "/webhook", "application/json",
                         ReadFileBytes(Seed(seed)));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, 200) << r->body;
  }
  auto bad = client.Send("POST", "/webhook", "application/json", "{");
  ASSERT_TRUE(bad.ok());
  ASSERT_TRUE(WaitForLedger(server.port));
  auto metrics = client.Send("GET", "/metrics", "", "");
  ASSERT_TRUE(metrics.ok());
  ASSERT_EQ(metrics->status, 200);
  EXPECT_NE(metrics->body.find("printmeter_open_sessions{"), std::string::npos);
  EXPECT_NE(metrics->body.find("printmeter_filament_metres_total{"),
            std::string::npos);
  std::string file = (dir.path() / "metrics.txt").string();
  WriteFile(file, metrics->body);
  auto [rc, out] = RunCommand("promtool check metrics < " + file);
  EXPECT_EQ(rc, 0) << out << "\n" << metrics->body;
}

// --- maintenance ---

// `maintenance list|done` on a printer's imported prints, and the
// maintenance series of a running server accepted by promtool.
TEST(MaintenanceBinaryTest, ListMarkDoneAndMetrics) {
  TempDir dir;
  std::string config = (dir.path() / "pm.toml").string();
  std::string db = "sqlite:" + (dir.path() / "pm.db").string();
  WriteFile(config, "db = \"" + db +
                        "\"\n[devices.delta]\n"
                        "[[devices.delta.maintenance]]\n"
                        "item = \"nozzle\"\nevery = \"0.3h\"\n"
                        "[[devices.delta.maintenance]]\n"
                        "item = \"belts\"\nevery = \"100000d\"\n");
  std::string pm = Binary() + " maintenance ";
  // The print of the seeds lasted 1150 s: 0.32 h of 0.3 h, due.
  auto [rc, out] = RunCommand(Binary() + " import --config " + config + " " +
                              Seed("01-octoprint-print-started.json") + " " +
                              Seed("02-octoprint-print-done.json"));
  ASSERT_EQ(rc, 0) << out;
  std::tie(rc, out) = RunCommand(pm + "list --config " + config);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_TRUE(std::regex_search(
      out, std::regex("delta +nozzle +0\\.3h / 0\\.3h +due +never")))
      << out;

  std::tie(rc, out) = RunCommand(pm + "done delta nozle --config " + config);
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("no maintenance item \"nozle\"; its items: nozzle, "
                     "belts"),
            std::string::npos)
      << out;
  std::tie(rc, out) = RunCommand(pm + "done delta nozzle --at 2999-01-01 "
                                      "--config " + config);
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("in the future"), std::string::npos) << out;
  std::tie(rc, out) =
      RunCommand(pm + "done delta nozzle --by ana --config " + config);
  ASSERT_EQ(rc, 0) << out;
  std::tie(rc, out) = RunCommand(pm + "list delta --config " + config);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_TRUE(std::regex_search(
      out, std::regex("delta +nozzle +0\\.0h / 0\\.3h +ok +\\S+Z by ana")))
      << out;
  std::tie(rc, out) = RunCommand(pm + "list echo --config " + config);
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("printers with items: delta"), std::string::npos) << out;

  if (RunCommand("command -v promtool").first != 0) {
    GTEST_SKIP() << "promtool is not installed (Debian package prometheus)";
  }
  Server server({"--config", config});
  ASSERT_NE(server.port, 0);
  TestClient client(server.port);
  auto metrics = client.Send("GET", "/metrics", "", "");
  ASSERT_TRUE(metrics.ok());
  ASSERT_EQ(metrics->status, 200);
  EXPECT_NE(metrics->body.find("printmeter_maintenance_used_ratio{device="
                               "\"delta\",item=\"nozzle\"} 0"),
            std::string::npos)
      << metrics->body;
  EXPECT_NE(metrics->body.find("printmeter_maintenance_due_items{device="
                               "\"delta\"} 0"),
            std::string::npos);
  std::string file = (dir.path() / "metrics.txt").string();
  WriteFile(file, metrics->body);
  std::tie(rc, out) = RunCommand("promtool check metrics < " + file);
  EXPECT_EQ(rc, 0) << out << "\n" << metrics->body;

  // Marked from the terminal while `serve` runs: the server answers with it.
  std::tie(rc, out) =
      RunCommand(pm + "done delta belts --by bo --config " + config);
  ASSERT_EQ(rc, 0) << out;
  auto printers = client.Send("GET", "/api/v1/printers", "", "");
  ASSERT_TRUE(printers.ok());
  EXPECT_NE(printers->body.find("\"item\":\"belts\""), std::string::npos);
  EXPECT_NE(printers->body.find("\"done_by\":\"bo\""), std::string::npos)
      << printers->body;
}

// A print that reaches the server late (its events older than ones already
// folded) re-folds the printer, and the counter crosses its threshold.
TEST(MaintenanceBinaryTest, ALatePrintMakesAnItemDue) {
  TempDir dir;
  std::string config = (dir.path() / "pm.toml").string();
  std::string db = "sqlite:" + (dir.path() / "pm.db").string();
  WriteFile(config, "auth = \"open\"\ndb = \"" + db +
                        "\"\n[devices.delta]\n"
                        "[[devices.delta.maintenance]]\n"
                        "item = \"nozzle\"\nevery = \"2.4h\"\n");
  Server server({"--config", config});
  ASSERT_NE(server.port, 0);
  TestClient client(server.port);
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  auto send = [&](const char* topic, int64_t at) {
    std::string body = fmt::format(
        R"({{"deviceIdentifier":"delta","topic":"{}","currentTime":{},)"
        R"("extra":{{"name":"a.gcode","path":"a.gcode"}}}})",
        topic, at);
    auto r = client.Send("POST", "/webhook", "application/json", body);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->status, 200) << r->body;
  };
  auto nozzle = [&]() -> json::value {
    EXPECT_TRUE(WaitForLedger(server.port));
    auto r = client.Send("GET", "/api/v1/printers", "", "");
    EXPECT_TRUE(r.ok() && r->status == 200);
    if (!r.ok()) return nullptr;
    json::value v = json::parse(r->body);
    return v.at("printers").at(0).at("maintenance").at(0);
  };
  // 1 h, then 30 min: 1.5 h of 2.4 h.
  send("Print Started", now - 10 * 3600);
  send("Print Done", now - 9 * 3600);
  send("Print Started", now - 5 * 3600);
  send("Print Done", now - 5 * 3600 + 1800);
  json::value before = nozzle();
  EXPECT_NEAR(before.at("used").to_number<double>(), 1.5, 1e-9);
  EXPECT_EQ(before.at("state").as_string(), "ok");
  // An hour's print from between them arrives now: 2.5 h, due.
  send("Print Started", now - 8 * 3600);
  send("Print Done", now - 7 * 3600);
  json::value after = nozzle();
  EXPECT_NEAR(after.at("used").to_number<double>(), 2.5, 1e-9);
  EXPECT_EQ(after.at("state").as_string(), "due");
}

}  // namespace
}  // namespace pm

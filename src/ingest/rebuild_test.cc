// `rebuild` re-derives the live ledger; `import` equals posting.
#include "ingest/rebuild.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <random>
#include <thread>

#include "ingest/import.h"
#include "http/test_harness.h"
#include "store/write_batch.h"

namespace pm {
namespace {

using testing::AllEvents;
using testing::AllSessions;
using testing::FixturesDir;
using testing::Harness;
using testing::PrinterStream;
using testing::TempDir;

std::vector<std::string> FixtureFiles() {
  std::vector<std::string> files;
  for (const char* dir : {"seed", "plugin"}) {
    for (const auto& entry :
         std::filesystem::directory_iterator(FixturesDir() + "/" + dir)) {
      auto ext = entry.path().extension();
      if (ext == ".json" || ext == ".http") files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<Session> ById(std::vector<Session> sessions) {
  std::sort(sessions.begin(), sessions.end(),
            [](const Session& a, const Session& b) { return a.id < b.id; });
  return sessions;
}

// Posts every fixture (the .http ones byte for byte) and some realistic
// streams with late events and duplicates.
void PostEverything(Harness& h) {
  TestClient c(h.port());
  for (const std::string& file : FixtureFiles()) {
    std::string bytes = ReadFileBytes(file);
    if (!file.ends_with(".http")) {
      bytes = BuildRequest("POST", "/webhook", "application/json", bytes);
    }
    auto reply = c.SendRaw(bytes);
    ASSERT_TRUE(reply.ok()) << file;
    ASSERT_EQ(reply->status, 200) << file << ": " << reply->body;
  }
  std::mt19937 random(7);
  for (int d = 0; d < 4; ++d) {
    for (const std::string& body : PrinterStream(d, 150, random)) {
      auto reply = c.Send("POST", "/webhook", "application/json", body);
      ASSERT_TRUE(reply.ok());
      ASSERT_EQ(reply->status, 200) << reply->body;
    }
  }
}

TEST(RebuildTest, RebuildEqualsTheLiveLedgerAndKeepsAttributions) {
  TempDir dir;
  Harness h(dir.path());
  h.Start();
  PostEverything(h);
  // A stale print swept: the sweep is in the log, so rebuild repeats it.
  h.clock.Set(1'900'000'000'000);
  auto swept = h.writer->Sweep();
  ASSERT_TRUE(swept.ok());
  EXPECT_GT(*swept, 0);
  auto live = ById(h.Sessions());
  ASSERT_GT(live.size(), 20u);
  ASSERT_TRUE(h.writer->Attribute(live[0].id, "alice").ok());
  live[0].user = "alice";
  auto live_states = h.store->LoadDeviceStates();
  ASSERT_TRUE(live_states.ok());
  auto live_events = AllEvents(*h.store);
  auto live_links = testing::EventSessions(*h.store);
  h.Stop();

  auto store = testing::MustOpen(h.db);
  LedgerConfig config;
  std::map<std::string, int64_t> seen;  // phase -> its last count
  std::vector<std::string> phases;
  auto stats = Rebuild(*store, config, DecodeLimits{},
                       [&](const char* phase, int64_t n) {
                         if (phases.empty() || phases.back() != phase) {
                           phases.push_back(phase);
                         }
                         seen[phase] = n;
                       });
  ASSERT_TRUE(stats.ok()) << stats.error().message;
  EXPECT_EQ(phases, (std::vector<std::string>{"reading", "folding"}));
  EXPECT_EQ(seen["reading"], static_cast<int64_t>(live_events.size()));
  EXPECT_EQ(seen["folding"], static_cast<int64_t>(live_events.size()));
  EXPECT_EQ(stats->events, static_cast<int64_t>(live_events.size()));
  EXPECT_EQ(stats->redecoded_differently, 0);
  EXPECT_EQ(stats->undecodable, 0);
  EXPECT_GT(stats->duplicates, 0);
  EXPECT_GT(stats->tests, 0);
  EXPECT_EQ(stats->swept, *swept);
  EXPECT_EQ(ById(AllSessions(*store)), live);
  auto states = store->LoadDeviceStates();
  ASSERT_TRUE(states.ok());
  auto by_device = [](std::vector<DeviceState> v) {
    std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) {
      return a.device < b.device;
    });
    return v;
  };
  EXPECT_EQ(by_device(*states), by_device(*live_states));
  // Same events, same ids, same assignments.
  auto events = AllEvents(*store);
  ASSERT_EQ(events.size(), live_events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].event, live_events[i].event);
  }
  EXPECT_EQ(testing::EventSessions(*store), live_links);
}

// Every row of the SQLite ledger's three tables (sessions, links, printer
// states), each column as text, in key order: what a rebuild wrote.
std::string DumpLedger(const std::string& path) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr),
            SQLITE_OK);
  std::string out;
  for (const char* sql : {"SELECT * FROM sessions ORDER BY id",
                          "SELECT * FROM event_sessions ORDER BY event_id",
                          "SELECT * FROM device_states ORDER BY device"}) {
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr), SQLITE_OK);
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      for (int c = 0; c < sqlite3_column_count(stmt); ++c) {
        const unsigned char* text = sqlite3_column_text(stmt, c);
        out += fmt::format("{}:{}|", sqlite3_column_type(stmt, c),
                           text ? reinterpret_cast<const char*>(text) : "");
      }
      out += '\n';
    }
    sqlite3_finalize(stmt);
    out += "--\n";
  }
  sqlite3_close(db);
  return out;
}

void ExecSql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr),
            SQLITE_OK);
  char* error = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  EXPECT_EQ(rc, SQLITE_OK) << (error ? error : "") << "\n" << sql;
  sqlite3_free(error);
  sqlite3_close(db);
}

std::string Quoted(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    out += c;
    if (c == '\'') out += c;
  }
  return out + "'";
}

// On SQLite a rebuild compares the ledger it folds with the stored one and
// writes only the rows that differ (store/sqlite_projection.cc). Damage of
// every kind (a changed column of any type, a session moved in time, a row
// deleted, a stray row added, a stale attribution), in random rows, is
// mended row by row into the ledger a rebuild of an empty one makes; a
// ledger that is right is not written at all.
TEST(RebuildTest, OnSqliteADamagedLedgerIsMendedRowByRowARightOneNotWritten) {
  TempDir dir;
  Harness h(dir.path());
  if (!h.db.starts_with("sqlite:")) {
    GTEST_SKIP() << "on PostgreSQL a rebuild writes the ledger whole";
  }
  h.Start();
  PostEverything(h);
  auto live = ById(h.Sessions());
  ASSERT_GT(live.size(), 20u);
  ASSERT_TRUE(h.writer->Attribute(live[3].id, "alice").ok());
  h.Stop();
  const std::string path = h.db.substr(std::string("sqlite:").size());
  auto rebuild = [&]() {
    auto store = testing::MustOpen(h.db, {.writer = true, .program = "t"});
    auto stats = Rebuild(*store, LedgerConfig{}, DecodeLimits{}, nullptr);
    EXPECT_TRUE(stats.ok()) << stats.error().message;
    return stats.ok() ? *stats : RebuildStats{};
  };
  RebuildStats first = rebuild();
  EXPECT_EQ(first.ledger_rows_changed, std::optional<int64_t>(0))
      << "the live ledger was right";
  const std::string right = DumpLedger(path);
  ASSERT_NE(right.find("alice"), std::string::npos);

  std::vector<int64_t> session_ids, event_ids;
  for (const Session& s : live) session_ids.push_back(s.id);
  {
    auto store = testing::MustOpen(h.db);
    for (const auto& [event_id, session_id] : testing::EventSessions(*store)) {
      event_ids.push_back(event_id);
    }
  }
  std::vector<std::string> devices;
  {
    auto store = testing::MustOpen(h.db);
    auto states = store->LoadDeviceStates();
    ASSERT_TRUE(states.ok());
    for (const DeviceState& d : *states) devices.push_back(d.device);
  }
  ASSERT_GT(event_ids.size(), 100u);
  ASSERT_GT(devices.size(), 4u);

  const std::vector<std::string> session_damage = {
      "UPDATE sessions SET progress_pct = coalesce(progress_pct, 0) + 1",
      "UPDATE sessions SET file_name = coalesce(file_name, '') || 'x'",
      "UPDATE sessions SET event_count = event_count + 1",
      "UPDATE sessions SET started_at = started_at + 1",
      "UPDATE sessions SET attributed_user = coalesce(attributed_user, '') "
      "|| 'm'",
      "UPDATE sessions SET ended_at = CASE WHEN ended_at IS NULL THEN 1 END",
      "UPDATE sessions SET status = CASE status WHEN 'interrupted' THEN "
      "'done' ELSE 'interrupted' END",
      "DELETE FROM sessions"};
  const std::vector<std::string> link_damage = {
      "UPDATE event_sessions SET time = time + 1",
      "UPDATE event_sessions SET session_id = session_id + 1",
      "DELETE FROM event_sessions"};
  const std::vector<std::string> state_damage = {
      "UPDATE device_states SET last_topic = last_topic || 'x'",
      "UPDATE device_states SET needs_attention = 1 - needs_attention",
      "UPDATE device_states SET open_session_id = CASE WHEN open_session_id "
      "IS NULL THEN 7 END",
      "DELETE FROM device_states"};
  std::mt19937 random(11);
  for (int round = 0; round < 8; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    std::string sql;
    int64_t damaged = 0;
    std::vector<int64_t> ids = session_ids;
    std::shuffle(ids.begin(), ids.end(), random);
    for (int k = 0; k < 1 + round % 4; ++k, ++damaged) {
      sql += fmt::format("{} WHERE id = {};\n",
                         session_damage[random() % session_damage.size()],
                         ids[k]);
    }
    std::vector<int64_t> events = event_ids;
    std::shuffle(events.begin(), events.end(), random);
    for (int k = 0; k < 1 + round % 3; ++k, ++damaged) {
      sql += fmt::format("{} WHERE event_id = {};\n",
                         link_damage[random() % link_damage.size()],
                         events[k]);
    }
    std::vector<std::string> names = devices;
    std::shuffle(names.begin(), names.end(), random);
    for (int k = 0; k < 1 + round % 2; ++k, ++damaged) {
      sql += fmt::format("{} WHERE device = {};\n",
                         state_damage[random() % state_damage.size()],
                         Quoted(names[k]));
    }
    if (round % 2 == 1) {  // stray rows of every table
      sql += fmt::format(
          "CREATE TEMP TABLE s AS SELECT * FROM sessions WHERE id = {0};\n"
          "UPDATE s SET id = 900000 + {1};\n"
          "INSERT INTO sessions SELECT * FROM s;\n"
          "INSERT INTO event_sessions VALUES (800000 + {1}, {0}, 1);\n"
          "CREATE TEMP TABLE d AS SELECT * FROM device_states WHERE device = "
          "{2};\n"
          "UPDATE d SET device = 'ghost-' || {1};\n"
          "INSERT INTO device_states SELECT * FROM d;\n",
          ids.back(), round, Quoted(names.back()));
      damaged += 3;
    }
    ExecSql(path, sql);
    ASSERT_NE(DumpLedger(path), right) << sql;
    RebuildStats mended = rebuild();
    EXPECT_EQ(mended.ledger_rows_changed, std::optional<int64_t>(damaged))
        << sql;
    ASSERT_EQ(DumpLedger(path), right) << sql;
  }
  // An empty ledger is written whole, to the same rows.
  ExecSql(path,
          "DELETE FROM sessions; DELETE FROM event_sessions; "
          "DELETE FROM device_states;");
  RebuildStats whole = rebuild();
  EXPECT_EQ(whole.ledger_rows_changed, std::nullopt);
  EXPECT_EQ(DumpLedger(path), right);
  EXPECT_EQ(rebuild().ledger_rows_changed, std::optional<int64_t>(0));
  // The indexes agree with the tables they index.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr),
            SQLITE_OK);
  sqlite3_stmt* check = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &check,
                               nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(check), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(check, 0)),
               "ok");
  sqlite3_finalize(check);
  sqlite3_close(db);
}

// A stored request as the receiver stores it, decoded by today's decoder.
EventRecord Received(const std::string& fixture, int64_t id,
                     TimeMs received_at) {
  EventRecord r;
  r.request = StoredRequest{"POST", "/webhook", "application/json",
                            ReadFileBytes(FixturesDir() + "/" + fixture)};
  Request request;
  request.method = r.request->method;
  request.target = r.request->target;
  request.content_type = r.request->content_type;
  request.body = r.request->body;
  request.received_at = received_at;
  auto decoded = Decode(request);
  EXPECT_TRUE(decoded.ok()) << fixture;
  if (decoded.ok()) r.event = decoded->event;
  r.event.id = id;
  r.event.received_at = received_at;
  return r;
}

TEST(RebuildTest, RewritesEventRowsAnOlderDecoderReadDifferently) {
  TempDir dir;
  std::string db = (dir.path() / "printmeter.db").string();
  auto store = testing::MustOpen(testing::TestStoreUrl(db));
  ASSERT_TRUE(store);
  const TimeMs t0 = 1722565567000;
  EventRecord started = Received("seed/01-octoprint-print-started.json", 1, t0);
  EventRecord done = Received("seed/02-octoprint-print-done.json", 2,
                              t0 + 1'150'000);
  ASSERT_EQ(started.event.kind, Kind::kStarted);
  ASSERT_EQ(done.event.kind, Kind::kDone);
  const Event started_today = started.event;
  const Event done_today = done.event;
  // As an older decoder would have stored them: the start read as some other
  // event with another file and flagged a duplicate; the end with its time
  // and progress misread.
  started.event.kind = Kind::kOther;
  started.event.file.path = "old/reading.gcode";
  started.duplicate = true;
  done.event.time = t0 + 5;
  done.event.progress_pct = 3;
  WriteBatch old;
  old.events = {started, done};
  ASSERT_TRUE(CommitBatch(*store, old).ok());
  ASSERT_NE(testing::AllEvents(*store)[0].event, started_today);

  auto stats = Rebuild(*store, LedgerConfig{}, DecodeLimits{}, nullptr);
  ASSERT_TRUE(stats.ok()) << stats.error().message;
  EXPECT_EQ(stats->redecoded_differently, 2);
  EXPECT_EQ(stats->duplicates, 0);

  // The rows now read as the bodies do today, raw requests untouched.
  auto events = testing::AllEvents(*store);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].event, started_today);
  EXPECT_FALSE(events[0].duplicate);
  EXPECT_EQ(events[1].event, done_today);
  EXPECT_EQ(events[0].request->body, started.request->body);
  EXPECT_EQ(events[1].request->body, done.request->body);
  // And so does the ledger: one completed print of the body's file, both
  // events assigned to it.
  auto sessions = AllSessions(*store);
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_EQ(sessions[0].status, SessionStatus::kCompleted);
  EXPECT_EQ(sessions[0].file.path, started_today.file.path);
  EXPECT_EQ(sessions[0].started_at, started_today.time);
  EXPECT_EQ(sessions[0].ended_at, done_today.time);
  auto links = testing::EventSessions(*store);
  EXPECT_EQ(links[events[0].event.id], sessions[0].id);
  EXPECT_EQ(links[events[1].event.id], sessions[0].id);

  // A second rebuild finds nothing left to rewrite.
  auto again = Rebuild(*store, LedgerConfig{}, DecodeLimits{}, nullptr);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->redecoded_differently, 0);
  EXPECT_EQ(ById(AllSessions(*store)), ById(sessions));
}

// Rows this build's decoder read are not decoded again (their bodies are
// not even read): one stamped with today's decoder whose columns say
// something today's reading would not keeps them, until --decode-all. Rows
// another decoder read, or none said, are decoded again, once: the next
// rebuild decodes only what was logged after by another decoder.
TEST(RebuildTest, DecodesAgainOnlyWhatAnotherDecoderRead) {
  TempDir dir;
  auto store = testing::MustOpen(
      testing::TestStoreUrl((dir.path() / "printmeter.db").string()));
  ASSERT_TRUE(store);
  const TimeMs t0 = 1722565567000;
  EventRecord mine = Received("seed/01-octoprint-print-started.json", 1, t0);
  EventRecord other =
      Received("plugin/07_print_progress_50.json", 2, t0 + 60'000);
  EventRecord unsaid =
      Received("seed/02-octoprint-print-done.json", 3, t0 + 120'000);
  const Event mine_today = mine.event;
  const Event other_today = other.event;
  const Event unsaid_today = unsaid.event;
  mine.decoder = DecoderId();
  mine.event.progress_pct = 42;  // not what the body says: never re-read
  other.decoder = DecoderId() ^ 1;
  other.event.progress_pct = 3;
  unsaid.event.file.path = "old/reading.gcode";
  WriteBatch log;
  log.events = {mine, other, unsaid};
  ASSERT_TRUE(CommitBatch(*store, log).ok());

  auto stats = Rebuild(*store, LedgerConfig{}, DecodeLimits{}, nullptr);
  ASSERT_TRUE(stats.ok()) << stats.error().message;
  EXPECT_EQ(stats->decoded_again, 2);
  EXPECT_EQ(stats->redecoded_differently, 2);
  auto events = testing::AllEvents(*store);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].event.progress_pct, 42);
  EXPECT_EQ(events[1].event, other_today);
  EXPECT_EQ(events[2].event, unsaid_today);

  auto again = Rebuild(*store, LedgerConfig{}, DecodeLimits{}, nullptr);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->decoded_again, 0);
  EXPECT_EQ(again->events, 3);

  // Logged after the last rebuild, by another decoder: that one only.
  EventRecord later = Received("plugin/03_print_paused.json", 4, t0 + 180'000);
  later.decoder = DecoderId() + 1;
  WriteBatch more;
  more.events = {later};
  ASSERT_TRUE(CommitBatch(*store, more).ok());
  auto after = Rebuild(*store, LedgerConfig{}, DecodeLimits{}, nullptr);
  ASSERT_TRUE(after.ok()) << after.error().message;
  EXPECT_EQ(after->decoded_again, 1);
  EXPECT_EQ(after->redecoded_differently, 0);

  auto all = Rebuild(*store, LedgerConfig{}, DecodeLimits{}, nullptr,
                     /*decode_all=*/true);
  ASSERT_TRUE(all.ok()) << all.error().message;
  EXPECT_EQ(all->decoded_again, 4);
  EXPECT_EQ(all->redecoded_differently, 1);
  EXPECT_EQ(testing::AllEvents(*store)[0].event, mine_today);
}

// More rows than one read chunk and one rewrite chunk, all of one printer
// and time: the first pass rewrites every row's columns a chunk at a time,
// the second decides the duplicates across its chunks, and each row counts
// once as read differently.
TEST(RebuildTest, ResentRequestsBeyondAChunkAreDuplicatesOfTheFirst) {
  TempDir dir;
  auto store = testing::MustOpen(
      testing::TestStoreUrl((dir.path() / "printmeter.db").string()));
  ASSERT_TRUE(store);
  constexpr int kCopies = 4500;
  const TimeMs t0 = 1722565567000;
  WriteBatch old;
  Event today;
  for (int i = 1; i <= kCopies; ++i) {
    EventRecord r =
        Received("seed/01-octoprint-print-started.json", i, t0 + i);
    today = r.event;
    r.event.kind = Kind::kOther;  // an older reading, flagged no duplicate
    old.events.push_back(std::move(r));
  }
  ASSERT_TRUE(CommitBatch(*store, old).ok());

  auto stats = Rebuild(*store, LedgerConfig{}, DecodeLimits{}, nullptr);
  ASSERT_TRUE(stats.ok()) << stats.error().message;
  EXPECT_EQ(stats->events, kCopies);
  EXPECT_EQ(stats->redecoded_differently, kCopies);
  EXPECT_EQ(stats->duplicates, kCopies - 1);
  EXPECT_EQ(stats->folded, 1);

  auto events = testing::AllEvents(*store);
  ASSERT_EQ(events.size(), static_cast<size_t>(kCopies));
  for (const EventRecord& r : events) {
    ASSERT_EQ(r.event.kind, Kind::kStarted) << r.event.id;
    ASSERT_EQ(r.duplicate, r.event.id != 1) << r.event.id;
  }
  auto sessions = AllSessions(*store);
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_EQ(sessions[0].id, 1);
  EXPECT_EQ(sessions[0].event_count, 1);
  EXPECT_EQ(sessions[0].status, SessionStatus::kPrinting);
  auto links = testing::EventSessions(*store);
  EXPECT_EQ(links.size(), 1u);
  EXPECT_EQ(links[1], 1);

  auto again = Rebuild(*store, LedgerConfig{}, DecodeLimits{}, nullptr);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->redecoded_differently, 0);
  EXPECT_EQ(again->duplicates, kCopies - 1);
}

TEST(RebuildTest, AnUpdateOfAnEventNotStoredFailsTheCommit) {
  TempDir dir;
  auto store =
      testing::MustOpen(testing::TestStoreUrl((dir.path() / "printmeter.db").string()));
  ASSERT_TRUE(store);
  Status s = store->RewriteEvents(
      {{Received("seed/01-octoprint-print-started.json", 41, 1).event, false}});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("event 41"), std::string::npos)
      << s.error().message;
}

TEST(ImportTest, ImportingTheFixturesEqualsPostingThem) {
  TempDir posted_dir, imported_dir;
  Harness posted(posted_dir.path());
  posted.Start();
  TestClient c(posted.port());
  std::vector<RecordedRequest> requests;
  for (const std::string& file : FixtureFiles()) {
    std::string bytes = ReadFileBytes(file);
    if (!file.ends_with(".http")) {
      bytes = BuildRequest("POST", "/webhook", "application/json", bytes);
    }
    auto reply = c.SendRaw(bytes);
    ASSERT_TRUE(reply.ok());
    ASSERT_EQ(reply->status, 200) << file;
    auto read = ReadRecordedRequests(file);
    ASSERT_TRUE(read.ok()) << read.error().message;
    ASSERT_EQ(read->size(), 1u) << file;
    requests.push_back((*read)[0]);
  }

  auto store = testing::MustOpen(
      testing::TestStoreUrl((imported_dir.path() / "pm.db").string()));
  FakeClock clock(posted.clock.Now());
  IngestOptions options;
  options.sweep_interval = 0;
  IngestWriter writer(*store, options, clock);
  ASSERT_TRUE(writer.Start().ok());
  int64_t progress = 0;
  ImportSummary summary = ImportRequests(requests, writer, clock, {},
                                         [&](int64_t n) { progress = n; });
  writer.Stop();
  EXPECT_EQ(summary.rejected, 0);
  EXPECT_EQ(progress, static_cast<int64_t>(requests.size()));
  EXPECT_EQ(summary.stored + summary.duplicates + summary.tests,
            static_cast<int64_t>(requests.size()));
  EXPECT_GE(summary.tests, 2);

  EXPECT_EQ(ById(AllSessions(*store)), ById(posted.Sessions()));
  auto imported_events = AllEvents(*store);
  auto posted_events = AllEvents(*posted.store);
  ASSERT_EQ(imported_events.size(), posted_events.size());
  for (size_t i = 0; i < posted_events.size(); ++i) {
    EXPECT_EQ(imported_events[i].event, posted_events[i].event);
    EXPECT_EQ(imported_events[i].duplicate, posted_events[i].duplicate);
    EXPECT_EQ(imported_events[i].request->body, posted_events[i].request->body);
  }
}

TEST(ImportTest, ReadsJsonLinesAndNamesBadLines) {
  TempDir dir;
  std::string path = (dir.path() / "log.jsonl").string();
  {
    std::ofstream out(path);
    out << R"({"deviceIdentifier":"a","topic":"Print Started","currentTime":1722000000})"
        << "\n\n"
        << R"({"deviceIdentifier":"a","topic":"Print Done","currentTime":1722000600})"
        << "\n{not json\n";
  }
  auto read = ReadRecordedRequests(path);
  ASSERT_TRUE(read.ok());
  ASSERT_EQ(read->size(), 3u);
  EXPECT_EQ((*read)[2].where, path + ":4");

  auto store = testing::MustOpen(testing::TestStoreUrl((dir.path() / "pm.db").string()));
  FakeClock clock(1'722'000'000'000);
  IngestOptions options;
  options.sweep_interval = 0;
  IngestWriter writer(*store, options, clock);
  ASSERT_TRUE(writer.Start().ok());
  ImportSummary summary = ImportRequests(*read, writer, clock, {}, nullptr);
  writer.Stop();
  EXPECT_EQ(summary.stored, 2);
  EXPECT_EQ(summary.rejected, 1);
  ASSERT_EQ(summary.reasons.size(), 1u);
  EXPECT_NE(summary.reasons.begin()->first.find("JSON"), std::string::npos);
  auto sessions = AllSessions(*store);
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_EQ(sessions[0].status, SessionStatus::kCompleted);
}

// What `import` makes of each shape of file: one request, or a request per
// non-blank line, each named by where it came from.
TEST(ImportTest, ReadsEachShapeOfFileAsOneRequestOrOneALine) {
  TempDir dir;
  struct Case {
    std::string name;
    std::string content;
    std::vector<std::string> bodies;
    std::vector<std::string> where;  // after the path
  };
  const std::string a = R"({"deviceIdentifier":"a","topic":"Print Started"})";
  const std::string b = R"({"deviceIdentifier":"b","topic":"Print Done"})";
  const std::string pretty = "{\n  \"deviceIdentifier\": \"a\",\n"
                             "  \"topic\": \"Print Done\"\n}\n";
  const std::string raw =
      "POST /webhook/a HTTP/1.1\r\nHost: x\r\nContent-Type: "
      "application/json\r\nContent-Length: " +
      std::to_string(a.size()) + "\r\n\r\n" + a;
  const std::vector<Case> cases = {
      {"one line", a + "\n", {a + "\n"}, {""}},
      {"one line after blank lines", "\n \n" + a, {"\n \n" + a}, {""}},
      {"pretty-printed", pretty, {pretty}, {""}},
      {"lines", a + "\n" + b + "\n", {a, b}, {":1", ":2"}},
      {"lines with CRLF and blanks", a + "\r\n\r\n\t\r\n" + b, {a, b},
       {":1", ":4"}},
      {"a bad first line", "{not json\n" + a + "\n", {"{not json", a},
       {":1", ":2"}},
      {"a bad last line", a + "\n" + b + "\n{not", {a, b, "{not"},
       {":1", ":2", ":3"}},
      {"blank", "\n  \n", {}, {}},
      {"empty", "", {}, {}},
  };
  for (const Case& c : cases) {
    std::string path = (dir.path() / "f.jsonl").string();
    {
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out << c.content;
    }
    auto read = ReadRecordedRequests(path);
    ASSERT_TRUE(read.ok()) << c.name << ": " << read.error().message;
    std::vector<std::string> bodies, where;
    for (const RecordedRequest& r : *read) {
      bodies.push_back(r.body);
      where.push_back(r.where.substr(path.size()));
    }
    EXPECT_EQ(bodies, c.bodies) << c.name;
    EXPECT_EQ(where, c.where) << c.name;
  }

  std::string http = (dir.path() / "r.http").string();
  {
    std::ofstream out(http, std::ios::binary);
    out << raw;
  }
  auto read = ReadRecordedRequests(http);
  ASSERT_TRUE(read.ok()) << read.error().message;
  ASSERT_EQ(read->size(), 1u);
  EXPECT_EQ((*read)[0].target, "/webhook/a");
  EXPECT_EQ((*read)[0].body, a);
  EXPECT_EQ((*read)[0].where, http);

  // A file that is no text (no line end in 64 MiB) is refused, and says so,
  // without being read whole into memory.
  std::string binary = (dir.path() / "picture.bin").string();
  {
    std::ofstream out(binary, std::ios::binary);
    out << R"({"deviceIdentifier":"a"})" << "\n";
    std::string block(1 << 20, '\x01');
    for (int i = 0; i < 65; ++i) out << block;
  }
  auto too_long = ReadRecordedRequests(binary);
  ASSERT_FALSE(too_long.ok());
  EXPECT_NE(too_long.error().message.find(binary + ":2: a line longer than 64 MiB"),
            std::string::npos)
      << too_long.error().message;

  auto missing = ReadRecordedRequests((dir.path() / "nope").string());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("cannot read"), std::string::npos);
}

// JSON lines are read as they come, not whole first: from a pipe, the first
// request is there while the writer has not finished (or a log of any size
// would be held in memory whole).
TEST(ImportTest, ReadsJsonLinesFromAPipeAsTheyCome) {
  TempDir dir;
  std::string fifo = (dir.path() / "pipe").string();
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  const std::string line = R"({"deviceIdentifier":"a","topic":"Print Progress"})";
  std::promise<void> first_read;
  std::thread writer([&] {
    std::ofstream out(fifo, std::ios::binary);
    out << line << "\n" << line << "\n" << std::flush;
    // The rest only once the reader has returned the first request.
    if (first_read.get_future().wait_for(std::chrono::seconds(10)) !=
        std::future_status::ready) {
      return;  // closes the pipe: the reader sees two lines only
    }
    for (int i = 0; i < 3; ++i) out << line << "\n";
  });
  auto reader = RecordedRequestReader::Open(fifo);
  ASSERT_TRUE(reader.ok()) << reader.error().message;
  auto first = (*reader)->Next();
  ASSERT_TRUE(first.ok() && first->has_value());
  EXPECT_EQ((*first)->where, fifo + ":1");
  first_read.set_value();
  int count = 1;
  for (;;) {
    auto next = (*reader)->Next();
    ASSERT_TRUE(next.ok()) << next.error().message;
    if (!*next) break;
    ++count;
  }
  writer.join();
  EXPECT_EQ(count, 5);
}

}  // namespace
}  // namespace pm

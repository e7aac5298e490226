#include "api/render.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "api/api_testing.h"

namespace pm {
namespace {

using testing::kAug1;
using testing::ParseCsv;
namespace json = boost::json;

Session OpenPausedSession() {
  Session s;
  s.id = 41;
  s.device = "delta";
  s.status = SessionStatus::kPaused;
  s.started_at = kAug1 + 500;  // fractions of a second are rounded down
  s.last_event_at = kAug1 + 50 * kMinuteMs;
  s.pauses = {{kAug1 + 10 * kMinuteMs, kAug1 + 20 * kMinuteMs}};
  s.pause_started_at = kAug1 + 50 * kMinuteMs;
  s.file.name = "box.gcode";
  s.file.origin = "local";
  s.file.size = 1234;
  s.progress_pct = 40;
  s.estimated_s = 7200.9;
  s.job_filament_mm = 1000;
  s.event_count = 5;
  s.snapshot = true;
  return s;
}

TEST(RenderTest, SessionJsonHasEveryFieldWithItsType) {
  Session s = OpenPausedSession();
  TimeMs now = kAug1 + kHourMs + 999;
  json::object o = SessionJson(s, now, RateHistory());
  const char* fields[] = {"id",          "device",         "status",
                          "started_at",  "ended_at",       "duration_s",
                          "paused_s",    "print_s",        "reported_time_s",
                          "file",        "user",           "progress_pct",
                          "estimated_s", "filament_mm",    "filament_cm3",
                          "error",       "start_inferred", "end_inferred",
                          "event_count", "snapshot",       "cost"};
  EXPECT_EQ(o.size(), std::size(fields));
  for (const char* f : fields) EXPECT_TRUE(o.contains(f)) << f;
  EXPECT_EQ(o["id"].as_int64(), 41);
  EXPECT_EQ(o["status"].as_string(), "paused");
  EXPECT_EQ(o["started_at"].as_string(), "2024-08-01T00:00:00Z");
  EXPECT_TRUE(o["ended_at"].is_null());
  // Open: duration up to now (3600.499 s -> 3600); the ongoing pause counts.
  EXPECT_EQ(o["duration_s"].as_int64(), 3600);
  EXPECT_EQ(o["paused_s"].as_int64(), 600 + 600);
  EXPECT_EQ(o["print_s"].as_int64(), 2400);  // duration_s - paused_s
  EXPECT_TRUE(o["reported_time_s"].is_null());
  EXPECT_EQ(o["estimated_s"].as_int64(), 7200);
  EXPECT_EQ(o["progress_pct"].as_int64(), 40);
  EXPECT_EQ(o["filament_mm"].as_int64(), 400);  // scaled by progress
  EXPECT_TRUE(o["filament_cm3"].is_null());
  EXPECT_TRUE(o["user"].is_null());
  EXPECT_TRUE(o["error"].is_null());
  EXPECT_FALSE(o["start_inferred"].as_bool());
  EXPECT_EQ(o["event_count"].as_int64(), 5);
  EXPECT_TRUE(o["snapshot"].as_bool());
  EXPECT_EQ(o["cost"].as_int64(), 0);  // no rates
  // 2400 s printed at 1.50/h (the pauses are free) + 0.4 m at 0.25/m.
  RateHistory rates = RateHistory::Constant(
      {{s.device, {.rate_per_hour = 1.5, .rate_per_m = 0.25}}});
  EXPECT_DOUBLE_EQ(SessionJson(s, now, rates)["cost"].as_double(), 1.1);
  const json::object& file = o["file"].as_object();
  EXPECT_EQ(file.size(), 5u);
  EXPECT_EQ(file.at("name").as_string(), "box.gcode");
  EXPECT_TRUE(file.at("path").is_null());
  EXPECT_TRUE(file.at("display").is_null());
  EXPECT_EQ(file.at("origin").as_string(), "local");
  EXPECT_EQ(file.at("size").as_int64(), 1234);
}

TEST(RenderTest, ClosedSessionJson) {
  Session s =
      testing::ClosedSession(7, "delta", kAug1, 90, SessionStatus::kFailed);
  s.user = "ana";
  s.error = "Thermal runaway";
  s.reported_time_s = 5399.7;
  s.progress_pct = 12.5;
  s.job_filament_mm = 2000;
  s.job_filament_cm3 = 4.8;
  s.end_inferred = true;
  json::object o = SessionJson(s, kAug1 + 100 * kDayMs, RateHistory());
  EXPECT_EQ(o["ended_at"].as_string(), "2024-08-01T01:30:00Z");
  EXPECT_EQ(o["duration_s"].as_int64(), 5400);
  EXPECT_EQ(o["paused_s"].as_int64(), 0);
  EXPECT_EQ(o["print_s"].as_int64(), 5400);
  EXPECT_EQ(o["reported_time_s"].as_int64(), 5399);
  EXPECT_DOUBLE_EQ(o["progress_pct"].as_double(), 12.5);
  EXPECT_EQ(o["filament_mm"].as_int64(), 250);
  EXPECT_DOUBLE_EQ(o["filament_cm3"].as_double(), 0.6);
  EXPECT_EQ(o["user"].as_string(), "ana");
  EXPECT_EQ(o["error"].as_string(), "Thermal runaway");
  EXPECT_TRUE(o["end_inferred"].as_bool());
}

TEST(RenderTest, InvalidUtf8BecomesReplacementCharacters) {
  Session s = testing::ClosedSession(7, "delta", kAug1, 1);
  s.file.name = "bad\xff.gcode";
  std::string text = json::serialize(SessionJson(s, kAug1, RateHistory()));
  EXPECT_NE(text.find("bad\xEF\xBF\xBD.gcode"), std::string::npos);
}

TEST(RenderTest, EventJsonOmitsABodyThatIsNotText) {
  EventView v;
  v.event = testing::MakeEvent("delta", Kind::kDone, kAug1 + 1500);
  v.event.id = 12;
  v.session_id = 10;
  v.content_type = "application/json";
  v.body = "{\"topic\":\"Print Done\"}";
  json::object o = EventJson(v);
  const char* fields[] = {"id",      "device",       "topic",     "kind",
                          "time",    "received_at",  "duplicate", "test",
                          "session", "content_type", "body"};
  EXPECT_EQ(o.size(), std::size(fields));
  for (const char* f : fields) EXPECT_TRUE(o.contains(f)) << f;
  EXPECT_EQ(o["kind"].as_string(), "done");
  EXPECT_EQ(o["topic"].as_string(), "Print Done");
  EXPECT_EQ(o["time"].as_string(), "2024-08-01T00:00:01Z");
  EXPECT_EQ(o["received_at"].as_string(), "2024-08-01T00:00:01Z");
  EXPECT_EQ(o["session"].as_int64(), 10);
  EXPECT_EQ(o["body"].as_string(), "{\"topic\":\"Print Done\"}");
  v.body = std::string("--b\r\n\xff\xd8\xff\xe0 jpeg", 14);
  v.session_id.reset();
  json::object binary = EventJson(v);
  EXPECT_FALSE(binary.contains("body"));
  EXPECT_TRUE(binary["session"].is_null());
}

TEST(RenderTest, CsvSurvivesCommasQuotesNewlinesAndNonAscii) {
  std::vector<Session> sessions;
  const std::string names[] = {"plain.gcode",        "a,b.gcode",
                               "say \"hi\".gcode",   "two\nlines\r\n.gcode",
                               "Grüße 🖨.gcode", ""};
  for (size_t i = 0; i < std::size(names); ++i) {
    Session s = testing::ClosedSession(100 + i, "delta", kAug1, 10);
    if (!names[i].empty()) s.file.name = names[i];
    sessions.push_back(s);
  }
  std::string csv;
  // 10 minutes at 6.00/h each.
  AppendSessionsCsv(csv, sessions, kAug1, /*header=*/true,
                    RateHistory::Constant({{"delta", {.rate_per_hour = 6}}}));
  auto rows = ParseCsv(csv);
  ASSERT_EQ(rows.size(), 1 + std::size(names));
  const auto& header = rows[0];
  auto column = [&](const std::string& name) {
    auto it = std::find(header.begin(), header.end(), name);
    EXPECT_NE(it, header.end()) << name;
    return static_cast<size_t>(it - header.begin());
  };
  for (size_t i = 0; i < std::size(names); ++i) {
    ASSERT_EQ(rows[i + 1].size(), header.size());
    EXPECT_EQ(rows[i + 1][column("file_name")], names[i]);
    EXPECT_EQ(rows[i + 1][column("id")], std::to_string(100 + i));
    EXPECT_EQ(rows[i + 1][column("ended_at")], "2024-08-01T00:10:00Z");
    EXPECT_EQ(rows[i + 1][column("user")], "");  // null
    EXPECT_EQ(rows[i + 1][column("end_inferred")], "false");
    EXPECT_EQ(rows[i + 1][column("cost")], "1");
  }
  EXPECT_EQ(header.size(), 25u);
  EXPECT_NE(csv.find("\r\n"), std::string::npos);
}

TEST(RenderTest, EtaExtrapolatesProgressElseUsesTheEstimate) {
  Session s;
  s.status = SessionStatus::kPrinting;
  s.started_at = kAug1;
  s.last_event_at = kAug1 + 30 * kMinuteMs;
  s.progress_pct = 25;  // 30 min for 25% -> 90 min to go at the last event
  Eta eta = EstimateEta(s, kAug1 + 40 * kMinuteMs);
  EXPECT_EQ(eta.remaining_s, 80 * 60);
  EXPECT_EQ(eta.eta, kAug1 + 120 * kMinuteMs);

  s.progress_pct = 0.5;  // too little to extrapolate
  s.estimated_s = 3600;
  eta = EstimateEta(s, kAug1 + 40 * kMinuteMs);
  EXPECT_EQ(eta.remaining_s, 20 * 60);

  s.estimated_s.reset();
  EXPECT_FALSE(EstimateEta(s, kAug1 + 40 * kMinuteMs).remaining_s);

  // Past its estimate and still printing: unknown, never "0 s left".
  s.estimated_s = 1800;
  EXPECT_FALSE(EstimateEta(s, kAug1 + 40 * kMinuteMs).remaining_s);
  s.progress_pct = 25;  // counted down to nothing since the last event
  EXPECT_FALSE(EstimateEta(s, kAug1 + 3 * kHourMs).remaining_s);
  s.progress_pct = 100;  // at 100 %, 0 s left is the truth
  EXPECT_EQ(EstimateEta(s, kAug1 + 3 * kHourMs).remaining_s, 0);
  s.progress_pct = 0.5;
  s.estimated_s.reset();

  // Paused: the remainder stands still; pauses do not count as print time.
  s.status = SessionStatus::kPaused;
  s.progress_pct = 50;
  s.pause_started_at = kAug1 + 30 * kMinuteMs;
  s.pauses = {{kAug1 + 10 * kMinuteMs, kAug1 + 20 * kMinuteMs}};
  eta = EstimateEta(s, kAug1 + 5 * kHourMs);
  EXPECT_EQ(eta.remaining_s, 20 * 60);
  EXPECT_EQ(eta.eta, kAug1 + 5 * kHourMs + 20 * kMinuteMs);

  // Overdue prints neither go negative nor say "0 s left" at 50 %; closed
  // ones have no ETA.
  s.status = SessionStatus::kPrinting;
  s.pause_started_at.reset();
  EXPECT_FALSE(EstimateEta(s, kAug1 + 50 * kHourMs).remaining_s);
  s.status = SessionStatus::kCompleted;
  EXPECT_FALSE(EstimateEta(s, kAug1).remaining_s);
}

// OctoPrint's own time left wins over extrapolation and counts down with
// the print time since it was said, not through pauses.
TEST(RenderTest, EtaPrefersOctoprintsTimeLeft) {
  Session s;
  s.status = SessionStatus::kPrinting;
  s.started_at = kAug1;
  s.last_event_at = kAug1 + 30 * kMinuteMs;
  s.progress_pct = 25;  // extrapolation alone would say 90 min to go
  s.time_left_s = 40 * 60;
  s.time_left_at = kAug1 + 20 * kMinuteMs;
  Eta eta = EstimateEta(s, kAug1 + 30 * kMinuteMs);
  EXPECT_EQ(eta.remaining_s, 30 * 60);  // 40 min said 10 min ago
  EXPECT_EQ(eta.eta, kAug1 + 60 * kMinuteMs);
  // A pause since it was said does not count down.
  s.pauses = {{kAug1 + 22 * kMinuteMs, kAug1 + 27 * kMinuteMs}};
  EXPECT_EQ(EstimateEta(s, kAug1 + 30 * kMinuteMs).remaining_s, 35 * 60);
  s.status = SessionStatus::kPaused;
  s.pause_started_at = kAug1 + 30 * kMinuteMs;
  EXPECT_EQ(EstimateEta(s, kAug1 + 2 * kHourMs).remaining_s, 35 * 60);
  // Run out while not at 100 %: unknown, never "0 s left".
  s.status = SessionStatus::kPrinting;
  s.pause_started_at.reset();
  EXPECT_FALSE(EstimateEta(s, kAug1 + 3 * kHourMs).remaining_s);
}

TEST(RenderTest, UsageJsonKeysAndNullUser) {
  UsageQuery q;
  q.from = kAug1;
  q.to = kAug1 + kDayMs;
  q.group_by = {GroupKey::kUser, GroupKey::kDay};
  UsageReport r;
  UsageRow row;
  row.key = {std::nullopt, "2024-08-01"};
  row.figures.sessions = 2;
  row.figures.busy_s = 3600.7;
  row.figures.utilization = 3600.7 / 86400;
  row.figures.cost = 1.005;
  r.rows.push_back(row);
  r.totals = row.figures;
  json::object o = UsageJson(q, r, "EUR");
  EXPECT_EQ(o["from"].as_string(), "2024-08-01T00:00:00Z");
  EXPECT_EQ(o["to"].as_string(), "2024-08-02T00:00:00Z");
  EXPECT_EQ(o["group_by"].as_array().size(), 2u);
  EXPECT_EQ(o["group_by"].as_array()[0].as_string(), "user");
  const json::object& first = o["rows"].as_array()[0].as_object();
  EXPECT_TRUE(first.at("key").as_object().at("user").is_null());
  EXPECT_EQ(first.at("key").as_object().at("day").as_string(), "2024-08-01");
  EXPECT_EQ(first.at("busy_s").as_int64(), 3600);
  EXPECT_EQ(first.at("sessions").as_int64(), 2);
  EXPECT_EQ(o["currency"].as_string(), "EUR");
  EXPECT_TRUE(UsageJson(q, r, "").at("currency").is_null());  // none set
  for (const char* f : {"sessions", "completed", "cancelled", "failed",
                        "interrupted", "restarted", "busy_s", "paused_s",
                        "print_s", "utilization", "filament_mm", "cost"}) {
    EXPECT_TRUE(first.contains(f)) << f;
    EXPECT_TRUE(o["totals"].as_object().contains(f)) << f;
  }
  auto csv = ParseCsv(UsageCsv(q, r));
  ASSERT_EQ(csv.size(), 3u);
  EXPECT_EQ(csv[0][0], "user");
  EXPECT_EQ(csv[1][0], "");
  EXPECT_EQ(csv[1][1], "2024-08-01");
  EXPECT_EQ(csv[2][0], "TOTAL");
}

TEST(RenderTest, NumbersArePlainDecimals) {
  json::value v = {{"a", 1853.31}, {"b", 0.41501}, {"c", 5}, {"d", 1e21}};
  EXPECT_EQ(JsonText(v, false), R"({"a":1853.31,"b":0.41501,"c":5,"d":1e+21})");
  EXPECT_EQ(json::parse(JsonText(v, false)), v);
  EXPECT_EQ(CsvField("x"), "x");
}

TEST(RenderTest, PrettyJsonParsesBack) {
  json::value v = json::parse(R"({"a":[1,{"b":null}],"c":"x","d":[],"e":{}})");
  std::string pretty = JsonText(v, true);
  EXPECT_NE(pretty.find("\n  \"a\": [\n"), std::string::npos) << pretty;
  EXPECT_EQ(json::parse(pretty), v);
}

TEST(RenderTest, TablesSayUnattributedAndFormatHours) {
  Session s = testing::ClosedSession(3, "delta", kAug1, 83);
  std::string table =
      SessionsTable(std::vector<Session>{s}, kAug1, nullptr, RateHistory(), "");
  EXPECT_NE(table.find("unattributed"), std::string::npos) << table;
  EXPECT_NE(table.find("1h 23m"), std::string::npos) << table;
  EXPECT_NE(table.find("2024-08-01 00:00"), std::string::npos) << table;
}

}  // namespace
}  // namespace pm

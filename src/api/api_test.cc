// Contract tests of the API: field names and types of every endpoint,
// status codes, errors, over a real SQLite store fed through the real fold.
#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>

#include "api/api_testing.h"
#include "api/params.h"

namespace pm {
namespace {

using testing::ApiFixture;
using testing::Ingester;
using testing::kAug1;
using testing::MakeEvent;
namespace json = boost::json;

const char* kSessionFields[] = {
    "id",          "device",         "status",
    "started_at",  "ended_at",       "duration_s",
    "paused_s",    "print_s",        "reported_time_s",
    "file",        "user",           "progress_pct",
    "estimated_s", "filament_mm",    "filament_cm3",
    "error",       "start_inferred", "end_inferred",
    "event_count", "snapshot"};

void ExpectSessionShape(const json::value& v) {
  ASSERT_TRUE(v.is_object()) << json::serialize(v);
  const json::object& o = v.as_object();
  for (const char* f : kSessionFields) EXPECT_TRUE(o.contains(f)) << f;
  EXPECT_TRUE(o.at("id").is_int64());
  EXPECT_TRUE(o.at("device").is_string());
  EXPECT_TRUE(o.at("status").is_string());
  EXPECT_TRUE(o.at("started_at").is_string());
  EXPECT_TRUE(o.at("ended_at").is_string() || o.at("ended_at").is_null());
  for (const char* f : {"duration_s", "paused_s", "print_s", "event_count"}) {
    EXPECT_TRUE(o.at(f).is_int64()) << f;
  }
  for (const char* f : {"start_inferred", "end_inferred", "snapshot"}) {
    EXPECT_TRUE(o.at(f).is_bool()) << f;
  }
  EXPECT_TRUE(o.at("file").is_object());
}

// delta: a print started at Aug 1 10:00, paused 10:30-10:40, done 11:00;
// then one started at 12:00 with 30% progress at 12:30, still printing.
// echo: configured, never heard from.
struct PrintersFixture : ::testing::Test {
  PrintersFixture() : f(MakeOptions()) {
    Ingester in(*f.store);
    TimeMs t = kAug1 + 10 * kHourMs;
    Event start = MakeEvent("delta", Kind::kStarted, t);
    start.file.name = "box.gcode";
    start.file.path = "box.gcode";
    start.file.origin = "local";
    start.user = "ana";
    start.estimated_s = 3600;
    start.filament_mm = 1500;
    first_id = in.Ingest(start, R"({"topic":"Print Started"})");
    in.Ingest(MakeEvent("delta", Kind::kPaused, t + 30 * kMinuteMs));
    in.Ingest(MakeEvent("delta", Kind::kResumed, t + 40 * kMinuteMs));
    Event done = MakeEvent("delta", Kind::kDone, t + kHourMs);
    done.reported_time_s = 3000;
    in.Ingest(done, std::string("--x\r\n\xff\xd8 binary", 14));
    Event second = MakeEvent("delta", Kind::kStarted, t + 2 * kHourMs);
    second.file.name = "cube.gcode";
    second.estimated_s = 7200;
    second_id = in.Ingest(second);
    Event progress =
        MakeEvent("delta", Kind::kProgress, t + 2 * kHourMs + 30 * kMinuteMs);
    progress.progress_pct = 30;
    in.Ingest(progress);
    f.clock.Set(t + 2 * kHourMs + 40 * kMinuteMs);
  }
  static ApiOptions MakeOptions() {
    ApiOptions o;
    o.devices["delta"].name = "Prusa MK3S+ by the door";
    o.devices["echo"].secret_set = true;
    return o;
  }
  ApiFixture f;
  int64_t first_id = 0;
  int64_t second_id = 0;
};

TEST_F(PrintersFixture, PrintersListConfiguredAndHeardDevices) {
  auto r = f.Get("/api/v1/printers");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "application/json");
  json::value v = ApiFixture::Json(r);
  const json::array& printers = v.at("printers").as_array();
  ASSERT_EQ(printers.size(), 2u);
  const json::object& delta = printers[0].as_object();
  const json::object& echo = printers[1].as_object();
  for (const char* field :
       {"device", "name", "state", "session", "last_event_at", "last_topic",
        "needs_attention", "secret_set"}) {
    EXPECT_TRUE(delta.contains(field)) << field;
    EXPECT_TRUE(echo.contains(field)) << field;
  }
  EXPECT_EQ(delta.at("device").as_string(), "delta");
  EXPECT_EQ(delta.at("name").as_string(), "Prusa MK3S+ by the door");
  EXPECT_EQ(delta.at("state").as_string(), "printing");
  EXPECT_EQ(delta.at("last_event_at").as_string(), "2024-08-01T12:30:00Z");
  EXPECT_EQ(delta.at("last_topic").as_string(), "Print Progress");
  EXPECT_FALSE(delta.at("needs_attention").as_bool());
  EXPECT_FALSE(delta.at("secret_set").as_bool());
  const json::value& session = delta.at("session");
  ExpectSessionShape(session);
  EXPECT_EQ(session.at("id").as_int64(), second_id);
  EXPECT_EQ(session.at("duration_s").as_int64(), 40 * 60);
  // 30 min for 30%: 70 min to go at 12:30, 60 min at 12:40.
  EXPECT_EQ(session.at("remaining_s").as_int64(), 60 * 60);
  EXPECT_EQ(session.at("eta").as_string(), "2024-08-01T13:40:00Z");

  EXPECT_EQ(echo.at("device").as_string(), "echo");
  EXPECT_EQ(echo.at("name").as_string(), "echo");
  EXPECT_EQ(echo.at("state").as_string(), "idle");
  EXPECT_TRUE(echo.at("session").is_null());
  EXPECT_TRUE(echo.at("last_event_at").is_null());
  EXPECT_TRUE(echo.at("last_topic").is_null());
  EXPECT_TRUE(echo.at("secret_set").as_bool());
}

TEST_F(PrintersFixture, SessionsListNewestFirst) {
  auto r = f.Get("/api/v1/sessions");
  ASSERT_EQ(r.status, 200) << r.body;
  json::value v = ApiFixture::Json(r);
  const json::array& sessions = v.at("sessions").as_array();
  ASSERT_EQ(sessions.size(), 2u);
  EXPECT_TRUE(v.at("next_cursor").is_null());
  for (const auto& s : sessions) ExpectSessionShape(s);
  EXPECT_EQ(sessions[0].at("id").as_int64(), second_id);
  const json::object& done = sessions[1].as_object();
  EXPECT_EQ(done.at("id").as_int64(), first_id);
  EXPECT_EQ(done.at("status").as_string(), "completed");
  EXPECT_EQ(done.at("started_at").as_string(), "2024-08-01T10:00:00Z");
  EXPECT_EQ(done.at("ended_at").as_string(), "2024-08-01T11:00:00Z");
  EXPECT_EQ(done.at("duration_s").as_int64(), 3600);
  EXPECT_EQ(done.at("paused_s").as_int64(), 600);
  EXPECT_EQ(done.at("print_s").as_int64(), 3000);
  EXPECT_EQ(done.at("reported_time_s").as_int64(), 3000);
  EXPECT_EQ(done.at("user").as_string(), "ana");
  EXPECT_EQ(done.at("filament_mm").as_int64(), 1500);
  EXPECT_EQ(done.at("event_count").as_int64(), 4);
  EXPECT_EQ(done.at("file").at("name").as_string(), "box.gcode");

  auto page = ApiFixture::Json(f.Get("/api/v1/sessions?limit=1"));
  ASSERT_EQ(page.at("sessions").as_array().size(), 1u);
  std::string cursor(page.at("next_cursor").as_string());
  auto next =
      ApiFixture::Json(f.Get("/api/v1/sessions?limit=1&cursor=" + cursor));
  ASSERT_EQ(next.at("sessions").as_array().size(), 1u);
  EXPECT_EQ(next.at("sessions").as_array()[0].at("id").as_int64(), first_id);

  auto filtered = ApiFixture::Json(
      f.Get("/api/v1/sessions?status=completed&device=delta&user=ana"));
  ASSERT_EQ(filtered.at("sessions").as_array().size(), 1u);
  auto none = ApiFixture::Json(f.Get("/api/v1/sessions?device=echo"));
  EXPECT_TRUE(none.at("sessions").as_array().empty());
}

TEST_F(PrintersFixture, SessionDetailHasItsEvents) {
  auto r = f.Get("/api/v1/sessions/" + std::to_string(first_id));
  ASSERT_EQ(r.status, 200) << r.body;
  json::value v = ApiFixture::Json(r);
  ExpectSessionShape(v);
  const json::array& events = v.at("events").as_array();
  ASSERT_EQ(events.size(), 4u);
  const char* kinds[] = {"started", "paused", "resumed", "done"};
  for (size_t i = 0; i < events.size(); ++i) {
    const json::object& e = events[i].as_object();
    for (const char* field :
         {"id", "device", "topic", "kind", "time", "received_at", "duplicate",
          "test", "session", "content_type"}) {
      EXPECT_TRUE(e.contains(field)) << field;
    }
    EXPECT_EQ(e.at("kind").as_string(), kinds[i]);
    EXPECT_EQ(e.at("session").as_int64(), first_id);
    EXPECT_FALSE(e.at("duplicate").as_bool());
  }
  EXPECT_EQ(events[0].at("body").as_string(), R"({"topic":"Print Started"})");
  EXPECT_EQ(events[0].at("time").as_string(), "2024-08-01T10:00:00Z");
  EXPECT_FALSE(events[3].as_object().contains("body"));  // not UTF-8
}

TEST_F(PrintersFixture, SessionErrors) {
  auto missing = f.Get("/api/v1/sessions/999999");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(ApiFixture::Json(missing).at("error").as_string(),
            "no session with id 999999");
  auto bad = f.Get("/api/v1/sessions/abc");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(std::string(ApiFixture::Json(bad).at("error").as_string())
                .find("session id must be a positive whole number"),
            std::string::npos);
}

TEST_F(PrintersFixture, PutUserAttributesAndValidates) {
  std::string path = "/api/v1/sessions/" + std::to_string(first_id) + "/user";
  auto r = f.Send("PUT", path, R"({"user": "  Jürgen "})");
  ASSERT_EQ(r.status, 200) << r.body;
  json::value v = ApiFixture::Json(r);
  ExpectSessionShape(v);
  EXPECT_EQ(v.at("user").as_string(), "Jürgen");
  auto listed = ApiFixture::Json(f.Get("/api/v1/sessions?user=J%C3%BCrgen"));
  ASSERT_EQ(listed.at("sessions").as_array().size(), 1u);

  struct Case {
    const char* body;
    const char* expect;
  } cases[] = {
      {"", "not valid JSON"},
      {"[1]", "got no object"},
      {"{}", "\"user\" is missing"},
      {R"({"user": 5})", "\"user\" must be a string"},
      {R"({"user": "  "})", "\"user\" must not be empty"},
      {R"({"user": "a", "x": 1})", "unknown field \"x\""},
      {R"({"user": "a\nb"})", "control characters"},
  };
  for (const Case& c : cases) {
    auto bad = f.Send("PUT", path, c.body);
    EXPECT_EQ(bad.status, 400) << c.body;
    std::string error(ApiFixture::Json(bad).at("error").as_string());
    EXPECT_NE(error.find(c.expect), std::string::npos) << error;
  }
  std::string long_name(129, 'x');
  EXPECT_EQ(f.Send("PUT", path, "{\"user\": \"" + long_name + "\"}").status,
            400);
  EXPECT_EQ(
      f.Send("PUT", "/api/v1/sessions/424242/user", R"({"user":"a"})").status,
      404);

  // null removes the attribution: the user from the events returns.
  auto cleared = f.Send("PUT", path, R"({"user": null})");
  ASSERT_EQ(cleared.status, 200) << cleared.body;
  EXPECT_EQ(ApiFixture::Json(cleared).at("user").as_string(), "ana");
}

TEST_F(PrintersFixture, EventsNewestFirstWithCursor) {
  auto r = f.Get("/api/v1/events?limit=4");
  ASSERT_EQ(r.status, 200) << r.body;
  json::value v = ApiFixture::Json(r);
  const json::array& events = v.at("events").as_array();
  ASSERT_EQ(events.size(), 4u);
  EXPECT_GT(events[0].at("id").as_int64(), events[1].at("id").as_int64());
  EXPECT_EQ(events[0].at("kind").as_string(), "progress");
  std::string cursor(v.at("next_cursor").as_string());
  auto rest = ApiFixture::Json(f.Get("/api/v1/events?cursor=" + cursor));
  const json::array& older = rest.at("events").as_array();
  ASSERT_EQ(older.size(), 2u);
  EXPECT_EQ(older[1].at("id").as_int64(), first_id);
  EXPECT_TRUE(rest.at("next_cursor").is_null());
  auto echo = ApiFixture::Json(f.Get("/api/v1/events?device=echo"));
  EXPECT_TRUE(echo.at("events").as_array().empty());
  EXPECT_EQ(f.Get("/api/v1/events?limit=0").status, 400);
}

TEST_F(PrintersFixture, CsvHasTheSameRowsAsJson) {
  auto r = f.Get("/api/v1/sessions.csv?device=delta");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "text/csv; charset=utf-8");
  bool disposition = false;
  for (const auto& [name, value] : r.headers) {
    if (name == "Content-Disposition") {
      disposition = value.find("filename=") != std::string::npos;
    }
  }
  EXPECT_TRUE(disposition);
  auto rows = testing::ParseCsv(r.body);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0][0], "id");
  EXPECT_EQ(rows[1][0], std::to_string(second_id));
  EXPECT_EQ(rows[2][0], std::to_string(first_id));
  EXPECT_EQ(f.Get("/api/v1/sessions.csv?status=nope").status, 400);
}

TEST_F(PrintersFixture, UnknownPathsAndMethods) {
  auto r = f.Get("/api/v1/nothing");
  EXPECT_EQ(r.status, 404);
  EXPECT_TRUE(ApiFixture::Json(r).at("error").is_string());
  EXPECT_EQ(f.Get("/api/v2/sessions").status, 404);
  EXPECT_EQ(f.Get("/api/v1/sessions/1/user").status, 405);
  auto post = f.Send("POST", "/api/v1/sessions", "{}");
  EXPECT_EQ(post.status, 405);
  ASSERT_EQ(post.headers.size(), 1u);
  EXPECT_EQ(post.headers[0].first, "Allow");
  EXPECT_EQ(post.headers[0].second, "GET, HEAD");
  auto del = f.Send("DELETE", "/api/v1/sessions/1/user", "");
  EXPECT_EQ(del.status, 405);
  EXPECT_EQ(del.headers[0].second, "PUT");
  EXPECT_EQ(f.Send("HEAD", "/api/v1/printers", "").status, 200);
  EXPECT_EQ(f.Get("/api/v1/sessions?user=%zz").status, 400);
  EXPECT_TRUE(Api::Serves("/api/v1/sessions"));
  EXPECT_TRUE(Api::Serves("/metrics"));
  EXPECT_FALSE(Api::Serves("/webhook"));
  EXPECT_FALSE(Api::Serves("/apiary"));
}

// Every 400 of the query endpoints names its parameter.
TEST_F(PrintersFixture, BadParametersAreNamed) {
  struct Case {
    const char* target;
    const char* name;
  } cases[] = {
      {"/api/v1/sessions?status=bogus", "status"},
      {"/api/v1/sessions?limit=0", "limit"},
      {"/api/v1/sessions?limit=1001", "limit"},
      {"/api/v1/sessions?from=tomorrow", "from"},
      {"/api/v1/sessions?to=2024-13-01", "to"},
      {"/api/v1/sessions?cursor=zzz", "cursor"},
      {"/api/v1/usage?group_by=colour", "group_by"},
      {"/api/v1/usage?tz=Mars%2FOlympus", "tz"},
      {"/api/v1/usage?from=x", "from"},
      {"/api/v1/events?limit=x", "limit"},
      {"/api/v1/events?cursor=x", "cursor"},
  };
  for (const Case& c : cases) {
    auto r = f.Get(c.target);
    EXPECT_EQ(r.status, 400) << c.target;
    std::string error(ApiFixture::Json(r).at("error").as_string());
    EXPECT_EQ(error.rfind(c.name, 0), 0u) << c.target << ": " << error;
  }
}

}  // namespace
}  // namespace pm

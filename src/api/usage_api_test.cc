// GET /api/v1/usage: figures worked out by hand for a small ledger, and the
// same answers as ComputeUsage over the same sessions for other groupings.
#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>
#include <map>

#include "api/api_testing.h"
#include "api/params.h"
#include "api/render.h"

namespace pm {
namespace {

using testing::ApiFixture;
using testing::ClosedSession;
using testing::kAug1;
namespace json = boost::json;

constexpr TimeMs kHour = kHourMs;

struct UsageApiTest : ::testing::Test {
  UsageApiTest() : f(MakeOptions(), MakeRates()) {
    // delta: 10:00-12:00 Aug 1, completed, 1 m of filament.
    Session s1 = ClosedSession(1, "delta", kAug1 + 10 * kHour, 120);
    s1.job_filament_mm = 1000;
    s1.user = "ana";
    // delta: Aug 1 23:00 - Aug 2 01:00, cancelled at 50%, paused 23:30-23:45.
    Session s2 = ClosedSession(2, "delta", kAug1 + 23 * kHour, 120,
                               SessionStatus::kCancelled);
    s2.pauses = {{kAug1 + 23 * kHour + 30 * kMinuteMs,
                  kAug1 + 23 * kHour + 45 * kMinuteMs}};
    s2.job_filament_mm = 2000;
    s2.progress_pct = 50;
    // foxtrot: Jul 31 22:00 - Aug 1 02:00 (starts before the window).
    Session s3 = ClosedSession(3, "foxtrot", kAug1 - 2 * kHour, 240);
    s3.user = "ben";
    // foxtrot: printing since Aug 2 20:00; now is Aug 2 22:00.
    Session s4;
    s4.id = 4;
    s4.device = "foxtrot";
    s4.status = SessionStatus::kPrinting;
    s4.started_at = kAug1 + kDayMs + 20 * kHour;
    s4.last_event_at = s4.started_at;
    s4.opened_by = {s4.started_at, 4};
    // echo: Aug 5, outside the window.
    Session s5 = ClosedSession(5, "echo", kAug1 + 4 * kDayMs, 60);
    sessions = {s1, s2, s3, s4, s5};
    testing::CommitSessions(*f.store, sessions);
    f.clock.Set(kAug1 + kDayMs + 22 * kHour);
  }
  static ApiOptions MakeOptions() {
    ApiOptions o;
    o.currency = "EUR";
    return o;
  }
  static RatesByDevice MakeRates() {
    RatesByDevice r;
    r["delta"] = {2.0, 0.5, 0.0};  // per hour, per metre
    r["foxtrot"].minimum_per_session = 1.25;
    return r;
  }
  json::value Usage(const std::string& query) {
    auto r = f.Get("/api/v1/usage?" + query);
    EXPECT_EQ(r.status, 200) << r.body;
    return ApiFixture::Json(r);
  }
  ApiFixture f;
  std::vector<Session> sessions;
};

TEST_F(UsageApiTest, ByDeviceAndDayWorkedOutByHand) {
  json::value v = Usage("from=2024-08-01&to=2024-08-03&group_by=device,day");
  EXPECT_EQ(v.at("from").as_string(), "2024-08-01T00:00:00Z");
  EXPECT_EQ(v.at("to").as_string(), "2024-08-03T00:00:00Z");
  EXPECT_EQ(v.at("group_by").as_array(), json::array({"device", "day"}));
  const json::array& rows = v.at("rows").as_array();
  ASSERT_EQ(rows.size(), 4u) << json::serialize(v);
  struct Expect {
    const char* device;
    const char* day;
    int64_t sessions, completed, cancelled, busy_min, paused_min, print_min;
  } expected[] = {
      {"delta", "2024-08-01", 2, 1, 1, 120 + 60, 15, 120 + 45},
      {"delta", "2024-08-02", 0, 0, 0, 60, 0, 60},
      {"foxtrot", "2024-08-01", 0, 0, 0, 120, 0, 120},
      {"foxtrot", "2024-08-02", 1, 0, 0, 120, 0, 120},
  };
  for (size_t i = 0; i < rows.size(); ++i) {
    const json::object& row = rows[i].as_object();
    const Expect& e = expected[i];
    EXPECT_EQ(row.at("key").at("device").as_string(), e.device) << i;
    EXPECT_EQ(row.at("key").at("day").as_string(), e.day) << i;
    EXPECT_EQ(row.at("sessions").as_int64(), e.sessions) << i;
    EXPECT_EQ(row.at("completed").as_int64(), e.completed) << i;
    EXPECT_EQ(row.at("cancelled").as_int64(), e.cancelled) << i;
    EXPECT_EQ(row.at("failed").as_int64(), 0) << i;
    EXPECT_EQ(row.at("busy_s").as_int64(), e.busy_min * 60) << i;
    EXPECT_EQ(row.at("paused_s").as_int64(), e.paused_min * 60) << i;
    EXPECT_EQ(row.at("print_s").as_int64(), e.print_min * 60) << i;
    // A day row's utilization is over its day (the ledger's rule, see
    // ledger/usage.cc); the totals' over the whole window times the two
    // printers.
    EXPECT_NEAR(row.at("utilization").to_number<double>(),
                e.busy_min * 60.0 / 86400, 1e-6)
        << i;
  }
  const json::object& totals = v.at("totals").as_object();
  EXPECT_EQ(totals.at("sessions").as_int64(), 3);
  EXPECT_EQ(totals.at("busy_s").as_int64(), 480 * 60);
  EXPECT_NEAR(totals.at("utilization").to_number<double>(),
              480 * 60.0 / (2 * 86400 * 2), 1e-6);
  // s1 in full and s2 at 50% of its 2 m.
  EXPECT_EQ(totals.at("filament_mm").to_number<double>(), 2000);
  // delta: s1 2 h x 2 + 1 m x 0.5 = 4.5; s2 1.75 h x 2 + 1 m x 0.5 = 4.0;
  // foxtrot: the open print's minimum, 1.25.
  EXPECT_NEAR(totals.at("cost").to_number<double>(), 4.5 + 4.0 + 1.25, 1e-9);
}

// Every session carries its own cost, with the rates in force when it
// started; usage sums those; both answers name the currency.
TEST_F(UsageApiTest, SessionsCarryTheirCostWithTheRatesOfTheirStart) {
  // delta's rates change at 20:00 on Aug 1, between s1 and s2.
  ASSERT_TRUE(f.store
                  ->RecordRateChanges(
                      {{"delta", kAug1 + 20 * kHour, {.rate_per_hour = 10}}})
                  .ok());
  auto r = f.Get("/api/v1/sessions?from=2024-07-01");
  ASSERT_EQ(r.status, 200) << r.body;
  json::value page = ApiFixture::Json(r);
  EXPECT_EQ(page.at("currency").as_string(), "EUR");
  std::map<int64_t, double> cost;
  for (const auto& s : page.at("sessions").as_array()) {
    cost[s.at("id").as_int64()] = s.at("cost").to_number<double>();
  }
  EXPECT_DOUBLE_EQ(cost.at(1), 4.5);   // the old rates: 2 h x 2 + 1 m x 0.5
  EXPECT_DOUBLE_EQ(cost.at(2), 17.5);  // the new ones: 1.75 h x 10
  EXPECT_DOUBLE_EQ(cost.at(3), 1.25);  // foxtrot: its minimum
  json::value v = Usage("from=2024-08-01&to=2024-08-03");
  EXPECT_EQ(v.at("currency").as_string(), "EUR");
  EXPECT_NEAR(v.at("totals").at("cost").to_number<double>(), 4.5 + 17.5 + 1.25,
              1e-9);
}

TEST_F(UsageApiTest, NullUserIsNullInJson) {
  json::value v = Usage("from=2024-08-01&to=2024-08-03&group_by=user");
  bool found_null = false;
  for (const auto& row : v.at("rows").as_array()) {
    if (row.at("key").at("user").is_null()) found_null = true;
  }
  EXPECT_TRUE(found_null) << json::serialize(v);
}

// The API's answer is ComputeUsage's over the store's sessions.
TEST_F(UsageApiTest, SameAsComputeUsageForOtherGroupings) {
  for (std::string query :
       {"group_by=user", "group_by=status,origin",
        "group_by=week&tz=Europe/Berlin&from=2024-07-01",
        "group_by=month,device&from=2024-07-01&to=2024-09-01",
        "group_by=day&tz=America/New_York&from=2024-07-31"}) {
    auto params = Params::FromQuery(query);
    ASSERT_TRUE(params.ok());
    auto q = ParseUsageQuery(*params, f.options, f.clock.Now());
    ASSERT_TRUE(q.ok()) << q.error().message;
    q->rates = RateHistory::Constant(f.rates);
    UsageReport expected = ComputeUsage(*q, sessions);
    json::value want = UsageJson(*q, expected, f.options.currency);
    EXPECT_EQ(Usage(query), want) << query;
    EXPECT_FALSE(expected.rows.empty()) << query;
  }
}

TEST_F(UsageApiTest, DefaultsToThisMonthByDevice) {
  json::value v = Usage("");
  EXPECT_EQ(v.at("from").as_string(), "2024-08-01T00:00:00Z");
  EXPECT_EQ(v.at("to").as_string(), "2024-08-02T22:00:00Z");
  EXPECT_EQ(v.at("tz").as_string(), "UTC");
  EXPECT_EQ(v.at("group_by").as_array(), json::array({"device"}));
  EXPECT_EQ(v.at("rows").as_array().size(), 2u);
}

}  // namespace
}  // namespace pm

#include "ledger/usage.h"

#include <date/tz.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

namespace pm {
namespace {

TimeMs At(const char* iso) { return ParseTime(iso).value(); }

using Key = std::vector<std::optional<std::string>>;

Session Make(std::string device, TimeMs start, std::optional<TimeMs> end,
             SessionStatus status = SessionStatus::kCompleted) {
  static int64_t next_id = 1;
  Session s;
  s.id = next_id++;
  s.device = std::move(device);
  s.started_at = start;
  s.ended_at = end;
  s.last_event_at = end.value_or(start);
  s.status = end ? status : SessionStatus::kPrinting;
  return s;
}

UsageQuery Window(const char* from, const char* to,
                  std::vector<GroupKey> group_by = {}) {
  UsageQuery q;
  q.from = At(from);
  q.to = At(to);
  q.now = q.to;
  q.group_by = std::move(group_by);
  return q;
}

const UsageRow* Find(const UsageReport& r, const Key& key) {
  for (const UsageRow& row : r.rows) {
    if (row.key == key) return &row;
  }
  return nullptr;
}

const date::time_zone* Zone(const char* name) {
  auto z = FindZone(name);
  EXPECT_TRUE(z.ok()) << name;
  return *z;
}

// ---- windows ----

TEST(UsageTest, WindowCutsASessionAndCountsItWhereItStarted) {
  std::vector<Session> s = {
      Make("delta", At("2024-08-01T23:00:00Z"), At("2024-08-02T02:00:00Z"))};
  UsageQuery q = Window("2024-08-02", "2024-08-03");
  UsageReport r = ComputeUsage(q, s);
  ASSERT_EQ(r.rows.size(), 1u);
  EXPECT_TRUE(r.rows[0].key.empty());
  EXPECT_DOUBLE_EQ(r.totals.busy_s, 2 * 3600);
  EXPECT_DOUBLE_EQ(r.totals.print_s, 2 * 3600);
  EXPECT_EQ(r.totals.sessions, 0);  // it started the day before
  EXPECT_EQ(r.totals.completed, 0);
  EXPECT_DOUBLE_EQ(r.totals.utilization, 2.0 / 24);

  UsageReport before = ComputeUsage(Window("2024-08-01", "2024-08-02"), s);
  EXPECT_DOUBLE_EQ(before.totals.busy_s, 3600);
  EXPECT_EQ(before.totals.sessions, 1);
  EXPECT_EQ(before.totals.completed, 1);
}

TEST(UsageTest, WindowCutsPauses) {
  Session s =
      Make("delta", At("2024-08-01T22:00:00Z"), At("2024-08-02T03:00:00Z"));
  s.pauses = {{At("2024-08-01T23:30:00Z"), At("2024-08-02T00:30:00Z")},
              {At("2024-08-02T02:00:00Z"), At("2024-08-02T02:10:00Z")}};
  UsageReport r =
      ComputeUsage(Window("2024-08-02", "2024-08-03"), std::vector<Session>{s});
  EXPECT_DOUBLE_EQ(r.totals.busy_s, 3 * 3600);
  EXPECT_DOUBLE_EQ(r.totals.paused_s, 40 * 60);
  EXPECT_DOUBLE_EQ(r.totals.print_s, 3 * 3600 - 40 * 60);
}

TEST(UsageTest, OpenSessionRunsToNowWithItsOngoingPause) {
  Session s = Make("delta", At("2024-08-02T10:00:00Z"), std::nullopt);
  s.status = SessionStatus::kPaused;
  s.pause_started_at = At("2024-08-02T11:00:00Z");
  UsageQuery q = Window("2024-08-02", "2024-08-03");
  q.now = At("2024-08-02T11:30:00Z");
  UsageReport r = ComputeUsage(q, std::vector<Session>{s});
  EXPECT_DOUBLE_EQ(r.totals.busy_s, 90 * 60);
  EXPECT_DOUBLE_EQ(r.totals.paused_s, 30 * 60);
  EXPECT_DOUBLE_EQ(r.totals.print_s, 60 * 60);
  EXPECT_EQ(r.totals.sessions, 1);
  EXPECT_EQ(r.totals.completed + r.totals.interrupted, 0);
}

TEST(UsageTest, SessionsOutsideTheWindowLeaveNoRow) {
  std::vector<Session> s = {
      Make("early", At("2024-07-01T10:00:00Z"), At("2024-07-01T11:00:00Z")),
      Make("late", At("2024-09-01T10:00:00Z"), At("2024-09-01T11:00:00Z")),
      Make("inside", At("2024-08-02T10:00:00Z"), At("2024-08-02T11:00:00Z")),
      // Ends exactly where the window begins: [start, end) does not overlap.
      Make("edge", At("2024-08-01T23:00:00Z"), At("2024-08-02T00:00:00Z"))};
  UsageReport r =
      ComputeUsage(Window("2024-08-02", "2024-08-03", {GroupKey::kDevice}), s);
  ASSERT_EQ(r.rows.size(), 1u);
  EXPECT_EQ(r.rows[0].key, (Key{"inside"}));
}

TEST(UsageTest, ZeroLengthSessionStartedInWindowIsCounted) {
  // An idle `done` without reported time: started_at == ended_at.
  std::vector<Session> s = {Make("delta", At("2024-08-02T10:00:00Z"),
                                 At("2024-08-02T10:00:00Z"),
                                 SessionStatus::kCancelled)};
  UsageReport r =
      ComputeUsage(Window("2024-08-02", "2024-08-03", {GroupKey::kDay}), s);
  ASSERT_EQ(r.rows.size(), 1u);
  EXPECT_EQ(r.rows[0].figures.sessions, 1);
  EXPECT_EQ(r.rows[0].figures.cancelled, 1);
  EXPECT_EQ(r.rows[0].figures.busy_s, 0);
}

TEST(UsageTest, EmptyOrBackwardWindowIsEmpty) {
  std::vector<Session> s = {
      Make("delta", At("2024-08-02T10:00:00Z"), At("2024-08-02T11:00:00Z"))};
  UsageReport r = ComputeUsage(Window("2024-08-03", "2024-08-02"), s);
  EXPECT_TRUE(r.rows.empty());
  EXPECT_EQ(r.totals.sessions, 0);
  EXPECT_EQ(r.totals.utilization, 0);
}

// ---- grouping ----

TEST(UsageTest, GroupByDeviceCountsStatusesAndFilament) {
  std::vector<Session> s = {
      Make("delta", At("2024-08-02T10:00:00Z"), At("2024-08-02T11:00:00Z")),
      Make("delta", At("2024-08-02T12:00:00Z"), At("2024-08-02T12:30:00Z"),
           SessionStatus::kCancelled),
      Make("alpha", At("2024-08-02T10:00:00Z"), At("2024-08-02T16:00:00Z"),
           SessionStatus::kFailed),
      Make("alpha", At("2024-08-02T17:00:00Z"), At("2024-08-02T17:10:00Z"),
           SessionStatus::kInterrupted),
      Make("alpha", At("2024-08-02T18:00:00Z"), At("2024-08-02T18:10:00Z"),
           SessionStatus::kRestarted)};
  s[0].job_filament_mm = 1000;  // completed: all of it
  s[1].job_filament_mm = 1000;
  s[1].progress_pct = 25;      // cancelled at 25 %
  s[2].job_filament_mm = 500;  // progress unknown: none
  UsageReport r =
      ComputeUsage(Window("2024-08-02", "2024-08-03", {GroupKey::kDevice}), s);
  ASSERT_EQ(r.rows.size(), 2u);
  EXPECT_EQ(r.rows[0].key, (Key{"alpha"}));  // sorted by key
  EXPECT_EQ(r.rows[1].key, (Key{"delta"}));
  const UsageFigures& a = r.rows[0].figures;
  EXPECT_EQ(a.sessions, 3);
  EXPECT_EQ(a.failed, 1);
  EXPECT_EQ(a.interrupted, 1);
  EXPECT_EQ(a.restarted, 1);
  EXPECT_DOUBLE_EQ(a.busy_s, 6 * 3600 + 20 * 60);
  EXPECT_DOUBLE_EQ(a.filament_mm, 0);
  const UsageFigures& d = r.rows[1].figures;
  EXPECT_EQ(d.sessions, 2);
  EXPECT_EQ(d.completed, 1);
  EXPECT_EQ(d.cancelled, 1);
  EXPECT_DOUBLE_EQ(d.busy_s, 90 * 60);
  EXPECT_DOUBLE_EQ(d.utilization, 1.5 / 24);
  EXPECT_DOUBLE_EQ(d.filament_mm, 1250);
  EXPECT_EQ(r.totals.sessions, 5);
  EXPECT_DOUBLE_EQ(r.totals.busy_s, a.busy_s + d.busy_s);
  // Totals: busy / ((to - from) * 2 printers), the share of the fleet.
  EXPECT_DOUBLE_EQ(r.totals.utilization, r.totals.busy_s / (2 * 86400));
}

TEST(UsageTest, GroupByUserHasANullKeyForUnattributed) {
  std::vector<Session> s = {
      Make("delta", At("2024-08-02T10:00:00Z"), At("2024-08-02T11:00:00Z")),
      Make("delta", At("2024-08-02T12:00:00Z"), At("2024-08-02T13:00:00Z")),
      Make("delta", At("2024-08-02T14:00:00Z"), At("2024-08-02T16:00:00Z"))};
  s[1].user = "mike";
  s[2].user = "anna";
  UsageReport r =
      ComputeUsage(Window("2024-08-02", "2024-08-03", {GroupKey::kUser}), s);
  ASSERT_EQ(r.rows.size(), 3u);
  EXPECT_EQ(r.rows[0].key, (Key{std::nullopt}));  // "unattributed" first
  EXPECT_EQ(r.rows[1].key, (Key{"anna"}));
  EXPECT_EQ(r.rows[2].key, (Key{"mike"}));
  EXPECT_DOUBLE_EQ(r.rows[1].figures.busy_s, 7200);
}

TEST(UsageTest, GroupByOriginAndStatusTogether) {
  std::vector<Session> s = {
      Make("delta", At("2024-08-02T10:00:00Z"), At("2024-08-02T11:00:00Z")),
      Make("delta", At("2024-08-02T12:00:00Z"), At("2024-08-02T13:00:00Z"),
           SessionStatus::kCancelled),
      Make("delta", At("2024-08-02T14:00:00Z"), At("2024-08-02T15:00:00Z")),
      Make("delta", At("2024-08-02T20:00:00Z"), std::nullopt)};
  s[0].file.origin = "local";
  s[1].file.origin = "sdcard";
  s[2].file.origin = "sdcard";
  UsageQuery q = Window("2024-08-02", "2024-08-03",
                        {GroupKey::kStatus, GroupKey::kOrigin});
  q.now = At("2024-08-02T21:00:00Z");
  UsageReport r = ComputeUsage(q, s);
  ASSERT_EQ(r.rows.size(), 4u);
  EXPECT_EQ(r.rows[0].key, (Key{"cancelled", "sdcard"}));
  EXPECT_EQ(r.rows[1].key, (Key{"completed", "local"}));
  EXPECT_EQ(r.rows[2].key, (Key{"completed", "sdcard"}));
  EXPECT_EQ(r.rows[3].key, (Key{"printing", std::nullopt}));
  EXPECT_DOUBLE_EQ(r.rows[3].figures.busy_s, 3600);
}

TEST(UsageTest, GroupByDaySplitsBusyTimeAtMidnight) {
  std::vector<Session> s = {
      Make("delta", At("2024-08-01T22:00:00Z"), At("2024-08-02T04:00:00Z"))};
  s[0].job_filament_mm = 3000;
  UsageReport r = ComputeUsage(
      Window("2024-08-01", "2024-08-03", {GroupKey::kDevice, GroupKey::kDay}),
      s);
  ASSERT_EQ(r.rows.size(), 2u);
  EXPECT_EQ(r.rows[0].key, (Key{"delta", "2024-08-01"}));
  EXPECT_EQ(r.rows[1].key, (Key{"delta", "2024-08-02"}));
  EXPECT_DOUBLE_EQ(r.rows[0].figures.busy_s, 2 * 3600);
  EXPECT_DOUBLE_EQ(r.rows[1].figures.busy_s, 4 * 3600);
  EXPECT_DOUBLE_EQ(r.rows[0].figures.utilization, 2.0 / 24);
  EXPECT_DOUBLE_EQ(r.rows[1].figures.utilization, 4.0 / 24);
  // Counted (and its filament) on the day it started only.
  EXPECT_EQ(r.rows[0].figures.sessions, 1);
  EXPECT_EQ(r.rows[1].figures.sessions, 0);
  EXPECT_DOUBLE_EQ(r.rows[0].figures.filament_mm, 3000);
  EXPECT_DOUBLE_EQ(r.rows[1].figures.filament_mm, 0);
}

TEST(UsageTest, DayBucketCutByTheWindowDividesByWhatIsInside) {
  std::vector<Session> s = {
      Make("delta", At("2024-08-02T10:00:00Z"), At("2024-08-02T13:00:00Z"))};
  UsageReport r = ComputeUsage(
      Window("2024-08-02T06:00:00Z", "2024-08-02T18:00:00Z", {GroupKey::kDay}),
      s);
  ASSERT_EQ(r.rows.size(), 1u);
  EXPECT_DOUBLE_EQ(r.rows[0].figures.utilization, 3.0 / 12);
}

TEST(UsageTest, DaysInAZoneStartAtLocalMidnight) {
  // 23:30 in Berlin on Aug 1 (CEST, UTC+2) is 21:30Z.
  std::vector<Session> s = {
      Make("delta", At("2024-08-01T21:30:00Z"), At("2024-08-01T22:30:00Z"))};
  UsageQuery q = Window("2024-08-01", "2024-08-03", {GroupKey::kDay});
  q.tz = Zone("Europe/Berlin");
  UsageReport r = ComputeUsage(q, s);
  ASSERT_EQ(r.rows.size(), 2u);
  EXPECT_EQ(r.rows[0].key, (Key{"2024-08-01"}));
  EXPECT_EQ(r.rows[1].key, (Key{"2024-08-02"}));
  EXPECT_DOUBLE_EQ(r.rows[0].figures.busy_s, 1800);
  EXPECT_DOUBLE_EQ(r.rows[1].figures.busy_s, 1800);
  EXPECT_EQ(r.rows[0].figures.sessions, 1);
}

TEST(UsageTest, BerlinSpringForwardDayHas23Hours) {
  // 2024-03-31 in Berlin: 00:00 CET (23:00Z on the 30th) to 00:00 CEST
  // (22:00Z on the 31st). A printer busy all of it is 100 % utilized.
  std::vector<Session> s = {
      Make("delta", At("2024-03-30T20:00:00Z"), At("2024-04-01T02:00:00Z"))};
  UsageQuery q = Window("2024-03-29", "2024-04-02", {GroupKey::kDay});
  q.tz = Zone("Europe/Berlin");
  UsageReport r = ComputeUsage(q, s);
  const UsageRow* day = Find(r, {"2024-03-31"});
  ASSERT_TRUE(day);
  EXPECT_DOUBLE_EQ(day->figures.busy_s, 23 * 3600);
  EXPECT_DOUBLE_EQ(day->figures.utilization, 1.0);
  const UsageRow* before = Find(r, {"2024-03-30"});
  ASSERT_TRUE(before);
  EXPECT_DOUBLE_EQ(before->figures.busy_s, 3 * 3600);  // 21:00-24:00 CET
  EXPECT_DOUBLE_EQ(before->figures.utilization, 3.0 / 24);
}

TEST(UsageTest, BerlinFallBackDayHas25Hours) {
  // 2024-10-27 in Berlin: 22:00Z on the 26th to 23:00Z on the 27th.
  std::vector<Session> s = {
      Make("delta", At("2024-10-26T22:00:00Z"), At("2024-10-27T10:30:00Z"))};
  UsageQuery q = Window("2024-10-26", "2024-10-29", {GroupKey::kDay});
  q.tz = Zone("Europe/Berlin");
  UsageReport r = ComputeUsage(q, s);
  ASSERT_EQ(r.rows.size(), 1u);
  EXPECT_EQ(r.rows[0].key, (Key{"2024-10-27"}));
  EXPECT_DOUBLE_EQ(r.rows[0].figures.busy_s, 12.5 * 3600);
  EXPECT_DOUBLE_EQ(r.rows[0].figures.utilization, 12.5 / 25);
}

TEST(UsageTest, NewYorkDstDays) {
  const date::time_zone* ny = Zone("America/New_York");
  // 2024-03-10: 05:00Z to 04:00Z next day (23 h); 2024-11-03: 04:00Z to
  // 05:00Z next day (25 h). Busy all day both times.
  std::vector<Session> s = {
      Make("delta", At("2024-03-10T05:00:00Z"), At("2024-03-11T04:00:00Z")),
      Make("delta", At("2024-11-03T04:00:00Z"), At("2024-11-04T05:00:00Z"))};
  UsageQuery q = Window("2024-03-01", "2024-12-01", {GroupKey::kDay});
  q.tz = ny;
  UsageReport r = ComputeUsage(q, s);
  ASSERT_EQ(r.rows.size(), 2u);
  EXPECT_EQ(r.rows[0].key, (Key{"2024-03-10"}));
  EXPECT_DOUBLE_EQ(r.rows[0].figures.busy_s, 23 * 3600);
  EXPECT_DOUBLE_EQ(r.rows[0].figures.utilization, 1.0);
  EXPECT_EQ(r.rows[1].key, (Key{"2024-11-03"}));
  EXPECT_DOUBLE_EQ(r.rows[1].figures.busy_s, 25 * 3600);
  EXPECT_DOUBLE_EQ(r.rows[1].figures.utilization, 1.0);
  // Late evening in New York is the next day in UTC.
  std::vector<Session> evening = {
      Make("delta", At("2024-03-10T03:30:00Z"), At("2024-03-10T04:00:00Z"))};
  UsageReport e = ComputeUsage(q, evening);
  ASSERT_EQ(e.rows.size(), 1u);
  EXPECT_EQ(e.rows[0].key, (Key{"2024-03-09"}));
}

TEST(UsageTest, IsoWeeksStartOnMondayAcrossTheYearBoundary) {
  // Mon 2024-12-30 .. Sun 2025-01-05 is ISO week 2025-W01.
  std::vector<Session> s = {
      Make("delta", At("2024-12-29T10:00:00Z"), At("2024-12-29T11:00:00Z")),
      Make("delta", At("2024-12-31T10:00:00Z"), At("2024-12-31T11:00:00Z")),
      Make("delta", At("2025-01-02T10:00:00Z"), At("2025-01-02T12:00:00Z")),
      Make("delta", At("2025-01-05T23:00:00Z"), At("2025-01-06T01:00:00Z"))};
  UsageReport r =
      ComputeUsage(Window("2024-12-01", "2025-02-01", {GroupKey::kWeek}), s);
  ASSERT_EQ(r.rows.size(), 3u);
  EXPECT_EQ(r.rows[0].key, (Key{"2024-12-23"}));
  EXPECT_EQ(r.rows[1].key, (Key{"2024-12-30"}));
  EXPECT_EQ(r.rows[2].key, (Key{"2025-01-06"}));
  EXPECT_EQ(r.rows[1].figures.sessions, 3);
  EXPECT_DOUBLE_EQ(r.rows[1].figures.busy_s, 4 * 3600);
  EXPECT_DOUBLE_EQ(r.rows[1].figures.utilization, 4.0 / (7 * 24));
  EXPECT_EQ(r.rows[2].figures.sessions, 0);
  EXPECT_DOUBLE_EQ(r.rows[2].figures.busy_s, 3600);
}

TEST(UsageTest, WeekAndMonthTogetherSplitAWeekAcrossTwoMonths) {
  // Week of Mon 2024-07-29 runs into August.
  std::vector<Session> s = {
      Make("delta", At("2024-07-31T20:00:00Z"), At("2024-08-01T04:00:00Z"))};
  UsageReport r = ComputeUsage(
      Window("2024-07-01", "2024-09-01", {GroupKey::kWeek, GroupKey::kMonth}),
      s);
  ASSERT_EQ(r.rows.size(), 2u);
  EXPECT_EQ(r.rows[0].key, (Key{"2024-07-29", "2024-07-01"}));
  EXPECT_EQ(r.rows[1].key, (Key{"2024-07-29", "2024-08-01"}));
  EXPECT_DOUBLE_EQ(r.rows[0].figures.busy_s, 4 * 3600);
  // Jul 29-31 is 3 days of that week; Aug 1-4 is 4 days.
  EXPECT_DOUBLE_EQ(r.rows[0].figures.utilization, 4.0 / (3 * 24));
  EXPECT_DOUBLE_EQ(r.rows[1].figures.utilization, 4.0 / (4 * 24));
}

TEST(UsageTest, MonthInAZone) {
  // 2024-08-31T23:30 in Berlin is still August; 22:30Z.
  std::vector<Session> s = {
      Make("delta", At("2024-08-31T21:30:00Z"), At("2024-08-31T22:30:00Z"))};
  UsageQuery q = Window("2024-08-01", "2024-10-01", {GroupKey::kMonth});
  q.tz = Zone("Europe/Berlin");
  UsageReport r = ComputeUsage(q, s);
  ASSERT_EQ(r.rows.size(), 2u);
  EXPECT_EQ(r.rows[0].key, (Key{"2024-08-01"}));
  EXPECT_EQ(r.rows[1].key, (Key{"2024-09-01"}));
  EXPECT_DOUBLE_EQ(r.rows[0].figures.busy_s, 1800);
  EXPECT_DOUBLE_EQ(r.rows[1].figures.busy_s, 1800);
  // August in Berlin, cut by the window at 2024-08-01T00:00Z (02:00 CEST).
  EXPECT_DOUBLE_EQ(r.rows[0].figures.utilization,
                   1800.0 / (31 * 86400 - 2 * 3600));
}

// ---- cost ----

TEST(UsageTest, CostIsRatePerHourOfPrintPlusFilamentWithAMinimum) {
  Session a =
      Make("delta", At("2024-08-02T10:00:00Z"), At("2024-08-02T12:00:00Z"));
  a.pauses = {{At("2024-08-02T10:30:00Z"), At("2024-08-02T11:00:00Z")}};
  a.job_filament_mm = 4000;
  Session tiny =
      Make("delta", At("2024-08-02T13:00:00Z"), At("2024-08-02T13:01:00Z"));
  Session other =
      Make("alpha", At("2024-08-02T13:00:00Z"), At("2024-08-02T15:00:00Z"));
  UsageQuery q = Window("2024-08-02", "2024-08-03", {GroupKey::kDevice});
  q.rates = RateHistory::Constant({{"delta",
                                    {.rate_per_hour = 1.5,
                                     .rate_per_m = 0.05,
                                     .minimum_per_session = 0.5}}});
  UsageReport r = ComputeUsage(q, std::vector<Session>{a, tiny, other});
  const UsageRow* delta = Find(r, {"delta"});
  const UsageRow* alpha = Find(r, {"alpha"});
  ASSERT_TRUE(delta && alpha);
  // a: 1.5 h printed (pause free) * 1.5 + 4 m * 0.05 = 2.45;
  // tiny: 1 min * 1.5/h = 0.025, raised to the minimum 0.5.
  EXPECT_DOUBLE_EQ(delta->figures.cost, 2.45 + 0.5);
  EXPECT_DOUBLE_EQ(alpha->figures.cost, 0);  // no rates: free
  EXPECT_DOUBLE_EQ(r.totals.cost, 2.95);
}

TEST(UsageTest, CostUsesTheWholeSessionAndBelongsToItsStart) {
  Session s =
      Make("delta", At("2024-08-01T22:00:00Z"), At("2024-08-02T02:00:00Z"));
  UsageQuery q = Window("2024-08-01", "2024-08-03", {GroupKey::kDay});
  q.rates = RateHistory::Constant({{"delta", {.rate_per_hour = 1.0}}});
  UsageReport r = ComputeUsage(q, std::vector<Session>{s});
  ASSERT_EQ(r.rows.size(), 2u);
  EXPECT_DOUBLE_EQ(r.rows[0].figures.cost, 4.0);  // all 4 h, on its day
  EXPECT_DOUBLE_EQ(r.rows[1].figures.cost, 0.0);
  // A window that starts after it began bills nothing for it.
  UsageQuery later = Window("2024-08-02", "2024-08-03");
  later.rates = q.rates;
  EXPECT_DOUBLE_EQ(ComputeUsage(later, std::vector<Session>{s}).totals.cost, 0);
}

TEST(UsageTest, CostIsNotRoundedPerSession) {
  // Three sessions of 20 min at 1.00/h cost 1/3 each: 1.00 together, not
  // 0.99 (rounding is for display).
  std::vector<Session> s;
  for (int i = 0; i < 3; ++i) {
    TimeMs start = At("2024-08-02T10:00:00Z") + i * kHourMs;
    s.push_back(Make("delta", start, start + 20 * kMinuteMs));
  }
  UsageQuery q = Window("2024-08-02", "2024-08-03");
  q.rates = RateHistory::Constant({{"delta", {.rate_per_hour = 1.0}}});
  UsageReport r = ComputeUsage(q, s);
  EXPECT_NEAR(r.totals.cost, 1.0, 1e-12);
}

TEST(UsageTest, CostWithUnknownFilamentChargesTimeOnly) {
  Session s = Make("delta", At("2024-08-02T10:00:00Z"),
                   At("2024-08-02T11:00:00Z"), SessionStatus::kCancelled);
  s.job_filament_mm = 10000;  // progress unknown: filament unknown
  UsageQuery q = Window("2024-08-02", "2024-08-03");
  q.rates = RateHistory::Constant(
      {{"delta", {.rate_per_hour = 2.0, .rate_per_m = 1.0}}});
  EXPECT_DOUBLE_EQ(ComputeUsage(q, std::vector<Session>{s}).totals.cost, 2.0);
}

// ---- parsing ----

TEST(UsageTest, ParseGroupByReadsCommaSeparatedKeys) {
  auto k = ParseGroupBy("device, day");
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(*k, (std::vector<GroupKey>{GroupKey::kDevice, GroupKey::kDay}));
  auto all = ParseGroupBy("device,user,day,week,month,origin,status");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 7u);
  for (GroupKey g : *all) {
    EXPECT_EQ(ParseGroupBy(GroupKeyName(g))->at(0), g);
  }
  auto none = ParseGroupBy("");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(UsageTest, ParseGroupByErrorNamesTheKeyAndListsValidOnes) {
  auto k = ParseGroupBy("device,printer");
  ASSERT_FALSE(k.ok());
  EXPECT_EQ(k.error().code, ErrorCode::kInvalid);
  EXPECT_NE(k.error().message.find("\"printer\""), std::string::npos);
  EXPECT_NE(
      k.error().message.find("device, user, day, week, month, origin, status"),
      std::string::npos);
  EXPECT_FALSE(ParseGroupBy("device,,day").ok());
  auto twice = ParseGroupBy("day,day");
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.error().message.find("twice"), std::string::npos);
}

TEST(UsageTest, FindZoneUsesTheSystemDatabase) {
  ASSERT_TRUE(std::filesystem::exists("/usr/share/zoneinfo/Europe/Berlin"));
  auto z = FindZone("Europe/Berlin");
  ASSERT_TRUE(z.ok());
  EXPECT_EQ((*z)->name(), "Europe/Berlin");
  EXPECT_TRUE(FindZone("UTC").ok());
  // The library was built to read /usr/share/zoneinfo, never to download.
  EXPECT_EQ(USE_OS_TZDB, 1);
}

TEST(UsageTest, FindZoneErrorNamesTheZone) {
  auto z = FindZone("Europe/Atlantis");
  ASSERT_FALSE(z.ok());
  EXPECT_EQ(z.error().code, ErrorCode::kInvalid);
  EXPECT_NE(z.error().message.find("\"Europe/Atlantis\""), std::string::npos);
  EXPECT_FALSE(FindZone("").ok());
}

}  // namespace
}  // namespace pm

namespace pm {
namespace {

// A farm's totals: the share of the fleet's time it was busy, never over
// 100 %, idle printers of the fleet included; rows stay per printer.
TEST(UsageTest, TotalsUtilizationIsTheShareOfTheFleet) {
  std::vector<Session> s = {
      Make("delta", At("2024-08-02T00:00:00Z"), At("2024-08-02T18:00:00Z")),
      Make("ender", At("2024-08-02T00:00:00Z"), At("2024-08-03T00:00:00Z")),
      Make("prusa", At("2024-08-02T06:00:00Z"), At("2024-08-02T12:00:00Z"))};
  UsageQuery q = Window("2024-08-02", "2024-08-03", {GroupKey::kDevice});
  UsageReport r = ComputeUsage(q, s);
  EXPECT_DOUBLE_EQ(r.totals.busy_s, 48 * 3600);
  EXPECT_DOUBLE_EQ(r.totals.utilization, 48.0 / (24 * 3));
  ASSERT_NE(Find(r, {"ender"}), nullptr);
  EXPECT_DOUBLE_EQ(Find(r, {"ender"})->figures.utilization, 1.0);
  EXPECT_DOUBLE_EQ(Find(r, {"delta"})->figures.utilization, 0.75);

  // Two more printers in the fleet sat idle: they count too.
  q.printers = 5;
  EXPECT_DOUBLE_EQ(ComputeUsage(q, s).totals.utilization, 48.0 / (24 * 5));
  // A fleet size below the printers seen is not believed.
  q.printers = 1;
  EXPECT_DOUBLE_EQ(ComputeUsage(q, s).totals.utilization, 48.0 / (24 * 3));
  // Grouped by day, the totals are the same share.
  q.printers = 0;
  q.group_by = {GroupKey::kDay};
  UsageReport by_day = ComputeUsage(q, s);
  EXPECT_LE(by_day.totals.utilization, 1.0);
  EXPECT_DOUBLE_EQ(by_day.totals.utilization, 48.0 / (24 * 3));
}

}  // namespace
}  // namespace pm

#include "ledger/cost.h"

#include <gtest/gtest.h>

#include <vector>

#include "common/time.h"
#include "ledger/usage.h"

namespace pm {
namespace {

TimeMs At(const char* iso) { return ParseTime(iso).value(); }

Session Print(const char* start, const char* end, double filament_mm = 0) {
  Session s;
  s.id = At(start);
  s.device = "delta";
  s.status = SessionStatus::kCompleted;
  s.started_at = At(start);
  s.ended_at = At(end);
  s.last_event_at = At(end);
  if (filament_mm > 0) s.job_filament_mm = filament_mm;
  return s;
}

const Rates kOld{.rate_per_hour = 1.0, .rate_per_m = 0.1};
const Rates kNew{.rate_per_hour = 3.0, .minimum_per_session = 5.0};

TEST(CostTest, RuleIsHoursPlusMetresWithAMinimum) {
  Session s = Print("2024-08-02T10:00:00Z", "2024-08-02T12:00:00Z", 4000);
  s.pauses = {{At("2024-08-02T10:30:00Z"), At("2024-08-02T11:00:00Z")}};
  // 1.5 h printed (the pause is free) * 1.0 + 4 m * 0.1.
  EXPECT_DOUBLE_EQ(SessionCost(s, kOld, 0), 1.9);
  EXPECT_DOUBLE_EQ(SessionCost(s, kNew, 0), 5.0);  // 4.5, raised to 5
  EXPECT_DOUBLE_EQ(SessionCost(s, Rates{}, 0), 0);
}

TEST(CostTest, OpenSessionIsPricedUpToNow) {
  Session s = Print("2024-08-02T10:00:00Z", "2024-08-02T10:00:00Z");
  s.status = SessionStatus::kPrinting;
  s.ended_at.reset();
  EXPECT_DOUBLE_EQ(SessionCost(s, kOld, At("2024-08-02T10:30:00Z")), 0.5);
}

TEST(CostTest, EachPrintIsPricedWithTheRatesInForceWhenItStarted) {
  RateHistory h({{"delta", kSinceEver, kOld},
                 {"delta", At("2024-08-02T11:00:00Z"), kNew}});
  Session before = Print("2024-08-02T10:00:00Z", "2024-08-02T12:00:00Z");
  Session after = Print("2024-08-02T11:00:00Z", "2024-08-02T12:00:00Z");
  // `before` runs on past the change and keeps its old price: 2 h * 1.0.
  EXPECT_DOUBLE_EQ(SessionCost(before, h, 0), 2.0);
  EXPECT_DOUBLE_EQ(SessionCost(after, h, 0), 5.0);  // 3.0, minimum 5
  EXPECT_EQ(h.At("delta", At("2024-08-02T10:59:59Z")), kOld);
  EXPECT_EQ(h.At("delta", At("2024-08-02T11:00:00Z")), kNew);
  EXPECT_EQ(h.At("alpha", At("2024-08-02T11:00:00Z")), Rates{});
}

TEST(CostTest, BeforeADevicesFirstEntryItsPrintsAreFree) {
  RateHistory h({{"delta", At("2024-08-02T11:00:00Z"), kNew}});
  EXPECT_EQ(h.At("delta", At("2024-08-02T10:00:00Z")), Rates{});
}

TEST(CostTest, AnEmptyHistoryStartsWithTheConfiguredRatesSinceEver) {
  TimeMs now = At("2024-08-05T00:00:00Z");
  auto first =
      RateChangesToRecord(RateHistory(), {{"delta", kOld}, {"alpha", {}}}, now);
  // A marker, so the history is never empty again, and delta's rates for
  // every print it made before printmeter kept a history.
  EXPECT_EQ(first, (std::vector<RateChange>{{"", now, {}},
                                            {"delta", kSinceEver, kOld}}));
  RateHistory h(first);
  EXPECT_EQ(h.At("delta", At("2020-01-01T00:00:00Z")), kOld);
}

TEST(CostTest, UnchangedConfigRecordsNothing) {
  TimeMs now = At("2024-08-05T00:00:00Z");
  RateHistory h(RateChangesToRecord(RateHistory(), {{"delta", kOld}}, now));
  EXPECT_TRUE(
      RateChangesToRecord(h, {{"delta", kOld}, {"alpha", {}}}, now + kDayMs)
          .empty());
}

TEST(CostTest, ChangedAddedAndDroppedRatesTakeEffectNow) {
  TimeMs t0 = At("2024-08-05T00:00:00Z");
  TimeMs now = t0 + kDayMs;
  RateHistory h(RateChangesToRecord(RateHistory(), {{"delta", kOld}}, t0));
  // delta's rates change; alpha appears with rates; later delta is removed.
  auto changed =
      RateChangesToRecord(h, {{"delta", kNew}, {"alpha", kOld}}, now);
  EXPECT_EQ(changed, (std::vector<RateChange>{{"alpha", now, kOld},
                                              {"delta", now, kNew}}));
  std::vector<RateChange> all = h.Changes();
  all.insert(all.end(), changed.begin(), changed.end());
  RateHistory h2(all);
  auto dropped = RateChangesToRecord(h2, {{"alpha", kOld}}, now + kDayMs);
  EXPECT_EQ(dropped,
            (std::vector<RateChange>{{"delta", now + kDayMs, Rates{}}}));
  // A new device's earlier prints stay free.
  EXPECT_EQ(h2.At("alpha", t0), Rates{});
}

TEST(CostTest, UsageSumsTheSessionsOwnCosts) {
  RateHistory h({{"delta", kSinceEver, kOld},
                 {"delta", At("2024-08-02T11:00:00Z"), kNew}});
  std::vector<Session> sessions{
      Print("2024-08-02T10:00:00Z", "2024-08-02T12:00:00Z"),
      Print("2024-08-02T11:00:00Z", "2024-08-02T12:00:00Z")};
  sessions[1].id += 1;
  UsageQuery q;
  q.from = At("2024-08-01T00:00:00Z");
  q.to = At("2024-09-01T00:00:00Z");
  q.now = q.to;
  q.rates = h;
  UsageReport r = ComputeUsage(q, sessions);
  EXPECT_DOUBLE_EQ(r.totals.cost, 2.0 + 5.0);
}

}  // namespace
}  // namespace pm

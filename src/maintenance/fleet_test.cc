// The fleet's maintenance over a real SQLite store.
#include "maintenance/fleet.h"

#include <gtest/gtest.h>

#include "store/store_test_util.h"
#include "store/write_batch.h"

namespace pm {
namespace {

using testing::BareSession;

constexpr TimeMs kT0 = 1718000000000;  // 2024-06-10

class FleetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = OpenStore("sqlite:" + dir_.File("pm.db"));
    ASSERT_TRUE(store.ok()) << store.error().message;
    store_ = std::move(*store);
    MaintenanceItem nozzle = ParseEvery("10h").value();
    nozzle.item = "nozzle";
    MaintenanceItem belts = ParseEvery("30d").value();
    belts.item = "belts";
    options_.devices["delta"] = {nozzle, belts};
    options_.devices["mini"] = {nozzle};  // configured, never heard from

    WriteBatch batch;
    batch.devices = {{"delta", std::nullopt, kT0, kT0}};
    batch.sessions = {BareSession(1, "delta", kT0, kT0 + 6 * kHourMs),
                      BareSession(3, "delta", kT0 + kDayMs,
                                  kT0 + kDayMs + 4 * kHourMs + 30 * kMinuteMs),
                      BareSession(5, "other", kT0, kT0 + 90 * kHourMs)};
    Status s = CommitBatch(*store_, batch);
    ASSERT_TRUE(s.ok()) << s.error().message;
  }

  std::vector<DeviceMaintenance> Load(TimeMs now) {
    auto fleet = LoadFleetMaintenance(*store_, options_, now);
    EXPECT_TRUE(fleet.ok()) << fleet.error().message;
    return fleet.ok() ? *fleet : std::vector<DeviceMaintenance>{};
  }

  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
  MaintenanceOptions options_;
};

TEST_F(FleetTest, CountsEachConfiguredPrinterFromItsLedger) {
  auto fleet = Load(kT0 + 10 * kDayMs);
  ASSERT_EQ(fleet.size(), 2u);
  EXPECT_EQ(fleet[0].device, "delta");
  EXPECT_DOUBLE_EQ(fleet[0].items[0].used, 10.5);
  EXPECT_EQ(fleet[0].items[0].state, MaintenanceState::kDue);
  EXPECT_DOUBLE_EQ(fleet[0].items[1].used, 10);
  EXPECT_EQ(fleet[1].device, "mini");
  EXPECT_DOUBLE_EQ(fleet[1].items[0].used, 0);
  auto due = DueItems(fleet);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].Key(), "delta/nozzle/" + std::to_string(kT0));
}

TEST_F(FleetTest, AMarkRestartsTheCountAndANewCycleBecomesDueAgain) {
  TimeMs now = kT0 + 10 * kDayMs;
  auto before = DueItems(Load(now));
  // Done halfway through the second print.
  MaintenanceMark mark{"delta", "nozzle", kT0 + kDayMs + 3 * kHourMs, "ada"};
  Status s = RecordMark(*store_, options_, mark, now);
  ASSERT_TRUE(s.ok()) << s.error().message;
  auto fleet = Load(now);
  EXPECT_DOUBLE_EQ(fleet[0].items[0].used, 1.5);
  EXPECT_EQ(fleet[0].items[0].last_done, mark);
  EXPECT_TRUE(DueItems(fleet).empty());

  // Nine more hours later it is due again: a new cycle, sent again.
  WriteBatch batch;
  batch.sessions = {BareSession(7, "delta", kT0 + 2 * kDayMs,
                                kT0 + 2 * kDayMs + 9 * kHourMs)};
  ASSERT_TRUE(CommitBatch(*store_, batch).ok());
  auto after = DueItems(Load(now));
  auto fresh = BecameDue(before, after);
  ASSERT_EQ(fresh.size(), 1u);
  EXPECT_EQ(fresh[0].since, mark.done_at);
  EXPECT_TRUE(BecameDue(after, DueItems(Load(now + kHourMs))).empty());
}

TEST_F(FleetTest, RecordMarkRefusesUnknownNamesAndTheFuture) {
  TimeMs now = kT0 + kDayMs;
  Status device = RecordMark(*store_, options_, {"gamma", "nozzle", now, ""},
                             now);
  ASSERT_FALSE(device.ok());
  EXPECT_EQ(device.error().code, ErrorCode::kNotFound);
  Status item = RecordMark(*store_, options_, {"delta", "bed", now, ""}, now);
  ASSERT_FALSE(item.ok());
  EXPECT_NE(item.error().message.find("nozzle, belts"), std::string::npos);
  Status future = RecordMark(*store_, options_,
                             {"delta", "nozzle", now + 1000, ""}, now);
  ASSERT_FALSE(future.ok());
  EXPECT_EQ(future.error().code, ErrorCode::kInvalid);
  auto marks = store_->LoadMaintenanceMarks();
  ASSERT_TRUE(marks.ok());
  EXPECT_TRUE(marks->empty());
}

}  // namespace
}  // namespace pm

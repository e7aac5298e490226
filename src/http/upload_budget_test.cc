// The upload budget: large bodies share it, small ones keep their headroom.
#include "http/upload_budget.h"

#include <gtest/gtest.h>

namespace pm {
namespace {

TEST(UploadBudget, LargeBodiesShareTheBudget) {
  UploadBudget budget({.budget = 100, .small_body = 10, .small_headroom = 20});
  EXPECT_TRUE(budget.TryReserve(60, 60));
  EXPECT_FALSE(budget.TryReserve(50, 50));  // 110 > 100
  EXPECT_EQ(budget.in_flight(), 60u);
  EXPECT_EQ(budget.refused(), 1u);
  budget.Release(60);
  EXPECT_TRUE(budget.TryReserve(50, 50));
  EXPECT_EQ(budget.peak(), 60u);
}

TEST(UploadBudget, SmallBodiesPassWhenLargeOnesFillIt) {
  UploadBudget budget({.budget = 100, .small_body = 10, .small_headroom = 20});
  ASSERT_TRUE(budget.TryReserve(100, 100));
  EXPECT_FALSE(budget.TryReserve(11, 11));
  EXPECT_TRUE(budget.TryReserve(10, 10));
  EXPECT_TRUE(budget.TryReserve(10, 10));
  EXPECT_FALSE(budget.TryReserve(1, 1));  // the headroom is used up too
}

TEST(UploadLease, GrowsAndGivesBackWhatItHeld) {
  UploadBudget budget({.budget = 100, .small_body = 0, .small_headroom = 0});
  {
    UploadLease lease(budget);
    EXPECT_TRUE(lease.GrowTo(40, 40));
    EXPECT_TRUE(lease.GrowTo(30, 40));  // already held
    EXPECT_TRUE(lease.GrowTo(90, 90));
    EXPECT_FALSE(lease.GrowTo(101, 101));
    EXPECT_EQ(lease.held(), 90u);
    EXPECT_EQ(budget.in_flight(), 90u);
  }
  EXPECT_EQ(budget.in_flight(), 0u);
}

}  // namespace
}  // namespace pm

// Whom the connection table closes to serve a new connection.
#include "http/connection_table.h"

#include <gtest/gtest.h>

#include <vector>

namespace pm {
namespace {

using std::chrono::seconds;
const SteadyTime kNow = SteadyTime(seconds(1000));

ActivityView View(Phase phase, int seconds_ago, uint64_t bytes = 0) {
  return {phase, kNow - seconds(seconds_ago), bytes};
}

TEST(PickVictim, IdleLongestFirst) {
  std::vector<ActivityView> c = {View(Phase::kHeaders, 50, 1),
                                 View(Phase::kIdle, 5), View(Phase::kIdle, 9),
                                 View(Phase::kBody, 60, 10)};
  EXPECT_EQ(PickVictim(c, kNow), 2u);
}

TEST(PickVictim, ThenTheSlowestUnfinishedRequest) {
  // 1 byte/s, 100 bytes/s, 10 bytes/s: the trickler goes first.
  std::vector<ActivityView> c = {View(Phase::kBody, 10, 1000),
                                 View(Phase::kHeaders, 9, 9),
                                 View(Phase::kBody, 10, 100)};
  EXPECT_EQ(PickVictim(c, kNow), 1u);
}

TEST(PickVictim, NeverARequestBeingAnswered) {
  std::vector<ActivityView> c = {View(Phase::kHandling, 100),
                                 View(Phase::kWriting, 100)};
  EXPECT_EQ(PickVictim(c, kNow), std::nullopt);
  EXPECT_EQ(PickVictim({}, kNow), std::nullopt);
}

std::shared_ptr<ConnectionTable::Entry> Entry(const char* peer, Phase phase,
                                              int seconds_ago,
                                              std::vector<int>* closed,
                                              int id) {
  auto e = std::make_shared<ConnectionTable::Entry>();
  e->peer = boost::asio::ip::make_address(peer);
  e->activity.Enter(phase == Phase::kIdle ? Phase::kIdle : Phase::kHeaders,
                    kNow - seconds(seconds_ago));
  e->activity.phase = phase;
  e->close = [closed, id] { closed->push_back(id); };
  return e;
}

TEST(ConnectionTable, OverTheCapClosesTheIdleOneAndAdmitsTheNew) {
  ConnectionTable table({.max_total = 2, .max_per_client = 2});
  std::vector<int> closed;
  ASSERT_TRUE(
      table.Admit(Entry("10.0.0.1", Phase::kHandling, 1, &closed, 1), kNow));
  ASSERT_TRUE(
      table.Admit(Entry("10.0.0.2", Phase::kIdle, 3, &closed, 2), kNow));
  EXPECT_TRUE(
      table.Admit(Entry("10.0.0.3", Phase::kIdle, 0, &closed, 3), kNow));
  EXPECT_EQ(closed, std::vector<int>{2});
  EXPECT_EQ(table.size(), 2u);
  EXPECT_EQ(table.evicted(), 1u);
}

TEST(ConnectionTable, PerClientCapClosesThatClientsOwnFirst) {
  ConnectionTable table({.max_total = 10, .max_per_client = 2});
  std::vector<int> closed;
  ASSERT_TRUE(table.Admit(Entry("10.0.0.9", Phase::kIdle, 50, &closed, 1),
                          kNow));  // another client's, idle longest
  ASSERT_TRUE(
      table.Admit(Entry("10.0.0.1", Phase::kIdle, 5, &closed, 2), kNow));
  ASSERT_TRUE(
      table.Admit(Entry("10.0.0.1", Phase::kHeaders, 5, &closed, 3), kNow));
  EXPECT_TRUE(
      table.Admit(Entry("10.0.0.1", Phase::kIdle, 0, &closed, 4), kNow));
  EXPECT_EQ(closed, std::vector<int>{2});
}

TEST(ConnectionTable, FullOfAnsweredRequestsRefusesAndRemoveFreesASlot) {
  ConnectionTable table({.max_total = 1, .max_per_client = 1});
  std::vector<int> closed;
  auto busy = Entry("10.0.0.1", Phase::kHandling, 1, &closed, 1);
  ASSERT_TRUE(table.Admit(busy, kNow));
  EXPECT_FALSE(
      table.Admit(Entry("10.0.0.1", Phase::kIdle, 0, &closed, 2), kNow));
  EXPECT_TRUE(closed.empty());
  table.Remove(busy);
  table.Remove(busy);  // twice is harmless
  EXPECT_EQ(table.size(), 0u);
  EXPECT_TRUE(
      table.Admit(Entry("10.0.0.1", Phase::kIdle, 0, &closed, 3), kNow));
  EXPECT_TRUE(table.EvictOne(kNow));
  EXPECT_EQ(closed, std::vector<int>{3});
}

}  // namespace
}  // namespace pm

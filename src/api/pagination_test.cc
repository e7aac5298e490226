// Session pages stay correct while a writer commits: no duplicates, no gaps
// among the rows that existed when paging began, order kept.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "api/api_testing.h"
#include "store/write_batch.h"

namespace pm {
namespace {

using testing::ApiFixture;
using testing::ClosedSession;
using testing::kAug1;

TEST(PaginationTest, PagesUnderConcurrentInserts) {
  ApiFixture f;
  std::vector<Session> initial;
  std::set<int64_t> initial_ids;
  for (int64_t i = 1; i <= 400; ++i) {
    // Every fourth one shares its start with the one before (ties by id).
    TimeMs start = kAug1 + (i - i % 4 / 3) * 7 * kMinuteMs;
    initial.push_back(
        ClosedSession(i * 10, i % 2 ? "delta" : "echo", start, 5));
    initial_ids.insert(i * 10);
  }
  testing::CommitSessions(*f.store, initial);

  std::atomic<bool> stop{false};
  std::atomic<int> inserted{0};
  std::atomic<int> wanted{0};  // the reader asks for commits as it pages
  std::atomic<bool> writer_done{false};
  std::thread writer([&] {
    // New prints at the top, and late-discovered ones in the middle of
    // pages already served and still to come.
    for (int64_t k = 1; !stop && k <= 300; ++k) {
      while (!stop && inserted >= wanted) std::this_thread::yield();
      TimeMs start = k % 2 ? kAug1 + 400 * 7 * kMinuteMs + k * kMinuteMs
                           : kAug1 + (k * 13 % 400) * 7 * kMinuteMs + 1;
      WriteBatch batch;
      batch.sessions.push_back(ClosedSession(100000 + k, "delta", start, 1));
      auto s = CommitBatch(*f.store, batch);
      if (!s.ok()) {
        ADD_FAILURE() << "commit: " << s.error().message;
        break;
      }
      ++inserted;
    }
    writer_done = true;
  });

  std::vector<std::pair<std::string, int64_t>> served;  // (started_at, id)
  std::set<int64_t> seen;
  std::string cursor;
  for (int pages = 0; pages < 1000; ++pages) {
    std::string target = "/api/v1/sessions?limit=37";
    if (!cursor.empty()) target += "&cursor=" + cursor;
    // The previous page's commits are done; the next ones run while this
    // page is read.
    while (inserted < wanted && !writer_done) std::this_thread::yield();
    wanted += 2;
    auto r = f.Get(target);
    ASSERT_EQ(r.status, 200) << r.body;
    auto v = ApiFixture::Json(r);
    for (const auto& s : v.at("sessions").as_array()) {
      int64_t id = s.at("id").as_int64();
      EXPECT_TRUE(seen.insert(id).second) << "served twice: " << id;
      served.emplace_back(s.at("started_at").as_string(), id);
    }
    if (v.at("next_cursor").is_null()) break;
    cursor = v.at("next_cursor").as_string();
  }
  stop = true;
  writer.join();

  for (int64_t id : initial_ids) EXPECT_TRUE(seen.count(id)) << "gap: " << id;
  for (size_t i = 1; i < served.size(); ++i) {
    EXPECT_GE(served[i - 1].first, served[i].first) << "order at " << i;
  }
  EXPECT_GE(seen.size(), initial_ids.size());
  EXPECT_GT(inserted.load(), 10);
}

}  // namespace
}  // namespace pm

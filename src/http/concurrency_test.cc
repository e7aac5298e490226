// Many printers, many clients, one writer: every acknowledged event stored
// exactly once, the ledger equal to the reference fold, commits shared.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "http/test_harness.h"
#include "ledger/replay.h"

namespace pm {
namespace {

using testing::AllEvents;
using testing::AllSessions;
using testing::Harness;
using testing::PrinterStream;
using testing::TempDir;

TEST(ConcurrencyTest, EightClientsFiftyPrintersEqualTheReferenceFold) {
  constexpr int kClients = 8;
  constexpr int kPerClient = 1000;
  constexpr int kDevices = 50;
  TempDir dir;
  Harness h(dir.path());
  h.Start();

  // Each printer talks over one client (as one OctoPrint would), in order.
  std::mt19937 random(20240802);
  std::vector<std::vector<std::string>> work(kClients);
  std::vector<std::vector<std::string>> streams;
  for (int d = 0; d < kDevices; ++d) {
    int client = d % kClients;
    int devices_of_client = (kDevices - client + kClients - 1) / kClients;
    int count = kPerClient / devices_of_client +
                (d / kClients < kPerClient % devices_of_client ? 1 : 0);
    streams.push_back(PrinterStream(d, count, random));
  }
  // Interleave each client's printers round-robin.
  for (int client = 0; client < kClients; ++client) {
    std::vector<size_t> next(kDevices, 0);
    for (bool more = true; more;) {
      more = false;
      for (int d = client; d < kDevices; d += kClients) {
        if (next[d] < streams[d].size()) {
          work[client].push_back(streams[d][next[d]++]);
          more = true;
        }
      }
    }
    ASSERT_EQ(static_cast<int>(work[client].size()), kPerClient);
  }

  std::vector<std::set<int64_t>> acknowledged(kClients);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int client = 0; client < kClients; ++client) {
    threads.emplace_back([&, client] {
      TestClient c(h.port());
      for (const std::string& body : work[client]) {
        auto reply = c.Send("POST", "/webhook", "application/json", body);
        if (!reply.ok() || reply->status != 200) {
          ++failures;
          continue;
        }
        auto at = reply->body.find("\"event\":");
        acknowledged[client].insert(std::stoll(reply->body.substr(at + 8)));
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(failures, 0);

  // Every acknowledged event stored exactly once, nothing else stored.
  std::set<int64_t> all_acked;
  for (auto& acked : acknowledged) all_acked.insert(acked.begin(), acked.end());
  EXPECT_EQ(all_acked.size(), static_cast<size_t>(kClients * kPerClient));
  auto events = AllEvents(*h.store);
  ASSERT_EQ(events.size(), static_cast<size_t>(kClients * kPerClient));
  std::set<int64_t> stored;
  for (const auto& r : events) stored.insert(r.event.id);
  EXPECT_EQ(stored, all_acked);

  // The reference fold of the same events in the same arrival order.
  MemoryLedger reference;
  int duplicates = 0;
  for (const auto& r : events) {
    auto in = reference.Ingest(r.event);
    EXPECT_EQ(in.duplicate, r.duplicate) << "event " << r.event.id;
    duplicates += r.duplicate;
  }
  EXPECT_GT(duplicates, 0);
  auto sessions = h.Sessions();
  std::sort(sessions.begin(), sessions.end(),
            [](const Session& a, const Session& b) { return a.id < b.id; });
  auto expected = reference.Sessions();
  ASSERT_EQ(sessions.size(), expected.size());
  for (size_t i = 0; i < sessions.size(); ++i) {
    EXPECT_EQ(sessions[i], expected[i]) << "session " << expected[i].id;
  }
  // The device states match too (what a restart will read back).
  auto states = h.store->LoadDeviceStates();
  ASSERT_TRUE(states.ok());
  EXPECT_EQ(states->size(), reference.States().size());

  // Concurrent requests shared commits.
  IngestStats stats = h.writer->stats();
  EXPECT_EQ(stats.events, kClients * kPerClient);
  EXPECT_LT(stats.commits, stats.events);
  EXPECT_GT(stats.refolds, 0);
  std::printf("%lld events in %lld commits, %lld late events re-folded\n",
              static_cast<long long>(stats.events),
              static_cast<long long>(stats.commits),
              static_cast<long long>(stats.refolds));
}

}  // namespace
}  // namespace pm

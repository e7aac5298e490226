// The six seed bodies from a real printer ("delta", a Prusa MK3S+), decoded
// by the real decoder and folded, make exactly the sessions a person reads
// off them:
//
//   01 start (OctoPrint, local file, mike) + 02 done   -> completed, 19:10
//   03 start (SD card, nobody)              + 04 done   -> completed,  5:13
//   05 failed/cancelled on an idle printer (stopped on the printer; its
//      start was never sent)  -> cancelled, start inferred = t - extra.time
//   06 the same SD file, stopped from OctoPrint under its 8.3 name, mike,
//      24 minutes later        -> another inferred cancelled session
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "decode/decode.h"
#include "ledger/replay.h"

namespace pm {
namespace {

TimeMs Iso(const char* text) { return ParseTime(text).value(); }

const char* kSeeds[] = {
    "01-octoprint-print-started.json", "02-octoprint-print-done.json",
    "03-sdcard-print-started.json",    "04-sdcard-print-done.json",
    "05-printer-print-stopped.json",   "06-octoprint-print-stopped.json",
};

std::string ReadSeed(const std::string& name) {
  std::ifstream in(std::string(PM_FIXTURES_DIR) + "/seed/" + name,
                   std::ios::binary);
  EXPECT_TRUE(in) << "cannot read fixture " << name;
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Decodes seed `name` as POSTed in JSON mode, received 0.3 s after its
// currentTime.
Event DecodeSeed(const std::string& name) {
  std::string body = ReadSeed(name);
  Request r;
  r.method = "POST";
  r.target = "/webhook";
  r.content_type = "application/json";
  r.body = body;
  r.received_at = Iso("2026-11-26T00:00:00Z");
  auto decoded = Decode(r);
  EXPECT_TRUE(decoded.ok())
      << name << ": " << (decoded.ok() ? "" : decoded.error().message);
  if (!decoded.ok()) return {};
  Event e = decoded->event;
  EXPECT_TRUE(e.has_current_time) << name;
  e.received_at = e.time + 300;
  return e;
}

std::vector<Event> Seeds() {
  std::vector<Event> events;
  for (const char* name : kSeeds) events.push_back(DecodeSeed(name));
  return events;
}

class SeedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const Event& e : Seeds()) ledger_.Ingest(e);
    sessions_ = ledger_.Sessions();
    ASSERT_EQ(sessions_.size(), 4u);
  }

  MemoryLedger ledger_;
  std::vector<Session> sessions_;
};

TEST_F(SeedTest, OctoPrintPrintStartedThenDoneIsOneCompletedSession) {
  const Session& s = sessions_[0];
  EXPECT_EQ(s.id, 1);  // the id of 01, the event that opened it
  EXPECT_EQ(s.device, "delta");
  EXPECT_EQ(s.status, SessionStatus::kCompleted);
  EXPECT_EQ(s.started_at, Iso("2024-08-02T02:26:07Z"));
  EXPECT_EQ(s.ended_at, Iso("2024-08-02T02:45:17Z"));
  EXPECT_EQ(DurationMs(s, 0), 1150 * kSecondMs);  // 19:10
  EXPECT_EQ(PrintMs(s, 0), 1150 * kSecondMs);
  EXPECT_FALSE(s.start_inferred);
  EXPECT_FALSE(s.end_inferred);
  EXPECT_EQ(s.user, "mike");
  EXPECT_EQ(s.file.path, "Calbration/cube_0.8n_0.4mm_PETG_235C.gcode");
  EXPECT_EQ(s.file.display, "cube_0.8n_0.4mm_PETG_235C.gcode");
  EXPECT_EQ(s.file.origin, "local");
  EXPECT_EQ(s.file.size, 85675);
  ASSERT_TRUE(s.estimated_s);
  EXPECT_NEAR(*s.estimated_s, 859.93, 0.01);
  ASSERT_TRUE(s.reported_time_s);
  EXPECT_NEAR(*s.reported_time_s, 1150.52, 0.01);
  EXPECT_EQ(s.progress_pct, 100);
  ASSERT_TRUE(FilamentMm(s));
  EXPECT_NEAR(*FilamentMm(s), 1853.31, 0.01);  // completed: the whole job
  ASSERT_TRUE(FilamentCm3(s));
  EXPECT_NEAR(*FilamentCm3(s), 4.4577, 0.0001);
  EXPECT_EQ(s.event_count, 2);
  EXPECT_FALSE(s.error);
}

TEST_F(SeedTest, SdCardPrintStartedThenDoneIsOneCompletedSession) {
  const Session& s = sessions_[1];
  EXPECT_EQ(s.id, 3);
  EXPECT_EQ(s.status, SessionStatus::kCompleted);
  EXPECT_EQ(s.started_at, Iso("2024-08-02T02:52:11Z"));
  EXPECT_EQ(s.ended_at, Iso("2024-08-02T02:57:24Z"));
  EXPECT_EQ(DurationMs(s, 0), 313 * kSecondMs);  // 5:13 (OctoPrint: 5:12.8)
  EXPECT_FALSE(s.start_inferred);
  EXPECT_FALSE(s.end_inferred);
  EXPECT_FALSE(s.user);  // an SD print: nobody, until attributed by hand
  EXPECT_EQ(s.file.name, "Shape-Box_0.8n_0.4mm_PETG_MK3S_2m.gcode");
  EXPECT_EQ(s.file.origin, "sdcard");
  EXPECT_EQ(s.file.size, 36162);
  EXPECT_FALSE(s.estimated_s);
  EXPECT_FALSE(FilamentMm(s));  // the SD card tells nothing of filament
  EXPECT_EQ(s.event_count, 2);
}

TEST_F(SeedTest, FailedOnAnIdlePrinterIsACancelledSessionWithInferredStart) {
  const Session& s = sessions_[2];
  EXPECT_EQ(s.id, 5);
  EXPECT_EQ(s.status, SessionStatus::kCancelled);
  // started_at = currentTime - extra.time = 1722728256 - 287.368
  EXPECT_EQ(s.started_at, Iso("2024-08-03T23:37:36Z") - 287368);
  EXPECT_EQ(FormatIso(s.started_at), "2024-08-03T23:32:48Z");
  EXPECT_EQ(s.ended_at, Iso("2024-08-03T23:37:36Z"));
  EXPECT_TRUE(s.start_inferred);
  EXPECT_FALSE(s.end_inferred);
  EXPECT_FALSE(s.user);
  EXPECT_EQ(s.file.name, "Shape-Box_0.8n_0.4mm_PETG_MK3S_2m.gcode");
  EXPECT_EQ(s.progress_pct, 34);
  EXPECT_EQ(s.event_count, 1);
}

TEST_F(SeedTest, StoppedFromOctoPrintUnderTheShortNameIsAnotherSession) {
  const Session& s = sessions_[3];
  EXPECT_EQ(s.id, 6);
  EXPECT_EQ(s.status, SessionStatus::kCancelled);
  EXPECT_EQ(s.started_at, Iso("2024-08-04T00:01:35Z") - 268690);
  EXPECT_EQ(FormatIso(s.started_at), "2024-08-03T23:57:06Z");
  EXPECT_EQ(s.ended_at, Iso("2024-08-04T00:01:35Z"));
  EXPECT_EQ(FloorSeconds(DurationMs(s, 0)), 268);  // 4:28
  EXPECT_TRUE(s.start_inferred);
  EXPECT_EQ(s.user, "mike");
  EXPECT_EQ(s.file.name, "shape~10.gco");
  EXPECT_EQ(s.progress_pct, 32);
}

TEST_F(SeedTest, PrinterEndsIdle) {
  const DeviceState* d = ledger_.State("delta");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->state, PrinterState::kIdle);
  EXPECT_FALSE(d->open);
  EXPECT_EQ(d->last_topic, "Print Failed");
  EXPECT_FALSE(d->needs_attention);
  EXPECT_EQ(d->last_applied->time, Iso("2024-08-04T00:01:35Z"));
}

TEST(SeedOrderTest, AnyArrivalOrderGivesTheSameSessions) {
  std::vector<Event> events = Seeds();
  for (size_t i = 0; i < events.size(); ++i) events[i].id = i + 1;
  MemoryLedger in_order;
  for (const Event& e : events) in_order.Ingest(e);
  std::vector<size_t> order = {0, 1, 2, 3, 4, 5};
  int permutations = 0;
  while (std::next_permutation(order.begin(), order.end())) {
    MemoryLedger ledger;
    for (size_t i : order) ledger.Ingest(events[i]);
    ASSERT_EQ(ledger.Sessions(), in_order.Sessions());
    ASSERT_EQ(ledger.States(), in_order.States());
    permutations++;
  }
  EXPECT_EQ(permutations, 719);
}

TEST(SeedOrderTest, ResendingTheSeedsChangesNothing) {
  MemoryLedger ledger;
  for (const Event& e : Seeds()) ledger.Ingest(e);
  std::vector<Session> before = ledger.Sessions();
  for (Event e : Seeds()) {
    e.received_at += kMinuteMs;
    EXPECT_TRUE(ledger.Ingest(e).duplicate);
  }
  EXPECT_EQ(ledger.Sessions(), before);
}

}  // namespace
}  // namespace pm

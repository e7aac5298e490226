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
//
// The plugin's own bodies (fixtures/plugin/) are folded too, as scenarios.
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
  std::ifstream in(std::string(PM_FIXTURES_DIR) + "/" +
                       (name.find('/') == std::string::npos ? "seed/" : "") +
                       name,
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
  e.received_at = e.time + 300;
  return e;
}

std::vector<Event> Seeds() {
  std::vector<Event> events;
  for (const char* name : kSeeds) {
    events.push_back(DecodeSeed(name));
    EXPECT_TRUE(events.back().has_current_time) << name;
  }
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

// ---- the plugin's own bodies, as one printer's day ----
//
// The plugin fixtures all carry the same invented currentTime; here each is
// re-stamped at the minute its scenario would happen, then folded.

constexpr TimeMs kDay = 1718000000000;  // 2024-06-10T06:13:20Z

Event Plugin(const std::string& name, TimeMs t) {
  Event e = DecodeSeed("plugin/" + name);
  e.time = t;  // with or without currentTime: the scenario's minute
  e.received_at = t + 200;
  return e;
}

TEST(PluginFixtureTest, ALocalPrintPausedResumedThenFailedWithAnError) {
  MemoryLedger ledger;
  auto s = [](int seconds) { return kDay + seconds * kSecondMs; };
  ledger.Ingest(Plugin("01_print_started_local.json", s(0)));
  ledger.Ingest(Plugin("10_test_print_started.json", s(10)));  // test button
  ledger.Ingest(Plugin("07_print_progress_50.json", s(1398)));
  ledger.Ingest(Plugin("03_print_paused.json", s(1500)));
  ledger.Ingest(Plugin("11_test_print_progress.json", s(1510)));
  ledger.Ingest(Plugin("12_custom_event_print_resumed.json", s(1600)));
  ledger.Ingest(Plugin("08_user_action_needed.json", s(1722)));
  EXPECT_TRUE(ledger.State("ender3-garage")->needs_attention);
  ledger.Ingest(Plugin("09_error_event.json", s(2000)));
  ledger.Ingest(Plugin("05_print_failed_error.json", s(2210)));

  ASSERT_EQ(ledger.Sessions().size(), 1u);
  const Session p = ledger.Sessions()[0];
  EXPECT_EQ(p.id, 1);
  EXPECT_EQ(p.device, "ender3-garage");
  EXPECT_EQ(p.status, SessionStatus::kFailed);
  EXPECT_EQ(p.started_at, s(0));
  EXPECT_EQ(p.ended_at, s(2210));
  EXPECT_FALSE(p.start_inferred);
  EXPECT_EQ(p.pauses, (std::vector<Interval>{{s(1500), s(1600)}}));
  EXPECT_EQ(PausedMs(p, 0), 100 * kSecondMs);
  EXPECT_EQ(PrintMs(p, 0), 2110 * kSecondMs);
  EXPECT_EQ(p.user, "pi");
  EXPECT_EQ(p.file.path, "calibration/CE3PRO_calibration_cube.gcode");
  ASSERT_TRUE(p.error);
  EXPECT_NE(p.error->find("Thermal Runaway"), std::string::npos);
  ASSERT_TRUE(p.progress_pct);  // extra.progress 0.8124 on reason error
  EXPECT_NEAR(*p.progress_pct, 81.24, 0.01);
  ASSERT_TRUE(FilamentMm(p));
  EXPECT_NEAR(*FilamentMm(p), 4123.48192 * 0.8124170747, 0.01);
  EXPECT_EQ(p.event_count, 7);  // the two test presses are not in it
  const DeviceState* d = ledger.State("ender3-garage");
  EXPECT_EQ(d->state, PrinterState::kIdle);
  EXPECT_FALSE(d->needs_attention);
  ASSERT_TRUE(d->last_error);
  EXPECT_NE(d->last_error->find("Thermal Runaway"), std::string::npos);
}

TEST(PluginFixtureTest, AnSdPrintEndingUnderAnotherNameIsOneSession) {
  MemoryLedger ledger;
  ledger.Ingest(Plugin("02_print_started_sdcard.json", kDay));
  ledger.Ingest(Plugin("06_print_done.json", kDay + 2847 * kSecondMs));
  ASSERT_EQ(ledger.Sessions().size(), 1u);
  const Session p = ledger.Sessions()[0];
  EXPECT_EQ(p.status, SessionStatus::kCompleted);
  EXPECT_EQ(p.file.name, "ce3pro~1.gco");  // from the opening event
  EXPECT_EQ(DurationMs(p, 0), 2847 * kSecondMs);
  EXPECT_FALSE(p.start_inferred);
}

TEST(PluginFixtureTest, EndsOnAnIdlePrinterInferTheirStarts) {
  MemoryLedger ledger;
  TimeMs t = kDay;
  ledger.Ingest(Plugin("04_print_failed_cancelled.json", t));
  // A Custom Event "Print cancelled" is `other`: no session.
  ledger.Ingest(Plugin("13_custom_event_print_cancelled.json", t + 1000));
  // The simple template sends no currentTime: its time is the receive time.
  Event simple = Plugin("14_simple_template_print_done.json", t + kHourMs);
  EXPECT_FALSE(simple.has_current_time);
  ledger.Ingest(simple);
  std::vector<Session> s = ledger.Sessions();
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].status, SessionStatus::kCancelled);
  EXPECT_TRUE(s[0].start_inferred);
  EXPECT_EQ(s[0].started_at, t - 1437073);
  EXPECT_EQ(s[0].progress_pct, 52);
  EXPECT_EQ(s[1].status, SessionStatus::kCompleted);
  EXPECT_TRUE(s[1].start_inferred);
  EXPECT_EQ(s[1].started_at, t + kHourMs - 2847391);
  EXPECT_EQ(s[1].ended_at, t + kHourMs);
}

// The "Dot Notation Example" template's test press sends no `extra`, so
// nothing marks it as a test (ledger.md section 2 looks for hook_index and
// popup): it is a `done` on an idle printer, and section 5 makes it a
// zero-length completed session with an inferred start. Pinned here so a
// change to that is a decision, not an accident.
TEST(PluginFixtureTest, DotNotationTestPressIsAnUnmarkedDone) {
  MemoryLedger ledger;
  Event e = Plugin("20_dotnotation_template_test_print_done.json", kDay);
  EXPECT_FALSE(e.test);
  ledger.Ingest(e);
  ASSERT_EQ(ledger.Sessions().size(), 1u);
  const Session p = ledger.Sessions()[0];
  EXPECT_EQ(p.status, SessionStatus::kCompleted);
  EXPECT_TRUE(p.start_inferred);
  EXPECT_EQ(DurationMs(p, 0), 0);
  EXPECT_FALSE(p.file.name);
}

// A printer whose clock once said 2100 (ledger.md section 2): that stamp is
// disbelieved, the event gets its receive time, and the printer's later real
// events are in order, not "late", so its next print opens and closes where
// its own stamps put it.
TEST(SeedClockTest, AYear2100StampDoesNotMakeLaterEventsLate) {
  auto decode = [](const std::string& body, TimeMs received) {
    Request r;
    r.method = "POST";
    r.target = "/webhook";
    r.content_type = "application/json";
    r.body = body;
    r.received_at = received;
    auto d = Decode(r);
    EXPECT_TRUE(d.ok()) << (d.ok() ? "" : d.error().message);
    return d.ok() ? d->event : Event{};
  };
  auto body = [](const char* topic, const char* time) {
    return std::string(R"({"deviceIdentifier": "delta", "topic": ")") + topic +
           R"(", "currentTime": )" + time +
           R"(, "extra": {"name": "box.gcode", "path": "box.gcode"}})";
  };
  const TimeMs t0 = Iso("2026-11-26T10:00:00Z");
  MemoryLedger ledger;
  // 4102444800 = 2100-01-01T00:00:00Z: a print started by the broken clock.
  Event broken = decode(body("Print Started", "4102444800"), t0);
  EXPECT_FALSE(broken.has_current_time);
  EXPECT_EQ(broken.time, t0);
  ledger.Ingest(broken);
  ledger.Ingest(decode(body("Print Done", "1795688400"), t0 + 20 * kMinuteMs));
  // The clock is right again: the next print, 10:30 to 11:00.
  ledger.Ingest(
      decode(body("Print Started", "1795689000"), t0 + 30 * kMinuteMs));
  ledger.Ingest(decode(body("Print Done", "1795690800"), t0 + kHourMs));
  std::vector<Session> sessions = ledger.Sessions();
  ASSERT_EQ(sessions.size(), 2u);
  EXPECT_EQ(sessions[0].status, SessionStatus::kCompleted);
  EXPECT_EQ(sessions[0].started_at, t0);
  EXPECT_EQ(sessions[0].ended_at, Iso("2026-11-26T10:20:00Z"));
  EXPECT_EQ(sessions[1].status, SessionStatus::kCompleted);
  EXPECT_EQ(sessions[1].started_at, Iso("2026-11-26T10:30:00Z"));
  EXPECT_EQ(sessions[1].ended_at, Iso("2026-11-26T11:00:00Z"));
  EXPECT_FALSE(sessions[1].start_inferred);
  EXPECT_EQ(ledger.State("delta")->state, PrinterState::kIdle);
}

}  // namespace
}  // namespace pm

#include "maintenance/maintenance.h"

#include <gtest/gtest.h>

#include <vector>

#include "ledger/replay.h"

namespace pm {
namespace {

constexpr TimeMs kT0 = 1722556800000;  // 2024-08-02T00:00:00Z

Session Print(TimeMs start, TimeMs end, double filament_mm = 0,
              std::string device = "delta") {
  Session s;
  s.id = start;
  s.device = std::move(device);
  s.status = SessionStatus::kCompleted;
  s.started_at = start;
  s.ended_at = end;
  s.last_event_at = end;
  if (filament_mm > 0) s.job_filament_mm = filament_mm;
  return s;
}

MaintenanceItem Item(const char* name, const char* every) {
  MaintenanceItem item = ParseEvery(every).value();
  item.item = name;
  return item;
}

// --- thresholds as written ---

TEST(MaintenanceTest, ParseEveryReadsTheUnitsAManagerWrites) {
  struct Case {
    const char* text;
    MaintenanceKind kind;
    double every;
  } cases[] = {
      {"200h", MaintenanceKind::kHours, 200},
      {"1.5h", MaintenanceKind::kHours, 1.5},
      {" 200 h ", MaintenanceKind::kHours, 200},
      {"90d", MaintenanceKind::kDays, 90},
      {"500m", MaintenanceKind::kFilament, 500},
      {"500km", MaintenanceKind::kFilament, 500000},
      {"2.5km", MaintenanceKind::kFilament, 2500},
  };
  for (const Case& c : cases) {
    auto item = ParseEvery(c.text);
    ASSERT_TRUE(item.ok()) << c.text;
    EXPECT_EQ(item->kind, c.kind) << c.text;
    EXPECT_DOUBLE_EQ(item->every, c.every) << c.text;
  }
}

TEST(MaintenanceTest, ParseEveryRefusesWhatItCannotCount) {
  for (const char* text :
       {"", "200", "h", "200 hours", "200x", "0h", "-5h", "nanh", "infh",
        "200hh", "200 h 3", "1e400h", "1e308km"}) {
    auto item = ParseEvery(text);
    ASSERT_FALSE(item.ok()) << text;
    EXPECT_NE(item.error().message.find("\"200h\""), std::string::npos);
  }
}

TEST(MaintenanceTest, FormatEveryIsReadBackAsTheSame) {
  for (const char* text : {"200h", "1.5h", "90d", "500m", "500km", "2.5km"}) {
    MaintenanceItem item = ParseEvery(text).value();
    EXPECT_EQ(FormatEvery(item), text);
  }
}

TEST(MaintenanceTest, StatesByFraction) {
  struct Case {
    double fraction;
    MaintenanceState state;
  } cases[] = {
      {0, MaintenanceState::kOk},        {0.8999, MaintenanceState::kOk},
      {0.9, MaintenanceState::kDueSoon}, {0.9999, MaintenanceState::kDueSoon},
      {1.0, MaintenanceState::kDue},     {1.0999, MaintenanceState::kDue},
      {1.1, MaintenanceState::kOverdue}, {7, MaintenanceState::kOverdue},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(StateOf(c.fraction), c.state) << c.fraction;
  }
  EXPECT_EQ(MaintenanceStateName(MaintenanceState::kDueSoon), "due_soon");
}

// --- print time after a point ---

TEST(MaintenanceTest, PrintTimeSinceProratesAStraddlingSession) {
  Session s = Print(kT0, kT0 + 4 * kHourMs);
  s.pauses = {{kT0 + kHourMs, kT0 + 2 * kHourMs}};
  struct Case {
    TimeMs since;
    TimeMs want;
  } cases[] = {
      {kT0 - kHourMs, 3 * kHourMs},           // all of it, less the pause
      {kT0, 3 * kHourMs},                     //
      {kT0 + 30 * kMinuteMs, 150 * kMinuteMs},  // half an hour cut off
      {kT0 + 90 * kMinuteMs, 2 * kHourMs},    // inside the pause
      {kT0 + 3 * kHourMs, kHourMs},           // after the pause
      {kT0 + 4 * kHourMs, 0},                 // at its end
      {kT0 + 5 * kHourMs, 0},                 // after it
  };
  for (const Case& c : cases) {
    EXPECT_EQ(PrintMsSince(s, c.since, 0), c.want) << (c.since - kT0);
  }
}

TEST(MaintenanceTest, OpenSessionRunsToNowLessItsOngoingPause) {
  Session s = Print(kT0, kT0);
  s.status = SessionStatus::kPaused;
  s.ended_at.reset();
  s.pause_started_at = kT0 + 2 * kHourMs;
  TimeMs now = kT0 + 5 * kHourMs;
  EXPECT_EQ(PrintMsSince(s, kT0, now), 2 * kHourMs);
  EXPECT_EQ(PrintMsSince(s, kT0 + kHourMs, now), kHourMs);
  EXPECT_EQ(PrintMsSince(s, kT0 + 3 * kHourMs, now), 0);
}

// --- counters ---

struct Fleet {
  std::vector<MaintenanceItem> items;
  std::vector<MaintenanceMark> marks;
  std::vector<Session> sessions;
  std::optional<TimeMs> first_seen;

  DeviceMaintenance At(TimeMs now, std::string device = "delta") const {
    return ComputeMaintenance(
        {device, items, marks, sessions, first_seen, now});
  }
};

TEST(MaintenanceTest, CountersFromAFoldedHistory) {
  Fleet f;
  f.items = {Item("nozzle", "10h"), Item("rods", "6m"), Item("belts", "30d")};
  f.first_seen = kT0 - kDayMs;
  f.sessions = {
      Print(kT0, kT0 + 3 * kHourMs, 2000),
      Print(kT0 + kDayMs, kT0 + kDayMs + 6 * kHourMs, 2600),
      Print(kT0, kT0 + 50 * kHourMs, 99000, "other"),  // not this printer's
  };
  DeviceMaintenance m = f.At(kT0 + 26 * kDayMs);
  ASSERT_EQ(m.items.size(), 3u);
  const ItemStatus& nozzle = m.items[0];
  EXPECT_DOUBLE_EQ(nozzle.used, 9);
  EXPECT_DOUBLE_EQ(nozzle.remaining, 1);
  EXPECT_DOUBLE_EQ(nozzle.fraction, 0.9);
  EXPECT_EQ(nozzle.state, MaintenanceState::kDueSoon);
  EXPECT_EQ(nozzle.since, kT0 - kDayMs);  // never done: from first contact
  EXPECT_FALSE(nozzle.last_done);
  const ItemStatus& rods = m.items[1];
  EXPECT_DOUBLE_EQ(rods.used, 4.6);
  EXPECT_EQ(rods.state, MaintenanceState::kOk);
  const ItemStatus& belts = m.items[2];
  EXPECT_DOUBLE_EQ(belts.used, 27);
  EXPECT_DOUBLE_EQ(belts.remaining, 3);
  EXPECT_EQ(belts.state, MaintenanceState::kDueSoon);
}

TEST(MaintenanceTest, NeverDoneCountsFromTheEarliestOfFirstSeenAndSessions) {
  Fleet f;
  f.items = {Item("belts", "10d")};
  f.sessions = {Print(kT0, kT0 + kHourMs)};
  f.first_seen = kT0 + kDayMs;  // a session imported from before
  EXPECT_EQ(f.At(kT0 + 5 * kDayMs).items[0].since, kT0);
  f.sessions.clear();
  EXPECT_DOUBLE_EQ(f.At(kT0 + 5 * kDayMs).items[0].used, 4);
  f.first_seen.reset();  // configured, never heard from: nothing used yet
  EXPECT_DOUBLE_EQ(f.At(kT0 + 5 * kDayMs).items[0].used, 0);
}

TEST(MaintenanceTest, MarkingDoneRestartsTheCountFromTheLatestMark) {
  Fleet f;
  f.items = {Item("nozzle", "4h"), Item("rods", "10m")};
  f.first_seen = kT0;
  f.sessions = {Print(kT0, kT0 + 5 * kHourMs, 10000)};
  TimeMs now = kT0 + kDayMs;
  EXPECT_EQ(f.At(now).items[0].state, MaintenanceState::kOverdue);  // 125 %
  EXPECT_EQ(f.At(now).items[1].state, MaintenanceState::kDue);      // 100 %

  // Done in the middle of the print: only the part after it counts, for
  // hours and (in proportion) for filament.
  f.marks = {{"delta", "nozzle", kT0 + kHourMs, "ana"},
             {"delta", "nozzle", kT0 + 3 * kHourMs, "bo"},  // the latest
             {"delta", "rods", kT0 + 4 * kHourMs, ""},
             {"other", "nozzle", kT0 + 5 * kHourMs, ""}};  // another printer
  DeviceMaintenance m = f.At(now);
  EXPECT_DOUBLE_EQ(m.items[0].used, 2);
  EXPECT_EQ(m.items[0].state, MaintenanceState::kOk);
  ASSERT_TRUE(m.items[0].last_done);
  EXPECT_EQ(m.items[0].last_done->by, "bo");
  EXPECT_EQ(m.items[0].since, kT0 + 3 * kHourMs);
  EXPECT_DOUBLE_EQ(m.items[1].used, 2);  // a fifth of 10 m
  EXPECT_DOUBLE_EQ(m.items[1].fraction, 0.2);
}

TEST(MaintenanceTest, AMarkInTheFutureCountsAsDoneNow) {
  Fleet f;
  f.items = {Item("belts", "10d")};
  f.first_seen = kT0;
  f.marks = {{"delta", "belts", kT0 + 30 * kDayMs, ""}};
  DeviceMaintenance m = f.At(kT0 + 20 * kDayMs);
  EXPECT_DOUBLE_EQ(m.items[0].used, 0);
  EXPECT_EQ(m.items[0].since, kT0 + 20 * kDayMs);
}

TEST(MaintenanceTest, UnknownFilamentCountsNothingAndAnOpenPrintCounts) {
  Fleet f;
  f.items = {Item("nozzle", "2h"), Item("rods", "1m")};
  f.first_seen = kT0;
  Session open = Print(kT0, kT0);
  open.status = SessionStatus::kPrinting;
  open.ended_at.reset();
  open.job_filament_mm = 4000;
  open.progress_pct = 50;  // half of the job's 4 m so far
  f.sessions = {Print(kT0 - kDayMs, kT0 - kDayMs + kHourMs), open};
  DeviceMaintenance m = f.At(kT0 + kHourMs);
  EXPECT_DOUBLE_EQ(m.items[0].used, 2);
  EXPECT_EQ(m.items[0].state, MaintenanceState::kDue);
  EXPECT_DOUBLE_EQ(m.items[1].used, 2);
}

// A late event re-folds the printer's sessions; the counters follow.
TEST(MaintenanceTest, ALateEventMovesACounterAcrossItsThreshold) {
  MemoryLedger ledger;
  int64_t id = 0;
  auto event = [&](Kind kind, TimeMs t, double filament_mm = 0) {
    Event e;
    e.id = ++id;
    e.device = "delta";
    e.kind = kind;
    e.topic = std::string(KindName(kind));
    e.time = t;
    e.has_current_time = true;
    e.received_at = t;
    e.file.path = "box.gcode";
    e.file.name = "box.gcode";
    if (filament_mm > 0) e.filament_mm = filament_mm;
    ledger.Ingest(e);
  };
  event(Kind::kStarted, kT0);
  event(Kind::kDone, kT0 + 9 * kHourMs);
  event(Kind::kStarted, kT0 + 20 * kHourMs);
  event(Kind::kDone, kT0 + 20 * kHourMs + 30 * kMinuteMs);
  std::vector<MaintenanceItem> items = {Item("nozzle", "10h")};
  TimeMs now = kT0 + 2 * kDayMs;
  auto nozzle = [&] {
    std::vector<Session> sessions = ledger.Sessions("delta");
    return ComputeMaintenance({"delta", items, {}, sessions, kT0, now})
        .items[0];
  };
  EXPECT_DOUBLE_EQ(nozzle().used, 9.5);
  EXPECT_EQ(nozzle().state, MaintenanceState::kDueSoon);
  auto due_before = DueItems(std::vector<DeviceMaintenance>{
      {"delta", {nozzle()}}});
  EXPECT_TRUE(due_before.empty());

  // A print from the morning arrives late (the printer's requests were held
  // up): 1 h more, the nozzle is due.
  event(Kind::kStarted, kT0 + 10 * kHourMs);
  event(Kind::kDone, kT0 + 11 * kHourMs);
  ASSERT_EQ(ledger.Sessions("delta").size(), 3u);
  EXPECT_DOUBLE_EQ(nozzle().used, 10.5);
  EXPECT_EQ(nozzle().state, MaintenanceState::kDue);
  auto due_after = DueItems(std::vector<DeviceMaintenance>{
      {"delta", {nozzle()}}});
  auto fresh = BecameDue(due_before, due_after);
  ASSERT_EQ(fresh.size(), 1u);
  EXPECT_EQ(fresh[0].item, "nozzle");
  EXPECT_EQ(fresh[0].Key(), "delta/nozzle/" + std::to_string(kT0));

  // A late pause inside the first print takes 2 h back off: not due again.
  event(Kind::kPaused, kT0 + 2 * kHourMs);
  event(Kind::kResumed, kT0 + 4 * kHourMs);
  EXPECT_DOUBLE_EQ(nozzle().used, 8.5);
  EXPECT_EQ(nozzle().state, MaintenanceState::kOk);
}

// --- what became due ---

TEST(MaintenanceTest, BecameDueNamesEachCycleOnce) {
  auto due = [](const char* item, TimeMs since, MaintenanceState state) {
    MaintenanceDue d;
    d.device = "delta";
    d.item = item;
    d.since = since;
    d.state = state;
    return d;
  };
  using S = MaintenanceState;
  struct Case {
    const char* what;
    std::vector<MaintenanceDue> before, now;
    std::vector<std::string> want;  // items that became due
  } cases[] = {
      {"nothing due", {}, {}, {}},
      {"newly due", {}, {due("nozzle", kT0, S::kDue)}, {"nozzle"}},
      {"still due", {due("nozzle", kT0, S::kDue)},
       {due("nozzle", kT0, S::kDue)}, {}},
      {"due to overdue, same cycle", {due("nozzle", kT0, S::kDue)},
       {due("nozzle", kT0, S::kOverdue)}, {}},
      {"done and due again", {due("nozzle", kT0, S::kDue)},
       {due("nozzle", kT0 + kDayMs, S::kDue)}, {"nozzle"}},
      {"one of two", {due("nozzle", kT0, S::kDue)},
       {due("nozzle", kT0, S::kDue), due("belts", kT0, S::kOverdue)},
       {"belts"}},
  };
  for (const Case& c : cases) {
    std::vector<std::string> got;
    for (const MaintenanceDue& d : BecameDue(c.before, c.now)) {
      got.push_back(d.item);
    }
    EXPECT_EQ(got, c.want) << c.what;
  }
}

TEST(MaintenanceTest, DueItemsListsDueAndOverdueOnly) {
  Fleet f;
  f.items = {Item("a", "10h"), Item("b", "5h"), Item("c", "4h"),
             Item("d", "100h")};
  f.first_seen = kT0;
  f.sessions = {Print(kT0, kT0 + 5 * kHourMs)};
  std::vector<DeviceMaintenance> fleet = {f.At(kT0 + kDayMs)};
  auto due = DueItems(fleet);
  ASSERT_EQ(due.size(), 2u);
  EXPECT_EQ(due[0].item, "b");
  EXPECT_EQ(due[0].state, MaintenanceState::kDue);
  EXPECT_EQ(due[1].item, "c");
  EXPECT_EQ(due[1].state, MaintenanceState::kOverdue);
}

TEST(MaintenanceTest, AMarkMustNameAConfiguredPrinterAndItem) {
  MaintenanceOptions options;
  options.devices["delta"] = {Item("nozzle", "200h"), Item("belts", "90d")};
  options.devices["mini"] = {Item("nozzle", "100h")};
  EXPECT_TRUE(CheckMark(options, {"delta", "belts", kT0, ""}).ok());
  Status printer = CheckMark(options, {"gamma", "nozzle", kT0, ""});
  ASSERT_FALSE(printer.ok());
  EXPECT_EQ(printer.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(printer.error().message,
            "printer \"gamma\" has no maintenance items; printers with items: "
            "delta, mini");
  Status item = CheckMark(options, {"delta", "bed", kT0, ""});
  ASSERT_FALSE(item.ok());
  EXPECT_EQ(item.error().message,
            "printer \"delta\" has no maintenance item \"bed\"; its items: "
            "nozzle, belts");
  Status none = CheckMark({}, {"delta", "bed", kT0, ""});
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().message.find("[[devices.ID.maintenance]]"),
            std::string::npos);
}

}  // namespace
}  // namespace pm

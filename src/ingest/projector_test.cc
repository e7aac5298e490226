// The projector against a real SQLite file: for seeded random streams
// (late events, resends, test presses, several printers), the log appended
// in random chunks, the projector stepped by random amounts, stopped and
// resumed (a new projector, or the file closed and opened again), and its
// commits failing at random: the ledger always ends equal to the in-order
// fold of the whole log (ledger.md sections 2 and 4), which MemoryLedger
// computes.
#include "ingest/projector.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "ledger/replay.h"
#include "store/append_journal.h"
#include "store/store_test_util.h"

namespace pm {
namespace {

constexpr TimeMs kT0 = 1722565567000;

// The real store's projection face, with commits that fail on demand: a
// crash half-way through a step, as far as the projection can tell.
class FlakyProjection final : public ProjectionStore {
 public:
  explicit FlakyProjection(Store& real) : real_(real) {}
  bool fail_next = false;
  int failures = 0;

  Result<int64_t> ProjectedPosition() override {
    return real_.ProjectedPosition();
  }
  Status SetSessionUser(int64_t id, const std::string& user) override {
    return real_.SetSessionUser(id, user);
  }
  Result<std::vector<LoggedEvent>> ReadLog(int64_t after, int limit) override {
    return real_.ReadLog(after, limit);
  }
  Result<std::vector<Event>> FoldableEvents(const std::string& device,
                                            std::optional<EventKey> after,
                                            int64_t up_to) override {
    return real_.FoldableEvents(device, after, up_to);
  }
  Result<std::map<int64_t, int64_t>> StoredLinks(
      const std::string& device, std::optional<EventKey> after,
      int64_t up_to) override {
    return real_.StoredLinks(device, after, up_to);
  }
  Result<std::map<std::string, int64_t, std::less<>>> FoldedDevices(
      int64_t after, int64_t up_to) override {
    return real_.FoldedDevices(after, up_to);
  }
  Result<std::optional<Session>> LastIdleSessionBefore(
      const std::string& device, EventKey before) override {
    return real_.LastIdleSessionBefore(device, before);
  }
  Result<std::vector<KeptPicture>> KeptPictures(
      const std::string& device, const std::vector<int64_t>& sessions,
      int64_t up_to) override {
    return real_.KeptPictures(device, sessions, up_to);
  }
  Status CommitProjection(const ProjectionBatch& batch) override {
    if (fail_next) {
      fail_next = false;
      ++failures;
      return Unavailable("disk I/O error (injected)");
    }
    return real_.CommitProjection(batch);
  }

 private:
  Store& real_;
};

// A printer's prints in event-time order: starts (sometimes missed, some
// spammed), progress, pauses, attention, and every kind of end.
std::vector<Event> PrinterHistory(std::mt19937_64& rng, const std::string& device,
                                  int prints) {
  auto chance = [&rng](double p) {
    return std::uniform_real_distribution<double>(0, 1)(rng) < p;
  };
  auto between = [&rng](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  std::vector<Event> out;
  TimeMs t = kT0 + between(0, 3600) * kSecondMs;
  auto add = [&](Kind kind, int print) {
    Event e;
    e.device = device;
    e.kind = kind;
    e.topic = std::string(KindName(kind));
    e.time = t;
    e.has_current_time = true;
    e.received_at = t;
    e.file.path = "part" + std::to_string(print) + ".gcode";
    e.estimated_s = 3600;
    out.push_back(e);
  };
  for (int p = 0; p < prints; ++p) {
    if (!chance(0.1)) add(Kind::kStarted, p);
    if (chance(0.1)) add(Kind::kStarted, p);  // spam
    int steps = static_cast<int>(between(1, 4));
    for (int s = 0; s < steps; ++s) {
      t += between(60, 900) * kSecondMs;
      double r = std::uniform_real_distribution<double>(0, 1)(rng);
      if (r < 0.2) {
        add(Kind::kPaused, p);
        t += between(30, 300) * kSecondMs;
        add(Kind::kResumed, p);
      } else if (r < 0.3) {
        add(Kind::kAttention, p);
      } else {
        add(Kind::kProgress, p);
        out.back().progress_pct = static_cast<double>(between(1, 99));
      }
    }
    t += between(60, 900) * kSecondMs;
    double end = std::uniform_real_distribution<double>(0, 1)(rng);
    if (end < 0.15) {
      add(Kind::kFailed, p);
      out.back().reason = "cancelled";
    } else if (end < 0.25) {
      add(Kind::kFailed, p);
      out.back().reason = "error";
      out.back().error = "thermal runaway";
    } else if (end > 0.35) {
      add(Kind::kDone, p);
    }  // else the end never came: the next start interrupts it
    t += between(120, 3600) * kSecondMs;
  }
  return out;
}

// Three printers' histories merged in arrival order, with late arrivals,
// resends and test presses.
std::vector<Event> ArrivalStream(std::mt19937_64& rng, int prints) {
  std::vector<Event> all;
  for (const char* device : {"delta", "prusa-2", "ender"}) {
    for (Event& e : PrinterHistory(rng, device, prints)) {
      double r = std::uniform_real_distribution<double>(0, 1)(rng);
      TimeMs delay = r < 0.85 ? 0 : r < 0.97 ? 600'000 : 6 * kHourMs;
      e.received_at = e.time + delay;
      all.push_back(e);
      if (r > 0.9) all.push_back(e);  // a resend: a duplicate
      if (r < 0.02) {
        Event test = e;
        test.test = true;
        all.push_back(test);
      }
    }
  }
  std::stable_sort(all.begin(), all.end(), [](const Event& a, const Event& b) {
    return a.received_at < b.received_at;
  });
  return all;
}

std::vector<Session> SessionsById(Store& store) {
  std::vector<Session> out;
  SessionPageQuery q;
  q.limit = 10000;
  auto page = store.ListSessions(q);
  EXPECT_TRUE(page.ok()) << (page.ok() ? "" : page.error().message);
  if (page.ok()) out = std::move(*page);
  std::sort(out.begin(), out.end(),
            [](const Session& a, const Session& b) { return a.id < b.id; });
  return out;
}

// An event of `device` at `t`, received then: given its id (and duplicate
// verdict) by `reference`, as the writer would, and appended to the log.
void AppendIngested(Store& store, MemoryLedger& reference,
                    const std::string& device, Kind kind, TimeMs t) {
  Event e;
  e.device = device;
  e.kind = kind;
  e.topic = std::string(KindName(kind));
  e.time = t;
  e.has_current_time = true;
  e.received_at = t;
  e.id = reference.Ingest(e).id;
  LogBatch batch;
  batch.events.push_back({e, StoredRequest{"POST", "/webhook", "", "{}"}});
  ASSERT_TRUE(store.Append(batch).ok());
}

// Steps until nothing is left to fold, each step of 1 to 40 events.
void FoldToTheEnd(Projector& projector, std::mt19937_64& rng) {
  for (;;) {
    int step = std::uniform_int_distribution<int>(1, 40)(rng);
    Result<int64_t> folded = projector.Step(step);
    ASSERT_TRUE(folded.ok()) << folded.error().message;
    if (*folded == 0) break;
  }
}

// The store's ledger is the in-order fold's: its sessions, its printers'
// states, and every one of its `events` events linked to the session the
// fold puts it in.
void ExpectTheInOrderFold(Store& store, const MemoryLedger& reference,
                          size_t events) {
  EXPECT_EQ(SessionsById(store), reference.Sessions());
  auto states = store.LoadDeviceStates();
  ASSERT_TRUE(states.ok());
  EXPECT_EQ(*states, reference.States());
  auto logged = store.ListEvents({.limit = 10000});
  ASSERT_TRUE(logged.ok());
  EXPECT_EQ(logged->size(), events);
  for (const EventView& v : *logged) {
    EXPECT_EQ(v.session_id, reference.SessionOf(v.event.id))
        << "event " << v.event.id;
  }
}

class ProjectorProperty : public ::testing::TestWithParam<uint64_t> {};

TEST_P(ProjectorProperty, StoppedAndResumedAnywhereEqualsTheInOrderFold) {
  std::mt19937_64 rng(GetParam());
  std::vector<Event> stream = ArrivalStream(rng, 12);
  LedgerConfig config;
  config.stale_after = 0;

  // The reference: the writer's verdicts and the in-order fold.
  MemoryLedger reference(config);
  std::vector<EventRecord> log;
  for (Event e : stream) {
    MemoryLedger::Ingested in = reference.Ingest(e);
    e.id = in.id;
    EventRecord r;
    r.event = e;
    r.duplicate = in.duplicate;
    r.request = StoredRequest{"POST", "/webhook", "application/json", "{}"};
    log.push_back(std::move(r));
  }

  testing::TempDir dir;
  std::string path = dir.File("pm.db");
  std::unique_ptr<Store> store = testing::MustOpen(path);
  ASSERT_NE(store, nullptr);
  auto flaky = std::make_unique<FlakyProjection>(*store);
  // One in three seeds keeps every printer's state in memory; the others
  // keep one or two of the three, so that states are read back from the
  // projection all the time.
  const size_t cached = GetParam() % 3 == 0 ? Projector::kCachedStates
                                            : static_cast<size_t>(GetParam() % 3);
  auto make = [&] {
    return std::make_unique<Projector>(*flaky, *store, config,
                                       PictureRetention::kPrints, cached);
  };
  auto projector = make();
  ASSERT_TRUE(projector->Load().ok());

  auto pick = [&rng](int lo, int hi) {
    return static_cast<int>(std::uniform_int_distribution<int>(lo, hi)(rng));
  };
  int restarts = 0, reopens = 0;
  size_t appended = 0;
  while (appended < log.size()) {
    // The writer appends a group commit...
    size_t n = std::min(log.size() - appended, static_cast<size_t>(pick(1, 12)));
    LogBatch batch;
    batch.events.assign(log.begin() + appended, log.begin() + appended + n);
    ASSERT_TRUE(store->Append(batch).ok());
    appended += n;
    // ...and the projector folds some of what is behind it, or dies.
    switch (pick(0, 9)) {
      case 0:  // a crash: a new projector resumes from the stored position
        projector = make();
        ASSERT_TRUE(projector->Load().ok());
        ++restarts;
        break;
      case 1:  // a crash of the whole process: the file opened again
        projector.reset();
        flaky.reset();
        store.reset();
        store = testing::MustOpen(path);
        ASSERT_NE(store, nullptr);
        flaky = std::make_unique<FlakyProjection>(*store);
        projector = make();
        ASSERT_TRUE(projector->Load().ok());
        ++reopens;
        break;
      case 2:  // a step whose commit fails: nothing of it is kept
        flaky->fail_next = true;
        EXPECT_FALSE(projector->Step(pick(1, 40)).ok());
        break;
      default:
        ASSERT_TRUE(projector->Step(pick(1, 40)).ok());
    }
  }
  FoldToTheEnd(*projector, rng);
  RecordProperty("restarts", restarts);
  RecordProperty("reopens", reopens);

  EXPECT_EQ(projector->position(), log.back().event.id);
  EXPECT_LE(projector->cached_states(), cached);
  ExpectTheInOrderFold(*store, reference, log.size());
}

INSTANTIATE_TEST_SUITE_P(Seeds, ProjectorProperty,
                         ::testing::Range<uint64_t>(1, 31));

// As `serve` runs on SQLite: the store decides ids and duplicates and
// answers from its append journal, and the projector's reads move the
// appends into the database. A crash is the files as they are on the disk
// at any moment (copied while the store is open: every append and commit is
// written through), opened by the next writer, which moves in what the
// journal holds beyond the log. The verdicts and the ledger must equal the
// in-order fold's.
class ProjectorJournalProperty : public ::testing::TestWithParam<uint64_t> {};

TEST_P(ProjectorJournalProperty, KilledAnywhereEqualsTheInOrderFold) {
  std::mt19937_64 rng(GetParam());
  std::vector<Event> stream = ArrivalStream(rng, 12);
  LedgerConfig config;
  config.stale_after = 0;
  MemoryLedger reference(config);
  std::vector<MemoryLedger::Ingested> verdicts;
  for (const Event& e : stream) verdicts.push_back(reference.Ingest(e));

  testing::TempDir dir;
  int generation = 0;
  auto path = [&] { return dir.File("pm" + std::to_string(generation) + ".db"); };
  auto open = [&]() -> std::unique_ptr<Store> {
    auto opened = OpenStore("sqlite:" + path(), {.writer = true,
                                                 .program = "a test",
                                                 .append_journal = true});
    EXPECT_TRUE(opened.ok()) << (opened.ok() ? "" : opened.error().message);
    return opened.ok() ? std::move(*opened) : nullptr;
  };
  // A journal small enough that its segments take turns (and the appender
  // moves what the projector has not) in most seeds.
  if (GetParam() % 2 == 0) {
    ASSERT_TRUE(AppendJournal::Open(path() + "-appends", {.size = 32 * 1024}).ok());
  }
  std::unique_ptr<Store> store = open();
  ASSERT_NE(store, nullptr);
  auto make = [&] {
    return std::make_unique<Projector>(*store, *store, config,
                                       PictureRetention::kPrints, 2);
  };
  auto projector = make();
  ASSERT_TRUE(projector->Load().ok());
  auto pick = [&rng](int lo, int hi) {
    return static_cast<int>(std::uniform_int_distribution<int>(lo, hi)(rng));
  };
  int crashes = 0;
  size_t appended = 0;
  while (appended < stream.size()) {
    size_t n = std::min(stream.size() - appended,
                        static_cast<size_t>(pick(1, 12)));
    LogBatch batch;
    batch.decide_duplicates = true;
    for (size_t i = appended; i < appended + n; ++i) {
      EventRecord r;
      r.event = stream[i];
      r.event.id = 0;
      // A body of its own, so that the journal's records vary in size.
      r.request = StoredRequest{"POST", "/webhook", "application/json",
                                std::string(static_cast<size_t>(pick(2, 900)), 'x')};
      batch.events.push_back(std::move(r));
    }
    ASSERT_TRUE(store->Append(batch).ok());
    for (size_t i = 0; i < n; ++i) {
      ASSERT_EQ(batch.events[i].event.id, verdicts[appended + i].id);
      ASSERT_EQ(batch.events[i].duplicate, verdicts[appended + i].duplicate)
          << "event " << batch.events[i].event.id;
    }
    appended += n;
    switch (pick(0, 7)) {
      case 0: {  // killed: the files as they are, opened by the next writer
        const std::string from = path();
        ++generation;
        for (const char* suffix : {"", "-wal", "-appends"}) {
          std::error_code ec;
          std::filesystem::copy_file(from + suffix, path() + suffix, ec);
        }
        projector.reset();
        store.reset();
        store = open();
        ASSERT_NE(store, nullptr);
        projector = make();
        ASSERT_TRUE(projector->Load().ok());
        ++crashes;
        break;
      }
      case 1:
      case 2:  // the projector behind: nothing moved or folded
        break;
      default:
        ASSERT_TRUE(projector->Step(pick(1, 40)).ok());
    }
  }
  FoldToTheEnd(*projector, rng);
  RecordProperty("crashes", crashes);
  EXPECT_EQ(projector->position(), verdicts.back().id);
  ExpectTheInOrderFold(*store, reference, stream.size());
}

INSTANTIATE_TEST_SUITE_P(Seeds, ProjectorJournalProperty,
                         ::testing::Range<uint64_t>(1, 17));

// Late events in one step are folded with one re-fold of their printer.
TEST(ProjectorTest, LateEventsOfAStepAreFoldedWithOneRefoldPerPrinter) {
  testing::TempDir dir;
  std::unique_ptr<Store> store = testing::MustOpen(dir.File("pm.db"));
  ASSERT_NE(store, nullptr);
  LedgerConfig config;
  Projector projector(*store, *store, config);
  ASSERT_TRUE(projector.Load().ok());
  MemoryLedger reference(config);
  auto append = [&](Kind kind, TimeMs t) {
    AppendIngested(*store, reference, "delta", kind, t);
  };
  append(Kind::kStarted, kT0);
  append(Kind::kDone, kT0 + kHourMs);
  ASSERT_TRUE(projector.Step(100).ok());
  // Five progress events that all arrive after the end they precede.
  for (int i = 1; i <= 5; ++i) append(Kind::kProgress, kT0 + i * kMinuteMs);
  ASSERT_TRUE(projector.Step(100).ok());
  EXPECT_EQ(projector.stats().refolds, 1);
  EXPECT_EQ(SessionsById(*store), reference.Sessions());
  EXPECT_EQ(SessionsById(*store).at(0).event_count, 7);
}

// A projector that keeps one printer's state in memory folds and sweeps
// every printer all the same: the others' states are read back from the
// projection.
TEST(ProjectorTest, PrintersWhoseStatesAreNotInMemoryAreFoldedAndSwept) {
  testing::TempDir dir;
  auto store = testing::MustOpen(dir.File("pm.db"));
  ASSERT_NE(store, nullptr);
  LedgerConfig config;
  config.stale_after = 2 * kHourMs;
  Projector projector(*store, *store, config, PictureRetention::kPrints, 1);
  ASSERT_TRUE(projector.Load().ok());
  MemoryLedger reference(config);
  auto append = [&](const std::string& device, Kind kind, TimeMs t) {
    AppendIngested(*store, reference, device, kind, t);
  };
  for (const char* device : {"delta", "ender", "prusa"}) {
    append(device, Kind::kStarted, kT0);
    ASSERT_TRUE(projector.Step(100).ok());
  }
  EXPECT_EQ(projector.cached_states(), 1u);
  for (const char* device : {"delta", "ender", "prusa"}) {
    append(device, Kind::kProgress, kT0 + kMinuteMs);
    ASSERT_TRUE(projector.Step(100).ok());
  }
  // prusa's print ends; ender is heard from later.
  append("prusa", Kind::kDone, kT0 + kHourMs);
  append("ender", Kind::kProgress, kT0 + 3 * kHourMs);
  ASSERT_TRUE(projector.Step(100).ok());
  EXPECT_EQ(SessionsById(*store), reference.Sessions());
  auto states = store->LoadDeviceStates();
  ASSERT_TRUE(states.ok());
  EXPECT_EQ(*states, reference.States());

  // Three hours on, delta's print is the one gone quiet (ender's went on
  // an hour ago), whichever state is in memory.
  auto swept = projector.StaleSweeps(kT0 + 3 * kHourMs + kMinuteMs);
  ASSERT_TRUE(swept.ok()) << swept.error().message;
  ASSERT_EQ(swept->size(), 1u);
  EXPECT_EQ(swept->front().device, "delta");
  EXPECT_EQ(swept->front().kind, Kind::kSwept);
  // Later still, ender's too.
  swept = projector.StaleSweeps(kT0 + 6 * kHourMs);
  ASSERT_TRUE(swept.ok());
  ASSERT_EQ(swept->size(), 2u);
  EXPECT_EQ(swept->at(0).device, "delta");
  EXPECT_EQ(swept->at(1).device, "ender");
}

}  // namespace
}  // namespace pm

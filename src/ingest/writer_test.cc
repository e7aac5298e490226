// The ingest writer against the real SQLite store: group commit, auth,
// late events, the stale sweep, and a failing commit (503).
#include "ingest/writer.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "http/test_harness.h"
#include "ledger/replay.h"

namespace pm {
namespace {

using testing::AllEvents;
using testing::AllSessions;
using testing::MustOpen;
using testing::TempDir;

// A place a store call stops at while the test holds it (a slow disk, a
// long re-fold): Pass() waits there until Release().
class Gate {
 public:
  void Hold() {
    std::lock_guard lock(mu_);
    hold_ = true;
  }
  void Pass() {
    std::unique_lock lock(mu_);
    if (!hold_) return;
    held_ = true;
    cv_.notify_all();
    cv_.wait(lock, [this] { return !hold_; });
  }
  // Whether a call has stopped here, within `within`.
  bool WaitHeld(std::chrono::seconds within) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, within, [this] { return held_; });
  }
  void Release() {
    std::lock_guard lock(mu_);
    hold_ = false;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool hold_ = false;  // guarded by mu_
  bool held_ = false;  // guarded: a call has stopped here
};

// The log's face of the real store, with appends that fail on demand (a
// disk gone bad). The projection and the readers use the real store.
class FailingLog final : public LogStore {
 public:
  explicit FailingLog(Store& real) : real_(real) {}
  std::atomic<bool> fail_commits{false};
  std::atomic<int> commits{0};

  Result<int64_t> LastEventId() override { return real_.LastEventId(); }
  Result<RegistrationTally> Registrations(TimeMs since) override {
    return real_.Registrations(since);
  }
  Status Append(LogBatch& batch) override {
    if (fail_commits) return Unavailable("disk I/O error (injected)");
    ++commits;
    Status s = real_.Append(batch);
    // As a store whose appends reach the disk apart (PostgreSQL's).
    if (s.ok() && batch.flush_later && flushes_apart) batch.durable = false;
    return s;
  }
  void Prepare(StoredRequest& request) const override {
    real_.Prepare(request);
  }

  // Flush(): held at `flush_gate`, or failing, on demand.
  Gate flush_gate;
  std::atomic<bool> flushes_apart{false};
  std::atomic<bool> fail_flushes{false};
  std::atomic<bool> restarted{false};  // flushes answer another session
  std::atomic<int> flushes{0};
  Result<int64_t> Flush() override {
    flush_gate.Pass();
    ++flushes;
    if (fail_flushes) return Unavailable("the server closed the connection (injected)");
    Result<int64_t> session = real_.Flush();
    if (session.ok() && restarted) return *session + 1;  // another session
    return session;
  }

 private:
  Store& real_;
};

// The real store's projection face with commits that fail on demand.
class FailingProjection final : public ProjectionStore {
 public:
  explicit FailingProjection(Store& real) : real_(real) {}
  std::atomic<bool> fail{false};
  std::atomic<int> failures{0};

  Result<int64_t> ProjectedPosition() override { return real_.ProjectedPosition(); }
  Status SetSessionUser(int64_t id, const std::string& u) override {
    return real_.SetSessionUser(id, u);
  }
  Result<std::vector<LoggedEvent>> ReadLog(int64_t after, int limit) override {
    gate_.Pass();  // held: the projector is stuck here until Release()
    return real_.ReadLog(after, limit);
  }
  void Hold() { gate_.Hold(); }
  bool WaitHeld(std::chrono::seconds within) { return gate_.WaitHeld(within); }
  void Release() { gate_.Release(); }
  Result<std::vector<Event>> FoldableEvents(const std::string& d, std::optional<EventKey> a,
                                            int64_t up_to) override {
    return real_.FoldableEvents(d, a, up_to);
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
  Result<std::optional<Session>> LastIdleSessionBefore(const std::string& d, EventKey b) override {
    return real_.LastIdleSessionBefore(d, b);
  }
  Result<std::vector<KeptPicture>> KeptPictures(
      const std::string& device, const std::vector<int64_t>& sessions,
      int64_t up_to) override {
    return real_.KeptPictures(device, sessions, up_to);
  }
  Status CommitProjection(const ProjectionBatch& batch) override {
    if (fail) {
      ++failures;
      return Unavailable("disk I/O error (injected)");
    }
    return real_.CommitProjection(batch);
  }

 private:
  Store& real_;
  Gate gate_;
};

// An item as the receiver would hand it over.
IngestItem Item(const std::string& device, Kind kind, TimeMs time,
                std::optional<std::string> secret = std::nullopt) {
  IngestItem item;
  Event& e = item.decoded.event;
  e.device = device;
  e.kind = kind;
  e.topic = std::string(KindName(kind));
  e.time = time;
  e.has_current_time = true;
  e.received_at = time;
  e.file.path = "part.gcode";
  item.decoded.secret = std::move(secret);
  item.request = StoredRequest{"POST", "/webhook", "application/json", "{}"};
  return item;
}

class IngestTest : public ::testing::Test {
 protected:
  void Open(IngestOptions options = {}) {
    // The same database on every Open (a restart), SQLite or PostgreSQL.
    if (url_.empty()) url_ = testing::TestStoreUrl((dir_.path() / "pm.db").string());
    store_ = MustOpen(url_);
    ASSERT_NE(store_, nullptr);
    failing_ = std::make_unique<FailingLog>(*store_);
    options.sweep_interval = 0;
    writer_ = std::make_unique<IngestWriter>(
        IngestStores{*failing_, *store_, *store_}, options, clock_);
    Status s = writer_->Start();
    ASSERT_TRUE(s.ok()) << s.error().message;
  }
  void Close() {
    writer_.reset();
    failing_.reset();
    store_.reset();
  }

  // The ledger as of every answer given so far.
  std::vector<Session> Settled() {
    Status s = writer_->Settle();
    EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
    return AllSessions(*store_);
  }

  TempDir dir_;
  std::string url_;
  FakeClock clock_{1'722'000'000'000};
  std::unique_ptr<Store> store_;
  std::unique_ptr<FailingLog> failing_;
  std::unique_ptr<IngestWriter> writer_;
};

TEST_F(IngestTest, ConcurrentSubmissionsShareCommits) {
  Open();
  constexpr int kItems = 500;
  std::atomic<int> ok{0};
  std::promise<void> all_done;
  std::atomic<int> left{kItems};
  for (int i = 0; i < kItems; ++i) {
    writer_->Submit(Item("p" + std::to_string(i % 10), Kind::kProgress,
                         1'722'000'000'000 + i * 1000),
                    [&](Result<Verdict> v) {
                      if (v.ok()) ++ok;
                      if (--left == 0) all_done.set_value();
                    });
  }
  all_done.get_future().wait();
  EXPECT_EQ(ok, kItems);
  IngestStats stats = writer_->stats();
  EXPECT_EQ(stats.events, kItems);
  EXPECT_LT(stats.commits, kItems);
  EXPECT_EQ(stats.commits, failing_->commits);
  EXPECT_EQ(AllEvents(*store_).size(), static_cast<size_t>(kItems));
}

TEST_F(IngestTest, FailedCommitAnswers503StoresNothingAndRecovers) {
  Open();
  auto opened = writer_->Ingest(Item("delta", Kind::kStarted, 1'722'000'000'000));
  ASSERT_TRUE(opened.ok());
  failing_->fail_commits = true;
  auto lost = writer_->Ingest(Item("delta", Kind::kDone, 1'722'000'600'000));
  ASSERT_FALSE(lost.ok());
  EXPECT_EQ(lost.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(lost.error().message.find("not stored"), std::string::npos);
  // Also a device first heard during the failure is not half-registered.
  auto stranger = writer_->Ingest(Item("mk4", Kind::kStarted, 1'722'000'000'000, "a"));
  ASSERT_FALSE(stranger.ok());
  failing_->fail_commits = false;
  EXPECT_EQ(AllEvents(*store_).size(), 1u);
  auto sessions = Settled();
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_EQ(sessions[0].status, SessionStatus::kPrinting);
  // The writer's state was restored: the print is still open, and the
  // done that is sent again now closes it as if the failure never was.
  auto done = writer_->Ingest(Item("delta", Kind::kDone, 1'722'000'600'000));
  ASSERT_TRUE(done.ok()) << done.error().message;
  sessions = Settled();
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_EQ(sessions[0].status, SessionStatus::kCompleted);
  EXPECT_EQ(sessions[0].event_count, 2);
  // mk4 registers now with the secret it sends now.
  auto mk4 = writer_->Ingest(Item("mk4", Kind::kStarted, 1'722'000'000'000, "b"));
  EXPECT_TRUE(mk4.ok());
  auto mk4_wrong = writer_->Ingest(Item("mk4", Kind::kDone, 1'722'000'100'000, "a"));
  ASSERT_FALSE(mk4_wrong.ok());
  EXPECT_EQ(mk4_wrong.error().code, ErrorCode::kUnauthorized);
}

// On a store whose appends reach the disk apart (PostgreSQL's: committed,
// then flushed), an answer waits for the flush that follows its append.
TEST_F(IngestTest, OnAStoreThatFlushesApartAnAnswerWaitsForTheFlush) {
  Open();
  failing_->flushes_apart = true;
  failing_->flush_gate.Hold();
  std::promise<Result<Verdict>> answered;
  auto answer = answered.get_future();
  writer_->Submit(Item("delta", Kind::kStarted, 1'722'000'000'000),
                  [&](Result<Verdict> v) { answered.set_value(std::move(v)); });
  ASSERT_TRUE(failing_->flush_gate.WaitHeld(std::chrono::seconds(10)));
  // Appended (and in the log), but not on disk yet: no answer.
  EXPECT_EQ(AllEvents(*store_).size(), 1u);
  EXPECT_EQ(answer.wait_for(std::chrono::milliseconds(200)),
            std::future_status::timeout);
  failing_->flush_gate.Release();
  Result<Verdict> v = answer.get();
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ(v->event_id, 1);
  EXPECT_EQ(failing_->flushes, 1);
  // Many appends at once: each answered once flushed, never a flush
  // without an append to confirm.
  std::vector<std::future<Result<Verdict>>> many;
  for (int i = 0; i < 200; ++i) {
    auto p = std::make_shared<std::promise<Result<Verdict>>>();
    many.push_back(p->get_future());
    writer_->Submit(Item("p" + std::to_string(i % 7), Kind::kProgress,
                         1'722'000'001'000 + i),
                    [p](Result<Verdict> r) { p->set_value(std::move(r)); });
  }
  for (auto& f : many) EXPECT_TRUE(f.get().ok());
  EXPECT_LE(failing_->flushes.load(), writer_->stats().commits);
}

// A flush that fails answers 503 for what it was to confirm (the database
// may have lost it), and the writer reloads its state from the store.
TEST_F(IngestTest, AFailedFlushAnswers503AndTheWriterGoesOn) {
  Open();
  failing_->flushes_apart = true;
  failing_->fail_flushes = true;
  auto lost = writer_->Ingest(Item("mk4", Kind::kStarted, 1'722'000'000'000, "a"));
  ASSERT_FALSE(lost.ok());
  EXPECT_EQ(lost.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(lost.error().message.find("may not be stored"), std::string::npos);
  EXPECT_EQ(writer_->stats().failed_commits, 1);
  failing_->fail_flushes = false;
  // A flush of another session than the append's (the database restarted
  // in between) confirms nothing either.
  failing_->restarted = true;
  auto restarted = writer_->Ingest(Item("mk4", Kind::kStarted, 1'722'000'050'000, "a"));
  ASSERT_FALSE(restarted.ok());
  EXPECT_EQ(restarted.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(restarted.error().message.find("restarted"), std::string::npos);
  EXPECT_EQ(writer_->stats().failed_commits, 2);
  failing_->restarted = false;
  // Here the store did keep them (SQLite underneath): the registration holds.
  auto next = writer_->Ingest(Item("mk4", Kind::kDone, 1'722'000'100'000, "a"));
  ASSERT_TRUE(next.ok()) << next.error().message;
  auto wrong = writer_->Ingest(Item("mk4", Kind::kDone, 1'722'000'200'000, "b"));
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code, ErrorCode::kUnauthorized);
}

TEST_F(IngestTest, LateEventRefoldsToTheInOrderLedger) {
  Open();
  const TimeMs t0 = 1'722'000'000'000;
  // Arrival order: start, done, then the pause and resume that came late.
  std::vector<IngestItem> arrivals;
  arrivals.push_back(Item("delta", Kind::kStarted, t0));
  arrivals.push_back(Item("delta", Kind::kDone, t0 + 3'600'000));
  arrivals.push_back(Item("delta", Kind::kPaused, t0 + 600'000));
  arrivals.push_back(Item("delta", Kind::kResumed, t0 + 900'000));
  arrivals.push_back(Item("delta", Kind::kStarted, t0 + 7'200'000));
  arrivals.push_back(Item("delta", Kind::kProgress, t0 - 60'000));  // before all
  MemoryLedger reference;
  for (IngestItem& item : arrivals) {
    Event e = item.decoded.event;
    auto v = writer_->Ingest(std::move(item));
    ASSERT_TRUE(v.ok()) << v.error().message;
    e.id = v->event_id;
    reference.Ingest(e);
    // Folded one at a time: each late one re-folds the device.
    ASSERT_TRUE(writer_->Settle().ok());
  }
  auto sessions = Settled();
  std::sort(sessions.begin(), sessions.end(),
            [](const Session& a, const Session& b) { return a.id < b.id; });
  EXPECT_EQ(sessions, reference.Sessions());
  EXPECT_GE(writer_->stats().refolds, 3);
  // A restart reads back the same state the reference holds.
  Close();
  Open();
  auto states = store_->LoadDeviceStates();
  ASSERT_TRUE(states.ok());
  ASSERT_EQ(states->size(), 1u);
  EXPECT_EQ((*states)[0], *reference.State("delta"));
}

TEST_F(IngestTest, LateEventInTheSameBatchAsEarlierOnes) {
  Open();
  const TimeMs t0 = 1'722'000'000'000;
  // Submitted without waiting: they share batches, and the late one must
  // see the earlier ones of its batch.
  std::vector<std::future<Result<Verdict>>> verdicts;
  std::vector<Event> sent;
  for (auto [kind, dt] : std::vector<std::pair<Kind, TimeMs>>{
           {Kind::kStarted, 0}, {Kind::kDone, 3'600'000},
           {Kind::kPaused, 600'000}, {Kind::kResumed, 700'000},
           {Kind::kStarted, 4'000'000}, {Kind::kProgress, 100'000}}) {
    IngestItem item = Item("delta", kind, t0 + dt);
    sent.push_back(item.decoded.event);
    auto promise = std::make_shared<std::promise<Result<Verdict>>>();
    verdicts.push_back(promise->get_future());
    writer_->Submit(std::move(item), [promise](Result<Verdict> v) {
      promise->set_value(std::move(v));
    });
  }
  MemoryLedger reference;
  for (size_t i = 0; i < sent.size(); ++i) {
    auto v = verdicts[i].get();
    ASSERT_TRUE(v.ok()) << v.error().message;
    sent[i].id = v->event_id;
  }
  std::sort(sent.begin(), sent.end(),
            [](const Event& a, const Event& b) { return a.id < b.id; });
  for (const Event& e : sent) reference.Ingest(e);
  auto sessions = Settled();
  std::sort(sessions.begin(), sessions.end(),
            [](const Session& a, const Session& b) { return a.id < b.id; });
  EXPECT_EQ(sessions, reference.Sessions());
}

TEST_F(IngestTest, TestAndDuplicateEventsAreStoredNotFolded) {
  Open();
  IngestItem test = Item("delta", Kind::kStarted, 1'722'000'000'000);
  test.decoded.event.test = true;
  auto t = writer_->Ingest(std::move(test));
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t->test);
  auto first = writer_->Ingest(Item("delta", Kind::kStarted, 1'722'000'100'000));
  auto again = writer_->Ingest(Item("delta", Kind::kStarted, 1'722'000'100'000));
  ASSERT_TRUE(first.ok() && again.ok());
  EXPECT_FALSE(first->duplicate);
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(AllEvents(*store_).size(), 3u);
  auto sessions = Settled();
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_EQ(sessions[0].id, first->event_id);
  EXPECT_EQ(sessions[0].event_count, 1);
}

TEST_F(IngestTest, StaleSweepClosesAnOldPrintAndARestartDoesNot) {
  IngestOptions options;
  options.ledger.stale_after = 48 * kHourMs;
  Open(options);
  const TimeMs t0 = clock_.Now();
  ASSERT_TRUE(writer_->Ingest(Item("delta", Kind::kStarted, t0)).ok());
  // A restart within the window closes nothing.
  Close();
  clock_.Set(t0 + 47 * kHourMs);
  Open(options);
  EXPECT_TRUE(IsOpen(Settled()[0].status));
  // Past the window, the sweep closes it as interrupted, and stores why.
  clock_.Set(t0 + 49 * kHourMs);
  auto swept = writer_->Sweep();
  ASSERT_TRUE(swept.ok());
  EXPECT_EQ(*swept, 1);
  auto sessions = Settled();
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_EQ(sessions[0].status, SessionStatus::kInterrupted);
  auto events = AllEvents(*store_);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].event.kind, Kind::kSwept);
  EXPECT_FALSE(events[1].request.has_value());
  EXPECT_EQ(events[1].event.time, t0 + 48 * kHourMs);
  // Nothing more to sweep.
  auto again = writer_->Sweep();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 0);
}

TEST_F(IngestTest, ConfiguredSecretWinsOverRegisteredOne) {
  IngestOptions tofu;
  Open(tofu);
  ASSERT_TRUE(writer_->Ingest(Item("delta", Kind::kStarted, 1'722'000'000'000, "old")).ok());
  Close();
  tofu.devices["delta"] = "new";
  Open(tofu);
  auto old_secret = writer_->Ingest(Item("delta", Kind::kDone, 1'722'000'100'000, "old"));
  ASSERT_FALSE(old_secret.ok());
  EXPECT_EQ(old_secret.error().code, ErrorCode::kUnauthorized);
  EXPECT_TRUE(writer_->Ingest(Item("delta", Kind::kDone, 1'722'000'100'000, "new")).ok());
}

// The writer keeps two printers' registrations in memory here: the others'
// secrets still decide, read back from the database, and the cap counts
// every registered printer, before and after a restart.
TEST_F(IngestTest, RegistrationsNotInMemoryStillDecide) {
  IngestOptions tofu;
  tofu.cached_devices = 2;
  tofu.registrations.max_devices = 5;
  Open(tofu);
  const TimeMs t = 1'722'000'000'000;
  for (int i = 0; i < 5; ++i) {
    auto r = writer_->Ingest(Item(fmt::format("p{}", i), Kind::kStarted, t + i,
                                  fmt::format("s{}", i)));
    ASSERT_TRUE(r.ok()) << r.error().message;
  }
  auto wrong = writer_->Ingest(Item("p0", Kind::kProgress, t + 100, "s1"));
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code, ErrorCode::kUnauthorized);
  EXPECT_TRUE(writer_->Ingest(Item("p0", Kind::kProgress, t + 101, "s0")).ok());
  auto sixth = writer_->Ingest(Item("p5", Kind::kStarted, t + 102, "s5"));
  ASSERT_FALSE(sixth.ok());
  EXPECT_EQ(sixth.error().code, ErrorCode::kForbidden) << sixth.error().message;

  Close();
  Open(tofu);
  sixth = writer_->Ingest(Item("p5", Kind::kStarted, t + 200, "s5"));
  ASSERT_FALSE(sixth.ok());
  EXPECT_EQ(sixth.error().code, ErrorCode::kForbidden);
  wrong = writer_->Ingest(Item("p3", Kind::kProgress, t + 201, "s0"));
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code, ErrorCode::kUnauthorized);
  for (int i = 0; i < 5; ++i) {
    auto r = writer_->Ingest(Item(fmt::format("p{}", i), Kind::kDone,
                                  t + 300 + i, fmt::format("s{}", i)));
    EXPECT_TRUE(r.ok()) << i << ": " << r.error().message;
  }
  auto devices = store_->LoadDevices();
  ASSERT_TRUE(devices.ok());
  ASSERT_EQ(devices->size(), 5u);
  EXPECT_EQ(devices->front().first_seen, t);  // the first contact's
  EXPECT_EQ(devices->front().secret, "s0");
}

TEST_F(IngestTest, OpenModeIgnoresSecrets) {
  IngestOptions open;
  open.auth = AuthMode::kOpen;
  Open(open);
  EXPECT_TRUE(writer_->Ingest(Item("delta", Kind::kStarted, 1'722'000'000'000, "a")).ok());
  EXPECT_TRUE(writer_->Ingest(Item("delta", Kind::kDone, 1'722'000'100'000, "b")).ok());
}

// The answer waits for the log only: with the projector held back, an
// acknowledged event is in the log and the ledger trails it until the
// projector runs.
TEST_F(IngestTest, TheAnswerWaitsForTheLogNotTheLedger) {
  IngestOptions lazy;
  lazy.projection_delay = kHourMs;
  lazy.projection_backlog = 1'000'000;
  Open(lazy);
  const TimeMs t0 = 1'722'000'000'000;
  auto v = writer_->Ingest(Item("delta", Kind::kStarted, t0));
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ(AllEvents(*store_).size(), 1u);
  EXPECT_TRUE(AllSessions(*store_).empty());
  auto lag = store_->Lag();
  ASSERT_TRUE(lag.ok());
  EXPECT_EQ(lag->events(), 1);
  EXPECT_EQ(lag->oldest_unprojected, t0);
  auto sessions = Settled();
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_EQ(sessions[0].id, v->event_id);
  lag = store_->Lag();
  ASSERT_TRUE(lag.ok());
  EXPECT_EQ(lag->events(), 0);
  EXPECT_FALSE(lag->oldest_unprojected.has_value());
  EXPECT_EQ(writer_->stats().projected, v->event_id);
}

// Events in the log but not in the ledger, as a crash between an append and
// its projection leaves them, are folded when the writer starts again.
TEST_F(IngestTest, ARestartFoldsWhatTheLogHoldsBeyondTheLedger) {
  const TimeMs t0 = 1'722'000'000'000;
  Open();
  ASSERT_TRUE(writer_->Ingest(Item("delta", Kind::kStarted, t0)).ok());
  Close();
  // Appended behind the projector's back, as a crash would leave it.
  store_ = MustOpen(url_);
  LogBatch batch;
  EventRecord done;
  done.event = Item("delta", Kind::kDone, t0 + kHourMs).decoded.event;
  done.event.id = *store_->AllocateEventIds(1);
  done.request = StoredRequest{"POST", "/webhook", "application/json", "{}"};
  batch.events.push_back(done);
  ASSERT_TRUE(store_->Append(batch).ok());
  store_.reset();
  Open();
  auto sessions = Settled();
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_EQ(sessions[0].status, SessionStatus::kCompleted);
}

// A ledger that cannot be written does not cost an answer: the webhooks are
// stored and acknowledged, the ledger trails, and it catches up by itself
// once it can be written again.
// The projector folds on a thread of its own: while it is stuck in a fold
// (here: reading the log), other printers' webhooks are still appended and
// answered (issue: one printer's late events re-folding a long print must
// not delay another printer's answer).
TEST_F(IngestTest, AnswersGoOnWhileTheProjectorIsStuckInAFold) {
  store_ = MustOpen(testing::TestStoreUrl((dir_.path() / "pm.db").string()));
  ASSERT_NE(store_, nullptr);
  FailingProjection projection(*store_);
  projection.Hold();
  IngestOptions options;
  options.sweep_interval = 0;
  options.projection_delay = 0;
  writer_ = std::make_unique<IngestWriter>(
      IngestStores{*store_, projection, *store_}, options, clock_);
  struct StopFirst {
    std::unique_ptr<IngestWriter>& writer;
    FailingProjection& projection;
    ~StopFirst() {
      projection.Release();
      writer.reset();
    }
  } stop_first{writer_, projection};
  ASSERT_TRUE(writer_->Start().ok());
  const TimeMs t0 = 1'722'000'000'000;
  ASSERT_TRUE(writer_->Ingest(Item("delta", Kind::kStarted, t0)).ok());
  ASSERT_TRUE(projection.WaitHeld(std::chrono::seconds(10)))
      << "the projector never started folding";
  // Answered while the projector is stuck: appends do not wait for it.
  std::vector<std::future<Result<Verdict>>> answers;
  for (int i = 0; i < 20; ++i) {
    answers.push_back(std::async(std::launch::async, [&, i] {
      return writer_->Ingest(
          Item("printer-" + std::to_string(i), Kind::kStarted, t0 + i));
    }));
  }
  for (auto& answer : answers) {
    ASSERT_EQ(answer.wait_for(std::chrono::seconds(10)),
              std::future_status::ready)
        << "an append waited for the stuck projector";
    EXPECT_TRUE(answer.get().ok());
  }
  EXPECT_EQ(AllEvents(*store_).size(), 21u);
  EXPECT_TRUE(AllSessions(*store_).empty());  // nothing folded yet
  projection.Release();
  ASSERT_TRUE(writer_->Settle().ok());
  EXPECT_EQ(AllSessions(*store_).size(), 21u);
}

TEST_F(IngestTest, AFailingProjectionDelaysTheLedgerNotTheAnswers) {
  url_ = testing::TestStoreUrl((dir_.path() / "pm.db").string());
  store_ = MustOpen(url_);
  ASSERT_NE(store_, nullptr);
  FailingProjection projection(*store_);
  projection.fail = true;
  IngestOptions options;
  options.sweep_interval = 0;
  options.projection_delay = 10;
  writer_ = std::make_unique<IngestWriter>(
      IngestStores{*store_, projection, *store_}, options, clock_);
  // The writer stops before `projection` goes, however the test ends.
  struct StopFirst {
    std::unique_ptr<IngestWriter>& writer;
    ~StopFirst() { writer.reset(); }
  } stop_first{writer_};
  ASSERT_TRUE(writer_->Start().ok());
  const TimeMs t0 = 1'722'000'000'000;
  ASSERT_TRUE(writer_->Ingest(Item("delta", Kind::kStarted, t0)).ok());
  ASSERT_TRUE(writer_->Ingest(Item("delta", Kind::kDone, t0 + kHourMs)).ok());
  Status settled = writer_->Settle();
  ASSERT_FALSE(settled.ok());
  EXPECT_EQ(settled.error().code, ErrorCode::kUnavailable);
  EXPECT_GT(projection.failures, 0);
  EXPECT_TRUE(AllSessions(*store_).empty());
  EXPECT_EQ(AllEvents(*store_).size(), 2u);
  projection.fail = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (store_->Lag()->events() > 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  auto sessions = AllSessions(*store_);
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_EQ(sessions[0].status, SessionStatus::kCompleted);
}

TEST_F(IngestTest, AttributionGoesThroughTheWriter) {
  Open();
  auto v = writer_->Ingest(Item("delta", Kind::kStarted, 1'722'000'000'000));
  ASSERT_TRUE(v.ok());
  // The session exists for attribution as soon as the answer was given.
  ASSERT_TRUE(writer_->Attribute(v->event_id, "alice").ok());
  auto session = store_->GetSession(v->event_id);
  ASSERT_TRUE(session.ok() && session->has_value());
  EXPECT_EQ((*session)->user, "alice");
  Status unknown = writer_->Attribute(424242, "bob");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, ErrorCode::kNotFound);
}

TEST_F(IngestTest, StopAnswersLaterSubmissionsUnavailable) {
  Open();
  writer_->Stop();
  auto v = writer_->Ingest(Item("delta", Kind::kStarted, 1'722'000'000'000));
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().code, ErrorCode::kUnavailable);
  EXPECT_TRUE(AllEvents(*store_).empty());
}

// The names `top -H` and /proc/PID/task/*/comm show (common/thread_name.h).
std::multiset<std::string> ThreadNames() {
  std::multiset<std::string> names;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    std::getline(comm, name);
    names.insert(name);
  }
  return names;
}

TEST_F(IngestTest, TheAppenderAndTheProjectorRunOnNamedThreads) {
  std::multiset<std::string> before = ThreadNames();
  Open();
  // Each thread names itself once it runs: a moment after Start().
  std::multiset<std::string> running = ThreadNames();
  auto named = [&] {
    return running.count("pm-append") == before.count("pm-append") + 1 &&
           running.count("pm-project") == before.count("pm-project") + 1;
  };
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!named() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    running = ThreadNames();
  }
  EXPECT_EQ(running.count("pm-append"), before.count("pm-append") + 1);
  EXPECT_EQ(running.count("pm-project"), before.count("pm-project") + 1);
  Close();
  std::multiset<std::string> after = ThreadNames();
  EXPECT_EQ(after.count("pm-append"), before.count("pm-append"));
}

}  // namespace
}  // namespace pm

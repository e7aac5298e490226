// The Forwarder against a real SQLite file and a real HTTP receiver on
// loopback that accepts, fails and stalls (test_receiver.h).
#include "forward/forwarder.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <map>
#include <set>

#include "forward/test_receiver.h"
#include "maintenance/fleet.h"
#include "store/pg_test_cluster.h"
#include "store/store_test_util.h"
#include "store/write_batch.h"

namespace pm {
namespace {

using std::chrono::milliseconds;
using ::testing::HasSubstr;
using testing::Hmac;
using testing::ReceivedRequest;
using testing::TestReceiver;

constexpr TimeMs kT0 = 1718000000000;  // 2024-06-10

// A clock the test moves while the forwarder's threads read it.
class TestClock final : public Clock {
 public:
  explicit TestClock(TimeMs now) : now_(now) {}
  TimeMs Now() const override { return now_.load(); }
  void Advance(TimeMs d) { now_ += d; }

 private:
  std::atomic<TimeMs> now_;
};

class ForwarderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = testing::MustOpen(dir_.File("pm.db"));
    ASSERT_NE(store_, nullptr);
  }

  ForwardOptions Options(ForwardTarget target) {
    ForwardOptions o;
    if (target.name.empty()) target.name = "hook";
    if (target.url.empty()) target.url = receiver_.url();
    o.targets.push_back(std::move(target));
    o.first_retry = milliseconds(1000);
    o.max_retry = milliseconds(8000);
    o.paused_retry = milliseconds(60000);
    o.poll_interval = milliseconds(20);
    o.page_size = 4;
    return o;
  }
  std::unique_ptr<Forwarder> StartForwarder(ForwardTarget target,
                                            const Clock& clock) {
    auto f = std::make_unique<Forwarder>(*store_, *store_,
                                         Options(std::move(target)), clock);
    Status s = f->Start();
    EXPECT_TRUE(s.ok()) << s.error().message;
    return f;
  }
  // Appends one request-carrying event per (device, kind); returns ids.
  std::vector<int64_t> Append(
      const std::vector<std::pair<std::string, Kind>>& events) {
    LogBatch batch;
    for (const auto& [device, kind] : events) {
      EventRecord r =
          testing::Record(testing::BareEvent(0, device, kind, kT0 + next_++));
      r.event.topic = kind == Kind::kDone ? "Print Done" : "Print Started";
      r.request->body = fmt::format(R"({{"deviceIdentifier":"{}","n":{}}})",
                                    device, next_);
      batch.events.push_back(std::move(r));
    }
    Status s = store_->Append(batch);
    EXPECT_TRUE(s.ok()) << s.error().message;
    std::vector<int64_t> ids;
    for (const EventRecord& r : batch.events) ids.push_back(r.event.id);
    return ids;
  }
  // Waits (on the real clock, as a deadline only) until `pred` holds.
  template <typename Pred>
  bool Eventually(Pred pred, milliseconds timeout = milliseconds(20000)) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      if (pred()) return true;
      std::this_thread::sleep_for(milliseconds(5));
    }
    return pred();
  }
  ForwardTargetStatus StatusOf(const Forwarder& f) { return f.Targets().at(0); }
  // A print of `hours` by printer "delta" from `start`, as its session.
  void CommitPrint(int64_t id, TimeMs start, double hours) {
    WriteBatch batch;
    batch.devices = {{"delta", std::nullopt, kT0, start}};
    batch.sessions = {testing::BareSession(
        id, "delta", start, start + static_cast<TimeMs>(hours * kHourMs))};
    Status s = CommitBatch(*store_, batch);
    ASSERT_TRUE(s.ok()) << s.error().message;
  }
  bool Caught(const Forwarder& f, int64_t id) {
    ForwardTargetStatus s = StatusOf(f);
    return s.position >= id && s.state == ForwardState::kIdle;
  }
  static int64_t IdOf(const ReceivedRequest& r) {
    return std::stoll(r.header("x-printmeter-event"));
  }

  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
  TestReceiver receiver_;
  TestClock clock_{kT0};
  int next_ = 0;
};

// Every event arrives, in id order (so in order per printer), as received,
// with its id twice and a signature over the timestamp and the body.
TEST_F(ForwarderTest, DeliversEveryEventInOrderSignedAndAsReceived) {
  ForwardTarget t;
  t.secret = "s3cret";
  auto f = StartForwarder(t, clock_);
  ASSERT_TRUE(Eventually([&] { return StatusOf(*f).state ==
                                       ForwardState::kIdle; }));
  std::vector<int64_t> ids = Append({{"delta", Kind::kStarted},
                                     {"echo", Kind::kStarted},
                                     {"delta", Kind::kDone}});
  std::vector<int64_t> more = Append({{"echo", Kind::kDone},
                                      {"delta", Kind::kStarted},
                                      {"echo", Kind::kStarted}});
  ids.insert(ids.end(), more.begin(), more.end());
  f->Wake();
  ASSERT_TRUE(receiver_.WaitFor(ids.size()));
  ASSERT_TRUE(Eventually([&] { return Caught(*f, ids.back()); }));

  std::vector<ReceivedRequest> got = receiver_.requests();
  ASSERT_EQ(got.size(), ids.size());
  for (size_t i = 0; i < got.size(); ++i) {
    const ReceivedRequest& r = got[i];
    EXPECT_EQ(IdOf(r), ids[i]);
    EXPECT_EQ(r.header("idempotency-key"), std::to_string(ids[i]));
    EXPECT_EQ(r.target, "/hook");
    EXPECT_EQ(r.header("content-type"), "application/json");
    EXPECT_THAT(r.body, HasSubstr(r.header("x-printmeter-device")));
    EXPECT_EQ(r.header("x-printmeter-timestamp"),
              std::to_string(kT0 / 1000));
    EXPECT_EQ(r.header("x-printmeter-signature"),
              "sha256=" + Hmac("s3cret", r.header("x-printmeter-timestamp") +
                                             "." + r.body));
  }
  ForwardTargetStatus s = StatusOf(*f);
  EXPECT_EQ(s.delivered, static_cast<int64_t>(ids.size()));
  EXPECT_EQ(s.failed, 0);
  EXPECT_EQ(s.backlog(), 0);
  auto stored = store_->ForwardPositions();
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->at("hook"), ids.back());
}

// A target new to the database starts at the log's end: no history.
TEST_F(ForwarderTest, ANewTargetStartsAtTheEndOfTheLog) {
  std::vector<int64_t> old = Append({{"delta", Kind::kStarted},
                                     {"delta", Kind::kDone}});
  auto f = StartForwarder({}, clock_);
  ASSERT_TRUE(Eventually([&] { return Caught(*f, old.back()); }));
  std::vector<int64_t> fresh = Append({{"delta", Kind::kStarted}});
  f->Wake();
  ASSERT_TRUE(receiver_.WaitFor(1));
  ASSERT_TRUE(Eventually([&] { return Caught(*f, fresh.back()); }));
  std::vector<ReceivedRequest> got = receiver_.requests();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(IdOf(got[0]), fresh[0]);
}

// `events` names kinds, topics or OctoPrint's event names; `devices` the
// printers. What is not wanted is passed over, its position saved.
TEST_F(ForwarderTest, OnlyTheListedEventsAndPrintersAreDelivered) {
  ForwardTarget t;
  t.events = {"PrintDone"};
  t.devices = {"delta"};
  auto f = StartForwarder(t, clock_);
  ASSERT_TRUE(Eventually([&] { return StatusOf(*f).state ==
                                       ForwardState::kIdle; }));
  std::vector<int64_t> ids = Append({{"delta", Kind::kStarted},
                                     {"delta", Kind::kDone},
                                     {"echo", Kind::kDone},
                                     {"echo", Kind::kStarted}});
  f->Wake();
  ASSERT_TRUE(Eventually([&] { return Caught(*f, ids.back()); }));
  std::vector<ReceivedRequest> got = receiver_.requests();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(IdOf(got[0]), ids[1]);
  EXPECT_EQ(store_->ForwardPositions()->at("hook"), ids.back());
}

// A target answering 500 gets the same event again after 1 s, 2 s, 4 s
// (the fake clock's), nothing in between; once it recovers, everything.
TEST_F(ForwarderTest, AFailingTargetIsRetriedWithBackoffUntilItRecovers) {
  receiver_.set_mode(TestReceiver::Mode::kFail);
  auto f = StartForwarder({}, clock_);
  ASSERT_TRUE(Eventually([&] { return StatusOf(*f).state ==
                                       ForwardState::kIdle; }));
  std::vector<int64_t> ids = Append({{"delta", Kind::kStarted},
                                     {"echo", Kind::kStarted},
                                     {"delta", Kind::kDone}});
  f->Wake();
  ASSERT_TRUE(receiver_.WaitFor(1));
  ASSERT_TRUE(Eventually([&] { return StatusOf(*f).failed == 1; }));
  ForwardTargetStatus s = StatusOf(*f);
  EXPECT_EQ(s.state, ForwardState::kRetrying);
  EXPECT_EQ(s.next_attempt, kT0 + 1000);
  EXPECT_EQ(s.last_error, "answered HTTP 500");
  EXPECT_EQ(s.backlog(), 3);

  // Before its time, no attempt (the threads poll every 20 ms meanwhile).
  clock_.Advance(999);
  std::this_thread::sleep_for(milliseconds(150));
  EXPECT_EQ(receiver_.requests().size(), 1u);
  clock_.Advance(1);
  ASSERT_TRUE(Eventually([&] { return StatusOf(*f).failed == 2; }));
  EXPECT_EQ(StatusOf(*f).next_attempt, kT0 + 1000 + 2000);
  clock_.Advance(2000);
  ASSERT_TRUE(Eventually([&] { return StatusOf(*f).failed == 3; }));
  EXPECT_EQ(StatusOf(*f).next_attempt, kT0 + 3000 + 4000);

  receiver_.set_mode(TestReceiver::Mode::kAccept);
  clock_.Advance(4000);
  ASSERT_TRUE(Eventually([&] { return Caught(*f, ids.back()); }));
  std::vector<ReceivedRequest> got = receiver_.requests();
  ASSERT_EQ(got.size(), 3u + ids.size());
  for (int i = 0; i < 4; ++i) EXPECT_EQ(IdOf(got[i]), ids[0]);  // same id
  EXPECT_EQ(IdOf(got[4]), ids[1]);
  EXPECT_EQ(IdOf(got[5]), ids[2]);
  s = StatusOf(*f);
  EXPECT_EQ(s.delivered, 3);
  EXPECT_EQ(s.failed, 3);
  EXPECT_FALSE(s.next_attempt.has_value());
}

// A receiver that never answers is given up after the target's timeout,
// and retried; the event arrives once it answers again.
TEST_F(ForwarderTest, AStalledTargetTimesOutAndGetsTheEventLater) {
  receiver_.set_mode(TestReceiver::Mode::kStall);
  ForwardTarget t;
  t.timeout = milliseconds(200);
  auto f = StartForwarder(t, clock_);
  ASSERT_TRUE(Eventually([&] { return StatusOf(*f).state ==
                                       ForwardState::kIdle; }));
  std::vector<int64_t> ids = Append({{"delta", Kind::kStarted}});
  f->Wake();
  ASSERT_TRUE(Eventually([&] { return StatusOf(*f).failed == 1; }));
  EXPECT_THAT(StatusOf(*f).last_error, HasSubstr("no answer in time"));
  receiver_.set_mode(TestReceiver::Mode::kAccept);
  clock_.Advance(1000);
  ASSERT_TRUE(Eventually([&] { return Caught(*f, ids.back()); }));
  std::vector<ReceivedRequest> got = receiver_.requests();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(IdOf(got[0]), IdOf(got[1]));
}

// Failing for longer than pause_after: paused, tried every paused_retry,
// and delivering again by itself after the first success.
TEST_F(ForwarderTest, ATargetFailingLongIsPausedAndResumesByItself) {
  receiver_.set_mode(TestReceiver::Mode::kFail);
  ForwardTarget t;
  t.pause_after = milliseconds(10000);
  auto f = StartForwarder(t, clock_);
  ASSERT_TRUE(Eventually([&] { return StatusOf(*f).state ==
                                       ForwardState::kIdle; }));
  std::vector<int64_t> ids = Append({{"delta", Kind::kStarted}});
  f->Wake();
  // Attempts at +0, +1, +3, +7, +15 s: the last is past pause_after.
  int attempts = 1;
  for (TimeMs step : {1000, 2000, 4000, 8000}) {
    ASSERT_TRUE(Eventually([&] { return StatusOf(*f).failed == attempts; }));
    EXPECT_EQ(StatusOf(*f).state, ForwardState::kRetrying);
    clock_.Advance(step);
    ++attempts;
  }
  ASSERT_TRUE(Eventually([&] { return StatusOf(*f).failed == attempts; }));
  ForwardTargetStatus s = StatusOf(*f);
  EXPECT_EQ(s.state, ForwardState::kPaused);
  EXPECT_EQ(s.failing_since, kT0);
  EXPECT_EQ(s.next_attempt, kT0 + 15000 + 60000);

  receiver_.set_mode(TestReceiver::Mode::kAccept);
  clock_.Advance(60000);
  ASSERT_TRUE(Eventually([&] { return Caught(*f, ids.back()); }));
  EXPECT_EQ(receiver_.accepted().size(), 1u);
  EXPECT_FALSE(StatusOf(*f).failing_since.has_value());
}

// A forwarder stopped with a delivery in flight (as by a crash) and started
// again on the same database: nothing lost, and the only event delivered
// twice is the one that was in flight.
TEST_F(ForwarderTest, ARestartResumesFromTheStoredPosition) {
  auto f = StartForwarder({}, clock_);
  ASSERT_TRUE(Eventually([&] { return StatusOf(*f).state ==
                                       ForwardState::kIdle; }));
  std::vector<int64_t> ids = Append({{"delta", Kind::kStarted},
                                     {"echo", Kind::kStarted}});
  f->Wake();
  ASSERT_TRUE(Eventually([&] { return Caught(*f, ids.back()); }));
  receiver_.set_mode(TestReceiver::Mode::kStall);
  std::vector<int64_t> later = Append({{"delta", Kind::kDone},
                                       {"echo", Kind::kDone},
                                       {"delta", Kind::kStarted}});
  f->Wake();
  ASSERT_TRUE(receiver_.WaitFor(3));  // the first of `later`, unanswered
  f.reset();                          // cancels it
  store_.reset();

  store_ = testing::MustOpen(dir_.File("pm.db"));
  receiver_.set_mode(TestReceiver::Mode::kAccept);
  f = StartForwarder({}, clock_);
  ASSERT_TRUE(Eventually([&] { return Caught(*f, later.back()); }));
  std::vector<int64_t> seen;
  for (const ReceivedRequest& r : receiver_.requests()) seen.push_back(IdOf(r));
  std::vector<int64_t> expected = ids;
  expected.push_back(later[0]);  // in flight when stopped: again
  expected.insert(expected.end(), later.begin(), later.end());
  EXPECT_EQ(seen, expected);
}

// body = "printmeter": the event as the API renders it and its session.
TEST_F(ForwarderTest, PrintmeterBodyCarriesTheEventAndItsSession) {
  ForwardTarget t;
  t.body = ForwardBody::kPrintmeter;
  auto f = StartForwarder(t, clock_);
  ASSERT_TRUE(Eventually([&] { return StatusOf(*f).state ==
                                       ForwardState::kIdle; }));
  std::vector<int64_t> ids = Append({{"delta", Kind::kStarted}});
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_TRUE(receiver_.requests().empty());  // not projected yet
  ProjectionBatch p;
  Session s = testing::BareSession(ids[0], "delta", kT0, std::nullopt);
  s.file.name = "cube.gcode";
  p.sessions = {s};
  p.event_sessions = {{ids[0], ids[0]}};
  p.position = ids[0];
  ASSERT_TRUE(store_->CommitProjection(p).ok());
  f->Wake();
  ASSERT_TRUE(receiver_.WaitFor(1));
  ReceivedRequest got = receiver_.requests().at(0);
  EXPECT_EQ(got.header("content-type"), "application/json");
  EXPECT_THAT(got.body, HasSubstr(fmt::format(R"("id":{})", ids[0])));
  EXPECT_THAT(got.body, HasSubstr(R"("device":"delta")"));
  EXPECT_THAT(got.body, HasSubstr(R"("status":"printing")"));
  EXPECT_THAT(got.body, HasSubstr(R"("file":"cube.gcode")"));
}

// The README's receiver check (docs/verify_signature.py, shown verbatim in
// the README), run by python3 against a delivered request: it accepts it,
// and refuses it with one byte of the body changed.
TEST_F(ForwarderTest, TheReadmesSignatureCheckAcceptsADelivery) {
  const std::string script =
      std::string(PM_SOURCE_DIR) + "/docs/verify_signature.py";
  std::ifstream readme(std::string(PM_SOURCE_DIR) + "/README.md");
  std::string text((std::istreambuf_iterator<char>(readme)), {});
  std::ifstream file(script);
  std::string snippet((std::istreambuf_iterator<char>(file)), {});
  ASSERT_FALSE(snippet.empty());
  EXPECT_THAT(text, HasSubstr(snippet)) << "README shows another check";

  SystemClock clock;
  ForwardTarget t;
  t.secret = "kitchen-sink";
  auto f = StartForwarder(t, clock);
  ASSERT_TRUE(Eventually([&] { return StatusOf(*f).state ==
                                       ForwardState::kIdle; }));
  Append({{"delta", Kind::kDone}});
  f->Wake();
  ASSERT_TRUE(receiver_.WaitFor(1));
  ReceivedRequest got = receiver_.requests().at(0);
  auto check = [&](const std::string& body) {
    std::string path = dir_.File("body");
    std::ofstream(path, std::ios::binary) << body;
    std::string cmd = fmt::format(
        "python3 {} kitchen-sink {} {} {}", script,
        got.header("x-printmeter-timestamp"),
        got.header("x-printmeter-signature"), path);
    return std::system(cmd.c_str());
  };
  EXPECT_EQ(check(got.body), 0);
  std::string changed = got.body;
  changed[1] ^= 1;
  EXPECT_NE(check(changed), 0);
}

// https: a receiver whose CA the target does not trust fails with the
// reason as the target's last error (GET /api/v1/forwarding); the same
// target with ca_file naming that CA delivers, signed.
TEST_F(ForwarderTest, AnHttpsTargetIsVerifiedAndDeliveredOnceTrusted) {
  auto certs = testing::MakeTestCertificates(dir_.File(""), "tls",
                                             "DNS:localhost,IP:127.0.0.1");
  TestReceiver secure(certs);
  ForwardTarget t;
  t.url = secure.url("/hook", "localhost");
  t.secret = "k3y";
  auto untrusted = StartForwarder(t, clock_);
  std::vector<int64_t> ids = Append({{"delta", Kind::kStarted}});
  untrusted->Wake();
  ASSERT_TRUE(Eventually([&] { return StatusOf(*untrusted).failed > 0; }));
  ForwardTargetStatus failed = StatusOf(*untrusted);
  EXPECT_EQ(failed.state, ForwardState::kRetrying);
  EXPECT_THAT(failed.last_error, HasSubstr("certificate verify failed"));
  EXPECT_THAT(failed.last_error, HasSubstr("for host localhost"));
  EXPECT_TRUE(secure.requests().empty());
  untrusted.reset();

  t.ca_file = certs.ca;
  auto trusted = StartForwarder(t, clock_);
  ASSERT_TRUE(secure.WaitFor(1));
  ASSERT_TRUE(Eventually([&] { return Caught(*trusted, ids[0]); }));
  ReceivedRequest got = secure.requests().at(0);
  EXPECT_EQ(IdOf(got), ids[0]);
  EXPECT_EQ(got.header("x-printmeter-signature"),
            "sha256=" + Hmac("k3y", got.header("x-printmeter-timestamp") + "." +
                                        got.body));
}

TEST_F(ForwarderTest, ACaFileThatCannotBeReadStopsTheStartNamingIt) {
  ForwardTarget t;
  t.name = "chat";
  t.url = "https://127.0.0.1:1/hook";
  t.ca_file = dir_.File("missing-ca.pem");
  Forwarder f(*store_, *store_, Options(t), clock_);
  Status s = f.Start();
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message, HasSubstr("`chat`"));
  EXPECT_THAT(s.error().message, HasSubstr(t.ca_file));
}

// One kept-alive connection carries every delivery; a receiver that closes
// after each answer still gets every event.
TEST_F(ForwarderTest, DeliveriesShareOneConnectionAndSurviveClosedOnes) {
  auto f = StartForwarder({}, clock_);
  std::vector<std::pair<std::string, Kind>> events(12,
                                                   {"delta", Kind::kStarted});
  std::vector<int64_t> ids = Append(events);
  f->Wake();
  ASSERT_TRUE(Eventually([&] { return Caught(*f, ids.back()); }));
  // The receiver records its answer after sending it: count requests.
  EXPECT_EQ(receiver_.requests().size(), 12u);
  EXPECT_EQ(receiver_.connections(), 1);

  receiver_.set_mode(TestReceiver::Mode::kClose);
  ids = Append(events);
  f->Wake();
  ASSERT_TRUE(Eventually([&] { return Caught(*f, ids.back()); }));
  std::set<int64_t> seen;
  for (const ReceivedRequest& r : receiver_.requests()) seen.insert(IdOf(r));
  for (int64_t id : ids) EXPECT_TRUE(seen.contains(id)) << id;
  EXPECT_EQ(StatusOf(*f).failed, 0);
}

// maintenance_due, end to end over the store: the ledger's sessions cross
// an item's threshold -> one notice; a restart (a new forwarder on the
// reopened file) sends none again; marked done and crossed again -> a new
// one, under a new key.
TEST_F(ForwarderTest, AMaintenanceItemDueIsSentOncePerCrossing) {
  auto item = [](const char* name, const char* every) {
    MaintenanceItem i = ParseEvery(every).value();
    i.item = name;
    return i;
  };
  ForwardTarget t;
  t.events = {"maintenance_due"};  // and no print events
  t.secret = "k3y";
  ForwardOptions o = Options(t);
  o.maintenance.devices["delta"] = {item("nozzle", "10h"),
                                    item("belts", "20h")};
  o.maintenance_interval = milliseconds(20);
  auto notices = [&](const std::string& key) {
    int n = 0;
    for (const ReceivedRequest& r : receiver_.accepted()) {
      n += r.header("x-printmeter-event") == key;
    }
    return n;
  };
  // Recorded once answered (the receiver holds a request before it
  // answers; a forwarder stopped in between has not recorded it, and sends
  // it again after a restart: at least once).
  auto recorded_as_sent = [&](const std::string& key) {
    return Eventually([&] {
      auto sent = store_->ForwardNotices("hook");
      return sent.ok() && sent->contains(key);
    });
  };
  const std::string nozzle = fmt::format("maintenance:delta:nozzle:{}", kT0);
  const std::string belts = fmt::format("maintenance:delta:belts:{}", kT0);
  clock_.Advance(30 * kHourMs);
  CommitPrint(1, kT0, 10.5);  // nozzle: 10.5 of 10 h, belts 10.5 of 20
  {
    auto f = std::make_unique<Forwarder>(*store_, *store_, o, clock_);
    ASSERT_TRUE(f->Start().ok());
    ASSERT_TRUE(Eventually([&] { return notices(nozzle) == 1; }));
    ReceivedRequest got = receiver_.accepted().at(0);
    EXPECT_EQ(got.header("idempotency-key"), nozzle);
    EXPECT_EQ(got.header("x-printmeter-device"), "delta");
    EXPECT_EQ(got.header("x-printmeter-signature"),
              "sha256=" + Hmac("k3y", got.header("x-printmeter-timestamp") +
                                          "." + got.body));
    EXPECT_THAT(got.body, HasSubstr(R"("kind":"maintenance_due")"));
    EXPECT_THAT(got.body, HasSubstr(R"("item":"nozzle")"));
    EXPECT_THAT(got.body, HasSubstr(R"("state":"due")"));
    EXPECT_THAT(got.body, HasSubstr(R"("every":"10h")"));
    ASSERT_TRUE(recorded_as_sent(nozzle));
  }
  store_.reset();
  store_ = testing::MustOpen(dir_.File("pm.db"));
  ASSERT_NE(store_, nullptr);
  {
    // After the restart, belts crosses too: its notice shows that the
    // restarted forwarder looked at what is due, and nozzle is not resent.
    auto f = std::make_unique<Forwarder>(*store_, *store_, o, clock_);
    ASSERT_TRUE(f->Start().ok());
    CommitPrint(2, kT0 + 12 * kHourMs, 10);  // belts: 20.5 of 20 h
    ASSERT_TRUE(Eventually([&] { return notices(belts) == 1; }))
        << StatusOf(*f).last_error;
    EXPECT_EQ(notices(nozzle), 1);

    TimeMs done = kT0 + 23 * kHourMs;
    ASSERT_TRUE(RecordMark(*store_, o.maintenance,
                           {"delta", "nozzle", done, "ada"}, clock_.Now())
                    .ok());
    CommitPrint(3, done + kHourMs, 4);  // 4 of 10 h: not due
    const std::string again = fmt::format("maintenance:delta:nozzle:{}", done);
    clock_.Advance(10 * kHourMs);
    CommitPrint(4, done + 6 * kHourMs, 7);  // 11 of 10 h: due again
    ASSERT_TRUE(Eventually([&] { return notices(again) == 1; }));
    EXPECT_EQ(notices(nozzle), 1);
    EXPECT_EQ(notices(belts), 1);
    ASSERT_TRUE(recorded_as_sent(again));
  }
  auto recorded = store_->ForwardNotices("hook");
  ASSERT_TRUE(recorded.ok());
  EXPECT_EQ(recorded->size(), 3u);
}

// A print that crosses an item is told soon after its fold wakes the
// forwarder, not at the next interval (here an hour away).
TEST_F(ForwarderTest, AMaintenanceCrossingIsSentSoonAfterTheFoldThatMadeIt) {
  MaintenanceItem nozzle = ParseEvery("10h").value();
  nozzle.item = "nozzle";
  ForwardTarget t;
  t.events = {"maintenance_due"};
  ForwardOptions o = Options(t);
  o.maintenance.devices["delta"] = {nozzle};
  o.maintenance_interval = std::chrono::hours(1);
  o.maintenance_after_fold = milliseconds(20);
  clock_.Advance(30 * kHourMs);
  CommitPrint(1, kT0, 4);  // 4 of 10 h: not due
  auto f = std::make_unique<Forwarder>(*store_, *store_, o, clock_);
  ASSERT_TRUE(f->Start().ok());
  // The first look, at the start, finds nothing due.
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_TRUE(receiver_.accepted().empty());
  CommitPrint(2, kT0 + 5 * kHourMs, 6.5);  // 10.5 of 10 h
  f->Wake();
  const std::string key = fmt::format("maintenance:delta:nozzle:{}", kT0);
  EXPECT_TRUE(Eventually(
      [&] {
        return !receiver_.accepted().empty() &&
               receiver_.accepted().at(0).header("x-printmeter-event") == key;
      },
      milliseconds(10000)));
}

// Two instances on one PostgreSQL database forward to the same target:
// their positions move by compare-and-set, so between them every event
// arrives (some maybe twice, told apart by their id) and the stored
// position ends at the log's end.
TEST(ForwarderPgTest, TwoInstancesOnOneDatabaseDeliverEverythingAtLeastOnce) {
  testing::PgCluster* cluster = testing::SharedPgCluster();
  ASSERT_NE(cluster, nullptr) << "no PostgreSQL server for the tests";
  auto url = cluster->NewDatabase();
  ASSERT_TRUE(url.ok()) << url.error().message;
  auto one = OpenStore(*url);
  auto two = OpenStore(*url);
  ASSERT_TRUE(one.ok() && two.ok());
  TestReceiver receiver;
  TestClock clock(kT0);
  ForwardOptions o;
  ForwardTarget hook;
  hook.name = "hook";
  hook.url = receiver.url();
  o.targets.push_back(hook);
  o.poll_interval = milliseconds(20);
  o.page_size = 8;
  Forwarder a(**one, **one, o, clock);
  Forwarder b(**two, **two, o, clock);
  ASSERT_TRUE(a.Start().ok());
  ASSERT_TRUE(b.Start().ok());

  std::set<int64_t> ids;
  for (int batch = 0; batch < 5; ++batch) {
    LogBatch log;
    for (int i = 0; i < 8; ++i) {
      log.events.push_back(testing::Record(testing::BareEvent(
          0, i % 2 ? "delta" : "echo", Kind::kProgress, kT0 + batch * 8 + i)));
    }
    ASSERT_TRUE((*one)->Append(log).ok());
    for (const EventRecord& r : log.events) ids.insert(r.event.id);
    a.Wake();
    b.Wake();
  }
  auto done = [&] {
    auto stored = (*one)->ForwardPositions();
    return stored.ok() && stored->count("hook") &&
           stored->at("hook") == *ids.rbegin();
  };
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  ASSERT_TRUE(done());
  std::set<int64_t> seen;
  for (const ReceivedRequest& r : receiver.requests()) {
    seen.insert(std::stoll(r.header("x-printmeter-event")));
  }
  EXPECT_EQ(seen, ids);
}

}  // namespace
}  // namespace pm

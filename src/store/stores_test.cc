// The Store on both databases, each a real one: a SQLite file, and a
// database on a PostgreSQL server of the tests' own (pg_test_cluster.h).
// Round trips, atomicity, ids, duplicates and registrations, re-folds,
// pagination, manual attribution, concurrency and the rebuild scan.
#include "store/sqlite_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <limits>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "store/pg_test_cluster.h"
#include "store/store_test_util.h"
#include "store/write_batch.h"

namespace pm {
namespace {

using testing::BareEvent;
using testing::BareSession;
using ::testing::ElementsAre;
using testing::FullEvent;
using testing::FullSession;
using ::testing::HasSubstr;
using testing::Record;

constexpr TimeMs kT0 = 1718000000000;  // 2024-06-10
constexpr int64_t kAllIds = std::numeric_limits<int64_t>::max();

// The store named by the test's parameter: "sqlite" or "postgresql".
class StoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "sqlite") {
      url_ = "sqlite:" + dir_.File("pm.db");
    } else {
      testing::PgCluster* cluster = testing::SharedPgCluster();
      ASSERT_NE(cluster, nullptr) << "no PostgreSQL server for the tests";
      auto url = cluster->NewDatabase();
      ASSERT_TRUE(url.ok()) << url.error().message;
      url_ = *url;
    }
    store_ = Reopen();
    ASSERT_NE(store_, nullptr);
  }
  // Another store on the same database (another instance, or a restart).
  std::unique_ptr<Store> Reopen() {
    Result<std::unique_ptr<Store>> store = OpenStore(url_);
    EXPECT_TRUE(store.ok()) << (store.ok() ? "" : store.error().message);
    return store.ok() ? std::move(*store) : nullptr;
  }

  void Commit(const WriteBatch& batch) {
    Status s = CommitBatch(*store_, batch);
    ASSERT_TRUE(s.ok()) << s.error().message;
  }
  void CommitEvents(std::vector<Event> events) {
    WriteBatch batch;
    for (const Event& e : events) batch.events.push_back(Record(e));
    Commit(batch);
  }
  void CommitRecords(std::vector<EventRecord> records) {
    WriteBatch batch;
    batch.events = std::move(records);
    Commit(batch);
  }
  // What `rebuild` does first: the projection emptied, the log kept.
  Status ResetProjection() {
    Result<std::unique_ptr<LedgerRewrite>> rewrite = store_->RewriteLedger();
    if (!rewrite.ok()) return rewrite.error();
    return (*rewrite)->Commit(0);
  }
  void CommitSessions(std::vector<Session> sessions) {
    WriteBatch batch;
    batch.sessions = std::move(sessions);
    Commit(batch);
  }

  std::vector<EventRecord> AllRecords() {
    std::vector<EventRecord> out;
    Status s = store_->ForEachEvent([&out](const EventRecord& r) {
      out.push_back(r);
      return Status();
    });
    EXPECT_TRUE(s.ok());
    return out;
  }

  std::vector<Session> List(SessionPageQuery q) {
    Result<std::vector<Session>> r = store_->ListSessions(q);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? *r : std::vector<Session>();
  }

  static std::vector<int64_t> Ids(const std::vector<Session>& sessions) {
    std::vector<int64_t> ids;
    for (const Session& s : sessions) ids.push_back(s.id);
    return ids;
  }

  std::vector<int64_t> Overlapping(TimeMs from, TimeMs to) {
    Result<std::vector<Session>> r = store_->SessionsOverlapping(from, to);
    EXPECT_TRUE(r.ok());
    std::vector<int64_t> ids = r.ok() ? Ids(*r) : std::vector<int64_t>();
    std::sort(ids.begin(), ids.end());
    return ids;
  }

  // Registers each of `names` (secret "s-NAME" when `with_secrets`) with an
  // idle state.
  void AddPrinters(const std::vector<std::string>& names, bool with_secrets) {
    WriteBatch batch;
    for (const std::string& name : names) {
      DeviceState d;
      d.device = name;
      batch.device_states.push_back(d);
      std::optional<std::string> secret;
      if (with_secrets) secret = "s-" + name;
      batch.devices.push_back({name, secret, kT0, kT0});
    }
    Commit(batch);
  }
  // The printers' names, in the order given (DeviceState or DeviceRecord).
  template <typename Rows>
  static std::vector<std::string> NamesOf(const Rows& rows) {
    std::vector<std::string> names;
    for (const auto& r : rows) names.push_back(r.device);
    return names;
  }

  bool IsDuplicate(const Event& e) {
    Result<bool> r = store_->HasDuplicate(e);
    EXPECT_TRUE(r.ok());
    return r.ok() && *r;
  }

  testing::TempDir dir_;
  std::string url_;
  std::unique_ptr<Store> store_;
};

INSTANTIATE_TEST_SUITE_P(Stores, StoreTest,
                         ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

// What only the SQLite file has (its WAL).
class SqliteStoreTest : public StoreTest {};
INSTANTIATE_TEST_SUITE_P(Sqlite, SqliteStoreTest, ::testing::Values("sqlite"),
                         [](const auto& info) { return info.param; });

// --- Round trips -------------------------------------------------------------

TEST_P(StoreTest, EveryEventFieldRoundTrips) {
  Event full = FullEvent(1);
  full.test = false;  // so that FoldableEvents returns it too
  Event bare = BareEvent(2, "delta", Kind::kStarted, kT0);
  bare.has_current_time = false;
  WriteBatch batch;
  EventRecord r1 = Record(full);
  r1.request->body = std::string("a\0b\xff", 4);  // not text: kept as bytes
  r1.duplicate = false;
  EventRecord r2;  // a synthetic event: no request
  r2.event = bare;
  r2.duplicate = true;
  batch.events = {r1, r2};
  batch.event_sessions = {{1, 77}};
  Commit(batch);

  std::vector<EventRecord> records = AllRecords();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].event, full);
  EXPECT_EQ(records[0].request->method, "POST");
  EXPECT_EQ(records[0].request->target, "/webhook");
  EXPECT_EQ(records[0].request->content_type, "application/json");
  EXPECT_EQ(records[0].request->body, r1.request->body);
  EXPECT_FALSE(records[0].duplicate);
  EXPECT_EQ(records[1].event, bare);
  EXPECT_FALSE(records[1].request.has_value());
  EXPECT_TRUE(records[1].duplicate);

  Result<std::vector<Event>> foldable = store_->FoldableEvents("delta", {}, kAllIds);
  ASSERT_TRUE(foldable.ok());
  EXPECT_THAT(*foldable, ElementsAre(full));  // the duplicate is left out

  // Event 1 claims a picture, but its body (not multipart) holds none.
  Result<std::optional<Snapshot>> snap = store_->GetSnapshot(1);
  ASSERT_TRUE(snap.ok());
  EXPECT_FALSE(snap->has_value());
  snap = store_->GetSnapshot(2);
  ASSERT_TRUE(snap.ok());
  EXPECT_FALSE(snap->has_value());

  Result<std::vector<EventView>> views = store_->ListEvents({});
  ASSERT_TRUE(views.ok());
  ASSERT_EQ(views->size(), 2u);
  EXPECT_EQ((*views)[0].event, bare);  // newest first
  EXPECT_FALSE((*views)[0].body.has_value());
  EXPECT_TRUE((*views)[0].duplicate);
  EXPECT_EQ((*views)[1].event, full);
  EXPECT_EQ((*views)[1].body, r1.request->body);
  EXPECT_EQ((*views)[1].content_type, "application/json");
  EXPECT_EQ((*views)[1].session_id, 77);
}

// A multipart request's body with `jpeg` as its snapshot part.
std::string MultipartWithPicture(const std::string& boundary,
                                 const std::string& jpeg) {
  return fmt::format(
      "--{0}\r\nContent-Disposition: form-data; name=\"deviceIdentifier\"\r\n"
      "\r\ndelta\r\n--{0}\r\nContent-Disposition: form-data; "
      "name=\"topic\"\r\n\r\nPrint Done\r\n--{0}\r\n"
      "Content-Disposition: form-data; name=\"snapshot\"; "
      "filename=\"snapshot.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n{1}"
      "\r\n--{0}--\r\n",
      boundary, jpeg);
}

// The picture is stored once, apart from its request: the log row says what
// it was and where it was cut, the bytes are in the pictures' table.
TEST_P(StoreTest, APictureIsStoredOnceApartFromItsRequest) {
  std::string jpeg("\xff\xd8\xff\xe0picture\x00\x01\xff\xd9", 14);
  std::string body = MultipartWithPicture("b", jpeg);
  EventRecord r = Record(BareEvent(1, "delta", Kind::kDone, kT0));
  r.event.snapshot = true;
  r.request = StoredRequest{"POST", "/webhook", "multipart/form-data; boundary=b",
                            body};
  SetPictureApart(*r.request, Snapshot{"image/jpeg", jpeg, body.find(jpeg)});
  ASSERT_TRUE(r.request->picture.has_value());
  CommitRecords({r});

  std::vector<EventRecord> records = AllRecords();
  ASSERT_EQ(records.size(), 1u);
  const StoredRequest& stored = *records[0].request;
  EXPECT_EQ(stored.body.find(jpeg), std::string::npos);
  ASSERT_TRUE(stored.picture.has_value());
  EXPECT_EQ(stored.picture->size, static_cast<int64_t>(jpeg.size()));
  EXPECT_EQ(stored.picture->content_type, "image/jpeg");
  EXPECT_TRUE(stored.picture->bytes.empty());
  // The request as received, put together again.
  std::string whole = stored.body;
  whole.insert(static_cast<size_t>(stored.picture->offset), jpeg);
  EXPECT_EQ(whole, body);
  EXPECT_TRUE(records[0].event.snapshot);

  Result<std::optional<Snapshot>> snap = store_->GetSnapshot(1);
  ASSERT_TRUE(snap.ok()) << snap.error().message;
  ASSERT_TRUE(snap->has_value());
  EXPECT_EQ((*snap)->content_type, "image/jpeg");
  EXPECT_EQ((*snap)->bytes, jpeg);
  auto logged = store_->ReadLog(0, 10);
  ASSERT_TRUE(logged.ok());
  ASSERT_EQ(logged->size(), 1u);
  EXPECT_TRUE((*logged)[0].picture);

  // Let go: the log still says what came, the picture answers not kept.
  ProjectionBatch drop;
  drop.position = 1;
  drop.dropped_pictures = {1};
  ASSERT_TRUE(store_->CommitProjection(drop).ok());
  snap = store_->GetSnapshot(1);
  ASSERT_FALSE(snap.ok());
  EXPECT_EQ(snap.error().code, ErrorCode::kNotFound);
  EXPECT_THAT(snap.error().message, HasSubstr("not kept under the retention"));
  records = AllRecords();
  ASSERT_TRUE(records[0].request->picture.has_value());
  EXPECT_EQ(records[0].request->picture->size,
            static_cast<int64_t>(jpeg.size()));
}

// The kept pictures a new one may make redundant: the latest, and those of
// the given sessions and of the latest's session.
TEST_P(StoreTest, KeptPicturesAreTheLatestAndThoseOfTheSessionsAsked) {
  std::vector<EventRecord> records;
  for (int64_t id = 1; id <= 6; ++id) {
    EventRecord r = Record(BareEvent(id, "delta", Kind::kProgress, kT0 + id));
    std::string body = MultipartWithPicture("b", "JPEG" + std::to_string(id));
    r.request = StoredRequest{"POST", "/webhook",
                              "multipart/form-data; boundary=b", body};
    SetPictureApart(*r.request, Snapshot{"image/jpeg", "JPEG" + std::to_string(id),
                                         body.find("JPEG")});
    records.push_back(r);
  }
  WriteBatch batch;
  batch.events = records;
  // Events 1-2 in session 10, 3-4 in session 20, 5 in session 30, 6 idle.
  batch.event_sessions = {{1, 10}, {2, 10}, {3, 20}, {4, 20}, {5, 30}};
  Commit(batch);
  auto ids = [](const std::vector<KeptPicture>& v) {
    std::vector<int64_t> out;
    for (const KeptPicture& p : v) out.push_back(p.event_id);
    std::sort(out.begin(), out.end());
    return out;
  };
  auto kept = store_->KeptPictures("delta", {10}, 6);
  ASSERT_TRUE(kept.ok()) << kept.error().message;
  EXPECT_THAT(ids(*kept), ElementsAre(1, 2, 6));
  kept = store_->KeptPictures("delta", {20}, 5);  // latest: 5, of session 30
  ASSERT_TRUE(kept.ok());
  EXPECT_THAT(ids(*kept), ElementsAre(3, 4, 5));
  EXPECT_EQ((*kept)[0].key.time, kT0 + 3);
  EXPECT_EQ((*kept)[0].session_id, 20);
  kept = store_->KeptPictures("other", {10}, 6);
  ASSERT_TRUE(kept.ok());
  EXPECT_TRUE(kept->empty());
}

// A picture of a request stored whole (before pictures were stored apart)
// is read out of the request when asked for.
TEST_P(StoreTest, APictureIsReadOutOfItsStoredRequest) {
  std::string jpeg("\xff\xd8\xff\xe0picture\x00\x01\xff\xd9", 14);
  std::string boundary = "----pm-boundary";
  std::string body = fmt::format(
      "--{0}\r\nContent-Disposition: form-data; name=\"deviceIdentifier\"\r\n"
      "\r\ndelta\r\n--{0}\r\nContent-Disposition: form-data; "
      "name=\"topic\"\r\n\r\nPrint Done\r\n--{0}\r\n"
      "Content-Disposition: form-data; name=\"snapshot\"; "
      "filename=\"snapshot.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n{1}"
      "\r\n--{0}--\r\n",
      boundary, jpeg);
  EventRecord r = Record(BareEvent(1, "delta", Kind::kDone, kT0));
  r.event.snapshot = true;
  r.request = StoredRequest{"POST", "/webhook",
                            "multipart/form-data; boundary=" + boundary, body};
  CommitRecords({r});
  Result<std::optional<Snapshot>> snap = store_->GetSnapshot(1);
  ASSERT_TRUE(snap.ok()) << snap.error().message;
  ASSERT_TRUE(snap->has_value());
  EXPECT_EQ((*snap)->content_type, "image/jpeg");
  EXPECT_EQ((*snap)->bytes, jpeg);
  std::vector<EventRecord> records = AllRecords();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_NE(records[0].request->body.find(jpeg), std::string::npos);
  EXPECT_FALSE(records[0].request->picture.has_value());
}

TEST_P(StoreTest, EveryEventKindRoundTrips) {
  std::vector<Kind> kinds = {Kind::kStarted,   Kind::kDone,    Kind::kFailed,
                             Kind::kPaused,    Kind::kResumed, Kind::kProgress,
                             Kind::kAttention, Kind::kError,   Kind::kOther,
                             Kind::kSwept};
  std::vector<Event> events;
  for (size_t i = 0; i < kinds.size(); ++i) {
    events.push_back(BareEvent(i + 1, "k", kinds[i], kT0 + i));
  }
  CommitEvents(events);
  Result<std::vector<Event>> read = store_->FoldableEvents("k", {}, kAllIds);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(*read, events);
}

TEST_P(StoreTest, EverySessionFieldRoundTrips) {
  Session full = FullSession(10);
  Session bare = BareSession(20, "delta", kT0 + kDayMs, std::nullopt);
  bare.status = SessionStatus::kPaused;
  CommitSessions({full, bare});

  Result<std::optional<Session>> got = store_->GetSession(10);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ(**got, full);
  got = store_->GetSession(20);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ(**got, bare);
  got = store_->GetSession(30);
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(got->has_value());

  EXPECT_THAT(List({}), ElementsAre(bare, full));

  // Upserting replaces every field, unset ones included.
  Session cleared = BareSession(10, "delta", full.started_at, std::nullopt);
  CommitSessions({cleared});
  got = store_->GetSession(10);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ(**got, cleared);
}

// Text as a printer may send it (quotes, backslashes, control characters,
// any script), reals at their extremes, and several versions of one session
// and one printer state in one step: each stored as given, the last version
// winning (PostgreSQL sends a step's rows as one JSON parameter).
TEST_P(StoreTest, AwkwardTextsExtremeRealsAndRepeatedRowsInOneStep) {
  Session s = FullSession(10);
  s.file = {"q\"uote\\back\tslash\n\x01\x1f end.gcode", "dir/\"/x",
            "Würfel 立方体 🧊", "sd\\card", 0};
  s.user = "o'brien \"\\\"";
  s.error = std::string("\x7f del \u00e9");
  s.progress_pct = 5e-324;
  s.reported_time_s = 1.7976931348623157e308;
  s.estimated_s = 0.1;
  s.job_filament_mm = -0.0;
  s.job_filament_cm3 = 123456789.123456789;
  Session older = s;
  older.event_count = 1;
  older.file.name = "an older version";
  ProjectionBatch batch;
  batch.sessions = {older, s};
  DeviceState state;
  state.device = "delta \"\\ ü";
  state.state = PrinterState::kPrinting;
  state.last_topic = "Print Started";
  state.last_error = "\"err\"\\";
  DeviceState later = state;
  later.needs_attention = true;
  later.last_topic = "Print Paused \u2014 \"x\"";
  batch.device_states = {state, later};
  batch.position = 0;
  batch.from = -1;
  ASSERT_TRUE(store_->CommitProjection(batch).ok());
  Result<std::optional<Session>> got = store_->GetSession(10);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ(**got, s);
  Result<std::vector<DeviceState>> states = store_->LoadDeviceStates();
  ASSERT_TRUE(states.ok());
  ASSERT_EQ(states->size(), 1u);
  EXPECT_EQ((*states)[0].device, later.device);
  EXPECT_EQ((*states)[0].needs_attention, true);
  EXPECT_EQ((*states)[0].last_topic, later.last_topic);
  EXPECT_EQ((*states)[0].last_error, later.last_error);
}

TEST_P(StoreTest, UpsertingAMovedStartReplacesTheSession) {
  Session s = BareSession(10, "delta", kT0, kT0 + kHourMs);
  CommitSessions({s});
  s.started_at = kT0 - kHourMs;  // e.g. a start inferred anew by a re-fold
  s.start_inferred = true;
  CommitSessions({s});
  EXPECT_THAT(List({}), ElementsAre(s));
  Result<std::optional<Session>> got = store_->GetSession(10);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ(**got, s);
}

TEST_P(StoreTest, EverySessionStatusRoundTrips) {
  std::vector<SessionStatus> statuses = {
      SessionStatus::kPrinting,  SessionStatus::kPaused,
      SessionStatus::kCompleted, SessionStatus::kCancelled,
      SessionStatus::kFailed,    SessionStatus::kInterrupted,
      SessionStatus::kRestarted};
  std::vector<Session> sessions;
  for (size_t i = 0; i < statuses.size(); ++i) {
    Session s =
        BareSession(i + 1, "d", kT0 + i * kHourMs, kT0 + i * kHourMs + 1);
    s.status = statuses[i];
    sessions.push_back(s);
  }
  CommitSessions(sessions);
  for (size_t i = 0; i < statuses.size(); ++i) {
    SessionPageQuery q;
    q.filter.status = statuses[i];
    EXPECT_THAT(Ids(List(q)), ElementsAre(static_cast<int64_t>(i + 1)));
  }
}

TEST_P(StoreTest, DeviceStatesAndDevicesRoundTrip) {
  DeviceState printing;
  printing.device = "delta";
  printing.state = PrinterState::kPaused;
  printing.open = FullSession(5);
  printing.open->status = SessionStatus::kPaused;
  printing.open->ended_at.reset();
  printing.needs_attention = true;
  printing.last_applied = EventKey{kT0, 9};
  printing.last_topic = "Print Paused";
  printing.last_error = "filament runout";
  DeviceState idle;
  idle.device = "alpha";
  WriteBatch batch;
  batch.device_states = {printing, idle};
  batch.devices = {{"delta", "s3cret", kT0, kT0 + 5}, {"alpha", {}, 1, 2}};
  Commit(batch);

  Result<std::vector<DeviceState>> states = store_->LoadDeviceStates();
  ASSERT_TRUE(states.ok()) << states.error().message;
  EXPECT_THAT(*states, ElementsAre(idle, printing));  // by device
  // The open session is a session like any other.
  Result<std::optional<Session>> open = store_->GetSession(5);
  ASSERT_TRUE(open.ok() && open->has_value());
  EXPECT_EQ(**open, *printing.open);

  Result<std::vector<DeviceRecord>> devices = store_->LoadDevices();
  ASSERT_TRUE(devices.ok());
  ASSERT_EQ(devices->size(), 2u);
  EXPECT_EQ((*devices)[0].device, "alpha");
  EXPECT_FALSE((*devices)[0].secret.has_value());
  EXPECT_EQ((*devices)[1].secret, "s3cret");
  EXPECT_EQ((*devices)[1].first_seen, kT0);
  EXPECT_EQ((*devices)[1].last_received, kT0 + 5);

  // Upserted by device.
  printing.state = PrinterState::kIdle;
  printing.open.reset();
  batch = {};
  batch.device_states = {printing};
  batch.devices = {{"delta", "new", kT0, kT0 + 9}};
  Commit(batch);
  states = store_->LoadDeviceStates();
  ASSERT_TRUE(states.ok());
  EXPECT_THAT(*states, ElementsAre(idle, printing));
  devices = store_->LoadDevices();
  ASSERT_TRUE(devices.ok());
  EXPECT_EQ((*devices)[1].secret, "s3cret");  // the first secret stays
}

// The names looked up are bound as one JSON array on SQLite, and as IN
// lists padded with repeats on PostgreSQL: a name that is quoted, escaped or
// separated in those forms still finds its printer, and only its printer,
// once.
// Printers are listed in byte order on both stores, as std::string orders
// them, whatever the PostgreSQL database's collation: here an ICU en-US one,
// which would put "_x" first and "B" after "b".
TEST_P(StoreTest, PrintersAreListedInByteOrder) {
  if (GetParam() == "postgresql") {
    auto url = testing::SharedPgCluster()->NewDatabase(
        "TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'");
    ASSERT_TRUE(url.ok()) << url.error().message;
    url_ = *url;
    store_ = Reopen();
    ASSERT_NE(store_, nullptr);
  }
  const std::vector<std::string> names = {"b", "B", "a", "_x", "Z", "a-2",
                                          "A1", "\u00e9t\u00e9"};
  AddPrinters(names, false);
  std::vector<std::string> sorted = names;
  std::sort(sorted.begin(), sorted.end());

  auto states = store_->FindDeviceStates({});
  ASSERT_TRUE(states.ok()) << states.error().message;
  EXPECT_EQ(NamesOf(*states), sorted);
  auto some = store_->FindDeviceStates({.devices = names});
  ASSERT_TRUE(some.ok()) << some.error().message;
  EXPECT_EQ(NamesOf(*some), sorted);
  auto records = store_->LoadDevices();
  ASSERT_TRUE(records.ok()) << records.error().message;
  EXPECT_EQ(NamesOf(*records), sorted);
}

TEST_P(StoreTest, PrintersFoundByNamesThatNeedEscaping) {
  const std::vector<std::string> odd = {
      "say \"hi\"", "back\\slash", "tab\there", "{braces},comma",
      "NULL", " spaced ", "\u00fcn\u00efcode", "[\"json\"]", "'single'"};
  AddPrinters(odd, true);
  AddPrinters({"say", "hi", "back", "slash", "braces", "comma"}, false);

  std::vector<std::string> sorted = odd;
  std::sort(sorted.begin(), sorted.end());
  auto states = store_->FindDeviceStates({.devices = odd});
  ASSERT_TRUE(states.ok()) << states.error().message;
  EXPECT_EQ(NamesOf(*states), sorted);

  auto records = store_->FindDevices(odd);
  ASSERT_TRUE(records.ok()) << records.error().message;
  EXPECT_EQ(NamesOf(*records), sorted);
  for (const DeviceRecord& r : *records) EXPECT_EQ(r.secret, "s-" + r.device);

  records = store_->FindDevices({});
  ASSERT_TRUE(records.ok()) << records.error().message;
  EXPECT_TRUE(records->empty());
}

// What the projector reads when it keeps only some printers' states in
// memory: named states, the open prints gone quiet, the printers another
// instance folded.
TEST_P(StoreTest, DeviceStatesFoundByNameAndByQuietOpenPrint) {
  std::vector<DeviceState> states;
  std::vector<DeviceRecord> devices;
  for (int i = 0; i < 300; ++i) {  // more than one query's worth of names
    DeviceState d;
    d.device = fmt::format("p{:03}", i);
    if (i < 3) {
      d.state = PrinterState::kPrinting;
      d.open = BareSession(100 + i, d.device, kT0, std::nullopt);
      d.open->last_event_at = kT0 + i * kHourMs;
    }
    states.push_back(d);
    devices.push_back({d.device, {}, kT0, kT0 + (i == 1 ? 5 * kHourMs : 0)});
  }
  WriteBatch batch;
  batch.device_states = states;
  batch.devices = devices;
  batch.events = {Record(BareEvent(1, "p007", Kind::kStarted, kT0)),
                  Record(BareEvent(2, "p002", Kind::kProgress, kT0)),
                  Record(BareEvent(3, "p007", Kind::kProgress, kT0)),
                  Record(BareEvent(4, "p009", Kind::kProgress, kT0))};
  batch.events[3].event.test = true;  // a test press folds nothing
  Commit(batch);

  std::vector<std::string> names = {"p299", "nobody", "p000", "p150"};
  for (int i = 10; i < 280; ++i) {
    if (i != 150) names.push_back(fmt::format("p{:03}", i));
  }
  auto found = store_->FindDeviceStates({.devices = names});
  ASSERT_TRUE(found.ok()) << found.error().message;
  ASSERT_EQ(found->size(), names.size() - 1);  // "nobody" has none
  EXPECT_EQ(found->front(), states[0]);        // by device, open print too
  EXPECT_EQ(found->back(), states[299]);
  EXPECT_TRUE(std::is_sorted(found->begin(), found->end(),
                             [](const auto& a, const auto& b) {
                               return a.device < b.device;
                             }));

  // Quiet since kT0 + 2 h: p000 (last event kT0) and p002 (kT0 + 2 h);
  // p001 printed at kT0 + 1 h but was heard from at kT0 + 5 h.
  auto quiet = store_->FindDeviceStates(
      {.open_and_quiet_since = kT0 + 2 * kHourMs});
  ASSERT_TRUE(quiet.ok()) << quiet.error().message;
  ASSERT_EQ(quiet->size(), 2u);
  EXPECT_EQ(quiet->at(0).device, "p000");
  EXPECT_EQ(quiet->at(1).device, "p002");
  quiet = store_->FindDeviceStates({.open_and_quiet_since = kT0 - 1});
  ASSERT_TRUE(quiet.ok());
  EXPECT_TRUE(quiet->empty());

  auto folded = store_->FoldedDevices(1, 4);  // events 2 to 4
  ASSERT_TRUE(folded.ok()) << folded.error().message;
  EXPECT_EQ(*folded, (std::map<std::string, int64_t, std::less<>>{
                         {"p002", 2}, {"p007", 3}}));
  folded = store_->FoldedDevices(4, 4);
  ASSERT_TRUE(folded.ok());
  EXPECT_TRUE(folded->empty());
}

// --- Commit ----------------------------------------------------------------

TEST_P(StoreTest, AFailedCommitStoresNothing) {
  CommitEvents({BareEvent(1, "delta", Kind::kStarted, kT0)});
  WriteBatch batch;
  batch.events.push_back(Record(BareEvent(2, "delta", Kind::kDone, kT0 + 1)));
  batch.sessions.push_back(BareSession(2, "delta", kT0, kT0 + 1));
  batch.devices.push_back({"delta", "x", 1, 2});
  // Event id 1 is taken: the primary key fails half-way through the batch.
  batch.events.push_back(Record(BareEvent(1, "delta", Kind::kDone, kT0 + 2)));
  Status s = CommitBatch(*store_, batch);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kUnavailable);
  EXPECT_THAT(s.error().message, HasSubstr("nothing was stored"));
  // SQLite: "UNIQUE constraint failed"; PostgreSQL: "violates unique
  // constraint".
  std::string message = s.error().message;
  std::transform(message.begin(), message.end(), message.begin(), ::tolower);
  EXPECT_THAT(message, HasSubstr("unique constraint"));

  EXPECT_EQ(AllRecords().size(), 1u);
  EXPECT_TRUE(List({}).empty());
  Result<std::vector<DeviceRecord>> devices = store_->LoadDevices();
  ASSERT_TRUE(devices.ok());
  EXPECT_TRUE(devices->empty());

  // The store is still usable afterwards.
  batch.events.pop_back();
  Commit(batch);
  EXPECT_EQ(AllRecords().size(), 2u);
  EXPECT_EQ(List({}).size(), 1u);
}

TEST_P(StoreTest, AppendAssignsTheNextIdsToEventsWithoutOne) {
  CommitEvents({BareEvent(7, "delta", Kind::kStarted, kT0)});
  LogBatch batch;
  batch.events.push_back(Record(BareEvent(0, "delta", Kind::kProgress, kT0 + 1)));
  batch.events.push_back(Record(BareEvent(0, "delta", Kind::kDone, kT0 + 2)));
  ASSERT_TRUE(store_->Append(batch).ok());
  EXPECT_EQ(batch.events[0].event.id, 8);
  EXPECT_EQ(batch.events[1].event.id, 9);
  EXPECT_EQ(*store_->LastEventId(), 9);
  auto records = AllRecords();
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[2].event.kind, Kind::kDone);
}

// The writer's batches: duplicates decided against the log and the batch.
TEST_P(StoreTest, AppendDecidesDuplicatesAgainstTheLogAndTheBatch) {
  Event original = BareEvent(0, "delta", Kind::kStarted, kT0);
  original.has_current_time = true;
  LogBatch first;
  first.decide_duplicates = true;
  first.events.push_back(Record(original));
  first.events.push_back(Record(original));  // resent within the batch
  ASSERT_TRUE(store_->Append(first).ok());
  EXPECT_FALSE(first.events[0].duplicate);
  EXPECT_TRUE(first.events[1].duplicate);
  LogBatch second;
  second.decide_duplicates = true;
  second.events.push_back(Record(original));  // resent later
  Event other = original;
  other.kind = Kind::kDone;
  second.events.push_back(Record(other));
  second.events[0].duplicate = false;
  ASSERT_TRUE(store_->Append(second).ok());
  EXPECT_TRUE(second.events[0].duplicate);
  EXPECT_FALSE(second.events[1].duplicate);
  auto records = AllRecords();
  ASSERT_EQ(records.size(), 4u);
  EXPECT_FALSE(records[0].duplicate);
  EXPECT_TRUE(records[1].duplicate);
  EXPECT_TRUE(records[2].duplicate);
  EXPECT_FALSE(records[3].duplicate);
}

// A secret stored first is never replaced: a registration with another one
// loses, and its printer's events in the batch are not stored.
TEST_P(StoreTest, TheFirstSecretStoredWinsARegistration) {
  LogBatch first;
  first.devices.push_back({"delta", "first", kT0, kT0});
  first.events.push_back(Record(BareEvent(0, "delta", Kind::kStarted, kT0)));
  ASSERT_TRUE(store_->Append(first).ok());
  EXPECT_TRUE(first.lost.empty());
  LogBatch second;
  second.devices.push_back({"delta", "second", kT0 + 5, kT0 + 5});
  second.devices.push_back({"alpha", "a", kT0 + 5, kT0 + 5});
  second.events.push_back(Record(BareEvent(0, "delta", Kind::kDone, kT0 + 5)));
  second.events.push_back(Record(BareEvent(0, "alpha", Kind::kStarted, kT0 + 5)));
  ASSERT_TRUE(store_->Append(second).ok());
  ASSERT_EQ(second.lost.size(), 1u);
  EXPECT_EQ(second.lost[0].device, "delta");
  EXPECT_EQ(second.lost[0].secret, "first");
  EXPECT_EQ(second.events[0].event.id, 0);
  EXPECT_EQ(second.events[1].event.id, 2);
  auto devices = store_->LoadDevices();
  ASSERT_TRUE(devices.ok());
  ASSERT_EQ(devices->size(), 2u);
  EXPECT_EQ((*devices)[1].device, "delta");
  EXPECT_EQ((*devices)[1].secret, "first");
  EXPECT_EQ((*devices)[0].secret, "a");
  EXPECT_EQ(AllRecords().size(), 2u);
}

TEST_P(StoreTest, AllocatesConsecutiveIdsAfterTheStoredOnes) {
  Result<int64_t> a = store_->AllocateEventIds(3);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a, 1);
  Result<int64_t> b = store_->AllocateEventIds(2);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*b, 4);
  CommitEvents({BareEvent(100, "delta", Kind::kStarted, kT0)});
  Result<int64_t> c = store_->AllocateEventIds(1);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*c, 101);
}

// --- Duplicates (ledger.md section 3)
// ------------------------------------------

TEST_P(StoreTest, DuplicateNeedsSameDeviceKindTimePathAndReportedTime) {
  Event original = BareEvent(1, "delta", Kind::kDone, kT0);
  original.file.path = "a.gcode";
  original.reported_time_s = 100;
  CommitEvents({original});

  Event resend = original;
  resend.id = 2;
  resend.received_at += 5000;  // the receive time does not matter
  resend.file.name = "other";  // nor do fields outside the rule
  EXPECT_TRUE(IsDuplicate(resend));

  auto changed = [&](auto change) {
    Event e = resend;
    change(e);
    return IsDuplicate(e);
  };
  EXPECT_FALSE(changed([](Event& e) { e.device = "alpha"; }));
  EXPECT_FALSE(changed([](Event& e) { e.kind = Kind::kFailed; }));
  EXPECT_FALSE(changed([](Event& e) { e.time += 1; }));
  EXPECT_FALSE(changed([](Event& e) { e.file.path = "b.gcode"; }));
  EXPECT_FALSE(changed([](Event& e) { e.file.path.reset(); }));
  EXPECT_FALSE(changed([](Event& e) { e.reported_time_s = 101; }));
  EXPECT_FALSE(changed([](Event& e) { e.reported_time_s.reset(); }));
  // Events without currentTime are never duplicates.
  EXPECT_FALSE(changed([](Event& e) { e.has_current_time = false; }));
}

TEST_P(StoreTest, BothNoneCountsAsEqual) {
  Event original = BareEvent(1, "delta", Kind::kStarted, kT0);
  CommitEvents({original});
  Event resend = original;
  resend.id = 2;
  EXPECT_TRUE(IsDuplicate(resend));
  resend.file.path = "a.gcode";
  EXPECT_FALSE(IsDuplicate(resend));
  resend.file.path.reset();
  resend.reported_time_s = 0;
  EXPECT_FALSE(IsDuplicate(resend));
}

// Decision (ledger.md is silent): a resend repeats the original's
// currentTime, so an earlier event whose time was only its receive time is
// not the original of anything, even when the milliseconds happen to match.
TEST_P(StoreTest, EarlierEventsWithoutCurrentTimeAreNotOriginals) {
  Event received = BareEvent(1, "delta", Kind::kStarted, kT0);
  received.has_current_time = false;
  CommitEvents({received});
  Event later = received;
  later.id = 2;
  later.has_current_time = true;
  EXPECT_FALSE(IsDuplicate(later));
}

// --- The fold's queries
// ----------------------------------------------------------

TEST_P(StoreTest, FoldableEventsAreSortedByKeyAfterTheGivenKey) {
  Event a = BareEvent(1, "delta", Kind::kStarted, kT0 + 300);
  Event b = BareEvent(2, "delta", Kind::kProgress, kT0 + 100);
  Event c = BareEvent(3, "delta", Kind::kProgress, kT0 + 100);
  Event test = BareEvent(4, "delta", Kind::kDone, kT0 + 50);
  test.test = true;
  Event other = BareEvent(5, "alpha", Kind::kDone, kT0 + 200);
  Event d = BareEvent(6, "delta", Kind::kDone, kT0 + 400);
  WriteBatch batch;
  for (const Event& e : {a, b, c, test, other, d}) {
    batch.events.push_back(Record(e));
  }
  EventRecord dup = Record(BareEvent(7, "delta", Kind::kDone, kT0 + 400));
  dup.duplicate = true;
  batch.events.push_back(dup);
  Commit(batch);

  Result<std::vector<Event>> all = store_->FoldableEvents("delta", {}, kAllIds);
  ASSERT_TRUE(all.ok());
  EXPECT_THAT(*all, ElementsAre(b, c, a, d));
  Result<std::vector<Event>> after =
      store_->FoldableEvents("delta", EventKey{kT0 + 100, 2}, kAllIds);
  ASSERT_TRUE(after.ok());
  EXPECT_THAT(*after, ElementsAre(c, a, d));
  after = store_->FoldableEvents("delta", EventKey{kT0 + 400, 6}, kAllIds);
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->empty());
}

TEST_P(StoreTest, RefoldDeletesTheDevicesLaterSessionsOnly) {
  Session s1 = BareSession(1, "delta", kT0, kT0 + 10);
  Session s2 = BareSession(3, "delta", kT0 + 20, kT0 + 30);
  Session s3 = BareSession(5, "delta", kT0 + 20, kT0 + 40);  // same time
  Session other = BareSession(7, "alpha", kT0 + 50, kT0 + 60);
  CommitSessions({s1, s2, s3, other});

  WriteBatch batch;
  batch.refolds.push_back({"delta", EventKey{kT0 + 20, 3}});
  Session refolded = BareSession(9, "delta", kT0 + 25, kT0 + 45);
  batch.sessions.push_back(refolded);
  Commit(batch);
  EXPECT_THAT(Ids(List({})), ElementsAre(7, 9, 3, 1));

  batch = {};
  batch.refolds.push_back({"delta", std::nullopt});
  Commit(batch);
  EXPECT_THAT(Ids(List({})), ElementsAre(7));
}

TEST_P(StoreTest, EventSessionAssignmentsAndSessionEvents) {
  CommitEvents({BareEvent(1, "delta", Kind::kStarted, kT0 + 10),
                BareEvent(2, "delta", Kind::kDone, kT0 + 30),
                BareEvent(3, "delta", Kind::kProgress, kT0 + 20)});
  WriteBatch batch;
  batch.sessions.push_back(BareSession(1, "delta", kT0 + 10, kT0 + 30));
  batch.event_sessions = {{1, 1}, {2, 1}, {3, 1}};
  Commit(batch);
  Result<std::vector<EventView>> events = store_->SessionEvents(1);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 3u);  // oldest first, by event time
  EXPECT_EQ((*events)[0].event.id, 1);
  EXPECT_EQ((*events)[1].event.id, 3);
  EXPECT_EQ((*events)[2].event.id, 2);
  EXPECT_EQ((*events)[2].session_id, 1);

  batch = {};
  batch.event_sessions = {{3, std::nullopt}};
  Commit(batch);
  events = store_->SessionEvents(1);
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(events->size(), 2u);
}

TEST_P(StoreTest, LastIdleSessionBeforeIsTheLatestIdleClose) {
  Session a = BareSession(1, "delta", kT0, kT0 + 10);
  a.idle_after = true;
  Session b = BareSession(3, "delta", kT0 + 20, kT0 + 30);
  b.idle_after = true;
  Session restarted = BareSession(5, "delta", kT0 + 40, kT0 + 50);
  restarted.idle_after = false;  // a new session opened right away
  Session other = BareSession(7, "alpha", kT0 + 40, kT0 + 45);
  other.idle_after = true;
  CommitSessions({a, b, restarted, other});

  auto last = [&](EventKey before) -> std::optional<int64_t> {
    Result<std::optional<Session>> r =
        store_->LastIdleSessionBefore("delta", before);
    EXPECT_TRUE(r.ok());
    if (!r.ok() || !r->has_value()) return std::nullopt;
    return (*r)->id;
  };
  EXPECT_EQ(last({kT0 + 100, 100}), 3);
  EXPECT_EQ(last({kT0 + 30, 5}), 3);  // b was closed by (kT0 + 30, 4)
  EXPECT_EQ(last({kT0 + 30, 4}), 1);  // strictly before
  EXPECT_EQ(last({kT0 + 5, 1}), std::nullopt);
}

// --- Listing sessions
// -------------------------------------------------------------

TEST_P(StoreTest, ListSessionsFiltersAndPagesNewestFirst) {
  std::vector<Session> sessions;
  for (int i = 0; i < 30; ++i) {
    Session s =
        BareSession(i + 1, i % 3 ? "delta" : "alpha", kT0 + (i / 2) * kHourMs,
                    kT0 + (i / 2) * kHourMs + 1);
    if (i % 4 == 0) s.user = "ada";
    if (i % 5 == 0) s.status = SessionStatus::kFailed;
    sessions.push_back(s);
  }
  CommitSessions(sessions);

  auto expected = [&](auto keep) {
    std::vector<Session> out;
    for (const Session& s : sessions) {
      if (keep(s)) out.push_back(s);
    }
    std::sort(out.begin(), out.end(), [](const Session& a, const Session& b) {
      return std::pair(a.started_at, a.id) > std::pair(b.started_at, b.id);
    });
    return Ids(out);
  };
  // Pages of 4 through everything with a filter, by keyset.
  auto paged = [&](SessionFilter filter) {
    std::vector<int64_t> ids;
    SessionPageQuery q;
    q.filter = filter;
    q.limit = 4;
    for (;;) {
      std::vector<Session> page = List(q);
      for (const Session& s : page) ids.push_back(s.id);
      if (page.size() < 4) return ids;
      q.after = {page.back().started_at, page.back().id};
    }
  };
  EXPECT_EQ(paged({}), expected([](const Session&) { return true; }));
  SessionFilter f;
  f.device = "alpha";
  EXPECT_EQ(paged(f),
            expected([](const Session& s) { return s.device == "alpha"; }));
  f = {};
  f.user = "ada";
  EXPECT_EQ(paged(f),
            expected([](const Session& s) { return s.user == "ada"; }));
  f.status = SessionStatus::kFailed;
  EXPECT_EQ(paged(f), expected([](const Session& s) {
              return s.user == "ada" && s.status == SessionStatus::kFailed;
            }));
  f = {};
  f.from = kT0 + 3 * kHourMs;
  f.to = kT0 + 6 * kHourMs;
  EXPECT_EQ(paged(f), expected([&](const Session& s) {
              return s.started_at<*f.to&& * s.ended_at> * f.from;
            }));
  f.from.reset();
  EXPECT_EQ(paged(f),
            expected([&](const Session& s) { return s.started_at < *f.to; }));
}

TEST_P(StoreTest, WindowsFindLongOpenAndZeroLengthSessions) {
  TimeMs from = kT0 + 30 * kDayMs, to = from + 30 * kDayMs;
  CommitSessions({
      BareSession(1, "d", from - kDayMs, from - 1),           // before
      BareSession(2, "d", from - kDayMs, from + 1),           // straddles from
      BareSession(3, "d", from + kDayMs, from + 2 * kDayMs),  // inside
      BareSession(4, "d", to - 1, to + kDayMs),               // straddles to
      BareSession(5, "d", to, to + 1),                        // after
      BareSession(6, "d", from - 20 * kDayMs, from + kHourMs),      // long
      BareSession(7, "d", from - 20 * kDayMs, from - 10 * kDayMs),  // long,
                                                                    // before
      BareSession(8, "d", from - 29 * kDayMs, std::nullopt),        // open, old
      BareSession(9, "d", to + kDayMs, std::nullopt),  // open, later
      BareSession(10, "d", from, from),  // zero length, at the window's start
      BareSession(11, "d", from - kHourMs, from),  // ends as the window starts
      BareSession(12, "d", from - 10, std::nullopt),  // open, just before
  });
  EXPECT_THAT(Overlapping(from, to), ElementsAre(2, 3, 4, 6, 8, 9, 10, 12));

  SessionPageQuery q;
  q.filter.from = from;
  q.filter.to = to;
  EXPECT_THAT(Ids(List(q)), ElementsAre(4, 3, 10, 12, 2, 6, 8));
  q.limit = 5;  // the page ends inside the recent range
  EXPECT_THAT(Ids(List(q)), ElementsAre(4, 3, 10, 12, 2));
  q.after = {from - kDayMs, 2};  // the next page comes from the old range
  EXPECT_THAT(Ids(List(q)), ElementsAre(6, 8));
}

TEST_P(StoreTest, PagingWhileTheWriterInsertsNewerSessions) {
  std::vector<Session> initial;
  for (int i = 1; i <= 500; ++i) {
    initial.push_back(BareSession(i, "d", kT0 + (i / 3) * kSecondMs,
                                  kT0 + (i / 3) * kSecondMs + 1));
  }
  CommitSessions(initial);

  // The reader waits for a new commit before each page, so every page is
  // read after the writer changed the table.
  std::atomic<bool> done = false;
  std::atomic<int> committed = 0;
  std::thread writer([&] {
    for (int i = 501; !done && i < 100000; ++i) {
      WriteBatch batch;
      batch.sessions.push_back(
          BareSession(i, "d", kT0 + kDayMs + i, kT0 + kDayMs + i + 1));
      ASSERT_TRUE(CommitBatch(*store_, batch).ok());
      ++committed;
    }
  });
  auto next_page = [&, last = 0](const SessionPageQuery& q) mutable {
    while (committed == last) std::this_thread::yield();
    last = committed;
    return List(q);
  };
  std::vector<int64_t> seen;
  SessionPageQuery q;
  q.limit = 7;
  for (;;) {
    std::vector<Session> page = next_page(q);
    for (const Session& s : page) seen.push_back(s.id);
    if (page.empty()) break;
    q.after = {page.back().started_at, page.back().id};
  }
  done = true;
  writer.join();
  EXPECT_GT(committed, 70);  // one commit at least before each page

  std::set<int64_t> unique(seen.begin(), seen.end());
  EXPECT_EQ(unique.size(), seen.size()) << "a session was listed twice";
  for (int i = 1; i <= 500; ++i) {
    EXPECT_TRUE(unique.count(i)) << "session " << i << " was missed";
  }
}

// --- Manual attribution
// -------------------------------------------------------------

TEST_P(StoreTest, AttributedUsersShowInReadsAndFiltersAndSurviveReset) {
  Session sd = BareSession(1, "delta", kT0, kT0 + kHourMs);  // no user
  Session own = BareSession(3, "delta", kT0 + kDayMs, std::nullopt);
  own.user = "ada";
  DeviceState state;
  state.device = "delta";
  state.state = PrinterState::kPrinting;
  state.open = own;
  WriteBatch batch;
  batch.sessions = {sd, own};
  batch.device_states = {state};
  Commit(batch);

  Status missing = store_->SetSessionUser(99, "grace");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_THAT(missing.error().message, HasSubstr("99"));

  ASSERT_TRUE(store_->SetSessionUser(1, "grace").ok());
  ASSERT_TRUE(store_->SetSessionUser(3, "grace").ok());  // overrides "ada"
  auto user_of = [&](int64_t id) -> std::optional<std::string> {
    Result<std::optional<Session>> s = store_->GetSession(id);
    EXPECT_TRUE(s.ok() && s->has_value());
    return s.ok() && s->has_value() ? (*s)->user : std::nullopt;
  };
  EXPECT_EQ(user_of(1), "grace");
  EXPECT_EQ(user_of(3), "grace");
  SessionPageQuery q;
  q.filter.user = "grace";
  EXPECT_THAT(Ids(List(q)), ElementsAre(3, 1));
  q.filter.user = "ada";
  EXPECT_TRUE(List(q).empty());
  Result<std::vector<Session>> overlapping =
      store_->SessionsOverlapping(kT0, kT0 + 2 * kDayMs);
  ASSERT_TRUE(overlapping.ok());
  for (const Session& s : *overlapping) EXPECT_EQ(s.user, "grace");
  Result<std::vector<DeviceState>> states = store_->LoadDeviceStates();
  ASSERT_TRUE(states.ok() && states->size() == 1);
  EXPECT_EQ((*states)[0].open->user, "grace");

  // A rebuild deletes the ledger and writes it again: attribution stays.
  ASSERT_TRUE(ResetProjection().ok());
  EXPECT_TRUE(List({}).empty());
  CommitSessions({sd, own});
  EXPECT_EQ(user_of(1), "grace");
  q.filter.user = "grace";
  EXPECT_THAT(Ids(List(q)), ElementsAre(3, 1));

  // An empty name removes the attribution.
  ASSERT_TRUE(store_->SetSessionUser(3, "").ok());
  EXPECT_EQ(user_of(3), "ada");
  EXPECT_THAT(Ids(List(q)), ElementsAre(1));
}

TEST_P(StoreTest, MaintenanceMarksRoundTripAndSurviveReset) {
  auto marks = store_->LoadMaintenanceMarks();
  ASSERT_TRUE(marks.ok()) << marks.error().message;
  EXPECT_TRUE(marks->empty());
  MaintenanceMark nozzle{"delta", "nozzle", kT0, "grace"};
  MaintenanceMark again{"delta", "nozzle", kT0 + kDayMs, ""};
  MaintenanceMark belts{"prusa \u00e9", "belts, front", kT0, "ada"};
  for (const MaintenanceMark& m : {nozzle, again, belts}) {
    Status s = store_->RecordMaintenanceMark(m);
    ASSERT_TRUE(s.ok()) << s.error().message;
  }
  // The same device, item and time again replaces who did it.
  nozzle.by = "ada";
  ASSERT_TRUE(store_->RecordMaintenanceMark(nozzle).ok());
  marks = store_->LoadMaintenanceMarks();
  ASSERT_TRUE(marks.ok());
  EXPECT_THAT(*marks, ::testing::UnorderedElementsAre(nozzle, again, belts));

  // A rebuild keeps them; another instance (a restart) reads them.
  ASSERT_TRUE(ResetProjection().ok());
  std::unique_ptr<Store> other = Reopen();
  ASSERT_NE(other, nullptr);
  auto read = other->LoadMaintenanceMarks();
  ASSERT_TRUE(read.ok());
  EXPECT_THAT(*read, ::testing::UnorderedElementsAre(nozzle, again, belts));
}

// Each row keeps the decoder that read it; rebuild's first pass reads only
// the requests another decoder read (or none said), after the event up to
// which the log was last checked with the one asked for.
TEST_P(StoreTest, ForEachEventToDecodePassesOverWhatADecoderRead) {
  WriteBatch batch;
  for (int64_t id = 1; id <= 6; ++id) {
    EventRecord r = Record(BareEvent(id, "delta", Kind::kProgress, kT0 + id));
    r.request = StoredRequest{"POST", "/webhook", "application/json", "{}"};
    r.decoder = id % 2 == 0 ? 77 : (id == 3 ? 0 : 78);
    batch.events.push_back(std::move(r));
  }
  EventRecord swept = Record(BareEvent(7, "delta", Kind::kSwept, kT0 + 7));
  swept.request.reset();
  batch.events.push_back(swept);
  Commit(batch);
  std::vector<EventRecord> all = AllRecords();
  ASSERT_EQ(all.size(), 7u);
  EXPECT_EQ(all[0].decoder, 78);
  EXPECT_EQ(all[1].decoder, 77);
  EXPECT_EQ(all[2].decoder, 0);
  EXPECT_EQ(all[6].decoder, 0);

  auto ids_to_decode = [this](int64_t decoder) {
    std::vector<int64_t> ids;
    Status s = store_->ForEachEventToDecode(
        decoder, [&ids](const EventRecord& r) -> Status {
          EXPECT_TRUE(r.request.has_value());
          ids.push_back(r.event.id);
          return {};
        });
    EXPECT_TRUE(s.ok()) << s.error().message;
    return ids;
  };
  EXPECT_THAT(ids_to_decode(77), ElementsAre(1, 3, 5));
  EXPECT_THAT(ids_to_decode(78), ElementsAre(2, 3, 4, 6));
  EXPECT_THAT(ids_to_decode(0), ElementsAre(1, 2, 3, 4, 5, 6));
  ASSERT_TRUE(store_->RecordDecoded(77, 4).ok());
  EXPECT_THAT(ids_to_decode(77), ElementsAre(5));
  EXPECT_THAT(ids_to_decode(78), ElementsAre(2, 3, 4, 6));
  ASSERT_TRUE(store_->RecordDecoded(78, 6).ok());  // replaces 77's
  EXPECT_THAT(ids_to_decode(78), ElementsAre());
  EXPECT_THAT(ids_to_decode(77), ElementsAre(1, 3, 5));
}

// The rows to decode again may be far apart and many together: windows of
// ids with none, a run longer than a chunk, the last row of the log.
TEST_P(StoreTest, ForEachEventToDecodeFindsRowsAcrossWindowsAndChunks) {
  constexpr int64_t kRows = 9000;
  std::vector<int64_t> expected;
  WriteBatch batch;
  for (int64_t id = 1; id <= kRows; ++id) {
    EventRecord r = Record(BareEvent(id, "delta", Kind::kProgress, kT0 + id));
    r.request = StoredRequest{"POST", "/webhook", "application/json", "{}"};
    const bool other = (id >= 1000 && id <= 1700) || id == kRows;
    r.decoder = other ? 78 : 77;
    if (other) expected.push_back(id);
    batch.events.push_back(std::move(r));
  }
  Commit(batch);
  std::vector<int64_t> ids;
  Status s = store_->ForEachEventToDecode(
      77, [&ids](const EventRecord& r) -> Status {
        ids.push_back(r.event.id);
        return {};
      });
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(ids, expected);
  ids.clear();
  s = store_->ForEachEventToDecode(0, [&ids](const EventRecord& r) -> Status {
    ids.push_back(r.event.id);
    return {};
  });
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(ids.size(), static_cast<size_t>(kRows));
}

// A rebuild that fails or stops half way stores nothing of its new ledger:
// the old one stays whole, and a failed rewrite says why at every later call.
TEST_P(StoreTest, ALedgerRewriteNotCommittedLeavesTheOldLedger) {
  WriteBatch batch;
  batch.events = {Record(BareEvent(1, "delta", Kind::kStarted, kT0)),
                  Record(BareEvent(2, "delta", Kind::kDone, kT0 + 1000))};
  batch.event_sessions = {{1, 1}, {2, 1}};
  batch.sessions = {BareSession(1, "delta", kT0, kT0 + 1000)};
  DeviceState state;
  state.device = "delta";
  batch.device_states = {state};
  Commit(batch);

  LedgerPart part;
  part.sessions = {BareSession(7, "delta", kT0, std::nullopt)};
  part.links = {{1, 7, kT0}};
  DeviceState printing = state;
  printing.state = PrinterState::kPrinting;
  printing.open = part.sessions[0];
  part.device_states = {printing};
  {
    auto rewrite = store_->RewriteLedger();
    ASSERT_TRUE(rewrite.ok()) << rewrite.error().message;
    ASSERT_TRUE((*rewrite)->Add(part).ok());
  }  // dropped without a commit
  EXPECT_THAT(Ids(List({})), ElementsAre(1));
  Result<std::vector<EventView>> linked = store_->SessionEvents(1);
  ASSERT_TRUE(linked.ok());
  EXPECT_EQ(linked->size(), 2u);

  {
    auto rewrite = store_->RewriteLedger();
    ASSERT_TRUE(rewrite.ok()) << rewrite.error().message;
    ASSERT_TRUE((*rewrite)->Add(part).ok());
    EventUpdate unknown{BareEvent(99, "delta", Kind::kDone, kT0), false};
    Status failed = (*rewrite)->RewriteEvents({unknown});
    ASSERT_FALSE(failed.ok());
    EXPECT_THAT(failed.error().message, HasSubstr("event 99"));
    Status commit = (*rewrite)->Commit(2);
    ASSERT_FALSE(commit.ok());
    EXPECT_THAT(commit.error().message, HasSubstr("event 99"));
  }
  EXPECT_THAT(Ids(List({})), ElementsAre(1));
  Result<std::vector<DeviceState>> states = store_->LoadDeviceStates();
  ASSERT_TRUE(states.ok() && states->size() == 1);
  EXPECT_FALSE((*states)[0].open.has_value());

  // And one committed replaces it, with the flag it rewrote.
  auto rewrite = store_->RewriteLedger();
  ASSERT_TRUE(rewrite.ok()) << rewrite.error().message;
  EventUpdate flag{BareEvent(2, "delta", Kind::kDone, kT0 + 1000), true};
  ASSERT_TRUE((*rewrite)->RewriteEvents({flag}).ok());
  ASSERT_TRUE((*rewrite)->Add(part).ok());
  ASSERT_TRUE((*rewrite)->Commit(2).ok());
  rewrite->reset();
  EXPECT_THAT(Ids(List({})), ElementsAre(7));
  std::vector<EventRecord> records = AllRecords();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_FALSE(records[0].duplicate);
  EXPECT_TRUE(records[1].duplicate);
  Result<int64_t> position = store_->ProjectedPosition();
  ASSERT_TRUE(position.ok());
  EXPECT_EQ(*position, 2);
}

TEST_P(StoreTest, ResetProjectionKeepsEventsAndDevices) {
  WriteBatch batch;
  EventRecord r = Record(BareEvent(1, "delta", Kind::kStarted, kT0));
  batch.events = {r};
  batch.event_sessions = {{1, 1}};
  batch.sessions = {BareSession(1, "delta", kT0, std::nullopt)};
  DeviceState state;
  state.device = "delta";
  state.state = PrinterState::kPrinting;
  state.open = batch.sessions[0];
  batch.device_states = {state};
  batch.devices = {{"delta", "s", 1, 2}};
  Commit(batch);

  ASSERT_TRUE(ResetProjection().ok());
  std::vector<EventRecord> records = AllRecords();
  ASSERT_EQ(records.size(), 1u);
  Result<std::vector<EventView>> linked = store_->SessionEvents(1);
  ASSERT_TRUE(linked.ok());
  EXPECT_TRUE(linked->empty());
  EXPECT_TRUE(List({}).empty());
  Result<std::vector<DeviceState>> states = store_->LoadDeviceStates();
  ASSERT_TRUE(states.ok());
  EXPECT_TRUE(states->empty());
  Result<std::vector<DeviceRecord>> devices = store_->LoadDevices();
  ASSERT_TRUE(devices.ok());
  EXPECT_EQ(devices->size(), 1u);
}

// --- Events
// -------------------------------------------------------------------------

TEST_P(StoreTest, ListEventsPagesNewestFirstPerDevice) {
  std::vector<Event> events;
  for (int i = 1; i <= 20; ++i) {
    events.push_back(
        BareEvent(i, i % 2 ? "odd" : "even", Kind::kProgress, kT0 + i));
  }
  CommitEvents(events);
  EventPageQuery q;
  q.device = "odd";
  q.limit = 3;
  std::vector<int64_t> ids;
  for (;;) {
    Result<std::vector<EventView>> page = store_->ListEvents(q);
    ASSERT_TRUE(page.ok());
    for (const EventView& v : *page) ids.push_back(v.event.id);
    if (page->size() < 3) break;
    q.before_id = page->back().event.id;
  }
  EXPECT_THAT(ids, ElementsAre(19, 17, 15, 13, 11, 9, 7, 5, 3, 1));
}

TEST_P(StoreTest, ForEachEventVisitsEveryEventInIdOrder) {
  // Ids with gaps and arriving out of order, over several read chunks.
  std::vector<int64_t> ids;
  for (int64_t i = 1300; i >= 1; --i) ids.push_back(i * 3);
  WriteBatch batch;
  for (int64_t id : ids) {
    batch.events.push_back(Record(BareEvent(id, "d", Kind::kProgress, kT0)));
  }
  Commit(batch);
  std::vector<int64_t> seen;
  Status s = store_->ForEachEvent([&](const EventRecord& r) {
    seen.push_back(r.event.id);
    if (seen.size() % 500 != 0) return Status();
    // Writing from inside the scan works: the scan holds no transaction.
    WriteBatch more;
    more.devices.push_back({"d", {}, r.event.id, r.event.id});
    return CommitBatch(*store_, more);
  });
  ASSERT_TRUE(s.ok()) << s.error().message;
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(seen, ids);

  int calls = 0;
  s = store_->ForEachEvent([&](const EventRecord&) -> Status {
    if (++calls == 10) return Invalid("stop here");
    return {};
  });
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message, "stop here");
  EXPECT_EQ(calls, 10);
}

TEST_P(StoreTest, ForEachEventByDeviceGroupsPrintersInKeyOrder) {
  // Three printers, ids interleaved and arriving out of time order, a run of
  // 700 events of one printer and time (a read chunk ends inside it), a
  // sweep without a request, a stored duplicate flag, and events logged
  // after the position asked for.
  WriteBatch batch;
  int64_t id = 0;
  std::vector<EventKey> expected_b;
  for (int i = 0; i < 300; ++i) {
    for (const char* device : {"b", "a", "c"}) {
      // Each printer's times run backwards against the ids.
      TimeMs t = kT0 + (300 - i) * 1000;
      Event e = BareEvent(++id, device, Kind::kProgress, t);
      EventRecord r = Record(e);
      r.duplicate = (id % 7 == 0);
      batch.events.push_back(r);
      if (std::string(device) == "b") expected_b.push_back(KeyOf(e));
    }
  }
  for (int i = 0; i < 700; ++i) {
    Event e = BareEvent(++id, "b", Kind::kProgress, kT0 + 150 * 1000);
    batch.events.push_back(Record(e));
    expected_b.push_back(KeyOf(e));
  }
  EventRecord swept;
  swept.event = BareEvent(++id, "b", Kind::kSwept, kT0 + 999 * 1000);
  swept.event.has_current_time = false;
  batch.events.push_back(swept);
  expected_b.push_back(KeyOf(swept.event));
  const int64_t up_to = id;
  for (int i = 0; i < 5; ++i) {
    batch.events.push_back(
        Record(BareEvent(++id, "b", Kind::kProgress, kT0 + i)));
  }
  Commit(batch);
  std::sort(expected_b.begin(), expected_b.end());

  std::vector<std::string> order;  // each printer once, when it starts
  std::map<std::string, std::vector<EventKey>, std::less<>> keys;
  int64_t seen = 0;
  int64_t duplicates = 0;
  bool swept_seen = false;
  Status s = store_->ForEachEventByDevice(up_to, [&](const LoggedEvent& e) {
    ++seen;
    if (order.empty() || order.back() != e.event.device) {
      order.push_back(e.event.device);
    }
    keys[e.event.device].push_back(KeyOf(e.event));
    if (e.duplicate) ++duplicates;
    if (e.event.kind == Kind::kSwept) swept_seen = !e.request;
    EXPECT_EQ(e.request, e.event.kind != Kind::kSwept) << e.event.id;
    return Status();
  });
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(seen, up_to);
  // Each printer's events together, whatever the order of the printers.
  std::vector<std::string> sorted = order;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(keys["b"], expected_b);
  for (const char* device : {"a", "c"}) {
    EXPECT_TRUE(std::is_sorted(keys[device].begin(), keys[device].end()))
        << device;
    EXPECT_EQ(keys[device].size(), 300u) << device;
  }
  EXPECT_EQ(duplicates, 900 / 7);
  EXPECT_TRUE(swept_seen);

  int calls = 0;
  s = store_->ForEachEventByDevice(up_to, [&](const LoggedEvent&) -> Status {
    if (++calls == 10) return Invalid("stop here");
    return {};
  });
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message, "stop here");
  EXPECT_EQ(calls, 10);
}

// --- Threads
// ---------------------------------------------------------------------------

// Appends that never pause (a busy farm) must not grow the WAL without end:
// past its bound the writer checkpoints it after a projection step, so it
// starts over. The appends are interleaved with projection commits, as the
// single writer makes them.
TEST_P(SqliteStoreTest, TheWalStaysBoundedUnderAppendsThatNeverPause) {
  const std::string wal = dir_.File("pm.db") + "-wal";
  const std::string body(32 * 1024, 'x');  // a webhook with a picture
  int64_t largest = 0, written = 0;
  auto start = std::chrono::steady_clock::now();
  for (int64_t id = 1;
       written < 96 * 1024 * 1024 &&
       std::chrono::steady_clock::now() - start < std::chrono::seconds(40);
       ++id) {
    EventRecord r = Record(BareEvent(id, "delta", Kind::kProgress, kT0 + id));
    r.request->body = body;
    LogBatch batch;
    batch.events.push_back(r);
    ASSERT_TRUE(store_->Append(batch).ok());
    ProjectionBatch projected;
    projected.position = id;
    ASSERT_TRUE(store_->CommitProjection(projected).ok());
    written += static_cast<int64_t>(body.size());
    std::error_code ec;
    largest = std::max<int64_t>(
        largest, static_cast<int64_t>(std::filesystem::file_size(wal, ec)));
  }
  RecordProperty("written_mib", static_cast<int>(written >> 20));
  RecordProperty("largest_wal_mib", static_cast<int>(largest >> 20));
  ASSERT_GT(written, 40 * 1024 * 1024) << "too few appends to tell";
  // 16 MiB of frames, plus what a second of appends adds before the
  // checkpoint notices.
  EXPECT_LT(largest, 40 * 1024 * 1024) << "the WAL reached " << (largest >> 20)
                                       << " MiB after " << (written >> 20)
                                       << " MiB of appends";
}

TEST_P(StoreTest, ReadersRunWhileTheWriterCommits) {
  constexpr int kBatches = 200;
  std::atomic<bool> writing = true;
  std::atomic<int> failures = 0;
  std::thread writer([&] {
    for (int i = 1; i <= kBatches; ++i) {
      WriteBatch batch;
      batch.events.push_back(Record(BareEvent(
          i, "d" + std::to_string(i % 4), Kind::kDone, kT0 + i * kSecondMs)));
      Session s = BareSession(i, "d" + std::to_string(i % 4),
                              kT0 + i * kSecondMs, kT0 + i * kSecondMs + 5);
      batch.sessions.push_back(s);
      DeviceState state;
      state.device = s.device;
      state.last_applied = EventKey{s.started_at, i};
      batch.device_states.push_back(state);
      batch.event_sessions.push_back({i, i});
      if (!CommitBatch(*store_, batch).ok()) ++failures;
    }
    writing = false;
  });
  std::vector<std::thread> readers;
  std::atomic<int64_t> reads = 0;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&, t] {
      while (writing) {
        bool ok = true;
        switch (t) {
          case 0:
            ok = store_->ListSessions({}).ok();
            break;
          case 1:
            ok = store_->SessionsOverlapping(kT0, kT0 + kDayMs).ok();
            break;
          case 2:
            ok = store_->LoadDeviceStates().ok();
            break;
          default:
            ok = store_->ListEvents({}).ok() && store_->Ping().ok();
        }
        if (!ok) ++failures;
        ++reads;
      }
    });
  }
  writer.join();
  for (std::thread& r : readers) r.join();
  EXPECT_EQ(failures, 0);
  EXPECT_GT(reads, 0);
  SessionPageQuery everything;
  everything.limit = 1000;
  EXPECT_EQ(List(everything).size(), size_t{kBatches});
  Result<std::vector<EventView>> events = store_->SessionEvents(kBatches);
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(events->size(), 1u);
}

// --- Several instances on one PostgreSQL database ---------------------------

class SharedDatabaseTest : public StoreTest {};
INSTANTIATE_TEST_SUITE_P(Postgresql, SharedDatabaseTest,
                         ::testing::Values("postgresql"),
                         [](const auto& info) { return info.param; });

// Appends from two instances at once get distinct ids, committed in id
// order: a reader never sees an id before every smaller one.
TEST_P(SharedDatabaseTest, AppendsFromTwoInstancesCommitInIdOrder) {
  std::unique_ptr<Store> other = Reopen();
  std::unique_ptr<Store> reader = Reopen();
  ASSERT_NE(other, nullptr);
  ASSERT_NE(reader, nullptr);
  constexpr int kBatches = 150;
  std::atomic<bool> done{false};
  std::atomic<int> failures{0};
  auto append = [&](Store* store, const std::string& device) {
    for (int i = 0; i < kBatches; ++i) {
      LogBatch batch;
      batch.decide_duplicates = true;
      for (int k = 0; k < 3; ++k) {
        batch.events.push_back(Record(
            BareEvent(0, device, Kind::kProgress, kT0 + i * 10 + k)));
      }
      if (!store->Append(batch).ok()) ++failures;
    }
  };
  int gaps = 0;
  int64_t largest_seen = 0;
  std::thread watch([&] {
    while (!done) {
      auto log = reader->ReadLog(0, 100000);
      if (!log.ok()) continue;
      for (size_t i = 0; i < log->size(); ++i) {
        if ((*log)[i].event.id != static_cast<int64_t>(i) + 1) ++gaps;
      }
      if (!log->empty()) {
        largest_seen = std::max(largest_seen, log->back().event.id);
      }
    }
  });
  std::thread a(append, store_.get(), "alpha");
  std::thread b(append, other.get(), "beta");
  a.join();
  b.join();
  done = true;
  watch.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(gaps, 0);
  EXPECT_GT(largest_seen, 0);
  auto records = AllRecords();
  ASSERT_EQ(records.size(), 2u * kBatches * 3);
  for (size_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ(records[i].event.id, static_cast<int64_t>(i) + 1);
  }
  EXPECT_EQ(*other->LastEventId(), static_cast<int64_t>(records.size()));
}

// The same event resent to the other instance is still a duplicate.
TEST_P(SharedDatabaseTest, AResendToTheOtherInstanceIsADuplicate) {
  std::unique_ptr<Store> other = Reopen();
  Event e = BareEvent(0, "delta", Kind::kStarted, kT0);
  e.file.path = "a.gcode";
  LogBatch first;
  first.decide_duplicates = true;
  first.events.push_back(Record(e));
  ASSERT_TRUE(store_->Append(first).ok());
  LogBatch resent;
  resent.decide_duplicates = true;
  resent.events.push_back(Record(e));
  ASSERT_TRUE(other->Append(resent).ok());
  EXPECT_FALSE(first.events[0].duplicate);
  EXPECT_TRUE(resent.events[0].duplicate);
  EXPECT_EQ(resent.events[0].event.id, 2);
}

// Two instances registering one new printer at the same moment with
// different secrets: one wins, on both; the loser's events are not stored.
TEST_P(SharedDatabaseTest, RacingRegistrationsHaveOneWinner) {
  std::unique_ptr<Store> other = Reopen();
  constexpr int kRounds = 30;
  std::vector<LogBatch> mine(kRounds), theirs(kRounds);
  auto run = [](Store* store, std::vector<LogBatch>& batches,
                const std::string& secret) {
    for (int i = 0; i < kRounds; ++i) {
      std::string device = fmt::format("printer-{}", i);
      batches[i].devices.push_back({device, secret, kT0, kT0});
      batches[i].events.push_back(
          Record(BareEvent(0, device, Kind::kStarted, kT0 + i)));
      EXPECT_TRUE(store->Append(batches[i]).ok());
    }
  };
  std::thread a(run, store_.get(), std::ref(mine), "mine");
  std::thread b(run, other.get(), std::ref(theirs), "theirs");
  a.join();
  b.join();
  auto devices = store_->LoadDevices();
  ASSERT_TRUE(devices.ok());
  ASSERT_EQ(devices->size(), static_cast<size_t>(kRounds));
  // LoadDevices() is in name order ("printer-10" before "printer-2").
  std::map<std::string, std::string> secrets;
  for (const DeviceRecord& d : *devices) secrets[d.device] = d.secret.value_or("");
  int stored = 0;
  for (int i = 0; i < kRounds; ++i) {
    const std::string& secret = secrets[fmt::format("printer-{}", i)];
    bool mine_won = mine[i].lost.empty();
    bool theirs_won = theirs[i].lost.empty();
    EXPECT_NE(mine_won, theirs_won) << "round " << i;
    EXPECT_EQ(secret, mine_won ? "mine" : "theirs");
    LogBatch& loser = mine_won ? theirs[i] : mine[i];
    ASSERT_EQ(loser.lost.size(), 1u);
    EXPECT_EQ(loser.lost[0].secret, secret);
    EXPECT_EQ(loser.events[0].event.id, 0);
    stored += 1;
  }
  EXPECT_EQ(AllRecords().size(), static_cast<size_t>(stored));
}

// A projection step folded from a position another instance already moved
// past stores nothing and says so (the projector then reloads).
TEST_P(SharedDatabaseTest, AProjectionFromAStalePositionConflicts) {
  std::unique_ptr<Store> other = Reopen();
  CommitEvents({BareEvent(1, "delta", Kind::kStarted, kT0),
                BareEvent(2, "delta", Kind::kDone, kT0 + 5)});
  ProjectionBatch first;
  first.from = 2;  // CommitBatch moved it to 2
  first.position = 2;
  ASSERT_TRUE(store_->CommitProjection(first).ok());
  ProjectionBatch stale;
  stale.from = 0;
  stale.position = 1;
  stale.sessions.push_back(BareSession(1, "delta", kT0, std::nullopt));
  Status s = other->CommitProjection(stale);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kConflict);
  EXPECT_EQ(*store_->ProjectedPosition(), 2);
  EXPECT_TRUE(List({}).empty());
}

// One instance at a time leads the projection; when it goes (its
// connection closes), another takes over by itself.
TEST_P(SharedDatabaseTest, OneInstanceLeadsTheProjectionAndAnotherTakesOver) {
  std::unique_ptr<Store> other = Reopen();
  Result<bool> first = store_->LeadProjection();
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_TRUE(*first);
  Result<bool> second = other->LeadProjection();
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_FALSE(*second);
  EXPECT_TRUE(*store_->LeadProjection());  // still the leader
  store_.reset();  // the leader's process ends
  bool took_over = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!took_over && std::chrono::steady_clock::now() < deadline) {
    Result<bool> now = other->LeadProjection();
    ASSERT_TRUE(now.ok()) << now.error().message;
    took_over = *now;
    if (!took_over) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(took_over) << "the other instance never took the lead";
  store_ = Reopen();  // for the fixture's teardown
  EXPECT_FALSE(*store_->LeadProjection());
}

// A server of the test's own, a new database on it and a store open on
// that database: for tests that crash the server.
struct OwnServer {
  std::unique_ptr<testing::PgCluster> cluster;
  std::string url;
  std::unique_ptr<Store> store;
};
Result<OwnServer> StartOwnServer() {
  auto cluster = testing::PgCluster::Start();
  if (!cluster.ok()) return cluster.error();
  auto url = (*cluster)->NewDatabase();
  if (!url.ok()) return url.error();
  auto store = OpenStore(*url);
  if (!store.ok()) return store.error();
  return OwnServer{std::move(*cluster), *url, std::move(*store)};
}

// The database crashes under a running store and comes back: meanwhile
// appends and reads fail as unavailable, naming the server, and store
// nothing; afterwards the same store goes on by itself (it reconnects).
TEST(PgOutageTest, TheDatabaseAwayIsUnavailableThenTheStoreGoesOn) {
  auto own = StartOwnServer();  // the test crashes it
  ASSERT_TRUE(own.ok()) << own.error().message;
  auto& [cluster, url, store] = *own;
  LogBatch first;
  first.events.push_back(Record(BareEvent(0, "delta", Kind::kStarted, kT0)));
  ASSERT_TRUE(store->Append(first).ok());
  Result<bool> leads = store->LeadProjection();
  ASSERT_TRUE(leads.ok() && *leads);

  ASSERT_TRUE(cluster->Crash().ok());
  LogBatch during;
  during.events.push_back(Record(BareEvent(0, "delta", Kind::kDone, kT0 + 1)));
  Status s = store->Append(during);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kUnavailable);
  EXPECT_THAT(s.error().message, HasSubstr("nothing was stored"));
  Status ping = store->Ping();
  ASSERT_FALSE(ping.ok());
  EXPECT_EQ(ping.error().code, ErrorCode::kUnavailable);
  EXPECT_THAT(ping.error().message,
              HasSubstr(fmt::format("127.0.0.1:{}", cluster->port())));

  ASSERT_TRUE(cluster->Restart().ok());
  LogBatch after;
  after.events.push_back(Record(BareEvent(0, "delta", Kind::kDone, kT0 + 2)));
  Status resumed = store->Append(after);
  ASSERT_TRUE(resumed.ok()) << resumed.error().message;
  EXPECT_EQ(after.events[0].event.id, 2);  // nothing of `during` was kept
  EXPECT_TRUE(store->Ping().ok());
  std::vector<EventRecord> all;
  ASSERT_TRUE(store
                  ->ForEachEvent([&](const EventRecord& r) {
                    all.push_back(r);
                    return Status();
                  })
                  .ok());
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[1].event.time, kT0 + 2);

  // The projection's lead died with the server: another instance takes it,
  // and the old leader, checking again a second later, follows.
  auto other = OpenStore(url);
  ASSERT_TRUE(other.ok()) << other.error().message;
  Result<bool> taken = (*other)->LeadProjection();
  ASSERT_TRUE(taken.ok()) << taken.error().message;
  EXPECT_TRUE(*taken);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  Result<bool> still = store->LeadProjection();
  ASSERT_TRUE(still.ok()) << still.error().message;
  EXPECT_FALSE(*still);
}

// An append commits without waiting for the disk (so that the log's head
// is free sooner) and then waits for the flush itself: when Append returns,
// the WAL is on disk up to its commit, as it is when forwarding has read
// the rows. Checked on a server of its own whose WAL writer waits 10 s, so
// that nothing but printmeter's own flush puts the WAL on disk meanwhile.
TEST(PgDurabilityTest, AnAppendAndAForwardedPageAreOnDiskWhenReturned) {
  auto wal = testing::WalWatch::Start();  // a server of its own
  ASSERT_TRUE(wal.ok()) << wal.error().message;
  auto on_disk = [&]() { return (*wal)->OnDisk(); };
  auto store = OpenStore((*wal)->url());
  ASSERT_TRUE(store.ok()) << store.error().message;
  // The check itself: WAL written and not flushed is seen so.
  ASSERT_TRUE((*wal)->WriteUnflushed().ok());
  EXPECT_FALSE(on_disk());
  for (int i = 0; i < 10; ++i) {
    LogBatch batch;
    batch.decide_duplicates = true;
    for (int k = 0; k < 3; ++k) {
      batch.events.push_back(Record(BareEvent(
          0, fmt::format("p{}", k), Kind::kProgress, kT0 + i * 10 + k)));
    }
    ASSERT_TRUE((*store)->Append(batch).ok());
    EXPECT_TRUE(on_disk()) << "after append " << i;
    ASSERT_TRUE((*wal)->WriteUnflushed().ok());
    ASSERT_FALSE(on_disk());
    auto page = (*store)->ReadRequests(0, 100);
    ASSERT_TRUE(page.ok()) << page.error().message;
    EXPECT_EQ(page->size(), size_t(3 * (i + 1)));
    EXPECT_TRUE(on_disk()) << "after reading page " << i;
  }
}

// An append left for Flush() to confirm is confirmed only by a flush of the
// session it was given: one that began after the server restarted (and may
// have lost it) is another.
TEST(PgDurabilityTest, AFlushAfterARestartDoesNotConfirmWhatCameBefore) {
  auto own = StartOwnServer();  // the test crashes it
  ASSERT_TRUE(own.ok()) << own.error().message;
  auto& [cluster, url, store] = *own;
  // The flush session an append got; after a restart, the writer's first
  // append fails on its broken connection (the writer answers 503) and the
  // next reconnects.
  auto append = [&](TimeMs t, int tries = 1) -> int64_t {
    for (int i = 0; i < tries; ++i) {
      LogBatch batch;
      batch.decide_duplicates = true;
      batch.flush_later = true;
      batch.events.push_back(
          Record(BareEvent(0, "delta", Kind::kProgress, t)));
      Status s = store->Append(batch);
      if (!s.ok()) continue;
      EXPECT_FALSE(batch.durable);
      return batch.flush_session;
    }
    ADD_FAILURE() << "no append in " << tries << " tries";
    return -1;
  };
  const int64_t first = append(kT0);
  Result<int64_t> flushed = store->Flush();
  ASSERT_TRUE(flushed.ok()) << flushed.error().message;
  EXPECT_EQ(*flushed, first);  // confirmed
  const int64_t second = append(kT0 + 1);
  EXPECT_EQ(second, first);
  ASSERT_TRUE(cluster->Crash().ok());
  ASSERT_TRUE(cluster->Restart().ok());
  // The first flush after the restart fails or answers another session;
  // never the one `second` needs.
  for (int i = 0; i < 2; ++i) {
    flushed = store->Flush();
    if (flushed.ok()) EXPECT_NE(*flushed, second);
  }
  ASSERT_TRUE(flushed.ok()) << flushed.error().message;
  // Appends from now on are confirmed by the new session.
  const int64_t third = append(kT0 + 2, 2);
  EXPECT_EQ(third, *flushed);
  Result<int64_t> again = store->Flush();
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(*again, third);
}

// Forwarding reads the log in pages with each request as received, the
// picture's bytes beside it, and a synthetic `swept` without one.
TEST_P(StoreTest, ReadRequestsPagesTheLogWithRequestsAndPictures) {
  std::string jpeg("\xff\xd8\xff\xe0" "fwd\x00\x01\xff\xd9", 10);
  std::string body = MultipartWithPicture("b", jpeg);
  EventRecord pictured = Record(BareEvent(1, "delta", Kind::kDone, kT0));
  pictured.event.snapshot = true;
  pictured.request = StoredRequest{
      "POST", "/webhook", "multipart/form-data; boundary=b", body};
  SetPictureApart(*pictured.request,
                  Snapshot{"image/jpeg", jpeg, body.find(jpeg)});
  EventRecord swept = Record(BareEvent(2, "delta", Kind::kSwept, kT0 + 1));
  swept.request.reset();
  EventRecord plain = Record(BareEvent(3, "echo", Kind::kStarted, kT0 + 2));
  CommitRecords({pictured, swept, plain});

  auto first = store_->ReadRequests(0, 2);
  ASSERT_TRUE(first.ok()) << first.error().message;
  ASSERT_EQ(first->size(), 2u);
  const StoredRequest& got = *(*first)[0].request;
  ASSERT_TRUE(got.picture.has_value());
  EXPECT_EQ(got.picture->bytes, jpeg);
  std::string whole = got.body;
  whole.insert(static_cast<size_t>(got.picture->offset), got.picture->bytes);
  EXPECT_EQ(whole, body);
  EXPECT_EQ(got.content_type, "multipart/form-data; boundary=b");
  EXPECT_FALSE((*first)[1].request.has_value());
  EXPECT_EQ((*first)[1].event.kind, Kind::kSwept);

  auto rest = store_->ReadRequests(2, 10);
  ASSERT_TRUE(rest.ok());
  ASSERT_EQ(rest->size(), 1u);
  EXPECT_EQ((*rest)[0].event.id, 3);
  EXPECT_EQ((*rest)[0].event.device, "echo");
  EXPECT_EQ((*rest)[0].request->body, "{\"topic\":\"x\"}");
  auto end = store_->LogEnd();
  ASSERT_TRUE(end.ok());
  EXPECT_EQ(*end, 3);
}

// A target's position is set once, then moved only from the value it has:
// a second instance moving it from a stale value gets kConflict.
TEST_P(StoreTest, ForwardPositionsAreACompareAndSetThatSurvivesReopening) {
  auto none = store_->ForwardPositions();
  ASSERT_TRUE(none.ok()) << none.error().message;
  EXPECT_TRUE(none->empty());
  ASSERT_TRUE(store_->SaveForwardPosition("billing", std::nullopt, 5).ok());
  Status again = store_->SaveForwardPosition("billing", std::nullopt, 7);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kConflict);

  std::unique_ptr<Store> other = Reopen();
  ASSERT_NE(other, nullptr);
  ASSERT_TRUE(other->SaveForwardPosition("billing", 5, 9).ok());
  Status stale = store_->SaveForwardPosition("billing", 5, 6);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().code, ErrorCode::kConflict);
  ASSERT_TRUE(store_->SaveForwardPosition("chat", std::nullopt, 0).ok());

  other.reset();
  store_.reset();
  store_ = Reopen();
  auto positions = store_->ForwardPositions();
  ASSERT_TRUE(positions.ok());
  EXPECT_EQ(positions->size(), 2u);
  EXPECT_EQ(positions->at("billing"), 9);
  EXPECT_EQ(positions->at("chat"), 0);
}

// A notice recorded for one target is known after reopening, to that
// target only; recording it twice is no error.
TEST_P(StoreTest, ForwardNoticesAreRecordedPerTargetAndSurviveReopening) {
  auto none = store_->ForwardNotices("chat");
  ASSERT_TRUE(none.ok()) << none.error().message;
  EXPECT_TRUE(none->empty());
  const std::string key = "maintenance:mk3:nozzle:1718000000000";
  ASSERT_TRUE(store_->SaveForwardNotice("chat", key, 1).ok());
  Status again = store_->SaveForwardNotice("chat", key, 2);
  ASSERT_TRUE(again.ok()) << again.error().message;

  store_.reset();
  store_ = Reopen();
  auto chat = store_->ForwardNotices("chat");
  ASSERT_TRUE(chat.ok()) << chat.error().message;
  EXPECT_EQ(*chat, std::set<std::string>{key});
  EXPECT_TRUE(store_->ForwardNotices("billing")->empty());
}

}  // namespace
}  // namespace pm

// A print farm: several printmeter instances (here: their single writers,
// each with its own projector) on one PostgreSQL database of the tests' own,
// and `migrate` from a Raspberry Pi's SQLite file to it. The ledger must be
// what one instance folds from the same log (ledger.md section 2).
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <sqlite3.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <iterator>
#include <mutex>
#include <set>
#include <thread>

#include "decode/decode.h"
#include "decode/test_request.h"
#include "http/test_harness.h"
#include "ingest/migrate.h"
#include "ingest/rebuild.h"
#include "ingest/writer.h"
#include "store/pg_test_cluster.h"
#include "../../tests/printer_sim.h"

namespace pm {
namespace {

using testing::AllSessions;
using testing::PrinterSim;
using testing::TempDir;

constexpr TimeMs kT0 = 1'722'000'000'000;

// Requests of three printers (JSON and form bodies, resends, late ones),
// interleaved as they would reach the receiver, each with its receive time.
struct Sent {
  std::string content_type;
  std::string body;
  TimeMs received_at;
};

std::vector<Sent> Traffic(uint64_t seed, int per_printer) {
  std::vector<PrinterSim> printers;
  printers.emplace_back("mk4", PrinterSim::Encoding::kJson, seed, 1722000000);
  printers.emplace_back("ender", PrinterSim::Encoding::kForm, seed + 1,
                        1722000100);
  printers.emplace_back("voron", PrinterSim::Encoding::kJson, seed + 2,
                        1722000200);
  std::vector<Sent> out;
  for (int i = 0; i < per_printer; ++i) {
    for (PrinterSim& p : printers) {
      auto r = p.Next();
      out.push_back({r.content_type, r.body,
                     kT0 + static_cast<TimeMs>(out.size()) * 1000});
    }
  }
  return out;
}

IngestItem ItemOf(const Sent& s) {
  Request request;
  request.method = "POST";
  request.target = "/webhook";
  request.content_type = s.content_type;
  request.body = s.body;
  request.received_at = s.received_at;
  auto decoded = Decode(request, DecodeLimits{});
  EXPECT_TRUE(decoded.ok()) << decoded.error().message;
  IngestItem item;
  if (decoded.ok()) item.decoded = std::move(*decoded);
  item.request = StoredRequest{"POST", "/webhook", s.content_type, s.body};
  return item;
}

// One instance: a store on the database and its writer.
struct Instance {
  explicit Instance(const std::string& url,
                    std::function<void(IngestOptions&)> tweak = {}) {
    auto opened = OpenStore(url, {.writer = true, .program = "test"});
    EXPECT_TRUE(opened.ok()) << (opened.ok() ? "" : opened.error().message);
    if (!opened.ok()) return;
    store = std::move(*opened);
    IngestOptions options;
    options.sweep_interval = 0;
    options.auth = AuthMode::kOpen;
    if (tweak) tweak(options);
    writer = std::make_unique<IngestWriter>(
        IngestStores{*store, *store, *store}, options, clock);
    Status s = writer->Start();
    EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
  }
  ~Instance() {
    writer.reset();
    store.reset();
  }
  void Settle() {
    Status s = writer->Settle();
    EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
  }
  FakeClock clock{kT0};
  std::unique_ptr<Store> store;
  std::unique_ptr<IngestWriter> writer;
};

std::string NewPgDatabase() {
  testing::PgCluster* cluster = testing::SharedPgCluster();
  EXPECT_NE(cluster, nullptr) << "no PostgreSQL server for the tests";
  if (!cluster) return "";
  auto url = cluster->NewDatabase();
  EXPECT_TRUE(url.ok()) << (url.ok() ? "" : url.error().message);
  return url.ok() ? *url : "";
}

std::vector<Session> Rebuilt(Store& store) {
  auto stats = Rebuild(store, LedgerConfig{}, DecodeLimits{}, {});
  EXPECT_TRUE(stats.ok()) << (stats.ok() ? "" : stats.error().message);
  return AllSessions(store);
}

// Each printer's requests alternately to two instances, one at a time: the
// sessions equal a single SQLite instance's of the same requests.
TEST(FarmTest, TwoInstancesFoldWhatOneWould) {
  std::vector<Sent> traffic = Traffic(7, 120);
  TempDir dir;
  Instance single("sqlite:" + (dir.path() / "one.db").string());
  for (const Sent& s : traffic) {
    ASSERT_TRUE(single.writer->Ingest(ItemOf(s)).ok());
  }
  single.Settle();
  std::vector<Session> expected = AllSessions(*single.store);
  ASSERT_GT(expected.size(), 10u);

  std::string url = NewPgDatabase();
  ASSERT_FALSE(url.empty());
  Instance a(url), b(url);
  for (size_t i = 0; i < traffic.size(); ++i) {
    Instance& to = i % 2 ? b : a;
    auto verdict = to.writer->Ingest(ItemOf(traffic[i]));
    ASSERT_TRUE(verdict.ok()) << verdict.error().message;
    EXPECT_EQ(verdict->event_id, static_cast<int64_t>(i) + 1);
  }
  a.Settle();
  b.Settle();
  a.Settle();
  EXPECT_EQ(AllSessions(*a.store), expected);
  EXPECT_EQ(AllSessions(*b.store), expected);
  EXPECT_EQ(Rebuilt(*a.store), expected);
}

// Both instances at once (each printer's requests still alternate between
// them): every request stored once, and the projection equals the fold of
// the log as committed.
TEST(FarmTest, TwoInstancesAtOnceProjectTheFoldOfTheLog) {
  std::vector<Sent> traffic = Traffic(11, 150);
  std::string url = NewPgDatabase();
  ASSERT_FALSE(url.empty());
  Instance a(url), b(url);
  std::atomic<int> failed{0};
  auto send = [&](Instance& to, size_t parity) {
    for (size_t i = parity; i < traffic.size(); i += 2) {
      if (!to.writer->Ingest(ItemOf(traffic[i])).ok()) ++failed;
    }
  };
  std::thread ta(send, std::ref(a), 0);
  std::thread tb(send, std::ref(b), 1);
  ta.join();
  tb.join();
  EXPECT_EQ(failed, 0);
  a.Settle();
  b.Settle();
  a.Settle();
  auto last = a.store->LastEventId();
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(*last, static_cast<int64_t>(traffic.size()));
  std::vector<Session> projected = AllSessions(*a.store);
  ASSERT_GT(projected.size(), 10u);
  EXPECT_EQ(AllSessions(*b.store), projected);
  // Every event was folded by exactly one committed step, whichever
  // instance made it (the one that leads, or a follower that waited over a
  // second for it).
  IngestStats sa = a.writer->stats(), sb = b.writer->stats();
  EXPECT_EQ(sa.folded + sb.folded, *last)
      << "events folded: " << sa.folded << " and " << sb.folded;
  EXPECT_EQ(Rebuilt(*a.store), projected);
}

// From the Pi's SQLite file to PostgreSQL: the log, printers and secrets,
// rates, attributions and maintenance marks; the new ledger equals the old.
// A printer heard for the first time, with its secret (tofu).
IngestItem NewPrinter(const std::string& device, TimeMs at) {
  IngestItem item;
  Event& e = item.decoded.event;
  e.device = device;
  e.kind = Kind::kStarted;
  e.topic = "Print Started";
  e.time = at;
  e.has_current_time = true;
  e.received_at = at;
  item.decoded.secret = "s-" + device;
  item.request = StoredRequest{"POST", "/webhook", "application/json", "{}"};
  return item;
}

// The registration limits bound the farm, not each instance: printers that
// registered through one instance count on the other, in the window and
// toward the cap.
TEST(FarmTest, RegistrationLimitsCountEveryInstancesPrinters) {
  for (bool cap : {false, true}) {
    SCOPED_TRACE(cap ? "max_devices" : "registrations_per_hour");
    std::string url = NewPgDatabase();
    ASSERT_FALSE(url.empty());
    auto limits = [cap](IngestOptions& o) {
      o.auth = AuthMode::kTofu;
      o.follow_interval = 20;
      o.registrations = cap ? RegistrationLimits{.max_devices = 5,
                                                 .max_per_window = 0,
                                                 .window = kHourMs}
                            : RegistrationLimits{.max_devices = 0,
                                                 .max_per_window = 4,
                                                 .window = kHourMs};
    };
    Instance a(url, limits), b(url, limits);
    for (int i = 0; i < 3; ++i) {
      auto v = a.writer->Ingest(NewPrinter(fmt::format("a{}", i), kT0 + i));
      ASSERT_TRUE(v.ok()) << v.error().message;
    }
    // Through b: one more fits (4 in the window, or 4 of 5 devices), and
    // with cap, a fifth.
    ASSERT_TRUE(b.writer->Ingest(NewPrinter("b0", kT0 + 10)).ok());
    if (cap) {
      ASSERT_TRUE(b.writer->Ingest(NewPrinter("b1", kT0 + 11)).ok());
    }
    auto refused = b.writer->Ingest(NewPrinter("b9", kT0 + 12));
    ASSERT_FALSE(refused.ok()) << "b registered past the farm's limit";
    EXPECT_EQ(refused.error().code,
              cap ? ErrorCode::kForbidden : ErrorCode::kTooManyRequests)
        << refused.error().message;
    // And a, which registered only its own three, hears the same once it
    // counts again.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto refused_a = a.writer->Ingest(NewPrinter("a9", kT0 + 13));
    ASSERT_FALSE(refused_a.ok()) << "a registered past the farm's limit";
    auto devices = a.store->LoadDevices();
    ASSERT_TRUE(devices.ok());
    EXPECT_EQ(devices->size(), cap ? 5u : 4u);
    // A printer already known is never refused.
    EXPECT_TRUE(b.writer->Ingest(NewPrinter("a0", kT0 + 20)).ok());
  }
}

TEST(FarmTest, MigrateFromSqliteToPostgresqlKeepsEverything) {
  std::vector<Sent> traffic = Traffic(23, 80);
  // Two prints with a webcam picture on each event: under the default rule
  // some pictures are kept, some not; both must come across as they are.
  const std::string jpeg("\xff\xd8\xff\xe0" "cam\x00\x01\xff\xd9", 11);
  for (int i = 0; i < 8; ++i) {
    const char* topic = i % 4 == 0   ? "Print Started"
                        : i % 4 == 3 ? "Print Done"
                                     : "Print Progress";
    std::string json = fmt::format(
        R"({{"deviceIdentifier":"cam","apiSecret":"","topic":"{}",)"
        R"("currentTime":{},"extra":{{"name":"a.gcode","path":"a.gcode",)"
        R"("origin":"local"}},"progress":{{"completion":{}}}}})",
        topic, 1722100000 + i * 60, i * 10);
    traffic.push_back({"multipart/form-data; boundary=pm-cam",
                       testing::MultipartEncode(testing::PluginFields(json),
                                                "pm-cam",
                                                jpeg + std::to_string(i)),
                       kT0 + 10'000'000 + i * 1000});
  }
  TempDir dir;
  std::string sqlite_url = "sqlite:" + (dir.path() / "pi.db").string();
  std::vector<Session> sessions;
  {
    Instance pi(sqlite_url);
    for (const Sent& s : traffic) {
      ASSERT_TRUE(pi.writer->Ingest(ItemOf(s)).ok());
    }
    pi.Settle();
    auto all = AllSessions(*pi.store);
    ASSERT_GT(all.size(), 3u);
    ASSERT_TRUE(pi.writer->Attribute(all[0].id, "ada").ok());
    ASSERT_TRUE(pi.writer->Attribute(all[2].id, "grace").ok());
    ASSERT_TRUE(pi.store
                    ->RecordRateChanges({{"mk4", 0, {1.5, 0.05, 0.5}},
                                         {"mk4", kT0, {2.0, 0.06, 0.5}}})
                    .ok());
    ASSERT_TRUE(
        pi.store->RecordMaintenanceMark({"mk4", "nozzle", kT0, "ada"}).ok());
    // Forwarding: "chat" delivered up to event 40 and sent two notices;
    // "archive" is at the log's end.
    ASSERT_TRUE(pi.store->SaveForwardPosition("chat", std::nullopt, 40).ok());
    ASSERT_TRUE(pi.store->SaveForwardPosition("archive", std::nullopt, 248)
                    .ok());
    ASSERT_TRUE(
        pi.store->SaveForwardNotice("chat", "maintenance:mk4:nozzle:1", kT0)
            .ok());
    ASSERT_TRUE(
        pi.store->SaveForwardNotice("chat", "maintenance:mk4:belts:1", kT0)
            .ok());
  }
  {
    // As the README asks: rebuild on the Pi first (the ledger stays equal).
    auto pi = OpenStore(sqlite_url, {.writer = true, .program = "test"});
    ASSERT_TRUE(pi.ok()) << pi.error().message;
    std::vector<Session> before = AllSessions(**pi);
    ASSERT_EQ(Rebuilt(**pi), before);
  }
  auto from = OpenStore(sqlite_url, {.read_only = true});
  ASSERT_TRUE(from.ok()) << from.error().message;
  sessions = AllSessions(**from);

  std::string url = NewPgDatabase();
  ASSERT_FALSE(url.empty());
  auto to = OpenStore(url, {.writer = true, .program = "test"});
  ASSERT_TRUE(to.ok()) << to.error().message;
  std::vector<std::string> phases;
  auto stats = Migrate(**from, **to, LedgerConfig{},
                       [&](const char* phase, int64_t) {
                         if (phases.empty() || phases.back() != phase) {
                           phases.push_back(phase);
                         }
                       });
  ASSERT_TRUE(stats.ok()) << stats.error().message;
  EXPECT_EQ(phases,
            (std::vector<std::string>{"copying", "reading", "folding"}));
  EXPECT_EQ(stats->events, static_cast<int64_t>(traffic.size()));
  EXPECT_EQ(stats->attributions, 2);
  EXPECT_EQ(stats->maintenance_marks, 1);
  EXPECT_EQ(stats->forward_targets, 2);
  EXPECT_EQ(stats->forward_notices, 2);
  EXPECT_EQ(*(*to)->ForwardPositions(), *(*from)->ForwardPositions());
  EXPECT_EQ(*(*to)->ForwardNotices("chat"),
            (std::set<std::string>{"maintenance:mk4:belts:1",
                                   "maintenance:mk4:nozzle:1"}));
  EXPECT_TRUE((*to)->ForwardNotices("archive")->empty());
  EXPECT_EQ(*(*to)->LoadMaintenanceMarks(),
            (std::vector<MaintenanceMark>{{"mk4", "nozzle", kT0, "ada"}}));
  EXPECT_EQ(AllSessions(**to), sessions);
  EXPECT_EQ(*(*to)->LoadDevices(), *(*from)->LoadDevices());
  EXPECT_EQ(*(*to)->LoadAttributions(), *(*from)->LoadAttributions());
  auto rates_to = *(*to)->LoadRateChanges();
  auto rates_from = *(*from)->LoadRateChanges();
  std::sort(rates_to.begin(), rates_to.end(),
            [](auto& x, auto& y) { return x.effective_from < y.effective_from; });
  std::sort(rates_from.begin(), rates_from.end(),
            [](auto& x, auto& y) { return x.effective_from < y.effective_from; });
  EXPECT_EQ(rates_to, rates_from);
  // Every picture as on the Pi: the same bytes, or the same "not kept".
  int kept = 0;
  for (int64_t id = 1; id <= stats->events; ++id) {
    auto a = (*from)->GetSnapshot(id);
    auto b = (*to)->GetSnapshot(id);
    ASSERT_EQ(a.ok(), b.ok()) << "event " << id;
    if (!a.ok()) {
      EXPECT_EQ(a.error().code, b.error().code);
      continue;
    }
    ASSERT_EQ(a->has_value(), b->has_value()) << "event " << id;
    if (*a) {
      EXPECT_EQ((*a)->bytes, (*b)->bytes);
      EXPECT_EQ((*a)->content_type, (*b)->content_type);
      ++kept;
    }
  }
  EXPECT_GE(kept, 3);
  auto states_to = *(*to)->LoadDeviceStates();
  auto states_from = *(*from)->LoadDeviceStates();
  EXPECT_EQ(states_to, states_from);

  // Into a database that is not empty: refused, nothing changed.
  auto again = Migrate(**from, **to, LedgerConfig{}, {});
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kConflict);
  EXPECT_NE(again.error().message.find("new, empty database"),
            std::string::npos);
}

// A print farm's worth of printers, more than one append takes, and rows
// that keep the decoder that read them: the copy has every printer with its
// secret, and its rebuild decodes again only what another decoder read.
TEST(FarmTest, MigrateCopiesManyPrintersAndWhichDecoderReadEachRow) {
  TempDir dir;
  const std::string sqlite_url = "sqlite:" + (dir.path() / "pi.db").string();
  constexpr int kPrinters = 12'000;
  {
    auto pi = OpenStore(sqlite_url, {.writer = true, .program = "test"});
    ASSERT_TRUE(pi.ok()) << pi.error().message;
    LogBatch batch;
    for (int i = 0; i < kPrinters; ++i) {
      DeviceRecord d;
      d.device = fmt::format("printer-{:05}", i);
      if (i % 3 == 0) d.secret = fmt::format("secret-{}", i);
      d.first_seen = d.last_received = kT0 + i;
      batch.devices.push_back(std::move(d));
    }
    for (int64_t id = 1; id <= 3; ++id) {
      EventRecord r;
      r.event.id = id;
      r.event.device = "printer-00000";
      r.event.topic = "Print Progress";
      r.event.kind = Kind::kProgress;
      r.event.time = r.event.received_at = kT0 + id * 1000;
      r.event.has_current_time = true;
      r.request = StoredRequest{"POST", "/webhook", "application/json", "{}"};
      r.decoder = id == 2 ? 0 : DecoderId();
      batch.events.push_back(std::move(r));
    }
    ASSERT_TRUE((*pi)->Append(batch).ok());
  }
  auto from = OpenStore(sqlite_url, {.read_only = true});
  ASSERT_TRUE(from.ok()) << from.error().message;
  std::string url = NewPgDatabase();
  ASSERT_FALSE(url.empty());
  auto to = OpenStore(url, {.writer = true, .program = "test"});
  ASSERT_TRUE(to.ok()) << to.error().message;
  auto stats = Migrate(**from, **to, LedgerConfig{}, {});
  ASSERT_TRUE(stats.ok()) << stats.error().message;
  EXPECT_EQ(stats->devices, kPrinters);
  EXPECT_EQ(stats->events, 3);
  EXPECT_EQ(stats->ledger.decoded_again, 1);  // the row no decoder was said for
  auto devices = (*to)->LoadDevices();
  ASSERT_TRUE(devices.ok()) << devices.error().message;
  EXPECT_EQ(devices->size(), static_cast<size_t>(kPrinters));
  EXPECT_EQ(*devices, *(*from)->LoadDevices());
  std::vector<int64_t> decoders;
  ASSERT_TRUE((*to)
                  ->ForEachEvent([&](const EventRecord& r) -> Status {
                    decoders.push_back(r.decoder);
                    return {};
                  })
                  .ok());
  EXPECT_EQ(decoders, (std::vector<int64_t>{DecoderId(), 0, DecoderId()}));
}

// A SQLite file from before the bodies were stored compressed (its rows'
// body_size NULL: as received) copied into a new file with `migrate`: the
// copy holds them compressed, and reads them back as received (README: how
// to shrink an older database).
TEST(MigrateTest, CopyingAnOlderSqliteFileStoresItsBodiesCompressed) {
  TempDir dir;
  const std::string old_path = (dir.path() / "old.db").string();
  const std::string new_path = (dir.path() / "new.db").string();
  std::ifstream in(testing::FixturesDir() +
                       "/seed/01-octoprint-print-started.json",
                   std::ios::binary);
  const std::string body((std::istreambuf_iterator<char>(in)),
                         std::istreambuf_iterator<char>());
  ASSERT_GT(body.size(), 2000u);
  {
    auto created = OpenStore("sqlite:" + old_path,
                             {.writer = true, .program = "test"});
    ASSERT_TRUE(created.ok()) << created.error().message;
  }
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(old_path.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(
                  db,
                  "INSERT INTO events (id, device, topic, kind, test, "
                  "duplicate, time, has_current_time, received_at, snapshot, "
                  "method, target, content_type, body) VALUES (1, 'delta', "
                  "'Print Started', 'started', 0, 0, 1000, 1, 1000, 0, "
                  "'POST', '/webhook', 'application/json', ?)",
                  -1, &stmt, nullptr),
              SQLITE_OK)
        << sqlite3_errmsg(db);
    sqlite3_bind_blob(stmt, 1, body.data(), static_cast<int>(body.size()),
                      SQLITE_TRANSIENT);
    ASSERT_EQ(sqlite3_step(stmt), SQLITE_DONE) << sqlite3_errmsg(db);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
  }
  auto from = OpenStore("sqlite:" + old_path, {.read_only = true});
  ASSERT_TRUE(from.ok()) << from.error().message;
  auto to = OpenStore("sqlite:" + new_path, {.writer = true, .program = "test"});
  ASSERT_TRUE(to.ok()) << to.error().message;
  auto stats = Migrate(**from, **to, LedgerConfig{}, {});
  ASSERT_TRUE(stats.ok()) << stats.error().message;
  EXPECT_EQ(stats->events, 1);

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(new_path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db,
                               "SELECT body_size, length(body) FROM events "
                               "WHERE id = 1",
                               -1, &stmt, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int64(stmt, 0), static_cast<int64_t>(body.size()));
  EXPECT_LT(sqlite3_column_int64(stmt, 1), static_cast<int64_t>(body.size() / 2));
  sqlite3_finalize(stmt);
  sqlite3_close(db);

  std::vector<std::string> bodies;
  ASSERT_TRUE((*to)->ForEachEvent([&](const EventRecord& r) -> Status {
                     bodies.push_back(r.request->body);
                     return {};
                   })
                  .ok());
  EXPECT_EQ(bodies, std::vector<std::string>{body});
}

// `serve` on PostgreSQL (the receiver, its writer and the API on loopback)
// while the database crashes and comes back: webhooks are answered 503
// (never a 200 that was not stored), /readyz and reads say unavailable,
// naming the server; afterwards it goes on by itself, and every webhook
// answered 200 is stored once.
TEST(FarmTest, ServeOnPostgresqlAnswers503WhileTheDatabaseIsAwayThenHeals) {
  auto cluster = testing::PgCluster::Start();  // its own: it is crashed
  ASSERT_TRUE(cluster.ok()) << cluster.error().message;
  auto url = (*cluster)->NewDatabase();
  ASSERT_TRUE(url.ok()) << url.error().message;
  TempDir dir;
  testing::Harness h(dir.path());
  h.db = *url;
  h.Start({}, {}, /*with_api=*/true);
  TestClient c(h.port());
  int sent = 0;
  std::vector<int64_t> acked;
  auto post = [&]() -> int {
    ++sent;
    std::string body = fmt::format(
        R"({{"deviceIdentifier":"mk4","apiSecret":"","topic":"Print Progress",)"
        R"("currentTime":{},"extra":{{"path":"a.gcode"}},)"
        R"("progress":{{"completion":{}}}}})",
        1722000000 + sent, sent % 100);
    auto r = c.Send("POST", "/webhook", "application/json", body);
    if (!r.ok()) return -1;
    if (r->status == 200) {
      size_t at = r->body.find("\"event\":");
      acked.push_back(std::stoll(r->body.substr(at + 8)));
    }
    return r->status;
  };
  auto get = [&](const std::string& target) {
    auto r = c.Send("GET", target, "", "");
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : HttpReply{};
  };
  for (int i = 0; i < 5; ++i) ASSERT_EQ(post(), 200);
  EXPECT_EQ(get("/readyz").status, 200);

  ASSERT_TRUE((*cluster)->Crash().ok());
  EXPECT_EQ(post(), 503);
  auto ready = get("/readyz");
  EXPECT_EQ(ready.status, 503) << ready.body;
  std::string where = fmt::format("127.0.0.1:{}", (*cluster)->port());
  EXPECT_NE(ready.body.find(where), std::string::npos) << ready.body;
  auto sessions = get("/api/v1/sessions");
  EXPECT_EQ(sessions.status, 503) << sessions.body;
  EXPECT_NE(sessions.body.find(where), std::string::npos) << sessions.body;

  ASSERT_TRUE((*cluster)->Restart().ok());
  int status = 0;
  for (int tries = 0; tries < 50 && status != 200; ++tries) {
    status = post();
    if (status != 200) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(status, 200);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(post(), 200);
  EXPECT_EQ(get("/readyz").status, 200);
  // The projector's own connection heals at its first use after the
  // restart (that use fails, and it tries again a second later).
  Status settled = h.writer->Settle();
  for (int tries = 0; tries < 50 && !settled; ++tries) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    settled = h.writer->Settle();
  }
  EXPECT_TRUE(settled.ok()) << settled.error().message;
  std::vector<int64_t> stored;
  for (const EventRecord& r : testing::AllEvents(*h.store)) {
    stored.push_back(r.event.id);
  }
  EXPECT_EQ(stored, acked);
}

// An instance that hears no webhook itself follows the shared log: its
// ledger catches up and its live dashboards hear of each printer that
// changed, within about follow_interval.
TEST(FarmTest, AnIdleInstanceFollowsTheSharedLog) {
  std::vector<Sent> traffic = Traffic(31, 30);
  std::string url = NewPgDatabase();
  ASSERT_FALSE(url.empty());
  Instance busy(url);
  IngestOptions options;
  options.sweep_interval = 0;
  options.auth = AuthMode::kOpen;
  options.follow_interval = 50;
  auto opened = OpenStore(url);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  FakeClock clock{kT0};
  IngestWriter idle(IngestStores{**opened, **opened, **opened}, options,
                    clock);
  std::mutex mu;
  std::set<std::string> heard;
  idle.AddProjectionListener(
      [&](const std::map<std::string, int64_t, std::less<>>& changed) {
        std::lock_guard lock(mu);
        for (const auto& [device, id] : changed) heard.insert(device);
      });
  ASSERT_TRUE(idle.Start().ok());
  for (const Sent& s : traffic) {
    ASSERT_TRUE(busy.writer->Ingest(ItemOf(s)).ok());
  }
  busy.Settle();
  std::vector<Session> expected = AllSessions(*busy.store);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    bool all_heard;
    {
      std::lock_guard lock(mu);
      all_heard = heard.size() == 3;
    }
    IngestStats stats = idle.stats();
    bool caught_up = stats.projected == static_cast<int64_t>(traffic.size());
    if ((caught_up && all_heard) ||
        std::chrono::steady_clock::now() > deadline) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(idle.stats().logged, static_cast<int64_t>(traffic.size()));
  EXPECT_EQ(idle.stats().projected, static_cast<int64_t>(traffic.size()));
  std::lock_guard lock(mu);
  EXPECT_EQ(heard, (std::set<std::string>{"ender", "mk4", "voron"}));
  EXPECT_EQ(AllSessions(**opened), expected);
}

// A webhook's answer comes once its event is on disk: the append commits
// without waiting for the disk and a flush apart confirms it (writer.h). On
// a server of its own whose WAL writer waits 10 s, with the projector held
// back, so that nothing but the writer's flush puts the WAL on disk.
TEST(FarmTest, AnAnswerComesOnlyOnceItsEventIsOnDisk) {
  auto wal = testing::WalWatch::Start();  // a server of its own
  ASSERT_TRUE(wal.ok()) << wal.error().message;
  auto on_disk = [&]() { return (*wal)->OnDisk(); };
  Instance farm((*wal)->url(), [](IngestOptions& o) {
    o.projection_delay = 600'000;
    o.projection_backlog = 1'000'000;
  });
  ASSERT_NE(farm.writer, nullptr);
  // The check itself: WAL written and not flushed is seen so.
  ASSERT_TRUE((*wal)->WriteUnflushed().ok());
  EXPECT_FALSE(on_disk());
  std::vector<Sent> traffic = Traffic(7, 10);
  for (size_t i = 0; i < traffic.size(); ++i) {
    Result<Verdict> v = farm.writer->Ingest(ItemOf(traffic[i]));
    ASSERT_TRUE(v.ok()) << v.error().message;
    EXPECT_TRUE(on_disk()) << "after the answer to request " << i;
    ASSERT_TRUE((*wal)->WriteUnflushed().ok());
    ASSERT_FALSE(on_disk());
  }
}

}  // namespace
}  // namespace pm

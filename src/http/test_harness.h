// Test support: a real SQLite store in a temp dir, the ingest writer, and
// the server on a loopback port. For tests only.
#pragma once

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "ingest/writer.h"
#include "http/server.h"
#include "http/test_client.h"
#include "store/pg_test_cluster.h"
#include "store/store.h"

namespace pm::testing {

// A fresh directory under the system's temp dir, removed at the end.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("pm_http_" + std::to_string(::getpid()) + "_" +
             std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline std::string FixturesDir() { return PM_FIXTURES_DIR; }

// Opens the store or fails the test.
inline std::unique_ptr<Store> MustOpen(const std::string& url,
                                       const OpenOptions& options = {}) {
  auto store = OpenStore(url, options);
  EXPECT_TRUE(store.ok()) << (store.ok() ? "" : store.error().message);
  return store.ok() ? std::move(*store) : nullptr;
}

// The store as the next `printmeter serve` (or any writer) opens it, once
// the servers are gone: on SQLite it first moves into the database the
// answered webhooks a killed server left in its journal
// (store/append_journal.h), which a reader does not see.
inline std::unique_ptr<Store> MustOpenAfterServe(const std::string& url) {
  return MustOpen(url, {.writer = true, .program = "a test"});
}

// Every session of the store, newest first.
inline std::vector<Session> AllSessions(Store& store) {
  std::vector<Session> out;
  SessionPageQuery q;
  q.limit = 1000;
  for (;;) {
    auto page = store.ListSessions(q);
    EXPECT_TRUE(page.ok()) << (page.ok() ? "" : page.error().message);
    if (!page.ok() || page->empty()) break;
    for (Session& s : *page) out.push_back(std::move(s));
    q.after = std::make_pair(out.back().started_at, out.back().id);
  }
  return out;
}

// Every stored event in id order.
inline std::vector<EventRecord> AllEvents(Store& store) {
  std::vector<EventRecord> out;
  Status s = store.ForEachEvent([&](const EventRecord& r) -> Status {
    out.push_back(r);
    return {};
  });
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
  return out;
}

// Every logged event's session (events in no session left out).
inline std::map<int64_t, int64_t> EventSessions(Store& store) {
  std::map<int64_t, int64_t> out;
  EventPageQuery q;
  q.limit = 1000;
  for (;;) {
    auto page = store.ListEvents(q);
    EXPECT_TRUE(page.ok()) << (page.ok() ? "" : page.error().message);
    if (!page.ok() || page->empty()) break;
    for (const EventView& v : *page) {
      if (v.session_id) out[v.event.id] = *v.session_id;
    }
    q.before_id = page->back().event.id;
  }
  return out;
}

// The store, writer and server, started on a loopback port.
struct Harness {
  // A SQLite file in `dir`, or a fresh PostgreSQL database when the run
  // says so (TestStoreUrl).
  explicit Harness(const std::filesystem::path& dir)
      : db(TestStoreUrl((dir / "pm.db").string())) {}

  // `with_api`: also the real read side (MakeApi with api_options) for /api
  // and /metrics.
  void Start(IngestOptions options = {}, ServerOptions server_options = {},
             bool with_api = false) {
    store = MustOpen(db, open_options);
    ASSERT_NE(store, nullptr);
    options.sweep_interval = 0;
    writer = std::make_unique<IngestWriter>(*store, options, clock);
    Status s = writer->Start();
    ASSERT_TRUE(s.ok()) << s.error().message;
    if (with_api) {
      api = MakeApi(*store, api_options, clock,
                    [w = writer.get()](int64_t id, const std::string& user) {
                      return w->Attribute(id, user);
                    });
    }
    server_options.host = "127.0.0.1";
    server_options.port = 0;
    server = std::make_unique<Server>(server_options, *store, *writer,
                                      api.get(), clock);
    s = server->Start();
    ASSERT_TRUE(s.ok()) << s.error().message;
  }
  void Stop() {
    if (server) server->Stop();
    if (writer) writer->Stop();
    server.reset();
    writer.reset();
    api.reset();
    store.reset();
  }
  ~Harness() { Stop(); }
  // The ledger as of every answer given so far (it trails the log).
  std::vector<Session> Sessions() {
    Settle();
    return AllSessions(*store);
  }
  void Settle() {
    Status s = writer->Settle();
    EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
  }
  uint16_t port() const { return server->port(); }

  std::string db;
  // How Start() opens it; a test may give `serve`'s (writer and
  // append_journal).
  OpenOptions open_options;
  // 2024-08-03T01:00Z: every seed's currentTime is within a day of it, so
  // none is disbelieved as a clock far ahead (ledger.md section 2), and none
  // is stale.
  FakeClock clock{1'722'646'800'000};
  ApiOptions api_options;
  std::unique_ptr<Store> store;
  std::unique_ptr<Api> api;
  std::unique_ptr<IngestWriter> writer;
  std::unique_ptr<Server> server;
};

// A realistic stream for one printer: prints started, progressing, paused
// and resumed, finished, cancelled or failed; some start spam, some resent
// requests (duplicates), a test button press, and missed starts.
inline std::vector<std::string> PrinterStream(int device, int count,
                                       std::mt19937& random) {
  std::vector<std::string> bodies;
  std::string id = fmt::format("printer-{:02}", device);
  int64_t t = 1722000000 + device * 7;
  auto body = [&](const char* topic, const std::string& extra) {
    return fmt::format(
        R"({{"deviceIdentifier":"{}","apiSecret":"s-{}","topic":"{}",)"
        R"("extra":{{{}}},"job":{{"estimatedPrintTime":5400,)"
        R"("filament":{{"tool0":{{"length":1000.5}}}}}},"currentTime":{}}})",
        id, device, topic, extra, t);
  };
  int print = 0;
  while (static_cast<int>(bodies.size()) < count) {
    ++print;
    std::string file = fmt::format(R"("name":"part{}.gcode","path":"p/part{}.gcode","user":"u{}")",
                                   print, print, random() % 5);
    if (random() % 8 != 0) bodies.push_back(body("Print Started", file));
    if (random() % 10 == 0) bodies.push_back(body("Print Started", file));  // spam
    int steps = 1 + static_cast<int>(random() % 4);
    for (int s = 0; s < steps; ++s) {
      t += 60 + random() % 900;
      switch (random() % 5) {
        case 0:
          bodies.push_back(body("Print Paused", file));
          t += 30 + random() % 300;
          bodies.push_back(body("Print Resumed", file));
          break;
        case 1:
          bodies.push_back(body("User Action Needed", ""));
          break;
        default:
          bodies.push_back(body("Print Progress", R"("progress":50)"));
      }
    }
    t += 60 + random() % 900;
    switch (random() % 6) {
      case 0:
        bodies.push_back(body("Print Failed", file + R"(,"reason":"cancelled","time":100)"));
        break;
      case 1:
        bodies.push_back(body("Print Failed", file + R"(,"reason":"error","error":"thermal runaway")"));
        break;
      case 2:
        break;  // end never seen: the next start interrupts it
      default:
        bodies.push_back(body("Print Done", file + R"(,"time":2000)"));
    }
    if (random() % 7 == 0) bodies.push_back(bodies.back());  // a resend
    if (random() % 20 == 0) {
      bodies.push_back(body("Print Started", R"("name":"example.gcode","hook_index":0,"popup":true)"));
    }
    t += 120 + random() % 3600;
  }
  bodies.resize(count);
  // Arrival is not always in order: swap some neighbours (late events).
  for (size_t i = 1; i < bodies.size(); ++i) {
    if (random() % 12 == 0) std::swap(bodies[i - 1], bodies[i]);
  }
  return bodies;
}

}  // namespace pm::testing

// store_bench: the SQLite store's read side on a realistic ledger (1 M
// sessions, 200 printers, 2 years) and its write side per event.
//
// The ledger database is generated once (about a minute) at
// $PM_STORE_BENCH_DB, default ./store_bench.db, and reused by later runs;
// $PM_STORE_BENCH_SESSIONS sets its size for a new one.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

#include "ledger/usage.h"
#include "store/store.h"
#include "store/write_batch.h"

namespace pm {
namespace {

constexpr int kPrinters = 200;
constexpr TimeMs kStart = 1672531200000;  // 2023-01-01
constexpr TimeMs kSpan = 730 * kDayMs;    // two years
constexpr int kUsers = 300;

// 1 M sessions unless $PM_STORE_BENCH_SESSIONS says otherwise (the smoke
// run of scripts/bench.sh asks for a few thousand).
int64_t LedgerSessions() {
  const char* env = std::getenv("PM_STORE_BENCH_SESSIONS");
  int64_t n = env ? std::atoll(env) : 0;
  return n > 0 ? n : 1'000'000;
}

std::string BenchDbPath() {
  const char* env = std::getenv("PM_STORE_BENCH_DB");
  return env ? env : "store_bench.db";
}

void Check(const Status& s) {
  if (!s.ok()) {
    std::fprintf(stderr, "store_bench: %s\n", s.error().message.c_str());
    std::exit(1);
  }
}

// One printer's sessions, back to back with random gaps: mostly prints of
// 5 min to 5 h, a few interrupted ones of up to two days and, rarely, one
// longer than a week.
Session NextSession(std::mt19937_64& rng, int printer, TimeMs& t, int64_t id) {
  // About 3.4 h per cycle: 5,000 sessions per printer fill two years.
  std::uniform_int_distribution<int64_t> gap(5 * kMinuteMs, 150 * kMinuteMs);
  std::uniform_int_distribution<int64_t> print(5 * kMinuteMs, 4 * kHourMs);
  std::uniform_int_distribution<int> dice(0, 9999);
  int roll = dice(rng);
  TimeMs duration = print(rng);
  Session s;
  s.id = id;
  s.device = "printer-" + std::to_string(printer);
  s.started_at = t + gap(rng);
  s.status = SessionStatus::kCompleted;
  if (roll < 100) {
    s.status = SessionStatus::kInterrupted;
    duration = std::uniform_int_distribution<int64_t>(kHourMs, 2 * kDayMs)(rng);
  } else if (roll < 105) {
    s.status = SessionStatus::kInterrupted;
    duration = 8 * kDayMs;
  } else if (roll < 900) {
    s.status = SessionStatus::kCancelled;
  }
  s.ended_at = s.started_at + duration;
  s.last_event_at = *s.ended_at;
  s.file.name = "part-" + std::to_string(roll) + ".gcode";
  s.file.path = s.file.name;
  s.file.origin = roll % 7 ? "local" : "sdcard";
  if (roll % 5) s.user = "user-" + std::to_string(roll % kUsers);
  s.progress_pct = 100;
  s.estimated_s = duration / 1000.0;
  s.job_filament_mm = 1000 + roll;
  s.event_count = 20 + roll % 50;
  s.opened_by = {s.started_at, id};
  s.closed_by = EventKey{*s.ended_at, id + 1};
  s.idle_after = true;
  t = *s.ended_at;
  return s;
}

void Generate(Store& store) {
  const int64_t sessions = LedgerSessions();
  std::fprintf(stderr, "store_bench: generating %lld sessions...\n",
               static_cast<long long>(sessions));
  std::mt19937_64 rng(42);
  // Sessions interleaved across printers in time, as a real ledger fills.
  std::vector<TimeMs> clock(kPrinters, kStart);
  int64_t per_printer = std::max<int64_t>(sessions / kPrinters, 1);
  WriteBatch batch;
  int64_t id = 1;
  for (int64_t round = 0; round < per_printer; ++round) {
    for (int p = 0; p < kPrinters; ++p) {
      batch.sessions.push_back(NextSession(rng, p, clock[p], id));
      id += 50;
    }
    if (batch.sessions.size() >= 10000) {
      Check(CommitBatch(store, batch));
      batch = {};
    }
  }
  Check(CommitBatch(store, batch));
}

Store& LedgerStore() {
  static std::unique_ptr<Store> store = [] {
    std::string path = BenchDbPath();
    bool fresh = !std::filesystem::exists(path);
    Result<std::unique_ptr<Store>> s = OpenStore("sqlite:" + path);
    if (!s.ok()) Check(s.error());
    if (fresh) Generate(**s);
    return std::move(*s);
  }();
  return *store;
}

// A random month-long window within the two years.
TimeMs RandomMonth(std::mt19937_64& rng) {
  return kStart +
         std::uniform_int_distribution<int64_t>(0, 23)(rng) * 30 * kDayMs;
}

void BM_SessionsOverlappingMonth(benchmark::State& state) {
  Store& store = LedgerStore();
  std::mt19937_64 rng(1);
  int64_t rows = 0;
  for (auto _ : state) {
    TimeMs from = RandomMonth(rng);
    Result<std::vector<Session>> r =
        store.SessionsOverlapping(from, from + 30 * kDayMs);
    if (!r.ok()) Check(r.error());
    rows = static_cast<int64_t>(r->size());
  }
  state.counters["sessions"] = static_cast<double>(rows);
}
BENCHMARK(BM_SessionsOverlappingMonth)->Unit(benchmark::kMillisecond);

// The read side's month report: the store's query plus ComputeUsage.
void BM_MonthUsageByDevice(benchmark::State& state) {
  Store& store = LedgerStore();
  std::mt19937_64 rng(2);
  for (auto _ : state) {
    TimeMs from = RandomMonth(rng);
    Result<std::vector<Session>> r =
        store.SessionsOverlapping(from, from + 30 * kDayMs);
    if (!r.ok()) Check(r.error());
    UsageQuery q;
    q.from = from;
    q.to = from + 30 * kDayMs;
    q.now = kStart + kSpan;
    q.group_by = {GroupKey::kDevice};
    benchmark::DoNotOptimize(ComputeUsage(q, *r));
  }
}
BENCHMARK(BM_MonthUsageByDevice)->Unit(benchmark::kMillisecond);

void RunPage(benchmark::State& state, SessionPageQuery q) {
  Store& store = LedgerStore();
  size_t rows = 0;
  for (auto _ : state) {
    Result<std::vector<Session>> r = store.ListSessions(q);
    if (!r.ok()) Check(r.error());
    rows = r->size();
  }
  state.counters["sessions"] = static_cast<double>(rows);
}

void BM_ListSessionsFirstPage(benchmark::State& state) { RunPage(state, {}); }
BENCHMARK(BM_ListSessionsFirstPage)->Unit(benchmark::kMillisecond);

void BM_ListSessionsDeepPage(benchmark::State& state) {
  SessionPageQuery q;
  q.after = {{kStart + kSpan / 2, 0}};
  RunPage(state, q);
}
BENCHMARK(BM_ListSessionsDeepPage)->Unit(benchmark::kMillisecond);

void BM_ListSessionsByDevice(benchmark::State& state) {
  SessionPageQuery q;
  q.filter.device = "printer-17";
  RunPage(state, q);
}
BENCHMARK(BM_ListSessionsByDevice)->Unit(benchmark::kMillisecond);

void BM_ListSessionsByUser(benchmark::State& state) {
  SessionPageQuery q;
  q.filter.user = "user-42";
  RunPage(state, q);
}
BENCHMARK(BM_ListSessionsByUser)->Unit(benchmark::kMillisecond);

void BM_ListSessionsByStatusRare(benchmark::State& state) {
  SessionPageQuery q;
  q.filter.status = SessionStatus::kInterrupted;
  RunPage(state, q);
}
BENCHMARK(BM_ListSessionsByStatusRare)->Unit(benchmark::kMillisecond);

void BM_ListSessionsInWindow(benchmark::State& state) {
  SessionPageQuery q;
  q.filter.from = kStart + 100 * kDayMs;
  q.filter.to = kStart + 130 * kDayMs;
  RunPage(state, q);
}
BENCHMARK(BM_ListSessionsInWindow)->Unit(benchmark::kMillisecond);

void BM_ListSessionsDeviceInWindowLastPage(benchmark::State& state) {
  // The last page of a window: the scan must stop at the window's start.
  SessionPageQuery q;
  q.filter.device = "printer-3";
  q.filter.from = kStart + 100 * kDayMs;
  q.filter.to = kStart + 130 * kDayMs;
  q.after = {{kStart + 100 * kDayMs, 0}};
  RunPage(state, q);
}
BENCHMARK(BM_ListSessionsDeviceInWindowLastPage)->Unit(benchmark::kMillisecond);

// --- Write side: what one ingested event costs ------------------------------

struct WriteFixture {
  std::string path;
  std::unique_ptr<Store> store;
  int64_t next_id = 1;

  WriteFixture() {
    path = (std::filesystem::temp_directory_path() / "pm_store_bench_w.db")
               .string();
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::filesystem::remove(path + suffix);
    }
    Result<std::unique_ptr<Store>> s = OpenStore("sqlite:" + path);
    if (!s.ok()) Check(s.error());
    store = std::move(*s);
  }
  ~WriteFixture() {
    store.reset();
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::filesystem::remove(path + suffix);
    }
  }
};

// One ingest step as the writer makes it: the event (with its ~1 KiB
// request), its session and the device's state.
void AddIngestStep(WriteBatch& batch, WriteFixture& f) {
  int64_t id = f.next_id++;
  EventRecord r;
  r.event.id = id;
  r.event.device = "printer-" + std::to_string(id % kPrinters);
  r.event.topic = "Print Progress";
  r.event.kind = Kind::kProgress;
  r.event.time = kStart + id * kSecondMs;
  r.event.has_current_time = true;
  r.event.received_at = r.event.time;
  r.event.file.path = "part.gcode";
  r.event.progress_pct = 50;
  r.request = StoredRequest{"POST", "/webhook", "application/json",
                            std::string(1024, 'x')};
  Session s;
  s.id = id % kPrinters + 1;
  s.device = r.event.device;
  s.started_at = kStart;
  s.last_event_at = r.event.time;
  s.opened_by = {kStart, s.id};
  s.event_count = id;
  DeviceState d;
  d.device = s.device;
  d.state = PrinterState::kPrinting;
  d.open = s;
  d.last_applied = KeyOf(r.event);
  d.last_topic = r.event.topic;
  batch.event_sessions.emplace_back(id, s.id);
  batch.events.push_back(std::move(r));
  batch.sessions.push_back(s);
  batch.device_states.push_back(std::move(d));
}

// Per event, committed in batches of state.range(0): each batch is one
// fsynced append to the log and one projection commit that is not fsynced.
void BM_CommitEvents(benchmark::State& state) {
  WriteFixture f;
  for (auto _ : state) {
    WriteBatch batch;
    for (int64_t i = 0; i < state.range(0); ++i) AddIngestStep(batch, f);
    Check(CommitBatch(*f.store, batch));
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_CommitEvents)->Arg(1)->Arg(100)->Arg(1000)->UseRealTime();

void BM_HasDuplicate(benchmark::State& state) {
  WriteFixture f;
  for (int i = 0; i < 100; ++i) {
    WriteBatch batch;
    for (int j = 0; j < 1000; ++j) AddIngestStep(batch, f);
    Check(CommitBatch(*f.store, batch));
  }
  Event e;
  e.device = "printer-7";
  e.kind = Kind::kProgress;
  e.has_current_time = true;
  e.file.path = "part.gcode";
  int64_t i = 0;
  for (auto _ : state) {
    e.time = kStart + (++i % 100000) * kSecondMs;
    Result<bool> r = f.store->HasDuplicate(e);
    if (!r.ok()) Check(r.error());
    benchmark::DoNotOptimize(*r);
  }
}
BENCHMARK(BM_HasDuplicate);

}  // namespace
}  // namespace pm

BENCHMARK_MAIN();

// Ledger benchmarks: the fold's throughput, the cost of one late event, and
// usage over a million sessions, each beside a peer measured in the same run
// (copying the same events, sorting the same sessions) so that the figures
// can be read against the machine.
//
//   ninja -C build ledger_bench && build/src/ledger/ledger_bench
#include <benchmark/benchmark.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "ledger/fold.h"
#include "ledger/usage.h"

namespace pm {
namespace {

constexpr TimeMs kT0 = 1704067200000;  // 2024-01-01T00:00:00Z

// A busy printer's events: back-to-back prints of about two hours, each a
// start, `progress_per_print` progress events, a pause now and then, and a
// done (or a cancel), with realistic file names and job fields.
std::vector<Event> PrinterEvents(const std::string& device, int prints,
                                 int progress_per_print, TimeMs t0) {
  std::mt19937_64 rng(42);
  std::vector<Event> out;
  TimeMs t = t0;
  int64_t id = 1;
  auto make = [&](Kind kind, const char* topic) {
    Event e;
    e.id = id++;
    e.device = device;
    e.kind = kind;
    e.topic = topic;
    e.time = t;
    e.received_at = t + 5;
    e.has_current_time = true;
    e.file.name = "Shape-Box_0.8n_0.4mm_PETG_MK3S_" +
                  std::to_string(rng() % 100) + "m.gcode";
    e.file.path = "prints/" + *e.file.name;
    e.file.origin = "local";
    e.user = "mike";
    return e;
  };
  for (int p = 0; p < prints; ++p) {
    t += 60 * kSecondMs + static_cast<TimeMs>(rng() % 600) * kSecondMs;
    TimeMs started = t;
    Event s = make(Kind::kStarted, "Print Started");
    s.estimated_s = 7200;
    s.filament_mm = 1853.3;
    s.printing = true;
    s.paused = false;
    out.push_back(s);
    for (int i = 1; i <= progress_per_print; ++i) {
      t += 7200 * kSecondMs / (progress_per_print + 1);
      if (i == progress_per_print / 2 && rng() % 4 == 0) {
        Event pause = make(Kind::kPaused, "Print Paused");
        pause.printing = false;
        pause.paused = true;
        out.push_back(pause);
        t += 5 * kMinuteMs;
        out.push_back(make(Kind::kResumed, "Print Resumed"));
      }
      Event e = make(Kind::kProgress, "Print Progress");
      e.progress_pct = 100.0 * i / (progress_per_print + 1);
      e.print_time_s = (t - started) / 1000.0;
      e.printing = true;
      e.paused = false;
      out.push_back(e);
    }
    t += 7200 * kSecondMs / (progress_per_print + 1);
    Event end = rng() % 10 == 0 ? make(Kind::kFailed, "Print Failed")
                                : make(Kind::kDone, "Print Done");
    if (end.kind == Kind::kFailed) end.reason = "cancelled";
    end.reported_time_s = (t - started) / 1000.0;
    out.push_back(end);
  }
  return out;
}

const std::vector<Event>& FoldStream() {
  static const std::vector<Event> events =
      PrinterEvents("delta", 10000, 10, kT0);  // ~130 k events
  return events;
}

// ---- peers: copying the events the fold reads ----

// Each event copied into one reused Event (its strings keep their buffers):
// about the least any per-event work can cost.
void BM_CopyEachEvent(benchmark::State& state) {
  const std::vector<Event>& events = FoldStream();
  Event scratch;
  for (auto _ : state) {
    for (const Event& e : events) {
      scratch = e;
      benchmark::DoNotOptimize(scratch);
    }
  }
  state.SetItemsProcessed(state.iterations() * events.size());
}
BENCHMARK(BM_CopyEachEvent)->Unit(benchmark::kMillisecond);

// The whole vector copied afresh (allocating every string).
void BM_CopyEventVector(benchmark::State& state) {
  const std::vector<Event>& events = FoldStream();
  for (auto _ : state) {
    std::vector<Event> copy = events;
    benchmark::DoNotOptimize(copy.data());
  }
  state.SetItemsProcessed(state.iterations() * events.size());
}
BENCHMARK(BM_CopyEventVector)->Unit(benchmark::kMillisecond);

// ---- in-order fold, as the ingest writer calls it ----

void BM_FoldApply(benchmark::State& state) {
  const std::vector<Event>& events = FoldStream();
  LedgerConfig config;
  int64_t touched = 0;
  for (auto _ : state) {
    DeviceState device;
    device.device = "delta";
    for (const Event& e : events) {
      touched += Apply(config, device, e).touched.size();
    }
    benchmark::DoNotOptimize(touched);
  }
  state.SetItemsProcessed(state.iterations() * events.size());
}
BENCHMARK(BM_FoldApply)->Unit(benchmark::kMillisecond);

// The whole history at once (rebuild): no per-event session copies.
void BM_FoldRefoldAll(benchmark::State& state) {
  const std::vector<Event>& events = FoldStream();
  LedgerConfig config;
  for (auto _ : state) {
    Refolded r = Refold(config, "delta", events);
    benchmark::DoNotOptimize(r.sessions.data());
  }
  state.SetItemsProcessed(state.iterations() * events.size());
}
BENCHMARK(BM_FoldRefoldAll)->Unit(benchmark::kMillisecond);

// ---- one late event: re-fold a day of the device's history ----

// A day without an idle point before the late event (the worst case: the
// re-fold starts at the day's beginning); arg = progress events per print.
void BM_LateEventRefoldsADay(benchmark::State& state) {
  int progress = static_cast<int>(state.range(0));
  LedgerConfig config;
  // A year of history before the day, to give RefoldPoint its sessions.
  std::vector<Event> year = PrinterEvents("delta", 365 * 11, progress, kT0);
  Refolded history = Refold(config, "delta", year);
  TimeMs day_start = year.back().time + kHourMs;
  std::vector<Event> day = PrinterEvents("delta", 11, progress, day_start);
  for (Event& e : day) e.id += year.back().id;
  Event late = day.front();  // its start arrives after the rest of the day
  EventKey late_key = KeyOf(late);
  for (auto _ : state) {
    std::optional<EventKey> point = RefoldPoint(history.sessions, late_key);
    Refolded r = Refold(config, "delta", day);
    benchmark::DoNotOptimize(point);
    benchmark::DoNotOptimize(r.sessions.data());
  }
  state.counters["day_events"] = static_cast<double>(day.size());
  state.counters["year_sessions"] =
      static_cast<double>(history.sessions.size());
}
BENCHMARK(BM_LateEventRefoldsADay)
    ->Arg(1)
    ->Arg(10)
    ->Arg(100)
    ->Unit(benchmark::kMicrosecond);

// The same day's re-fold, given the refold point (as the store gives it).
void BM_LateEventRefoldOnly(benchmark::State& state) {
  int progress = static_cast<int>(state.range(0));
  LedgerConfig config;
  std::vector<Event> day = PrinterEvents("delta", 11, progress, kT0);
  for (auto _ : state) {
    Refolded r = Refold(config, "delta", day);
    benchmark::DoNotOptimize(r.sessions.data());
  }
  state.SetItemsProcessed(state.iterations() * day.size());
}
BENCHMARK(BM_LateEventRefoldOnly)
    ->Arg(10)
    ->Arg(100)
    ->Unit(benchmark::kMicrosecond);

// ---- usage over a million sessions ----

const std::vector<Session>& MillionSessions() {
  static const std::vector<Session> sessions = [] {
    std::mt19937_64 rng(7);
    std::vector<Session> out;
    out.reserve(1000000);
    const char* users[] = {"mike", "anna", "joe", "lea"};
    for (int i = 0; i < 1000000; ++i) {
      Session s;
      s.id = i + 1;
      s.device = "printer-" + std::to_string(rng() % 50);
      s.started_at = kT0 + static_cast<TimeMs>(rng() % (366 * kDayMs));
      TimeMs duration = static_cast<TimeMs>(rng() % (6 * kHourMs));
      s.ended_at = s.started_at + duration;
      s.last_event_at = *s.ended_at;
      s.status = rng() % 5 == 0 ? SessionStatus::kCancelled
                                : SessionStatus::kCompleted;
      if (rng() % 3 == 0) {
        TimeMs b = s.started_at + duration / 3;
        s.pauses.push_back({b, b + duration / 10});
      }
      if (rng() % 4 != 0) s.user = users[rng() % 4];
      s.file.origin = rng() % 2 ? "local" : "sdcard";
      s.job_filament_mm = 1853.3;
      s.progress_pct = 50;
      out.push_back(std::move(s));
    }
    return out;
  }();
  return sessions;
}

UsageQuery YearQuery(std::vector<GroupKey> keys, const char* zone) {
  UsageQuery q;
  q.from = kT0;
  q.to = kT0 + 366 * kDayMs;
  q.now = q.to;
  q.group_by = std::move(keys);
  if (zone) q.tz = *FindZone(zone);
  RatesByDevice rates;
  for (int d = 0; d < 50; ++d) {
    rates["printer-" + std::to_string(d)] = {1.5, 0.05, 0.5};
  }
  q.rates = RateHistory::Constant(rates);
  return q;
}

void RunUsage(benchmark::State& state, const UsageQuery& q) {
  const std::vector<Session>& sessions = MillionSessions();
  size_t rows = 0;
  for (auto _ : state) {
    UsageReport r = ComputeUsage(q, sessions);
    rows = r.rows.size();
    benchmark::DoNotOptimize(r.totals.busy_s);
  }
  state.counters["rows"] = static_cast<double>(rows);
  state.SetItemsProcessed(state.iterations() * sessions.size());
}

void BM_UsageByDevice(benchmark::State& state) {
  RunUsage(state, YearQuery({GroupKey::kDevice}, nullptr));
}
BENCHMARK(BM_UsageByDevice)->Unit(benchmark::kMillisecond);

void BM_UsageByDeviceDayUtc(benchmark::State& state) {
  RunUsage(state, YearQuery({GroupKey::kDevice, GroupKey::kDay}, nullptr));
}
BENCHMARK(BM_UsageByDeviceDayUtc)->Unit(benchmark::kMillisecond);

void BM_UsageByDeviceDayBerlin(benchmark::State& state) {
  RunUsage(state,
           YearQuery({GroupKey::kDevice, GroupKey::kDay}, "Europe/Berlin"));
}
BENCHMARK(BM_UsageByDeviceDayBerlin)->Unit(benchmark::kMillisecond);

// Peer: sorting the same sessions (by device, then start) through pointers.
void BM_SortSessions(benchmark::State& state) {
  const std::vector<Session>& sessions = MillionSessions();
  std::vector<const Session*> ptrs;
  for (const Session& s : sessions) ptrs.push_back(&s);
  for (auto _ : state) {
    state.PauseTiming();
    std::vector<const Session*> v = ptrs;
    state.ResumeTiming();
    std::sort(v.begin(), v.end(), [](const Session* a, const Session* b) {
      if (a->device != b->device) return a->device < b->device;
      return a->started_at < b->started_at;
    });
    benchmark::DoNotOptimize(v.data());
  }
  state.SetItemsProcessed(state.iterations() * sessions.size());
}
BENCHMARK(BM_SortSessions)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace pm

BENCHMARK_MAIN();

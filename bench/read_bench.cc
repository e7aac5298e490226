// read_bench: the read side on the ledger bench/gen_db writes (1 M sessions,
// 200 printers, 2 years): a month's usage by device and day, a page of
// sessions, the printers list and a metrics scrape, each through
// Api::Handle and, as the peer, the bare store call beneath it.
//
//   gen_db --db sqlite:bench.db          # once, about a minute
//   PM_BENCH_DB=sqlite:bench.db read_bench
//
// Targets (api.md brief): usage of a month under 200 ms, a page under 10 ms.
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <memory>

#include "api/api.h"
#include "api/options.h"
#include "api/params.h"
#include "store/store.h"

namespace pm {
namespace {

struct Bench {
  std::unique_ptr<Store> store;
  ApiOptions options;
  FakeClock clock;
  std::unique_ptr<Api> api;
  TimeMs month_from = 0;  // the last whole month of the data (UTC)
  TimeMs month_to = 0;
  std::string month_query;
  std::string deep_cursor;  // a cursor a year back
};

Bench& Get() {
  static Bench* bench = [] {
    auto* b = new Bench;
    const char* env = std::getenv("PM_BENCH_DB");
    std::string db = env ? env : "sqlite:bench.db";
    auto opened = OpenStore(db);
    if (!opened) {
      std::fprintf(stderr, "read_bench: %s\n", opened.error().message.c_str());
      std::exit(1);
    }
    b->store = std::move(*opened);
    SessionPageQuery newest;
    newest.limit = 1;
    auto top = b->store->ListSessions(newest);
    if (!top || top->empty()) {
      std::fprintf(stderr,
                   "read_bench: %s holds no sessions; run gen_db --db %s "
                   "first\n",
                   db.c_str(), db.c_str());
      std::exit(1);
    }
    TimeMs end = top->front().started_at + kHourMs;
    b->clock.Set(end);
    // The month before the one `end` falls in, as the API parses it.
    auto q = ParseUsageQuery(Params(), b->options, end);
    b->month_to = q->from;
    b->month_from =
        ParseUsageQuery(Params{{"to", std::to_string(b->month_to / 1000)}},
                        b->options, end)
            ->from;
    b->month_query =
        fmt::format("/api/v1/usage?from={}&to={}&group_by=device,day",
                    b->month_from / 1000, b->month_to / 1000);
    b->deep_cursor = EncodeCursor(end - 365 * kDayMs, 0);
    b->api = MakeApi(*b->store, b->options, b->clock);
    return b;
  }();
  return *bench;
}

ApiResponse Call(Bench& b, const std::string& target) {
  ApiRequest request;
  request.method = "GET";
  request.target = target;
  request.from_loopback = true;
  return b.api->Handle(request);
}

void Expect200(benchmark::State& state, const ApiResponse& r) {
  if (r.status != 200) state.SkipWithError(r.body.c_str());
}

void BM_UsageMonthByDeviceDay_Api(benchmark::State& state) {
  Bench& b = Get();
  size_t bytes = 0;
  for (auto _ : state) {
    auto r = Call(b, b.month_query);
    Expect200(state, r);
    bytes = r.body.size();
  }
  state.counters["body_kB"] = bytes / 1000.0;
}
BENCHMARK(BM_UsageMonthByDeviceDay_Api)->Unit(benchmark::kMillisecond);

void BM_UsageMonth_StoreOverlapping(benchmark::State& state) {
  Bench& b = Get();
  size_t n = 0;
  for (auto _ : state) {
    auto sessions = b.store->SessionsOverlapping(b.month_from, b.month_to);
    n = sessions ? sessions->size() : 0;
    benchmark::DoNotOptimize(sessions);
  }
  state.counters["sessions"] = static_cast<double>(n);
}
BENCHMARK(BM_UsageMonth_StoreOverlapping)->Unit(benchmark::kMillisecond);

void BM_SessionsPage_Api(benchmark::State& state) {
  Bench& b = Get();
  for (auto _ : state) Expect200(state, Call(b, "/api/v1/sessions"));
}
BENCHMARK(BM_SessionsPage_Api)->Unit(benchmark::kMillisecond);

void BM_SessionsPage_Store(benchmark::State& state) {
  Bench& b = Get();
  SessionPageQuery q;
  q.limit = 100;
  for (auto _ : state) benchmark::DoNotOptimize(b.store->ListSessions(q));
}
BENCHMARK(BM_SessionsPage_Store)->Unit(benchmark::kMillisecond);

void BM_SessionsPageDeepFiltered_Api(benchmark::State& state) {
  Bench& b = Get();
  std::string target =
      "/api/v1/sessions?device=printer-042&status=completed&cursor=" +
      b.deep_cursor;
  for (auto _ : state) Expect200(state, Call(b, target));
}
BENCHMARK(BM_SessionsPageDeepFiltered_Api)->Unit(benchmark::kMillisecond);

void BM_SessionsPageDeepFiltered_Store(benchmark::State& state) {
  Bench& b = Get();
  SessionPageQuery q;
  q.filter.device = "printer-042";
  q.filter.status = SessionStatus::kCompleted;
  q.after = DecodeCursor(b.deep_cursor);
  for (auto _ : state) benchmark::DoNotOptimize(b.store->ListSessions(q));
}
BENCHMARK(BM_SessionsPageDeepFiltered_Store)->Unit(benchmark::kMillisecond);

void BM_SessionsPageMonthWindow_Api(benchmark::State& state) {
  Bench& b = Get();
  std::string target = fmt::format("/api/v1/sessions?from={}&to={}&limit=100",
                                   b.month_from / 1000, b.month_to / 1000);
  for (auto _ : state) Expect200(state, Call(b, target));
}
BENCHMARK(BM_SessionsPageMonthWindow_Api)->Unit(benchmark::kMillisecond);

void BM_Printers_Api(benchmark::State& state) {
  Bench& b = Get();
  for (auto _ : state) Expect200(state, Call(b, "/api/v1/printers"));
}
BENCHMARK(BM_Printers_Api)->Unit(benchmark::kMillisecond);

// A steady scrape (the all-time totals of settled sessions are cached; the
// first scrape after start, and one an hour, read the whole ledger).
void BM_MetricsScrape_Api(benchmark::State& state) {
  Bench& b = Get();
  Expect200(state, Call(b, "/metrics"));  // the full scan, outside the timing
  for (auto _ : state) Expect200(state, Call(b, "/metrics"));
}
BENCHMARK(BM_MetricsScrape_Api)->Unit(benchmark::kMillisecond);

void BM_MetricsFullScan_Api(benchmark::State& state) {
  Bench& b = Get();
  for (auto _ : state) {
    state.PauseTiming();
    auto fresh = MakeApi(*b.store, b.options, b.clock);
    state.ResumeTiming();
    ApiRequest request;
    request.method = "GET";
    request.target = "/metrics";
    Expect200(state, fresh->Handle(request));
  }
}
BENCHMARK(BM_MetricsFullScan_Api)->Unit(benchmark::kMillisecond)->Iterations(2);

}  // namespace
}  // namespace pm

BENCHMARK_MAIN();

// gen_db: writes a benchmark ledger through the Store interface: by default
// 1 M sessions over 200 printers and the two years before --end, in batches
// of 20,000 sessions per transaction. Sessions only (no event log): what the
// read side serves. Each printer's last print is still open, so the printers
// endpoint and the metrics see live state too.
//
//   gen_db --db sqlite:bench.db [--sessions N] [--printers P] [--days D]
//          [--end 2026-11-01] [--seed S]
//
// Refuses a database that already holds sessions (generate into a new file).
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <random>
#include <string>
#include <vector>

#include "store/store.h"
#include "store/write_batch.h"

namespace pm {
namespace {

struct Options {
  std::string db;
  int64_t sessions = 1'000'000;
  int printers = 200;
  int days = 730;
  std::string end = "2026-11-01";
  uint64_t seed = 42;
};

constexpr int kBatch = 20'000;
constexpr int kUsers = 300;

// One printer's timeline, one session after another.
class Printer {
 public:
  Printer(int index, TimeMs begin, TimeMs cycle, uint64_t seed)
      : device_(fmt::format("printer-{:03}", index)),
        t_(begin),
        cycle_(cycle),
        rng_(seed + index) {}

  const std::string& device() const { return device_; }

  // The next session, with the id of its opening event.
  Session Next(int64_t id) {
    std::uniform_real_distribution<double> unit(0, 1);
    // Prints last 5 min to ~8 h (log-uniform, mean ~107.5 min); idle gaps
    // fill the rest of the cycle on average.
    double minutes = std::exp(std::log(5.0) + unit(rng_) * std::log(100.0));
    TimeMs length = static_cast<TimeMs>(minutes * kMinuteMs);
    constexpr TimeMs kMeanLength = 107 * kMinuteMs + 30 * kSecondMs;
    TimeMs mean_gap = std::max<TimeMs>(cycle_ - kMeanLength, kMinuteMs);
    TimeMs gap = static_cast<TimeMs>(unit(rng_) * 2 * mean_gap);
    Session s;
    s.id = id;
    s.device = device_;
    s.started_at = t_ + gap;
    s.status = PickStatus(unit(rng_));
    s.ended_at = s.started_at + length;
    if (unit(rng_) < 0.1) {  // one pause in the middle
      TimeMs begin = s.started_at + length / 3;
      s.pauses.push_back({begin, begin + length / 6});
    }
    s.last_event_at = *s.ended_at;
    int file = static_cast<int>(unit(rng_) * 5000);
    s.file.name = fmt::format("part-{}.gcode", file);
    s.file.path = "prints/" + *s.file.name;
    s.file.display = *s.file.name;
    s.file.origin = file % 7 ? "local" : "sdcard";
    s.file.size = 100000 + file * 37;
    if (unit(rng_) > 0.15) {
      s.user = fmt::format("user-{}", static_cast<int>(unit(rng_) * kUsers));
    }
    s.estimated_s = minutes * 60 * (0.8 + 0.4 * unit(rng_));
    s.job_filament_mm = minutes * 40;
    s.job_filament_cm3 = s.job_filament_mm.value() * 0.0024;
    s.progress_pct = s.status == SessionStatus::kCompleted
                         ? 100
                         : std::floor(unit(rng_) * 100);
    s.reported_time_s = minutes * 60;
    s.event_count = 2 + static_cast<int>(minutes / 10);
    s.end_inferred = s.status == SessionStatus::kInterrupted;
    s.opened_by = {s.started_at, id};
    s.closed_by = EventKey{*s.ended_at, id + 1};
    s.idle_after = true;
    t_ = *s.ended_at;
    return s;
  }

  // Turns `s` into a print still running at `now`.
  static void Reopen(Session& s, TimeMs now) {
    s.status = SessionStatus::kPrinting;
    s.ended_at.reset();
    s.closed_by.reset();
    s.idle_after = false;
    s.end_inferred = false;
    s.pauses.clear();
    s.last_event_at = std::max(s.started_at, now - 5 * kMinuteMs);
    s.progress_pct = 42;
  }

 private:
  static SessionStatus PickStatus(double roll) {
    if (roll < 0.80) return SessionStatus::kCompleted;
    if (roll < 0.90) return SessionStatus::kCancelled;
    if (roll < 0.95) return SessionStatus::kFailed;
    if (roll < 0.99) return SessionStatus::kInterrupted;
    return SessionStatus::kRestarted;
  }

  std::string device_;
  TimeMs t_;
  TimeMs cycle_;
  std::mt19937_64 rng_;
};

int Fail(const std::string& message) {
  fmt::print(stderr, "gen_db: {}\n", message);
  return 1;
}

int Generate(const Options& o) {
  auto end = ParseTime(o.end);
  if (!end) return Fail("--end must be a date such as 2026-11-01");
  auto opened = OpenStore(o.db);
  if (!opened) return Fail(opened.error().message);
  Store& store = **opened;
  SessionPageQuery any;
  any.limit = 1;
  auto existing = store.ListSessions(any);
  if (!existing) return Fail(existing.error().message);
  if (!existing->empty()) {
    return Fail(o.db + " already holds sessions; generate into a new file");
  }

  TimeMs begin = *end - o.days * kDayMs;
  int64_t per_printer = o.sessions / o.printers;
  TimeMs cycle = (*end - begin) / std::max<int64_t>(per_printer, 1);
  std::vector<Printer> printers;
  for (int i = 0; i < o.printers; ++i) {
    printers.emplace_back(i, begin, cycle, o.seed);
  }
  auto started = std::chrono::steady_clock::now();
  int64_t written = 0;
  WriteBatch batch;
  for (Printer& printer : printers) {
    DeviceState state;
    state.device = printer.device();
    for (int64_t k = 0; k < per_printer; ++k) {
      auto id = store.AllocateEventIds(2);
      if (!id) return Fail(id.error().message);
      Session s = printer.Next(*id);
      if (k + 1 == per_printer) {
        Printer::Reopen(s, *end);
        state.state = PrinterState::kPrinting;
        state.open = s;
        state.last_applied = EventKey{s.last_event_at, s.id};
        state.last_topic = "Print Progress";
      }
      batch.sessions.push_back(std::move(s));
    }
    batch.device_states.push_back(state);
    DeviceRecord device;
    device.device = printer.device();
    device.first_seen = begin;
    device.last_received = *end;
    batch.devices.push_back(device);
    if (batch.sessions.size() >= kBatch) {
      if (auto s = CommitBatch(store, batch); !s) return Fail(s.error().message);
      written += batch.sessions.size();
      batch = WriteBatch();
      fmt::print(stderr, "\r{} sessions", written);
    }
  }
  if (auto s = CommitBatch(store, batch); !s) return Fail(s.error().message);
  written += batch.sessions.size();
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started)
          .count();
  fmt::print(stderr, "\r{} sessions on {} printers from {} to {} in {:.1f} s\n",
             written, o.printers, FormatIso(begin), FormatIso(*end), seconds);
  return 0;
}

}  // namespace
}  // namespace pm

int main(int argc, char** argv) {
  pm::Options o;
  CLI::App app{"gen_db: writes a benchmark ledger for read_bench"};
  app.add_option("--db", o.db, "sqlite:PATH of a new database")->required();
  app.add_option("--sessions", o.sessions, "sessions in all (default 1 M)")
      ->check(CLI::Range(int64_t{1}, int64_t{20'000'000}));
  app.add_option("--printers", o.printers, "printers (default 200)")
      ->check(CLI::Range(1, 10'000));
  app.add_option("--days", o.days, "days of history (default 730)")
      ->check(CLI::Range(1, 3650));
  app.add_option("--end", o.end, "the end of the history, a date");
  app.add_option("--seed", o.seed, "random seed");
  CLI11_PARSE(app, argc, argv);
  return pm::Generate(o);
}

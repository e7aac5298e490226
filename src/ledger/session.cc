#include "ledger/session.h"

#include <algorithm>
#include <array>
#include <utility>

namespace pm {
namespace {

constexpr std::array<std::pair<SessionStatus, std::string_view>, 7>
    kStatusNames{{
        {SessionStatus::kPrinting, "printing"},
        {SessionStatus::kPaused, "paused"},
        {SessionStatus::kCompleted, "completed"},
        {SessionStatus::kCancelled, "cancelled"},
        {SessionStatus::kFailed, "failed"},
        {SessionStatus::kInterrupted, "interrupted"},
        {SessionStatus::kRestarted, "restarted"},
    }};

constexpr std::array<std::pair<PrinterState, std::string_view>, 3>
    kPrinterStateNames{{
        {PrinterState::kIdle, "idle"},
        {PrinterState::kPrinting, "printing"},
        {PrinterState::kPaused, "paused"},
    }};

// The end of the session's busy time: ended_at, or `now` while open (never
// before started_at, should a clock be behind).
TimeMs EndOf(const Session& s, TimeMs now) {
  return std::max(s.started_at, s.ended_at.value_or(now));
}

// The job's total scaled to what was printed. A completed print used the
// whole job; any other used progress_pct of it. When the progress is unknown
// the figure is unknown too: a manager would rather see null than a guess.
std::optional<double> Scaled(const Session& s, std::optional<double> total) {
  if (!total) return std::nullopt;
  if (s.status == SessionStatus::kCompleted) return total;
  if (!s.progress_pct) return std::nullopt;
  double fraction = std::clamp(*s.progress_pct, 0.0, 100.0) / 100.0;
  return *total * fraction;
}

}  // namespace

std::string_view StatusName(SessionStatus status) {
  for (const auto& [s, name] : kStatusNames) {
    if (s == status) return name;
  }
  return "printing";
}

std::optional<SessionStatus> StatusFromName(std::string_view name) {
  for (const auto& [s, n] : kStatusNames) {
    if (n == name) return s;
  }
  return std::nullopt;
}

std::string_view PrinterStateName(PrinterState state) {
  for (const auto& [s, name] : kPrinterStateNames) {
    if (s == state) return name;
  }
  return "idle";
}

TimeMs DurationMs(const Session& s, TimeMs now) {
  return EndOf(s, now) - s.started_at;
}

TimeMs PausedMs(const Session& s, TimeMs now) {
  TimeMs paused = 0;
  for (const Interval& p : s.pauses) paused += p.end - p.begin;
  if (s.pause_started_at) {
    paused += std::max<TimeMs>(0, EndOf(s, now) - *s.pause_started_at);
  }
  return std::min(paused, DurationMs(s, now));
}

TimeMs PrintMs(const Session& s, TimeMs now) {
  return DurationMs(s, now) - PausedMs(s, now);
}

std::optional<double> FilamentMm(const Session& s) {
  return Scaled(s, s.job_filament_mm);
}

std::optional<double> FilamentCm3(const Session& s) {
  return Scaled(s, s.job_filament_cm3);
}

}  // namespace pm

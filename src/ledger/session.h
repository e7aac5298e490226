// Session: one print on one printer, as the ledger knows it (ledger.md s. 6).
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/time.h"
#include "decode/event.h"

namespace pm {

enum class SessionStatus {
  kPrinting,
  kPaused,
  kCompleted,
  kCancelled,
  kFailed,
  kInterrupted,
  kRestarted,
};
std::string_view StatusName(SessionStatus status);  // "printing", ...
std::optional<SessionStatus> StatusFromName(std::string_view name);
inline bool IsOpen(SessionStatus s) {
  return s == SessionStatus::kPrinting || s == SessionStatus::kPaused;
}

enum class PrinterState { kIdle, kPrinting, kPaused };
std::string_view PrinterStateName(PrinterState state);  // "idle", ...

// The order of a device's events: by event time, then by arrival (event id).
struct EventKey {
  TimeMs time = 0;
  int64_t id = 0;
  auto operator<=>(const EventKey&) const = default;
};
inline EventKey KeyOf(const Event& e) { return {e.time, e.id}; }

// A closed pause [begin, end).
struct Interval {
  TimeMs begin = 0;
  TimeMs end = 0;
  bool operator==(const Interval&) const = default;
};

struct Session {
  int64_t id = 0;  // the id of the event that opened it
  std::string device;
  SessionStatus status = SessionStatus::kPrinting;
  TimeMs started_at = 0;
  std::optional<TimeMs> ended_at;          // nullopt while open
  TimeMs last_event_at = 0;                // time of its latest event
  std::vector<Interval> pauses;            // closed pauses, in order
  std::optional<TimeMs> pause_started_at;  // the ongoing pause, while paused

  FileInfo file;  // from the opening event; later events fill what is missing
  std::optional<std::string> user;
  std::optional<double> progress_pct;
  std::optional<double> reported_time_s;
  std::optional<double> estimated_s;
  // OctoPrint's own estimate of the print time left (progress.printTimeLeft)
  // at its latest event that carried one, and that event's time.
  std::optional<double> time_left_s;
  std::optional<TimeMs> time_left_at;
  std::optional<double> job_filament_mm;  // the job's total, as reported
  std::optional<double> job_filament_cm3;
  std::optional<std::string> error;
  bool start_inferred = false;
  bool end_inferred = false;
  int64_t event_count = 0;
  bool snapshot = false;  // whether a picture came with its last event

  // Bookkeeping for re-folding late events (ledger.md section 4).
  EventKey opened_by;                 // key of the opening event
  std::optional<EventKey> closed_by;  // key of the event that closed it
  bool idle_after = false;  // closing left the printer idle (done, failed,
                            // swept), so a re-fold may start after closed_by

  bool operator==(const Session&) const = default;
};

// Derived fields (ledger.md section 6). `now` matters only while open.
TimeMs DurationMs(const Session& s, TimeMs now);  // ended_at (or now) - start
TimeMs PausedMs(const Session& s, TimeMs now);    // incl. an ongoing pause
TimeMs PrintMs(const Session& s, TimeMs now);     // duration - paused
// The job's filament: the total for a completed print, scaled by
// progress_pct for any other (clamped to 0-100 %); nullopt when the total is
// unknown, or when the print did not complete and its progress is unknown
// (null rather than an invented figure).
std::optional<double> FilamentMm(const Session& s);
std::optional<double> FilamentCm3(const Session& s);

}  // namespace pm

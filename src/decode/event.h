// Event: one webhook request, decoded into what the ledger needs.
//
// Produced by Decode() (decode.h) from the raw request; consumed by the fold
// (ledger/fold.h) and stored column by column (store/store.h). Every optional
// field is nullopt when the plugin sent nothing usable for it (missing, `null`,
// "None", "null" or "").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/time.h"

namespace pm {

// What happened, from the topic (ledger.md section 2). kSwept is never decoded
// from a request: the stale sweep appends it (ledger.md section 5).
enum class Kind {
  kStarted,
  kDone,
  kFailed,
  kPaused,
  kResumed,
  kProgress,
  kAttention,
  kError,
  kOther,
  kSwept,
};

// "started", "done", ... as in the spec and the API.
std::string_view KindName(Kind kind);
// Inverse of KindName; nullopt for an unknown name.
std::optional<Kind> KindFromName(std::string_view name);

// The file being printed, as far as the event tells.
struct FileInfo {
  std::optional<std::string> name;
  std::optional<std::string> path;
  std::optional<std::string> display;
  std::optional<std::string> origin;  // "local", "sdcard", ...
  std::optional<int64_t> size;        // bytes

  bool operator==(const FileInfo&) const = default;
};

struct Event {
  // Assigned by the store in arrival order; 0 until stored. Also the event's
  // arrival sequence: among events of equal `time`, lower ids came first.
  int64_t id = 0;

  std::string device;              // trimmed, 1-128 characters
  std::string topic;               // the topic as sent ("Print Started")
  Kind kind = Kind::kOther;
  bool test = false;               // sent by the plugin's "Send Test Webhook"

  TimeMs time = 0;                 // event time: currentTime, else received_at
  bool has_current_time = false;   // whether `time` came from currentTime
  TimeMs received_at = 0;          // when printmeter received the request

  FileInfo file;
  std::optional<std::string> user;
  std::optional<std::string> message;
  std::optional<double> reported_time_s;  // extra.time
  std::optional<std::string> reason;      // extra.reason
  std::optional<double> progress_pct;     // 0-100
  std::optional<double> print_time_s;     // progress.printTime
  std::optional<double> print_time_left_s;  // progress.printTimeLeft
  std::optional<double> filament_mm;      // job total, summed over tools
  std::optional<double> filament_cm3;
  std::optional<double> estimated_s;      // job.estimatedPrintTime
  std::optional<std::string> error;       // extra.error
  std::optional<bool> printing;           // state.flags.printing
  std::optional<bool> paused;             // state.flags.paused
  bool snapshot = false;                  // a picture came with the request

  bool operator==(const Event&) const = default;
};

}  // namespace pm

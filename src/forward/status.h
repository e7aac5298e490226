// What forwarding reports of each target (GET /api/v1/forwarding, metrics):
// plain data, so that the read side shows it without linking forwarding.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/time.h"

namespace pm {

enum class ForwardState {
  kIdle,        // every matching event delivered
  kDelivering,  // events waiting, the target answering
  kRetrying,    // the last attempt failed; the next waits its backoff
  kPaused,      // failing for longer than pause_after: tried every 5 min
};

inline std::string_view ForwardStateName(ForwardState s) {
  switch (s) {
    case ForwardState::kIdle: return "idle";
    case ForwardState::kDelivering: return "delivering";
    case ForwardState::kRetrying: return "retrying";
    case ForwardState::kPaused: return "paused";
  }
  return "idle";
}

struct ForwardTargetStatus {
  std::string name;
  std::string url;  // without credentials
  ForwardState state = ForwardState::kIdle;
  int64_t position = 0;  // the last event id delivered (or passed over)
  int64_t log_end = 0;   // the log's last event id, as last read
  int64_t delivered = 0;  // since this process started
  int64_t failed = 0;     // failed attempts since this process started
  std::string last_error;                // "" when none
  std::optional<TimeMs> failing_since;   // the first failure of a run
  std::optional<TimeMs> next_attempt;    // while retrying or paused
  // Events of the log past the position (not all need match the target).
  int64_t backlog() const { return log_end > position ? log_end - position : 0; }
};

// The targets' status, for the read side (Forwarder::Targets).
using ForwardStatusFn = std::function<std::vector<ForwardTargetStatus>()>;

}  // namespace pm

// Usage: sessions -> busy/paused/print time, counts, filament and cost over a
// window, grouped by any combination of keys (ledger.md section 7).
#pragma once

#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "ledger/cost.h"
#include "ledger/session.h"

namespace date {
class time_zone;
}

namespace pm {

enum class GroupKey { kDevice, kUser, kDay, kWeek, kMonth, kOrigin, kStatus };
std::string_view GroupKeyName(GroupKey key);  // "device", "user", "day", ...
// Parses "device,day" (comma-separated names; empty -> no grouping). The
// error names the unknown key and lists the valid ones.
Result<std::vector<GroupKey>> ParseGroupBy(std::string_view text);

struct UsageQuery {
  TimeMs from = 0;  // window [from, to)
  TimeMs to = 0;
  TimeMs now = 0;  // the end of open sessions
  std::vector<GroupKey> group_by;
  const date::time_zone* tz = nullptr;  // calendar buckets; nullptr = UTC
  RateHistory rates;  // prices each session as of its start
  // Printers in the fleet (configured or heard from), idle ones included:
  // the totals' utilization divides by the window times this many (at least
  // the number of printers among the sessions; 0 = just those).
  size_t printers = 0;
};

struct UsageFigures {
  int64_t sessions = 0, completed = 0, cancelled = 0, failed = 0,
          interrupted = 0, restarted = 0;
  double busy_s = 0, paused_s = 0, print_s = 0;
  double utilization = 0;
  double filament_mm = 0;
  double cost = 0;
};

struct UsageRow {
  // One value per group_by key, in order; nullopt is the `null` key (a
  // session with no user: "unattributed"). Day/week/month keys are the
  // bucket's first day, "2024-08-02"; week buckets start on ISO Monday.
  std::vector<std::optional<std::string>> key;
  UsageFigures figures;
};

struct UsageReport {
  std::vector<UsageRow> rows;  // sorted by key; rows with nothing left out
  UsageFigures totals;
};

// Computes usage over `sessions` (any that may overlap the window; others are
// ignored). Sessions' `user` must already carry any manual attribution.
// - busy/paused/print time: each session's [started_at, ended_at or now)
//   clipped to the window and, with a day/week/month key, split across the
//   buckets it overlaps (pauses likewise, the ongoing one up to now).
// - sessions, the status counts, filament_mm and cost belong to the window
//   and the bucket where the session started. Cost is the sum of the
//   sessions' own costs (SessionCost, cost.h: the rates in force when each
//   started, over its whole print time); a device without rates costs 0.
//   Costs are summed unrounded: round to cents only for display.
// - utilization: busy_s over the row's calendar bucket within the window
//   with a time key (a 23-hour DST day divides by 23 h), else over to - from;
//   the totals' is busy_s / ((to - from) * printers), printers being
//   max(query.printers, the devices among the sessions): the share of the
//   fleet's time it was busy, never over 1 for a farm.
// An empty window (to <= from) gives an empty report. O(sessions + rows).
UsageReport ComputeUsage(const UsageQuery& query,
                         std::span<const Session> sessions);

// Looks up an IANA zone ("Europe/Berlin") in the system tz database.
Result<const date::time_zone*> FindZone(std::string_view name);

}  // namespace pm

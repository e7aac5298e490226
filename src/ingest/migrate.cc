#include "ingest/migrate.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <iterator>
#include <vector>

namespace pm {
namespace {

constexpr size_t kChunk = 500;
// Printers are small rows: more of them to a durable append.
constexpr size_t kDeviceChunk = 5000;

}  // namespace

Result<MigrateStats> Migrate(
    Store& from, Store& to, const LedgerConfig& config,
    const std::function<void(const char*, int64_t)>& progress) {
  auto last = to.LastEventId();
  if (!last) return last.error();
  auto existing = to.LoadDevices();
  if (!existing) return existing.error();
  if (*last != 0 || !existing->empty()) {
    return Error{ErrorCode::kConflict,
                 fmt::format("the target database already holds {} event(s) "
                             "and {} printer(s); migrate into a new, empty "
                             "database",
                             *last, existing->size())};
  }
  MigrateStats stats;
  auto devices = from.LoadDevices();
  if (!devices) return devices.error();
  stats.devices = static_cast<int64_t>(devices->size());

  // The printers first (with their secrets), then the log in chunks, each
  // event with its id and flags as stored.
  LogBatch batch;
  auto flush = [&]() -> Status {
    if (batch.empty()) return {};
    if (Status s = to.Append(batch); !s) return s;
    if (!batch.lost.empty()) {
      return Internal(fmt::format(
          "printer \"{}\" is already registered in the target with another "
          "secret",
          batch.lost.front().device));
    }
    stats.events += static_cast<int64_t>(batch.events.size());
    if (progress) progress("copying", stats.events);
    batch = LogBatch{};
    return {};
  };
  // A chunk of printers at a time too: PostgreSQL's append sends a batch's
  // rows in one pipeline, and 200,000 printers in one took 800 MB.
  for (size_t at = 0; at < devices->size(); at += kDeviceChunk) {
    const size_t end = std::min(devices->size(), at + kDeviceChunk);
    batch.devices.assign(std::make_move_iterator(devices->begin() + at),
                         std::make_move_iterator(devices->begin() + end));
    if (Status s = flush(); !s) return s.error();
  }
  std::vector<DeviceRecord>().swap(*devices);
  Status copied = from.ForEachEvent([&](const EventRecord& r) -> Status {
    batch.events.push_back(r);
    // A picture kept apart: its bytes too (none for one not kept).
    std::optional<StoredRequest>& request = batch.events.back().request;
    if (request && request->picture) {
      auto picture = from.GetSnapshot(r.event.id);
      if (picture.ok() && *picture) {
        request->picture->bytes = std::move((*picture)->bytes);
      } else if (!picture.ok() &&
                 picture.error().code != ErrorCode::kNotFound) {
        return picture.error();
      }
    }
    if (batch.events.size() >= kChunk) return flush();
    return {};
  });
  if (copied) copied = flush();
  if (!copied) return copied.error();

  auto rates = from.LoadRateChanges();
  if (!rates) return rates.error();
  if (Status s = to.RecordRateChanges(*rates); !s) return s.error();
  stats.rate_changes = static_cast<int64_t>(rates->size());

  auto marks = from.LoadMaintenanceMarks();
  if (!marks) return marks.error();
  for (const MaintenanceMark& m : *marks) {
    if (Status s = to.RecordMaintenanceMark(m); !s) return s.error();
  }
  stats.maintenance_marks = static_cast<int64_t>(marks->size());

  // Forwarding: each target's position, and the notices it was sent (their
  // keys; the time they are recorded with is the migration's).
  auto positions = from.ForwardPositions();
  if (!positions) return positions.error();
  const TimeMs now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  for (const auto& [target, position] : *positions) {
    if (Status s = to.SaveForwardPosition(target, std::nullopt, position);
        !s) {
      return s.error();
    }
    auto notices = from.ForwardNotices(target);
    if (!notices) return notices.error();
    for (const std::string& key : *notices) {
      if (Status s = to.SaveForwardNotice(target, key, now); !s) {
        return s.error();
      }
    }
    stats.forward_notices += static_cast<int64_t>(notices->size());
  }
  stats.forward_targets = static_cast<int64_t>(positions->size());

  auto rebuilt =
      Rebuild(to, config, DecodeLimits{}, [&](const char* phase, int64_t n) {
        if (progress) progress(phase, n);
      });
  if (!rebuilt) return rebuilt.error();
  stats.ledger = *rebuilt;

  // Attributions name sessions by id, the opening event's: the same in the
  // folded copy.
  auto attributions = from.LoadAttributions();
  if (!attributions) return attributions.error();
  for (const auto& [session, user] : *attributions) {
    Status s = to.SetSessionUser(session, user);
    if (!s && s.error().code == ErrorCode::kNotFound) {
      return Internal(fmt::format(
          "session {} (attributed to {}) is not in the folded copy; run "
          "`printmeter rebuild` on the source first, then migrate again "
          "into a new database",
          session, user));
    }
    if (!s) return s.error();
  }
  stats.attributions = static_cast<int64_t>(attributions->size());
  return stats;
}

}  // namespace pm

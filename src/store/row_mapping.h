// Rows <-> structs, written once for both stores: each row type has one
// column order, used by SQLite (sqlite_rows.*) and PostgreSQL (pg_store.cc)
// alike. `Binder` is sqlite::Query or pg::Params (Bind(v), BindNull());
// `Reader` a sqlite::Query or pg::Rows::Row (Int(), OptText(), ... left to
// right). Enum names are schema.h's.
//
// Internal to src/store/.
#pragma once

#include <fmt/format.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ledger/session.h"
#include "store/schema.h"
#include "store/store.h"

namespace pm::rows {

// Every Event field's column, in the order BindEvent() and ReadEvent() use.
// PostgreSQL spells `user` (a reserved word there) user_name (pg_store.cc).
inline constexpr const char* kEventFields[27] = {
    "id",           "device",       "topic",            "kind",
    "test",         "time",         "has_current_time", "received_at",
    "file_name",    "file_path",    "file_display",     "file_origin",
    "file_size",    "user",         "message",          "reported_time_s",
    "reason",       "progress_pct", "print_time_s",     "filament_mm",
    "filament_cm3", "estimated_s",  "error",            "printing",
    "paused",       "snapshot",     "print_time_left_s"};

// Closed pauses as compact JSON: [[begin,end],...] in epoch ms.
std::string EncodePauses(const std::vector<Interval>& pauses);
std::vector<Interval> DecodePauses(std::string_view text);

// Every Event field in kEventFields order; without the id
// when `with_id` is false (an UPDATE ... WHERE id = ?).
template <typename Binder>
void BindEvent(Binder& q, const Event& e, bool with_id = true) {
  if (with_id) q.Bind(e.id);
  q.Bind(e.device).Bind(e.topic).Bind(sqlite::StoredKind(e.kind));
  q.Bind(e.test).Bind(e.time).Bind(e.has_current_time).Bind(e.received_at);
  q.Bind(e.file.name).Bind(e.file.path).Bind(e.file.display);
  q.Bind(e.file.origin).Bind(e.file.size).Bind(e.user).Bind(e.message);
  q.Bind(e.reported_time_s).Bind(e.reason).Bind(e.progress_pct);
  q.Bind(e.print_time_s).Bind(e.filament_mm).Bind(e.filament_cm3);
  q.Bind(e.estimated_s).Bind(e.error).Bind(e.printing).Bind(e.paused);
  q.Bind(e.snapshot).Bind(e.print_time_left_s);
}

template <typename Reader>
Event ReadEvent(Reader& q) {
  Event e;
  e.id = q.Int();
  e.device = q.Text();
  e.topic = q.Text();
  e.kind = sqlite::KindFromStored(q.Text()).value_or(Kind::kOther);
  e.test = q.Bool();
  e.time = q.Int();
  e.has_current_time = q.Bool();
  e.received_at = q.Int();
  e.file.name = q.OptText();
  e.file.path = q.OptText();
  e.file.display = q.OptText();
  e.file.origin = q.OptText();
  e.file.size = q.OptInt();
  e.user = q.OptText();
  e.message = q.OptText();
  e.reported_time_s = q.OptReal();
  e.reason = q.OptText();
  e.progress_pct = q.OptReal();
  e.print_time_s = q.OptReal();
  e.filament_mm = q.OptReal();
  e.filament_cm3 = q.OptReal();
  e.estimated_s = q.OptReal();
  e.error = q.OptText();
  e.printing = q.OptBool();
  e.paused = q.OptBool();
  e.snapshot = q.Bool();
  e.print_time_left_s = q.OptReal();
  return e;
}

// Two columns (time, id), both NULL for none.
// A LoggedEvent (the projector's and rebuild's reading of the log): the
// Event's columns, then these.
inline constexpr const char* kLoggedEventColumns =
    "duplicate, method IS NOT NULL, picture_size IS NOT NULL";

template <typename Reader>
LoggedEvent ReadLoggedEvent(Reader& q) {
  LoggedEvent e;
  e.event = ReadEvent(q);
  e.duplicate = q.Bool();
  e.request = q.Bool();
  e.picture = q.Bool();
  return e;
}

template <typename Reader>
std::optional<EventKey> OptKey(Reader& q) {
  std::optional<int64_t> time = q.OptInt();
  std::optional<int64_t> id = q.OptInt();
  if (!time || !id) return std::nullopt;
  return EventKey{*time, *id};
}

// Every Session field in the order of kSessionSelect.
template <typename Binder>
void BindSession(Binder& q, const Session& s) {
  q.Bind(s.id).Bind(s.device).Bind(sqlite::StoredStatus(s.status));
  q.Bind(s.started_at).Bind(s.ended_at).Bind(s.last_event_at);
  q.Bind(EncodePauses(s.pauses)).Bind(s.pause_started_at);
  q.Bind(s.file.name).Bind(s.file.path).Bind(s.file.display);
  q.Bind(s.file.origin).Bind(s.file.size).Bind(s.user).Bind(s.progress_pct);
  q.Bind(s.reported_time_s).Bind(s.estimated_s).Bind(s.job_filament_mm);
  q.Bind(s.job_filament_cm3).Bind(s.error).Bind(s.start_inferred);
  q.Bind(s.end_inferred).Bind(s.event_count).Bind(s.snapshot);
  q.Bind(s.opened_by.time).Bind(s.opened_by.id);
  if (s.closed_by) {
    q.Bind(s.closed_by->time).Bind(s.closed_by->id);
  } else {
    q.BindNull().BindNull();
  }
  q.Bind(s.idle_after).Bind(s.time_left_s).Bind(s.time_left_at);
}

// Every DeviceState field, in the column order device, state,
// open_session_id, needs_attention, last_applied_time, last_applied_id,
// last_topic, last_error (both stores' device_states).
template <typename Binder>
void BindDeviceState(Binder& q, const DeviceState& d) {
  q.Bind(d.device).Bind(sqlite::StoredPrinterState(d.state));
  if (d.open) {
    q.Bind(d.open->id);
  } else {
    q.BindNull();
  }
  q.Bind(d.needs_attention);
  if (d.last_applied) {
    q.Bind(d.last_applied->time).Bind(d.last_applied->id);
  } else {
    q.BindNull().BindNull();
  }
  q.Bind(d.last_topic).Bind(d.last_error);
}

template <typename Reader>
Session ReadSession(Reader& q) {
  Session s;
  s.id = q.Int();
  s.device = q.Text();
  // Only this code writes the column; an unknown name means a damaged file.
  s.status =
      sqlite::StatusFromStored(q.Text()).value_or(SessionStatus::kInterrupted);
  s.started_at = q.Int();
  s.ended_at = q.OptInt();
  s.last_event_at = q.Int();
  s.pauses = DecodePauses(q.Text());
  s.pause_started_at = q.OptInt();
  s.file.name = q.OptText();
  s.file.path = q.OptText();
  s.file.display = q.OptText();
  s.file.origin = q.OptText();
  s.file.size = q.OptInt();
  s.user = q.OptText();
  s.progress_pct = q.OptReal();
  s.reported_time_s = q.OptReal();
  s.estimated_s = q.OptReal();
  s.job_filament_mm = q.OptReal();
  s.job_filament_cm3 = q.OptReal();
  s.error = q.OptText();
  s.start_inferred = q.Bool();
  s.end_inferred = q.Bool();
  s.event_count = q.Int();
  s.snapshot = q.Bool();
  s.opened_by.time = q.Int();
  s.opened_by.id = q.Int();
  s.closed_by = OptKey(q);
  s.idle_after = q.Bool();
  s.time_left_s = q.OptReal();
  s.time_left_at = q.OptInt();
  return s;
}

// A device record: device, secret, first_seen, last_received.
template <typename Reader>
DeviceRecord ReadDeviceRecord(Reader& q) {
  DeviceRecord d;
  d.device = q.Text();
  d.secret = q.OptText();
  d.first_seen = q.Int();
  d.last_received = q.Int();
  return d;
}

// A printer's state joined with its open session: device, state,
// needs_attention, last_applied (time, id), last_topic, last_error,
// open_session_id, whether the session row was found, then the session's
// columns (ReadSession). A state whose open session is missing is returned
// without it, and the first such one is described in `damaged`.
template <typename Reader>
DeviceState ReadDeviceState(Reader& q, std::optional<std::string>& damaged) {
  DeviceState d;
  d.device = q.Text();
  d.state = sqlite::PrinterStateFromStored(q.Text()).value_or(
      PrinterState::kIdle);
  d.needs_attention = q.Bool();
  d.last_applied = OptKey(q);
  d.last_topic = q.Text();
  d.last_error = q.OptText();
  std::optional<int64_t> open_id = q.OptInt();
  bool found = q.Bool();
  if (found) {
    d.open = ReadSession(q);
  } else if (open_id && !damaged) {
    damaged = fmt::format("device {} refers to session {}, which is missing",
                          d.device, *open_id);
  }
  return d;
}

}  // namespace pm::rows

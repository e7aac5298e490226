#include "store/sqlite_rows.h"

#include <charconv>

namespace pm::sqlite {

const char* const kEventFields[27] = {
    "id",          "device",          "topic",        "kind",
    "test",        "time",            "has_current_time", "received_at",
    "file_name",   "file_path",       "file_display", "file_origin",
    "file_size",   "user",            "message",      "reported_time_s",
    "reason",      "progress_pct",    "print_time_s", "filament_mm",
    "filament_cm3", "estimated_s",    "error",        "printing",
    "paused",      "snapshot",        "print_time_left_s"};

const char* const kSessionSelect =
    "s.id, s.device, s.status, s.started_at, s.ended_at, s.last_event_at, "
    "s.pauses, s.pause_started_at, s.file_name, s.file_path, s.file_display, "
    "s.file_origin, s.file_size, coalesce(s.attributed_user, s.user), "
    "s.progress_pct, s.reported_time_s, s.estimated_s, s.job_filament_mm, "
    "s.job_filament_cm3, s.error, s.start_inferred, s.end_inferred, "
    "s.event_count, s.snapshot, s.opened_by_time, s.opened_by_id, "
    "s.closed_by_time, s.closed_by_id, s.idle_after, s.time_left_s, "
    "s.time_left_at";

std::string EventColumns(std::string_view prefix) {
  std::string out;
  for (const char* name : kEventFields) {
    if (!out.empty()) out += ", ";
    out += fmt::format("{}{}", prefix, name);
  }
  return out;
}

std::string Placeholders(int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += i ? ", ?" : "?";
  return out;
}

void BindAll(Query& q, const std::vector<Param>& params) {
  for (const Param& p : params) {
    std::visit([&q](const auto& v) { q.Bind(v); }, p);
  }
}

void BindEvent(Query& q, const Event& e, bool with_id) {
  if (with_id) q.Bind(e.id);
  q.Bind(e.device).Bind(e.topic).Bind(StoredKind(e.kind));
  q.Bind(e.test).Bind(e.time).Bind(e.has_current_time).Bind(e.received_at);
  q.Bind(e.file.name).Bind(e.file.path).Bind(e.file.display);
  q.Bind(e.file.origin).Bind(e.file.size).Bind(e.user).Bind(e.message);
  q.Bind(e.reported_time_s).Bind(e.reason).Bind(e.progress_pct);
  q.Bind(e.print_time_s).Bind(e.filament_mm).Bind(e.filament_cm3);
  q.Bind(e.estimated_s).Bind(e.error).Bind(e.printing).Bind(e.paused);
  q.Bind(e.snapshot).Bind(e.print_time_left_s);
}

Event ReadEvent(Query& q) {
  Event e;
  e.id = q.Int();
  e.device = q.Text();
  e.topic = q.Text();
  e.kind = KindFromStored(q.Text()).value_or(Kind::kOther);
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

std::string EncodePauses(const std::vector<Interval>& pauses) {
  std::string out = "[";
  for (const Interval& p : pauses) {
    if (out.size() > 1) out += ',';
    out += fmt::format("[{},{}]", p.begin, p.end);
  }
  return out + "]";
}

std::vector<Interval> DecodePauses(std::string_view text) {
  std::vector<int64_t> numbers;
  const char* p = text.data();
  const char* end = p + text.size();
  while (p < end) {
    if (*p == '-' || (*p >= '0' && *p <= '9')) {
      int64_t v = 0;
      auto [next, ec] = std::from_chars(p, end, v);
      if (ec != std::errc()) break;
      numbers.push_back(v);
      p = next;
    } else {
      ++p;
    }
  }
  std::vector<Interval> pauses;
  for (size_t i = 0; i + 1 < numbers.size(); i += 2) {
    pauses.push_back({numbers[i], numbers[i + 1]});
  }
  return pauses;
}

std::optional<EventKey> OptKey(Query& q) {
  std::optional<int64_t> time = q.OptInt();
  std::optional<int64_t> id = q.OptInt();
  if (!time || !id) return std::nullopt;
  return EventKey{*time, *id};
}

void BindSession(Query& q, const Session& s) {
  q.Bind(s.id).Bind(s.device).Bind(StoredStatus(s.status));
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

Session ReadSession(Query& q) {
  Session s;
  s.id = q.Int();
  s.device = q.Text();
  // Only this code writes the column; an unknown name means a damaged file.
  s.status =
      StatusFromStored(q.Text()).value_or(SessionStatus::kInterrupted);
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

EventView ReadEventView(Query& q) {
  EventView v;
  v.event = ReadEvent(q);
  v.duplicate = q.Bool();
  v.session_id = q.OptInt();
  v.content_type = q.Text();
  std::optional<std::string> body = q.OptText();
  bool has_request = !q.IsNull();  // method
  if (has_request) v.body = body ? std::move(*body) : std::string();
  return v;
}

}  // namespace pm::sqlite

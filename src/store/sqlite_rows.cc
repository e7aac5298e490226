#include "store/sqlite_rows.h"

#include "store/row_mapping.h"
#include "store/stored_body.h"

namespace pm::sqlite {

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
  rows::BindEvent(q, e, with_id);
}

Event ReadEvent(Query& q) { return rows::ReadEvent(q); }

std::string EncodePauses(const std::vector<Interval>& pauses) {
  return rows::EncodePauses(pauses);
}

std::vector<Interval> DecodePauses(std::string_view text) {
  return rows::DecodePauses(text);
}

std::optional<EventKey> OptKey(Query& q) { return rows::OptKey(q); }

void BindSession(Query& q, const Session& s) { rows::BindSession(q, s); }

Session ReadSession(Query& q) { return rows::ReadSession(q); }

std::string BodyReader::Read(Query& q) {
  std::string bytes = q.Text();
  std::optional<int64_t> size = q.OptInt();
  Result<std::string> body = UncompressBody(std::move(bytes), size);
  if (body.ok()) return std::move(*body);
  if (status.ok()) status = body.error();
  return std::string();
}

std::string BodyColumns(std::string_view prefix) {
  return fmt::format("{0}body, {0}body_size", prefix);
}

EventView ReadEventView(Query& q, BodyReader& bodies) {
  EventView v;
  v.event = ReadEvent(q);
  v.duplicate = q.Bool();
  v.session_id = q.OptInt();
  v.content_type = q.Text();
  std::string body = bodies.Read(q);
  bool has_request = !q.IsNull();  // method
  if (has_request) v.body = std::move(body);
  return v;
}

}  // namespace pm::sqlite

#include "api/render.h"

#include <date/date.h>
#include <date/tz.h>
#include <fmt/format.h>

#include <boost/json/serialize.hpp>
#include <cmath>

#include "api/params.h"
#include "api/text.h"
#include "decode/mask.h"

namespace pm {

namespace {

namespace json = boost::json;

json::value Str(const std::optional<std::string>& s) {
  if (!s) return nullptr;
  return json::value(CleanUtf8(*s));
}

// Whole numbers print as integers ("50", not "5E1").
json::value Num(double v) {
  if (!std::isfinite(v)) return nullptr;
  if (v == std::floor(v) && std::fabs(v) < 9e15) {
    return static_cast<int64_t>(v);
  }
  return v;
}

// Numbers in plain decimals ("1853.31", not Boost.JSON's "1.85331E3"),
// shortest form that reads back exactly; non-finite ones never get here
// (Num() makes them null).
std::string Scalar(const json::value& v) {
  if (v.is_double()) return fmt::format("{}", v.get_double());
  return json::serialize(v);
}

json::value Rounded(const std::optional<double>& v, double scale) {
  if (!v) return nullptr;
  return Num(std::round(*v * scale) / scale);
}

json::value Seconds(const std::optional<double>& v) {
  if (!v || !std::isfinite(*v)) return nullptr;
  return static_cast<int64_t>(std::floor(*v));
}

json::value Time(const std::optional<TimeMs>& t) {
  if (!t) return nullptr;
  return json::value(FormatIso(*t));
}

json::object FileJson(const FileInfo& f) {
  json::object o;
  o["name"] = Str(f.name);
  o["path"] = Str(f.path);
  o["display"] = Str(f.display);
  o["origin"] = Str(f.origin);
  o["size"] = f.size ? json::value(*f.size) : json::value(nullptr);
  return o;
}

}  // namespace

json::object SessionJson(const Session& s, TimeMs now,
                         const RateHistory& rates) {
  json::object o;
  o["id"] = s.id;
  o["device"] = CleanUtf8(s.device);
  o["status"] = StatusName(s.status);
  o["started_at"] = FormatIso(s.started_at);
  o["ended_at"] = Time(s.ended_at);
  // print_s is duration_s - paused_s as printed, so the figures add up.
  int64_t duration_s = FloorSeconds(DurationMs(s, now));
  int64_t paused_s = FloorSeconds(PausedMs(s, now));
  o["duration_s"] = duration_s;
  o["paused_s"] = paused_s;
  o["print_s"] = duration_s - paused_s;
  o["reported_time_s"] = Seconds(s.reported_time_s);
  o["file"] = FileJson(s.file);
  o["user"] = Str(s.user);
  o["progress_pct"] = Rounded(s.progress_pct, 100);
  o["estimated_s"] = Seconds(s.estimated_s);
  o["filament_mm"] = Rounded(FilamentMm(s), 100);
  o["filament_cm3"] = Rounded(FilamentCm3(s), 1000);
  o["error"] = Str(s.error);
  o["start_inferred"] = s.start_inferred;
  o["end_inferred"] = s.end_inferred;
  o["event_count"] = s.event_count;
  o["snapshot"] = s.snapshot;
  o["cost"] = Rounded(SessionCost(s, rates, now), 100);
  return o;
}

json::value CurrencyJson(std::string_view currency) {
  if (currency.empty()) return nullptr;
  return json::value(CleanUtf8(currency));
}

json::object SessionPageJson(std::span<const Session> sessions, int limit,
                             TimeMs now, const RateHistory& rates,
                             std::string_view currency) {
  json::array rows;
  for (const Session& s : sessions) {
    rows.emplace_back(SessionJson(s, now, rates));
  }
  json::value next = nullptr;
  if (!sessions.empty() && static_cast<int>(sessions.size()) == limit) {
    next = EncodeCursor(sessions.back().started_at, sessions.back().id);
  }
  return json::object{{"sessions", std::move(rows)},
                      {"next_cursor", next},
                      {"currency", CurrencyJson(currency)}};
}

json::object EventJson(const EventView& v, bool reveal_secrets) {
  const Event& e = v.event;
  json::object o;
  o["id"] = e.id;
  o["device"] = CleanUtf8(e.device);
  o["topic"] = CleanUtf8(e.topic);
  o["kind"] = KindName(e.kind);
  o["time"] = FormatIso(e.time);
  o["received_at"] = FormatIso(e.received_at);
  o["duplicate"] = v.duplicate;
  o["test"] = e.test;
  o["session"] =
      v.session_id ? json::value(*v.session_id) : json::value(nullptr);
  o["content_type"] = CleanUtf8(v.content_type);
  if (!v.body) return o;
  std::optional<std::string> body =
      reveal_secrets ? v.body : MaskBody(v.content_type, *v.body);
  if (body && IsValidUtf8(*body)) o["body"] = std::move(*body);
  return o;
}

namespace {

json::object FiguresJson(const UsageFigures& f) {
  json::object o;
  o["sessions"] = f.sessions;
  o["completed"] = f.completed;
  o["cancelled"] = f.cancelled;
  o["failed"] = f.failed;
  o["interrupted"] = f.interrupted;
  o["restarted"] = f.restarted;
  o["busy_s"] = Seconds(f.busy_s);
  o["paused_s"] = Seconds(f.paused_s);
  o["print_s"] = Seconds(f.print_s);
  o["utilization"] = Rounded(f.utilization, 1e6);
  o["filament_mm"] = Rounded(f.filament_mm, 100);
  o["cost"] = Rounded(f.cost, 100);
  return o;
}

std::string ZoneName(const date::time_zone* tz) {
  return tz ? std::string(tz->name()) : "UTC";
}

}  // namespace

json::object UsageJson(const UsageQuery& q, const UsageReport& r,
                       std::string_view currency) {
  json::object o;
  o["from"] = FormatIso(q.from);
  o["to"] = FormatIso(q.to);
  o["tz"] = ZoneName(q.tz);
  json::array group_by;
  for (GroupKey k : q.group_by) group_by.emplace_back(GroupKeyName(k));
  o["group_by"] = std::move(group_by);
  json::array rows;
  for (const UsageRow& row : r.rows) {
    json::object key;
    for (size_t i = 0; i < q.group_by.size() && i < row.key.size(); ++i) {
      key[GroupKeyName(q.group_by[i])] = Str(row.key[i]);
    }
    json::object item = FiguresJson(row.figures);
    item.emplace("key", std::move(key));
    rows.emplace_back(std::move(item));
  }
  o["rows"] = std::move(rows);
  o["totals"] = FiguresJson(r.totals);
  o["currency"] = CurrencyJson(currency);
  return o;
}

std::string CsvField(std::string_view text) {
  if (text.find_first_of(",\"\r\n") == std::string_view::npos) {
    return std::string(text);
  }
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

namespace {

// A JSON scalar as a CSV field: strings bare, null empty.
std::string CsvScalar(const json::value& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return CsvField(v.get_string());
  return CsvField(Scalar(v));
}

// The CSV columns of a session: SESSION's fields with `file` spread out.
constexpr std::string_view kSessionColumns[] = {
    "id",           "device",      "status",
    "started_at",   "ended_at",    "duration_s",
    "paused_s",     "print_s",     "reported_time_s",
    "file_name",    "file_path",   "file_display",
    "file_origin",  "file_size",   "user",
    "progress_pct", "estimated_s", "filament_mm",
    "filament_cm3", "error",       "start_inferred",
    "end_inferred", "event_count", "snapshot",
    "cost",
};

void AppendRow(std::string& out, const std::vector<std::string>& cells) {
  for (size_t i = 0; i < cells.size(); ++i) {
    if (i > 0) out += ',';
    out += cells[i];
  }
  out += "\r\n";
}

}  // namespace

void AppendSessionsCsv(std::string& out, std::span<const Session> sessions,
                       TimeMs now, bool header, const RateHistory& rates) {
  if (header) {
    std::vector<std::string> names(std::begin(kSessionColumns),
                                   std::end(kSessionColumns));
    AppendRow(out, names);
  }
  std::vector<std::string> cells;
  for (const Session& s : sessions) {
    json::object o = SessionJson(s, now, rates);
    const json::object& file = o["file"].as_object();
    cells.clear();
    for (std::string_view column : kSessionColumns) {
      if (column.rfind("file_", 0) == 0) {
        cells.push_back(CsvScalar(file.at(column.substr(5))));
      } else {
        cells.push_back(CsvScalar(o.at(column)));
      }
    }
    AppendRow(out, cells);
  }
}

namespace {

constexpr std::string_view kFigureColumns[] = {
    "sessions",    "completed",   "cancelled",   "failed",
    "interrupted", "restarted",   "busy_s",      "paused_s",
    "print_s",     "utilization", "filament_mm", "cost",
};

void AppendFigures(std::vector<std::string>& cells, const UsageFigures& f) {
  json::object o = FiguresJson(f);
  for (std::string_view column : kFigureColumns) {
    cells.push_back(CsvScalar(o.at(column)));
  }
}

}  // namespace

std::string UsageCsv(const UsageQuery& q, const UsageReport& r) {
  std::string out;
  std::vector<std::string> cells;
  for (GroupKey k : q.group_by) cells.emplace_back(GroupKeyName(k));
  for (std::string_view c : kFigureColumns) cells.emplace_back(c);
  AppendRow(out, cells);
  for (const UsageRow& row : r.rows) {
    cells.clear();
    for (size_t i = 0; i < q.group_by.size(); ++i) {
      const auto& key = i < row.key.size() ? row.key[i] : std::nullopt;
      cells.push_back(key ? CsvField(CleanUtf8(*key)) : "");
    }
    AppendFigures(cells, row.figures);
    AppendRow(out, cells);
  }
  cells.assign(q.group_by.size(), "");
  if (!cells.empty()) cells[0] = "TOTAL";
  AppendFigures(cells, r.totals);
  AppendRow(out, cells);
  return out;
}

namespace {

// Compact when pretty is false; otherwise two-space indentation from
// `indent`.
void Write(std::string& out, const json::value& v, bool pretty, int indent) {
  std::string pad = pretty ? "\n" + std::string(indent, ' ') : "";
  std::string inner = pretty ? "\n" + std::string(indent + 2, ' ') : "";
  if (v.is_object() && !v.get_object().empty()) {
    char sep = '{';
    for (const auto& [k, item] : v.get_object()) {
      out += sep + inner + json::serialize(json::string_view(k)) +
             (pretty ? ": " : ":");
      Write(out, item, pretty, indent + 2);
      sep = ',';
    }
    out += pad + "}";
  } else if (v.is_array() && !v.get_array().empty()) {
    char sep = '[';
    for (const auto& item : v.get_array()) {
      out += sep + inner;
      Write(out, item, pretty, indent + 2);
      sep = ',';
    }
    out += pad + "]";
  } else {
    out += Scalar(v);
  }
}

}  // namespace

std::string JsonText(const json::value& v, bool pretty) {
  std::string out;
  Write(out, v, pretty, 0);
  if (pretty) out += "\n";
  return out;
}

namespace {

std::string LocalTime(TimeMs t, const date::time_zone* tz) {
  using namespace std::chrono;
  sys_seconds s{seconds{FloorSeconds(t)}};
  if (!tz) return date::format("%Y-%m-%d %H:%M", s);
  return date::format("%Y-%m-%d %H:%M", date::make_zoned(tz, s));
}

std::string OrDash(const std::optional<std::string>& s) {
  return s ? CleanUtf8(*s) : "-";
}

std::string FileLabel(const FileInfo& f) {
  if (f.display) return CleanUtf8(*f.display);
  if (f.name) return CleanUtf8(*f.name);
  return OrDash(f.path);
}

std::string Money(double v) { return fmt::format("{:.2f}", v); }

std::string Metres(double mm) { return fmt::format("{:.2f} m", mm / 1000); }

// "; costs in EUR" when a currency is configured.
std::string CurrencyNote(std::string_view currency) {
  if (currency.empty()) return "";
  return "; costs in " + CleanUtf8(currency);
}

}  // namespace

std::string SessionsTable(std::span<const Session> sessions, TimeMs now,
                          const date::time_zone* tz, const RateHistory& rates,
                          std::string_view currency) {
  TextTable table(
      {"ID", "PRINTER", "STATUS", "STARTED", "ENDED", "PRINT", "PAUSED", "USER",
       "FILE", "FILAMENT", "COST"},
      {true, false, false, false, false, true, true, false, false, true, true});
  for (const Session& s : sessions) {
    auto filament = FilamentMm(s);
    table.AddRow({
        std::to_string(s.id),
        CleanUtf8(s.device),
        std::string(StatusName(s.status)) + (s.end_inferred ? "*" : ""),
        LocalTime(s.started_at, tz) + (s.start_inferred ? "*" : ""),
        s.ended_at ? LocalTime(*s.ended_at, tz) : "(open)",
        FormatHoursMinutes(PrintMs(s, now) / 1000.0),
        FormatHoursMinutes(PausedMs(s, now) / 1000.0),
        s.user ? CleanUtf8(*s.user) : "unattributed",
        FileLabel(s.file),
        filament ? Metres(*filament) : "-",
        Money(SessionCost(s, rates, now)),
    });
  }
  std::string out = table.Render();
  out +=
      fmt::format("{} session{}; times in {}{}; * = inferred (not observed)\n",
                  sessions.size(), sessions.size() == 1 ? "" : "s",
                  ZoneName(tz), CurrencyNote(currency));
  return out;
}

namespace {

std::vector<std::string> FigureCells(const UsageFigures& f) {
  return {std::to_string(f.sessions),
          std::to_string(f.completed),
          std::to_string(f.cancelled + f.failed),
          std::to_string(f.interrupted + f.restarted),
          FormatHoursMinutes(f.busy_s),
          FormatHoursMinutes(f.print_s),
          FormatPercent(f.utilization),
          Metres(f.filament_mm),
          Money(f.cost)};
}

}  // namespace

std::string UsageTable(const UsageQuery& q, const UsageReport& r,
                       std::string_view currency) {
  std::vector<std::string> header;
  std::vector<bool> right;
  for (GroupKey k : q.group_by) {
    std::string name(GroupKeyName(k));
    for (char& c : name) c = static_cast<char>(std::toupper(c));
    header.push_back(name);
    right.push_back(false);
  }
  for (const char* h : {"SESSIONS", "DONE", "FAILED", "INTERRUPTED", "BUSY",
                        "PRINTING", "UTILIZATION", "FILAMENT", "COST"}) {
    header.emplace_back(h);
    right.push_back(true);
  }
  TextTable table(header, right);
  for (const UsageRow& row : r.rows) {
    std::vector<std::string> cells;
    for (size_t i = 0; i < q.group_by.size(); ++i) {
      const auto& key = i < row.key.size() ? row.key[i] : std::nullopt;
      bool is_user = q.group_by[i] == GroupKey::kUser;
      cells.push_back(key ? CleanUtf8(*key) : is_user ? "unattributed" : "-");
    }
    for (auto& c : FigureCells(row.figures)) cells.push_back(std::move(c));
    table.AddRow(std::move(cells));
  }
  std::vector<std::string> totals(q.group_by.size(), "");
  if (!totals.empty()) totals[0] = "total";
  for (auto& c : FigureCells(r.totals)) totals.push_back(std::move(c));
  table.AddFooter(std::move(totals));
  return fmt::format("Usage {} .. {} ({}{})\n\n", LocalTime(q.from, q.tz),
                     LocalTime(q.to, q.tz), ZoneName(q.tz),
                     CurrencyNote(currency)) +
         table.Render() +
         "FAILED counts failed and cancelled prints; INTERRUPTED counts "
         "interrupted and restarted ones.\n";
}

// Print time of `s` within [a, b): the pauses in it do not count.
double PrintSecondsBetween(const Session& s, TimeMs a, TimeMs b) {
  if (b <= a) return 0;
  auto overlap = [a, b](TimeMs begin, TimeMs end) {
    return std::max<TimeMs>(0, std::min(b, end) - std::max(a, begin));
  };
  TimeMs paused = 0;
  for (const Interval& p : s.pauses) paused += overlap(p.begin, p.end);
  if (s.pause_started_at) paused += overlap(*s.pause_started_at, b);
  return std::max<TimeMs>(0, b - a - paused) / 1000.0;
}

// ETA of an open session. OctoPrint's own estimate of the time left
// (progress.printTimeLeft) wins when its latest event that carried one said
// it: it knows the G-code and the printer. Otherwise the print time at the
// latest event is extrapolated from the progress OctoPrint reported then,
// once that is at least 1% (`elapsed * (100 - p) / p`); before that, or
// without progress, the job's estimate minus the print time so far; null
// when none is known. The remainder counts down with the print time since it
// was reported: while printing, not while paused. A print that is not at
// 100 % is never "0 s left": once the remainder runs out (the estimate was
// too short, or OctoPrint went quiet) the ETA is unknown (null), not zero.
// eta = now + remaining.
Eta EstimateEta(const Session& s, TimeMs now) {
  if (!IsOpen(s.status)) return {};
  TimeMs ref = std::max(s.last_event_at, s.started_at);
  std::optional<double> remaining;
  if (s.time_left_s && s.time_left_at) {
    ref = std::clamp(*s.time_left_at, s.started_at, ref);
    remaining = *s.time_left_s;
  } else if (s.progress_pct && *s.progress_pct >= 1 && *s.progress_pct <= 100) {
    double elapsed_s = PrintMs(s, ref) / 1000.0;
    remaining = elapsed_s * (100 - *s.progress_pct) / *s.progress_pct;
  } else if (s.estimated_s) {
    double elapsed_s = PrintMs(s, ref) / 1000.0;
    remaining = std::max(0.0, *s.estimated_s - elapsed_s);
  }
  if (!remaining) return {};
  remaining = std::max(0.0, *remaining - PrintSecondsBetween(s, ref, now));
  auto remaining_s = static_cast<int64_t>(std::floor(*remaining));
  bool done = s.progress_pct && *s.progress_pct >= 100;
  if (remaining_s <= 0 && !done) return {};
  return {remaining_s, now + remaining_s * kSecondMs};
}

}  // namespace pm

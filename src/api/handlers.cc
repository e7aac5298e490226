#include "api/handlers.h"

#include <fmt/format.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>
#include <set>

#include "api/maintenance_api.h"
#include "api/render.h"
#include "api/text.h"
#include "maintenance/fleet.h"
#include "store/rate_history.h"

namespace pm {

namespace {

namespace json = boost::json;

ApiResponse JsonResponse(const json::value& v, int status = 200) {
  ApiResponse r;
  r.status = status;
  r.body = JsonText(v, /*pretty=*/false);
  return r;
}

Result<int64_t> IdParam(std::string_view text) {
  int64_t id = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc() || end != text.data() + text.size() || id <= 0) {
    return Invalid(
        fmt::format("session id must be a positive whole number; got {}",
                    QuoteForMessage(text)));
  }
  return id;
}

Error UnknownSession(int64_t id) {
  return NotFound(fmt::format("no session with id {}", id));
}

}  // namespace

// --- printers ---

namespace {

// The open session as stored (carrying a manual user attribution), else as
// the device state holds it.
Result<json::value> OpenSessionJson(Store& store, const DeviceState& state,
                                    TimeMs now) {
  if (!state.open) return json::value(nullptr);
  auto stored = store.GetSession(state.open->id);
  if (!stored) return stored.error();
  const Session& s = stored->has_value() ? **stored : *state.open;
  auto rates = LoadRateHistory(store);
  if (!rates) return rates.error();
  json::object o = SessionJson(s, now, *rates);
  Eta eta = EstimateEta(s, now);
  o["remaining_s"] =
      eta.remaining_s ? json::value(*eta.remaining_s) : json::value(nullptr);
  o["eta"] = eta.eta ? json::value(FormatIso(*eta.eta)) : json::value(nullptr);
  return json::value(std::move(o));
}

// What the printer said with the event that made it need attention.
Result<std::optional<std::string>> AttentionMessage(Store& store,
                                                    const DeviceState& s) {
  EventPageQuery q;
  q.device = s.device;
  q.limit = 1;
  auto latest = store.ListEvents(q);
  if (!latest) return latest.error();
  if (latest->empty()) return std::optional<std::string>();
  const Event& e = latest->front().event;
  if (e.message && !e.message->empty()) return e.message;
  if (e.error && !e.error->empty()) return e.error;
  return s.last_error;
}

}  // namespace

// Every configured device (even before it was heard from: idle, nulls) and
// every device the store knows, sorted by id. The name is the configured
// one, else the device id. secret_set: a non-empty secret is configured or
// was registered on first contact.
Result<json::array> PrintersJson(Store& store, const ApiOptions& options,
                                 TimeMs now) {
  auto states = store.LoadDeviceStates();
  if (!states) return states.error();
  auto devices = store.LoadDevices();
  if (!devices) return devices.error();

  struct Row {
    const DeviceState* state = nullptr;
    bool secret_set = false;
  };
  std::map<std::string, Row, std::less<>> rows;
  for (const auto& [id, dc] : options.devices) {
    rows[id].secret_set = dc.secret_set;
  }
  for (const DeviceRecord& d : *devices) {
    rows[d.device].secret_set |= d.secret && !d.secret->empty();
  }
  for (const DeviceState& s : *states) rows[s.device].state = &s;
  auto maintenance =
      LoadFleetMaintenance(store, options.maintenance, now);
  if (!maintenance) return maintenance.error();

  json::array printers;
  for (const auto& [id, row] : rows) {
    json::object p;
    p["device"] = CleanUtf8(id);
    auto dc = options.devices.find(id);
    bool named = dc != options.devices.end() && !dc->second.name.empty();
    p["name"] = CleanUtf8(named ? dc->second.name : id);
    const DeviceState* s = row.state;
    p["state"] = PrinterStateName(s ? s->state : PrinterState::kIdle);
    if (s) {
      auto session = OpenSessionJson(store, *s, now);
      if (!session) return session.error();
      p["session"] = std::move(*session);
    } else {
      p["session"] = nullptr;
    }
    bool heard = s && s->last_applied;
    p["last_event_at"] = heard ? json::value(FormatIso(s->last_applied->time))
                               : json::value(nullptr);
    p["last_topic"] =
        heard ? json::value(CleanUtf8(s->last_topic)) : json::value(nullptr);
    p["needs_attention"] = s && s->needs_attention;
    // The printer's own words while it needs attention ("You might need to
    // change the filament color."): its latest event's message, else the
    // error it carried; null otherwise.
    p["attention_message"] = nullptr;
    if (s && s->needs_attention) {
      auto said = AttentionMessage(store, *s);
      if (!said) return said.error();
      if (*said) p["attention_message"] = CleanUtf8(**said);
    }
    p["secret_set"] = row.secret_set;
    const DeviceMaintenance* items = nullptr;
    for (const DeviceMaintenance& d : *maintenance) {
      if (d.device == id) items = &d;
    }
    p["maintenance"] = MaintenanceJson(items);
    printers.emplace_back(std::move(p));
  }
  return printers;
}

Result<ApiResponse> GetPrinters(ApiContext& ctx, const ApiCall&) {
  auto printers = PrintersJson(ctx.store, ctx.options, ctx.clock.Now());
  if (!printers) return printers.error();
  return JsonResponse(json::object{{"printers", std::move(*printers)}});
}

// --- sessions ---

Result<ApiResponse> ListSessions(ApiContext& ctx, const ApiCall& call) {
  auto q = ParseSessionQuery(call.params, ctx.zone, kDefaultPageSize);
  if (!q) return q.error();
  auto sessions = ctx.store.ListSessions(*q);
  if (!sessions) return sessions.error();
  auto rates = LoadRateHistory(ctx.store);
  if (!rates) return rates.error();
  return JsonResponse(SessionPageJson(*sessions, q->limit, ctx.clock.Now(),
                                      *rates, ctx.options.currency));
}

Result<std::vector<Session>> ListAllSessions(Store& store, SessionPageQuery q) {
  const int wanted = q.limit;
  std::vector<Session> all;
  while (static_cast<int>(all.size()) < wanted) {
    q.limit = std::min(kMaxPageSize, wanted - static_cast<int>(all.size()));
    auto page = store.ListSessions(q);
    if (!page) return page.error();
    bool last = static_cast<int>(page->size()) < q.limit;
    for (Session& s : *page) all.push_back(std::move(s));
    if (last || all.empty()) break;
    q.after = {all.back().started_at, all.back().id};
  }
  return all;
}

// Every matching session (limit and cursor apply as in ListSessions, when
// given), newest first.
Result<ApiResponse> SessionsCsv(ApiContext& ctx, const ApiCall& call) {
  auto q = ParseSessionQuery(call.params, ctx.zone, kMaxCsvRows, kMaxCsvRows);
  if (!q) return q.error();
  auto sessions = ListAllSessions(ctx.store, *q);
  if (!sessions) return sessions.error();
  auto rates = LoadRateHistory(ctx.store);
  if (!rates) return rates.error();
  ApiResponse r;
  r.content_type = "text/csv; charset=utf-8";
  r.headers.emplace_back("Content-Disposition",
                         "attachment; filename=\"printmeter-sessions.csv\"");
  AppendSessionsCsv(r.body, *sessions, ctx.clock.Now(), /*header=*/true,
                    *rates);
  if (!call.params.Get("limit") &&
      static_cast<int>(sessions->size()) == kMaxCsvRows) {
    r.headers.emplace_back("X-Printmeter-Truncated",
                           fmt::format("first {} rows only", kMaxCsvRows));
  }
  return r;
}

// SESSION plus one page of its events in fold order: `limit` (default 100,
// at most 1000) events after `cursor`, and `events_next_cursor` to go on
// (null on the last page), so a print of 20,000 progress events is read a
// page at a time instead of in one answer of every raw body. Bodies are
// shown with the printer's secret masked (decode/mask.h), whoever asks.
Result<ApiResponse> GetSession(ApiContext& ctx, const ApiCall& call) {
  auto id = IdParam(call.ids.at(0));
  if (!id) return id.error();
  SessionEventsQuery q;
  q.session_id = *id;
  auto limit =
      IntParam(call.params, "limit", kDefaultPageSize, 1, kMaxPageSize);
  if (!limit) return limit.error();
  q.limit = *limit;
  if (auto v = call.params.Get("cursor")) {
    q.after = DecodeCursor(*v);
    if (!q.after) {
      return Invalid(
          "cursor is not one this server issued; use the events_next_cursor "
          "of the previous answer, or leave cursor out to start from the "
          "session's first event");
    }
  }
  auto session = ctx.store.GetSession(*id);
  if (!session) return session.error();
  if (!session->has_value()) return UnknownSession(*id);
  auto events = ctx.store.SessionEventsPage(q);
  if (!events) return events.error();
  auto rates = LoadRateHistory(ctx.store);
  if (!rates) return rates.error();
  json::object o = SessionJson(**session, ctx.clock.Now(), *rates);
  json::array items;
  for (const EventView& e : *events) items.emplace_back(EventJson(e));
  json::value next = nullptr;
  if (static_cast<int>(events->size()) == q.limit) {
    next = EncodeCursor(events->back().event.time, events->back().event.id);
  }
  o["events"] = std::move(items);
  o["events_next_cursor"] = next;
  return JsonResponse(o);
}

namespace {

constexpr size_t kMaxUserChars = 128;

// The body of PUT .../user: exactly {"user": "NAME"}, NAME 1-128 characters
// after trimming, no control characters; or {"user": null}, which removes a
// manual attribution (returned as "", as Store::SetSessionUser takes it), so
// a wrong attribution can be undone.
Result<std::string> ParseUserBody(std::string_view body) {
  constexpr std::string_view kShape = "the body must be {\"user\": \"NAME\"}";
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec) {
    return Invalid(
        fmt::format("{}; it is not valid JSON ({})", kShape, ec.message()));
  }
  if (!v.is_object()) return Invalid(fmt::format("{}; got no object", kShape));
  for (const auto& [key, item] : v.get_object()) {
    if (key != "user") {
      return Invalid(
          fmt::format("{}; unknown field {}", kShape, QuoteForMessage(key)));
    }
  }
  const json::value* user = v.get_object().if_contains("user");
  if (!user) return Invalid(fmt::format("{}; \"user\" is missing", kShape));
  if (user->is_null()) return std::string();
  if (!user->is_string()) {
    return Invalid(fmt::format(
        "{}; \"user\" must be a string (or null to remove the attribution)",
        kShape));
  }
  std::string_view name = user->get_string();
  while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
  while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
  if (name.empty()) return Invalid("\"user\" must not be empty");
  for (char c : name) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return Invalid("\"user\" must not contain control characters");
    }
  }
  size_t chars = 0;
  for (char c : name) chars += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  if (chars > kMaxUserChars) {
    return Invalid(
        fmt::format("\"user\" must be at most {} characters", kMaxUserChars));
  }
  return std::string(name);
}

}  // namespace

Result<ApiResponse> PutSessionUser(ApiContext& ctx, const ApiCall& call) {
  auto id = IdParam(call.ids.at(0));
  if (!id) return id.error();
  auto user = ParseUserBody(call.body);
  if (!user) return user.error();
  if (auto s = ctx.attribute(*id, *user); !s) {
    if (s.error().code == ErrorCode::kNotFound) return UnknownSession(*id);
    return s.error();
  }
  auto session = ctx.store.GetSession(*id);
  if (!session) return session.error();
  if (!session->has_value()) return UnknownSession(*id);
  auto rates = LoadRateHistory(ctx.store);
  if (!rates) return rates.error();
  return JsonResponse(SessionJson(**session, ctx.clock.Now(), *rates));
}

// --- usage ---

Result<UsageReport> RunUsage(Store& store, const UsageQuery& query) {
  auto sessions = store.SessionsOverlapping(query.from, query.to);
  if (!sessions) return sessions.error();
  return ComputeUsage(query, *sessions);
}

Result<ApiResponse> GetUsage(ApiContext& ctx, const ApiCall& call) {
  auto q = ParseUsageQuery(call.params, ctx.options, ctx.clock.Now());
  if (!q) return q.error();
  // The fleet for the totals' utilization: every printer /api/v1/printers
  // lists, idle ones included.
  auto devices = ctx.store.LoadDevices();
  if (!devices) return devices.error();
  std::set<std::string, std::less<>> fleet;
  for (const auto& [id, dc] : ctx.options.devices) fleet.insert(id);
  for (const DeviceRecord& d : *devices) fleet.insert(d.device);
  q->printers = fleet.size();
  auto rates = LoadRateHistory(ctx.store);
  if (!rates) return rates.error();
  q->rates = std::move(*rates);
  auto report = RunUsage(ctx.store, *q);
  if (!report) return report.error();
  return JsonResponse(UsageJson(*q, *report, ctx.options.currency));
}

// --- events ---

namespace {

// reveal=secrets shows the bodies as stored, secrets included (for an admin
// who must read a printer's secret back); anything else is a mistake.
Result<bool> RevealParam(const Params& params) {
  auto v = params.Get("reveal");
  if (!v) return false;
  if (*v == "secrets") return true;
  return Invalid(fmt::format(
      "reveal must be \"secrets\" (to show the printers' secrets in the "
      "bodies) or left out; got {}",
      QuoteForMessage(*v)));
}

}  // namespace

Result<ApiResponse> ListEvents(ApiContext& ctx, const ApiCall& call) {
  EventPageQuery q;
  if (auto v = call.params.Get("device")) q.device = std::string(*v);
  auto limit =
      IntParam(call.params, "limit", kDefaultPageSize, 1, kMaxPageSize);
  if (!limit) return limit.error();
  q.limit = *limit;
  if (auto v = call.params.Get("cursor")) {
    q.before_id = DecodeEventCursor(*v);
    if (!q.before_id) {
      return Invalid(
          "cursor is not one this server issued; use the next_cursor of the "
          "previous page, or leave cursor out to start from the newest");
    }
  }
  auto reveal = RevealParam(call.params);
  if (!reveal) return reveal.error();
  auto events = ctx.store.ListEvents(q);
  if (!events) return events.error();
  json::array rows;
  for (const EventView& e : *events) rows.emplace_back(EventJson(e, *reveal));
  json::value next = nullptr;
  if (static_cast<int>(events->size()) == q.limit) {
    next = EncodeEventCursor(events->back().event.id);
  }
  return JsonResponse(
      json::object{{"events", std::move(rows)}, {"next_cursor", next}});
}

// --- metrics ---

Result<ApiResponse> GetMetrics(ApiContext& ctx, const ApiCall&) {
  auto text = RenderMetrics(ctx.store, ctx.options, ctx.clock.Now(), ctx.totals,
                            ctx.webhooks);
  if (!text) return text.error();
  ApiResponse r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = std::move(*text);
  return r;
}

}  // namespace pm

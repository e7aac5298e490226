#include "api/maintenance_api.h"

#include <fmt/format.h>

#include <boost/json/parse.hpp>
#include <boost/url/pct_string_view.hpp>

#include "api/render.h"
#include "api/text.h"
#include "maintenance/fleet.h"

namespace pm {

namespace json = boost::json;

json::object ItemStatusJson(const ItemStatus& st) {
  json::object o;
  o["item"] = CleanUtf8(st.item.item);
  o["kind"] = MaintenanceKindName(st.item.kind);
  o["every"] = st.item.every;
  o["every_text"] = FormatEvery(st.item);
  o["used"] = st.used;
  o["remaining"] = st.remaining;
  o["fraction"] = st.fraction;
  o["state"] = MaintenanceStateName(st.state);
  o["since"] = FormatIso(st.since);
  o["last_done"] = st.last_done ? json::value(FormatIso(st.last_done->done_at))
                                : json::value(nullptr);
  o["done_by"] = st.last_done && !st.last_done->by.empty()
                     ? json::value(CleanUtf8(st.last_done->by))
                     : json::value(nullptr);
  o["note"] = st.item.note.empty() ? json::value(nullptr)
                                   : json::value(CleanUtf8(st.item.note));
  return o;
}

json::array MaintenanceJson(const DeviceMaintenance* d) {
  json::array items;
  if (!d) return items;
  for (const ItemStatus& st : d->items) items.push_back(ItemStatusJson(st));
  return items;
}

namespace {

// A path segment, percent-decoded ("lubricate%20rods").
Result<std::string> Segment(std::string_view raw, std::string_view what) {
  auto pct = boost::urls::make_pct_string_view(raw);
  if (!pct) {
    return Invalid(fmt::format("the {} in the path is not valid "
                               "percent-encoding: {}",
                               what, QuoteForMessage(raw)));
  }
  return pct->decode();
}

// The optional body: {"by": "NAME" | null, "at": "TIME"}.
Status ParseDoneBody(std::string_view body, MaintenanceMark& mark) {
  constexpr std::string_view kShape =
      "the body must be empty or {\"by\": \"NAME\", \"at\": "
      "\"2024-08-02T14:30:00Z\"} (both optional)";
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return {};
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) {
    return Invalid(fmt::format("{}; it is not a JSON object", kShape));
  }
  for (const auto& [key, value] : v.get_object()) {
    if (key == "by" && value.is_string()) {
      mark.by = std::string(value.get_string());
    } else if (key == "by" && value.is_null()) {
      mark.by.clear();
    } else if (key == "at" && value.is_string()) {
      auto at = ParseTime(value.get_string());
      if (!at) {
        return Invalid(fmt::format("{}; \"at\" is not a time",
                                   kShape));
      }
      mark.done_at = *at;
    } else {
      return Invalid(
          fmt::format("{}; unexpected {}", kShape, QuoteForMessage(key)));
    }
  }
  for (char c : mark.by) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return Invalid("\"by\" must not contain control characters");
    }
  }
  return {};
}

}  // namespace

Result<ApiResponse> PostMaintenanceDone(ApiContext& ctx, const ApiCall& call) {
  auto device = Segment(call.ids.at(0), "device");
  if (!device) return device.error();
  auto item = Segment(call.ids.at(1), "item");
  if (!item) return item.error();
  TimeMs now = ctx.clock.Now();
  MaintenanceMark mark{*device, *item, now, ""};
  if (Status s = ParseDoneBody(call.body, mark); !s.ok()) return s.error();
  const MaintenanceOptions& options = ctx.options.maintenance;
  // Beside the single writer: store.h, RecordMaintenanceMark, says why.
  if (Status s = RecordMark(ctx.store, options, mark, now); !s.ok()) {
    return s.error();
  }
  if (ctx.options.maintenance_marked) ctx.options.maintenance_marked(mark.device);
  auto fleet = LoadFleetMaintenance(ctx.store, options, now);
  if (!fleet) return fleet.error();
  for (const DeviceMaintenance& d : *fleet) {
    if (d.device != mark.device) continue;
    for (const ItemStatus& st : d.items) {
      if (st.item.item != mark.item) continue;
      json::object o = ItemStatusJson(st);
      o["device"] = CleanUtf8(d.device);
      ApiResponse r;
      r.body = JsonText(o, /*pretty=*/false);
      return r;
    }
  }
  return Internal("the marked item is missing from the fleet's maintenance");
}

}  // namespace pm

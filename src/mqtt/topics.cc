#include "mqtt/topics.h"

#include <fmt/format.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <algorithm>
#include <cmath>
#include <cstdint>

namespace pm {

namespace {

namespace json = boost::json;

// A Home Assistant entity of every printer, read from the state message.
struct Entity {
  std::string_view component;     // "sensor", "binary_sensor"
  std::string_view object;        // the entity's part of its ids and topic
  std::string_view name;          // shown after the device's name
  std::string_view field;         // of the state message
  std::string_view device_class;  // "" for none
  std::string_view unit;          // "" for none; "currency": the configured
  std::string_view state_class;   // "" for none
  std::string_view icon;          // "" for the device class's own
};

constexpr Entity kEntities[] = {
    {"sensor", "status", "Status", "status", "", "", "", "mdi:printer-3d"},
    {"binary_sensor", "needs_attention", "Needs attention", "needs_attention",
     "problem", "", "", ""},
    {"sensor", "file", "File", "file", "", "", "", "mdi:file-outline"},
    {"sensor", "user", "User", "user", "", "", "", "mdi:account"},
    {"sensor", "progress", "Progress", "progress", "", "%", "measurement",
     "mdi:progress-clock"},
    {"sensor", "eta", "ETA", "eta", "timestamp", "", "", ""},
    {"sensor", "cost", "Cost of the print", "cost", "monetary", "currency", "",
     ""},
    {"sensor", "hours_this_month", "Print hours this month",
     "hours_this_month", "duration", "h", "total_increasing", ""},
    {"sensor", "filament_this_month", "Filament this month",
     "filament_this_month_m", "distance", "m", "total_increasing",
     "mdi:printer-3d-nozzle"},
    {"sensor", "prints_this_month", "Prints this month", "prints_this_month",
     "", "", "total_increasing", "mdi:counter"},
    {"sensor", "cost_this_month", "Cost this month", "cost_this_month",
     "monetary", "currency", "total", ""},
};

bool Safe(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '_' || c == '-';
}

double Round2(double v) { return std::round(v * 100) / 100; }

const json::value* Find(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return it == o.end() ? nullptr : &it->value();
}

json::value Get(const json::object& o, std::string_view key) {
  const json::value* v = Find(o, key);
  return v ? *v : json::value(nullptr);
}

std::string Text(const json::object& o, std::string_view key) {
  const json::value* v = Find(o, key);
  return v && v->is_string() ? std::string(v->as_string()) : "";
}

constexpr std::string_view kNodePrefix = "printmeter_";

std::string NodeId(const PrinterReport& r) {
  return std::string(kNodePrefix) + TopicId(Text(r.printer, "device"));
}

// The printer's maintenance items (its "maintenance" in GET
// /api/v1/printers: api/maintenance_api.h ItemStatusJson), [] for none.
json::array Items(const PrinterReport& r) {
  const json::value* v = Find(r.printer, "maintenance");
  return v && v->is_array() ? v->as_array() : json::array{};
}

std::string_view KindUnit(std::string_view kind) {
  if (kind == "hours") return "h";
  if (kind == "filament") return "m";
  return "d";
}

double Number(const json::object& o, std::string_view key) {
  const json::value* v = Find(o, key);
  return v && v->is_number() ? v->to_number<double>() : 0;
}

// The common part of every discovery config of the printer.
void Finish(json::object& c, const MqttOptions& options,
            const json::object& device_block) {
  c["availability_topic"] = StatusTopic(options);
  c["payload_available"] = "online";
  c["payload_not_available"] = "offline";
  c["device"] = device_block;
  c["origin"] = json::object{{"name", "printmeter"},
                             {"sw_version", PRINTMETER_VERSION}};
}

std::string ConfigTopic(const MqttOptions& options, std::string_view component,
                        std::string_view node, std::string_view object) {
  return fmt::format("{}/{}/{}/{}/config", options.discovery_prefix,
                     component, node, object);
}

// The printer's maintenance entities: "Maintenance due" (a problem, with the
// items as attributes) and one sensor per item. Each item's sensor shows the
// share of its threshold used, in %, rather than what remains in hours,
// metres or days: a makerspace dashboard lists nozzles (hours), belts
// (metres) and lubrication (days) side by side, and one scale for all of
// them (90 % due soon, 100 % due, 110 % overdue, as everywhere in
// printmeter) reads at a glance and fits one gauge card with the same
// severity bands; what remains, in the item's own unit, is among its
// attributes for planning the work. None for a printer without items.
void MaintenanceConfigs(const MqttOptions& options, const PrinterReport& r,
                        const std::string& node,
                        const json::object& device_block,
                        std::vector<MqttMessage>& out) {
  json::array items = Items(r);
  if (items.empty()) return;
  const std::string state_topic = StateTopic(options, Text(r.printer, "device"));
  {
    std::string id = node + "_maintenance_due";
    json::object c;
    c["name"] = "Maintenance due";
    c["unique_id"] = id;
    c["object_id"] = id;
    c["default_entity_id"] = "binary_sensor." + id;
    c["state_topic"] = state_topic;
    c["value_template"] =
        "{{ 'ON' if value_json.maintenance_due else 'OFF' }}";
    c["payload_on"] = "ON";
    c["payload_off"] = "OFF";
    c["device_class"] = "problem";
    c["json_attributes_topic"] = state_topic;
    c["json_attributes_template"] = "{{ value_json.maintenance | tojson }}";
    Finish(c, options, device_block);
    out.push_back({ConfigTopic(options, "binary_sensor", node,
                               "maintenance_due"),
                   json::serialize(c)});
  }
  for (const json::value& v : items) {
    if (!v.is_object()) continue;
    std::string item = Text(v.as_object(), "item");
    std::string key = TopicId(item);
    std::string object = "maintenance_item_" + key;
    std::string id = fmt::format("{}_{}", node, object);
    json::object c;
    c["name"] = "Maintenance: " + item;
    c["unique_id"] = id;
    c["object_id"] = id;
    c["default_entity_id"] = "sensor." + id;
    c["state_topic"] = state_topic;
    c["value_template"] =
        fmt::format("{{{{ value_json.maintenance['{}'].used_pct }}}}", key);
    c["unit_of_measurement"] = "%";
    c["state_class"] = "measurement";
    c["icon"] = "mdi:wrench-clock";
    c["json_attributes_topic"] = state_topic;
    c["json_attributes_template"] = fmt::format(
        "{{{{ value_json.maintenance['{}'] | tojson }}}}", key);
    Finish(c, options, device_block);
    out.push_back({ConfigTopic(options, "sensor", node, object),
                   json::serialize(c)});
  }
}

}  // namespace

std::string TopicId(std::string_view device) {
  std::string out;
  bool changed = device.empty();
  for (char c : device) {
    out += Safe(c) ? c : '_';
    changed |= !Safe(c);
  }
  if (changed) {
    uint32_t h = 2166136261u;  // FNV-1a
    for (char c : device) h = (h ^ static_cast<uint8_t>(c)) * 16777619u;
    out += fmt::format("_{:08x}", h);
  }
  return out;
}

std::string StatusTopic(const MqttOptions& options) {
  return options.topic_prefix + "/status";
}

std::string StateTopic(const MqttOptions& options, std::string_view device) {
  return fmt::format("{}/{}/state", options.topic_prefix, TopicId(device));
}

MqttMessage StateMessage(const MqttOptions& options, const PrinterReport& r,
                         std::string_view currency) {
  const json::object& p = r.printer;
  json::object s;
  s["device"] = Get(p, "device");
  s["name"] = Get(p, "name");
  bool attention = Get(p, "needs_attention") == json::value(true);
  s["status"] = attention ? json::value("needs_attention") : Get(p, "state");
  s["state"] = Get(p, "state");
  s["needs_attention"] = attention;
  s["attention_message"] = Get(p, "attention_message");
  const json::value* session = Find(p, "session");
  json::object open;
  if (session && session->is_object()) open = session->as_object();
  json::value file = Get(open, "file");
  s["file"] = file.is_object() ? Get(file.as_object(), "name") : nullptr;
  s["user"] = Get(open, "user");
  s["progress"] = Get(open, "progress_pct");
  s["eta"] = Get(open, "eta");
  s["remaining_s"] = Get(open, "remaining_s");
  s["cost"] = Get(open, "cost");
  s["currency"] = currency.empty() ? json::value(nullptr)
                                   : json::value(json::string(currency));
  s["hours_this_month"] = Round2(r.month.print_s / 3600);
  s["filament_this_month_m"] = Round2(r.month.filament_mm / 1000);
  s["prints_this_month"] = r.month.sessions;
  s["cost_this_month"] = Round2(r.month.cost);
  s["last_event_at"] = Get(p, "last_event_at");
  json::object maintenance;
  bool due = false;
  for (const json::value& v : Items(r)) {
    if (!v.is_object()) continue;
    const json::object& i = v.as_object();
    std::string state = Text(i, "state");
    due |= state == "due" || state == "overdue";
    std::string kind = Text(i, "kind");
    maintenance[TopicId(Text(i, "item"))] = json::object{
        {"name", Get(i, "item")},
        {"state", state},
        {"used_pct", std::round(Number(i, "fraction") * 1000) / 10},
        {"remaining", Round2(Number(i, "remaining"))},
        {"unit", KindUnit(kind)},
        {"every", Get(i, "every_text")},
        {"last_done", Get(i, "last_done")}};
  }
  s["maintenance_due"] = due;
  s["maintenance"] = std::move(maintenance);
  for (const auto& field : r.extra) s[field.key()] = field.value();
  return {StateTopic(options, Text(p, "device")), json::serialize(s)};
}

std::vector<MqttMessage> DiscoveryMessages(const MqttOptions& options,
                                           const PrinterReport& r,
                                           std::string_view currency) {
  const std::string node = NodeId(r);
  const std::string device = Text(r.printer, "device");
  json::object device_block{
      {"identifiers", json::array{json::value(node)}},
      {"name", Get(r.printer, "name")},
      {"manufacturer", "printmeter"},
      {"model", "printmeter"},
      {"sw_version", PRINTMETER_VERSION}};
  std::vector<MqttMessage> out;
  for (const Entity& e : kEntities) {
    std::string id = fmt::format("{}_{}", node, e.object);
    json::object c;
    c["name"] = e.name;
    c["unique_id"] = id;
    c["object_id"] = id;
    c["default_entity_id"] = fmt::format("{}.{}", e.component, id);
    c["state_topic"] = StateTopic(options, device);
    if (e.component == "binary_sensor") {
      c["value_template"] = fmt::format(
          "{{{{ 'ON' if value_json.{} else 'OFF' }}}}", e.field);
      c["payload_on"] = "ON";
      c["payload_off"] = "OFF";
    } else {
      c["value_template"] = fmt::format("{{{{ value_json.{} }}}}", e.field);
    }
    bool money = e.unit == "currency";
    if (!e.device_class.empty() && !(money && currency.empty())) {
      c["device_class"] = e.device_class;
    }
    if (money && !currency.empty()) {
      c["unit_of_measurement"] = currency;
    } else if (!money && !e.unit.empty()) {
      c["unit_of_measurement"] = e.unit;
    }
    if (!e.state_class.empty()) c["state_class"] = e.state_class;
    if (!e.icon.empty()) c["icon"] = e.icon;
    if (e.object == "status") {
      c["json_attributes_topic"] = StateTopic(options, device);
    }
    Finish(c, options, device_block);
    out.push_back({ConfigTopic(options, e.component, node, e.object),
                   json::serialize(c)});
  }
  MaintenanceConfigs(options, r, node, device_block, out);
  return out;
}

std::vector<std::string> SweepFilters(const MqttOptions& options) {
  return {options.discovery_prefix + "/+/+/+/config",
          options.topic_prefix + "/+/state"};
}

std::vector<std::string> StaleTopics(
    const MqttOptions& options,
    const std::map<std::string, std::string, std::less<>>& retained,
    const std::set<std::string, std::less<>>& current) {
  const std::string ours = options.topic_prefix + "/";
  const std::string discovery = options.discovery_prefix + "/";
  std::vector<std::string> stale;
  for (const auto& [topic, payload] : retained) {
    if (payload.empty() || current.contains(topic)) continue;
    std::string_view t = topic;
    if (t.starts_with(ours) && t.ends_with("/state") &&
        std::count(t.begin(), t.end(), '/') ==
            std::count(ours.begin(), ours.end(), '/') + 1) {
      stale.push_back(topic);
      continue;
    }
    if (!t.starts_with(discovery) || !t.ends_with("/config")) continue;
    // DISCOVERY/COMPONENT/NODE/OBJECT/config: printmeter's node, and a
    // config that reads this printmeter's state (not another instance's,
    // with another topic prefix, on the same broker).
    std::string_view rest = t.substr(discovery.size());
    size_t node_at = rest.find('/');
    if (node_at == std::string_view::npos ||
        !rest.substr(node_at + 1).starts_with(kNodePrefix)) {
      continue;
    }
    boost::system::error_code ec;
    json::value c = json::parse(payload, ec);
    if (ec || !c.is_object()) continue;
    const json::value* state = c.as_object().if_contains("state_topic");
    if (state && state->is_string() &&
        std::string_view(state->as_string()).starts_with(ours)) {
      stale.push_back(topic);
    }
  }
  return stale;
}

}  // namespace pm

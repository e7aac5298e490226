#include "mqtt/topics.h"

#include <fmt/format.h>

#include <boost/json/serialize.hpp>
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

std::string NodeId(const PrinterReport& r) {
  return "printmeter_" + TopicId(Text(r.printer, "device"));
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
    c["availability_topic"] = StatusTopic(options);
    c["payload_available"] = "online";
    c["payload_not_available"] = "offline";
    c["device"] = device_block;
    c["origin"] = json::object{{"name", "printmeter"},
                               {"sw_version", PRINTMETER_VERSION}};
    out.push_back({fmt::format("{}/{}/{}/{}/config", options.discovery_prefix,
                               e.component, node, e.object),
                   json::serialize(c)});
  }
  return out;
}

}  // namespace pm

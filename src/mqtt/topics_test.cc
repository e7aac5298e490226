#include "mqtt/topics.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <set>

namespace pm {
namespace {

namespace json = boost::json;

PrinterReport Printing() {
  PrinterReport r;
  r.printer = json::parse(R"j({
    "device": "ender3-garage", "name": "Ender 3 (garage)", "state": "paused",
    "needs_attention": true, "attention_message": "change the filament",
    "last_event_at": "2024-06-10T16:17:05Z", "secret_set": true,
    "session": {"id": 7, "file": {"name": "cube.gcode", "path": "c/cube.gcode"},
                "user": "pi", "progress_pct": 38.32, "cost": 1.25,
                "eta": "2024-06-10T16:45:12Z", "remaining_s": 1687}})j")
                  .as_object();
  r.month.print_s = 5400;
  r.month.filament_mm = 12345.6;
  r.month.sessions = 3;
  r.month.cost = 4.567;
  return r;
}

TEST(TopicsTest, TopicIdKeepsSafeIdsAndSeparatesUnsafeOnes) {
  EXPECT_EQ(TopicId("ender3-garage_2"), "ender3-garage_2");
  std::string a = TopicId("lab/printer+1");
  std::string b = TopicId("lab_printer_1");
  std::string c = TopicId("lab#printer 1");
  EXPECT_EQ(a.find_first_of("/+# "), std::string::npos);
  EXPECT_EQ(a.rfind("lab_printer_1_", 0), 0u) << a;
  EXPECT_EQ(b, "lab_printer_1");
  EXPECT_NE(a, b);
  EXPECT_NE(a, c);
  EXPECT_EQ(TopicId("lab/printer+1"), a);  // the same every time
  EXPECT_FALSE(TopicId("").empty());
  EXPECT_EQ(TopicId("lab/printer 1"), "lab_printer_1_a08d9670");  // README
}

TEST(TopicsTest, StateCarriesTheLiveStateAndTheMonth) {
  MqttOptions o;
  o.topic_prefix = "pm";
  MqttMessage m = StateMessage(o, Printing(), "EUR");
  EXPECT_EQ(m.topic, "pm/ender3-garage/state");
  json::object s = json::parse(m.payload).as_object();
  EXPECT_EQ(s["status"], "needs_attention");
  EXPECT_EQ(s["state"], "paused");
  EXPECT_EQ(s["needs_attention"], true);
  EXPECT_EQ(s["file"], "cube.gcode");
  EXPECT_EQ(s["user"], "pi");
  EXPECT_EQ(s["progress"].as_double(), 38.32);
  EXPECT_EQ(s["eta"], "2024-06-10T16:45:12Z");
  EXPECT_EQ(s["cost"].as_double(), 1.25);
  EXPECT_EQ(s["currency"], "EUR");
  EXPECT_EQ(s["hours_this_month"].as_double(), 1.5);
  EXPECT_EQ(s["filament_this_month_m"].as_double(), 12.35);
  EXPECT_EQ(s["prints_this_month"].as_int64(), 3);
  EXPECT_EQ(s["cost_this_month"].as_double(), 4.57);
}

TEST(TopicsTest, IdlePrinterHasNullsWhereNothingRuns) {
  PrinterReport r;
  r.printer = json::parse(R"({"device": "p1", "name": "p1", "state": "idle",
      "needs_attention": false, "session": null, "last_event_at": null})")
                  .as_object();
  r.extra["hours_since_service"] = 12.5;  // a further field joins as is
  json::object s = json::parse(StateMessage({}, r, "").payload).as_object();
  EXPECT_EQ(s["status"], "idle");
  for (const char* k : {"file", "user", "progress", "eta", "cost", "currency"}) {
    EXPECT_TRUE(s[k].is_null()) << k;
  }
  EXPECT_EQ(s["hours_this_month"].as_double(), 0);
  EXPECT_EQ(s["hours_since_service"].as_double(), 12.5);
}

TEST(TopicsTest, DiscoveryConfigsForHomeAssistant) {
  MqttOptions o;  // printmeter / homeassistant
  auto configs = DiscoveryMessages(o, Printing(), "EUR");
  std::map<std::string, json::object> by_topic;
  for (const MqttMessage& m : configs) {
    by_topic[m.topic] = json::parse(m.payload).as_object();
  }
  ASSERT_EQ(by_topic.size(), configs.size()) << "two entities share a topic";
  std::set<std::string> ids;
  for (auto& [topic, c] : by_topic) {
    EXPECT_TRUE(ids.insert(std::string(c["unique_id"].as_string())).second);
    EXPECT_EQ(c["state_topic"], "printmeter/ender3-garage/state") << topic;
    EXPECT_EQ(c["availability_topic"], "printmeter/status");
    json::object& d = c["device"].as_object();
    EXPECT_EQ(d["identifiers"].as_array().at(0),
              "printmeter_ender3-garage");
    EXPECT_EQ(d["name"], "Ender 3 (garage)");
    EXPECT_EQ(d["manufacturer"], "printmeter");
    EXPECT_EQ(d["model"], "printmeter");
    EXPECT_TRUE(c["value_template"].as_string().starts_with("{{"));
  }
  auto status = by_topic.at(
      "homeassistant/sensor/printmeter_ender3-garage/status/config");
  EXPECT_EQ(status["unique_id"], "printmeter_ender3-garage_status");
  EXPECT_EQ(status["object_id"], "printmeter_ender3-garage_status");
  EXPECT_EQ(status["value_template"], "{{ value_json.status }}");
  EXPECT_EQ(status["json_attributes_topic"], "printmeter/ender3-garage/state");
  auto attention = by_topic.at(
      "homeassistant/binary_sensor/printmeter_ender3-garage/needs_attention/"
      "config");
  EXPECT_EQ(attention["device_class"], "problem");
  EXPECT_EQ(attention["value_template"],
            "{{ 'ON' if value_json.needs_attention else 'OFF' }}");
  auto eta = by_topic.at(
      "homeassistant/sensor/printmeter_ender3-garage/eta/config");
  EXPECT_EQ(eta["device_class"], "timestamp");
  auto cost = by_topic.at(
      "homeassistant/sensor/printmeter_ender3-garage/cost/config");
  EXPECT_EQ(cost["device_class"], "monetary");
  EXPECT_EQ(cost["unit_of_measurement"], "EUR");
  auto hours = by_topic.at(
      "homeassistant/sensor/printmeter_ender3-garage/hours_this_month/config");
  EXPECT_EQ(hours["device_class"], "duration");
  EXPECT_EQ(hours["unit_of_measurement"], "h");
  auto filament = by_topic.at(
      "homeassistant/sensor/printmeter_ender3-garage/filament_this_month/"
      "config");
  EXPECT_EQ(filament["unit_of_measurement"], "m");
  EXPECT_EQ(filament["value_template"],
            "{{ value_json.filament_this_month_m }}");
  EXPECT_EQ(by_topic.at("homeassistant/sensor/printmeter_ender3-garage/"
                        "progress/config")["unit_of_measurement"],
            "%");
}

// A printer with two items, the nozzle overdue (as GET /api/v1/printers
// shows them).
PrinterReport WithMaintenance() {
  PrinterReport r = Printing();
  r.printer["maintenance"] = json::parse(R"j([
    {"item": "nozzle", "kind": "hours", "every": 200, "every_text": "200h",
     "used": 231.4, "remaining": 0, "fraction": 1.157, "state": "overdue",
     "last_done": null},
    {"item": "lubricate rods", "kind": "days", "every": 90,
     "every_text": "90d", "used": 12.25, "remaining": 77.75,
     "fraction": 0.1361, "state": "ok",
     "last_done": "2024-05-29T10:00:00Z"}])j");
  return r;
}

TEST(TopicsTest, StateCarriesTheMaintenanceItems) {
  json::object s =
      json::parse(StateMessage({}, WithMaintenance(), "").payload).as_object();
  EXPECT_EQ(s["maintenance_due"], true);
  json::object& m = s["maintenance"].as_object();
  ASSERT_EQ(m.size(), 2u);
  json::object& nozzle = m["nozzle"].as_object();
  EXPECT_EQ(nozzle["name"], "nozzle");
  EXPECT_EQ(nozzle["state"], "overdue");
  EXPECT_EQ(nozzle["used_pct"].as_double(), 115.7);
  EXPECT_EQ(nozzle["unit"], "h");
  EXPECT_EQ(nozzle["every"], "200h");
  std::string rods_key = TopicId("lubricate rods");
  EXPECT_EQ(rods_key, "lubricate_rods_4d61d1d8");  // README
  json::object& rods = m[rods_key].as_object();
  EXPECT_EQ(rods["name"], "lubricate rods");
  EXPECT_EQ(rods["state"], "ok");
  EXPECT_EQ(rods["remaining"].as_double(), 77.75);
  EXPECT_EQ(rods["unit"], "d");
  EXPECT_EQ(rods["last_done"], "2024-05-29T10:00:00Z");

  // Nothing due (due_soon is not due): off; no items: off and {}.
  PrinterReport soon = WithMaintenance();
  soon.printer["maintenance"].as_array()[0].as_object()["state"] = "due_soon";
  EXPECT_EQ(json::parse(StateMessage({}, soon, "").payload)
                .as_object()["maintenance_due"],
            false);
  json::object none = json::parse(StateMessage({}, Printing(), "").payload)
                          .as_object();
  EXPECT_EQ(none["maintenance_due"], false);
  EXPECT_TRUE(none["maintenance"].as_object().empty());
}

TEST(TopicsTest, MaintenanceEntitiesOnlyForPrintersWithItems) {
  MqttOptions o;
  EXPECT_EQ(DiscoveryMessages(o, Printing(), "").size(), 11u);
  std::map<std::string, json::object> by_topic;
  for (const MqttMessage& m : DiscoveryMessages(o, WithMaintenance(), "")) {
    by_topic[m.topic] = json::parse(m.payload).as_object();
  }
  ASSERT_EQ(by_topic.size(), 11u + 1 + 2);
  auto due = by_topic.at(
      "homeassistant/binary_sensor/printmeter_ender3-garage/maintenance_due/"
      "config");
  EXPECT_EQ(due["device_class"], "problem");
  EXPECT_EQ(due["value_template"],
            "{{ 'ON' if value_json.maintenance_due else 'OFF' }}");
  EXPECT_EQ(due["json_attributes_template"],
            "{{ value_json.maintenance | tojson }}");
  EXPECT_EQ(due["device"].as_object()["identifiers"].as_array().at(0),
            "printmeter_ender3-garage");
  std::string rods_key = TopicId("lubricate rods");
  auto rods = by_topic.at("homeassistant/sensor/printmeter_ender3-garage/"
                          "maintenance_item_" + rods_key + "/config");
  EXPECT_EQ(rods["name"], "Maintenance: lubricate rods");
  EXPECT_EQ(rods["unit_of_measurement"], "%");
  EXPECT_EQ(rods["value_template"].as_string(),
            "{{ value_json.maintenance['" + rods_key + "'].used_pct }}");
  EXPECT_EQ(rods["unique_id"].as_string(),
            "printmeter_ender3-garage_maintenance_item_" + rods_key);
  // An item called "due" stays apart from "Maintenance due".
  PrinterReport odd = WithMaintenance();
  odd.printer["maintenance"].as_array()[0].as_object()["item"] = "due";
  std::set<std::string> topics;
  for (const MqttMessage& m : DiscoveryMessages(o, odd, "")) {
    EXPECT_TRUE(topics.insert(m.topic).second) << m.topic;
  }
}

TEST(TopicsTest, StaleTopicsAreThisPrintmetersOwnThatItNoLongerPublishes) {
  MqttOptions o;  // printmeter / homeassistant
  auto config = [](std::string state_topic) {
    return json::serialize(json::object{{"state_topic", state_topic}});
  };
  std::map<std::string, std::string, std::less<>> retained{
      // still published
      {"homeassistant/sensor/printmeter_a/status/config",
       config("printmeter/a/state")},
      {"printmeter/a/state", "{}"},
      // a removed printer and a removed item
      {"homeassistant/sensor/printmeter_b/status/config",
       config("printmeter/b/state")},
      {"printmeter/b/state", "{}"},
      {"homeassistant/sensor/printmeter_a/maintenance_item_rods/config",
       config("printmeter/a/state")},
      // another printmeter (prefix "lab") on the same broker
      {"homeassistant/sensor/printmeter_c/status/config",
       config("lab/c/state")},
      {"lab/c/state", "{}"},
      // other integrations, printmeter's status, an unreadable config
      {"homeassistant/sensor/0x00158d/temperature/config",
       config("zigbee2mqtt/0x00158d")},
      {"homeassistant/sensor/printmeter_d/x/config", "not json"},
      {"printmeter/status", "online"},
      {"printmeter/a/b/state", "{}"}};
  std::set<std::string, std::less<>> current{
      "homeassistant/sensor/printmeter_a/status/config",
      "printmeter/a/state"};
  std::vector<std::string> stale = StaleTopics(o, retained, current);
  EXPECT_EQ(stale, (std::vector<std::string>{
                       "homeassistant/sensor/printmeter_a/"
                       "maintenance_item_rods/config",
                       "homeassistant/sensor/printmeter_b/status/config",
                       "printmeter/b/state"}));
  EXPECT_EQ(SweepFilters(o), (std::vector<std::string>{
                                 "homeassistant/+/+/+/config",
                                 "printmeter/+/state"}));
}

TEST(TopicsTest, CostsWithoutCurrencyAreBareNumbers) {
  for (const MqttMessage& m : DiscoveryMessages({}, Printing(), "")) {
    json::object c = json::parse(m.payload).as_object();
    EXPECT_NE(c.if_contains("device_class") ? c["device_class"] : "",
              "monetary")
        << m.topic;
  }
}

}  // namespace
}  // namespace pm

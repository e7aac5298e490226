#include "mqtt/topics.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
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

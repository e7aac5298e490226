// What printmeter publishes over MQTT, as pure functions of a printer's
// figures: one retained state message per printer (JSON) and, for Home
// Assistant's MQTT discovery, one retained config message per entity, so
// that every printer appears there as a device without any YAML.
//
//   PREFIX/status                      online / offline (the last will)
//   PREFIX/DEVICE/state                the printer's state (StateMessage)
//   DISCOVERY/sensor/printmeter_DEVICE/OBJECT/config         one per sensor
//   DISCOVERY/binary_sensor/printmeter_DEVICE/OBJECT/config  needs attention
//   DISCOVERY/binary_sensor/printmeter_DEVICE/maintenance_due/config
//   DISCOVERY/sensor/printmeter_DEVICE/maintenance_item_ITEM/config
//                                      (the last two for a printer with
//                                      maintenance items, one per item)
//
// DEVICE is the device id made safe for a topic and for Home Assistant's
// ids (TopicId).
#pragma once

#include <boost/json/object.hpp>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "ledger/usage.h"
#include "mqtt/options.h"

namespace pm {

struct MqttMessage {
  std::string topic;
  std::string payload;
};

// What is published about one printer.
struct PrinterReport {
  // Its entry of GET /api/v1/printers (api/handlers.h PrintersJson): device,
  // name, state, session (with eta), needs_attention, ...
  boost::json::object printer;
  // Its figures this month (in the configured time zone), zero when none.
  UsageFigures month;
  // Further fields of the printer's state message, by name (numbers,
  // strings, booleans or null). Another follower of the ledger adds its
  // per-printer figures here, and a row in kEntities (topics.cc) for each
  // that Home Assistant should show.
  boost::json::object extra;
};

// The device id as it appears in topics and Home Assistant's ids: letters,
// digits, '_' and '-' kept, anything else ('/', '+', '#', '.', spaces, ...)
// made '_', followed then by '_' and 8 hex digits of a hash of the id, so
// that two ids made alike stay apart. Never empty.
std::string TopicId(std::string_view device);

std::string StatusTopic(const MqttOptions& options);  // PREFIX/status
std::string StateTopic(const MqttOptions& options, std::string_view device);

// PREFIX/DEVICE/state: {"device","name","status" (idle / printing / paused /
// needs_attention), "state" (idle / printing / paused), "needs_attention",
// "attention_message", "file", "user", "progress" (%), "eta" (ISO 8601),
// "remaining_s", "cost" (the running print's, so far), "currency",
// "hours_this_month" (print time, h), "filament_this_month_m",
// "prints_this_month", "cost_this_month", "last_event_at",
// "maintenance_due" (an item is due or overdue), "maintenance" (by TopicId
// of each item: {"name", "state" (ok / due_soon / due / overdue),
// "used_pct", "remaining" (in "unit": h, m of filament, d), "unit", "every"
// ("200h"), "last_done"}; {} for a printer without items)} and `extra`;
// null where unknown (no print running: file, user, progress, eta, cost).
MqttMessage StateMessage(const MqttOptions& options, const PrinterReport& r,
                         std::string_view currency);

// The discovery config of every entity of the printer. `currency` ("" for
// none) is the unit of the costs.
std::vector<MqttMessage> DiscoveryMessages(const MqttOptions& options,
                                           const PrinterReport& r,
                                           std::string_view currency);

// The topic filters under which printmeter finds what it published before
// (retained) and may no longer publish: every discovery config
// (DISCOVERY/+/+/+/config) and every state (PREFIX/+/state).
std::vector<std::string> SweepFilters(const MqttOptions& options);

// Of the `retained` messages (topic -> payload) the broker holds under
// SweepFilters, those of this printmeter that it no longer publishes (not in
// `current`): states under PREFIX, and discovery configs of a printmeter
// node whose state_topic is under PREFIX (another printmeter with another
// prefix on the same broker keeps its own). Publishing an empty retained
// message to each removes the entity from Home Assistant.
std::vector<std::string> StaleTopics(
    const MqttOptions& options,
    const std::map<std::string, std::string, std::less<>>& retained,
    const std::set<std::string, std::less<>>& current);

}  // namespace pm

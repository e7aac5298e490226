// MqttOptions: where and how printmeter publishes to an MQTT broker for Home
// Assistant. A plain struct; `printmeter serve` fills it from the [mqtt]
// table of its config (cli/options.h), tests set the fields they need.
#pragma once

#include <string>

#include "common/time.h"

namespace pm {

struct MqttOptions {
  // The broker: mqtt://[user[:password]@]host[:port] (port 1883), or
  // mqtts://... (TLS with the system's CA certificates, port 8883).
  std::string url;

  // Replaces the url's password, for the url's user, so that the password
  // need not be written into the url; "" keeps the url's.
  std::string password;

  // Every printmeter topic starts with it: PREFIX/status (online/offline,
  // retained, the last will) and PREFIX/DEVICE/state.
  std::string topic_prefix = "printmeter";

  // Home Assistant's discovery prefix (its MQTT integration's setting).
  std::string discovery_prefix = "homeassistant";

  // The MQTT client id; two clients with one id throw each other off.
  std::string client_id = "printmeter";

  // Every printer's state is published again this often, so that progress,
  // ETA and this month's figures stay fresh and the month rolls over.
  TimeMs republish_interval = kMinuteMs;

  // The wait before reconnecting to a broker that went away: from the first
  // to the longest, doubling.
  int reconnect_min_s = 1;
  int reconnect_max_s = 30;
};

}  // namespace pm

// The options of each part printmeter runs, filled in from the Config: the
// config file, the environment and the flags are the shell's business, and
// the parts see only what they use.
#pragma once

#include <optional>

#include "api/options.h"
#include "cli/config.h"
#include "mqtt/options.h"
#include "forward/options.h"

namespace pm {

// The read side's options: the tokens, the time zone, the currency, and the
// configured devices' names and whether each has a secret.
ApiOptions ApiOptionsFrom(const Config& config);

// The MQTT publisher's options from the [mqtt] table; nullopt without one.
// The client id defaults to printmeter-HOSTNAME.
std::optional<MqttOptions> MqttOptionsFrom(const Config& config);
// Forwarding's options: the [[forward]] targets, the intervals as
// documented (1 s doubling to 5 min; a paused target every 5 min), and the
// maintenance items for maintenance_due notices.
ForwardOptions ForwardOptionsFrom(const Config& config);

}  // namespace pm

#include "cli/options.h"

#include <unistd.h>

namespace pm {

ApiOptions ApiOptionsFrom(const Config& config) {
  ApiOptions options;
  options.read_token = config.read_token.value_or("");
  options.admin_token = config.admin_token.value_or("");
  options.timezone = config.timezone;
  options.currency = config.currency;
  for (const auto& [id, device] : config.devices) {
    options.devices[id] = {
        .name = device.name,
        .secret_set = device.secret && !device.secret->empty()};
  }
  options.maintenance = MaintenanceOptionsFrom(config);
  return options;
}

std::optional<MqttOptions> MqttOptionsFrom(const Config& config) {
  if (!config.mqtt) return std::nullopt;
  MqttOptions options;
  options.url = config.mqtt->url;
  options.password = config.mqtt->password;  // FinishConfig read any file
  options.topic_prefix = config.mqtt->topic_prefix;
  options.discovery_prefix = config.mqtt->discovery_prefix;
  options.client_id = config.mqtt->client_id;
  if (options.client_id.empty()) {
    char host[256] = {};
    options.client_id = "printmeter";
    if (gethostname(host, sizeof host - 1) == 0 && host[0]) {
      options.client_id += std::string("-") + host;
    }
  }
  return options;
}

ForwardOptions ForwardOptionsFrom(const Config& config) {
  ForwardOptions options;
  options.targets = config.forward;
  options.maintenance = MaintenanceOptionsFrom(config);
  return options;
}

}  // namespace pm

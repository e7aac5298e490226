#include "cli/options.h"

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
  return options;
}

ForwardOptions ForwardOptionsFrom(const Config& config) {
  ForwardOptions options;
  options.targets = config.forward;
  return options;
}

}  // namespace pm

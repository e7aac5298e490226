#include "ingest/registration_limit.h"

#include <fmt/format.h>

#include <algorithm>

namespace pm {

Status RegistrationLimiter::Admit(std::string_view device, size_t known,
                                  TimeMs now) {
  std::string shown(device.substr(0, 64));
  if (limits_.max_devices > 0 && known >= limits_.max_devices) {
    ++counts_.refused_cap;
    return Error{
        ErrorCode::kForbidden,
        fmt::format("device \"{}\" cannot register: printmeter already knows "
                    "{} devices, the limit (max_devices); remove unused ones "
                    "with `printmeter devices remove ID`, raise max_devices "
                    "in the config file, or add this printer with "
                    "`printmeter devices add {}`",
                    shown, known, shown)};
  }
  Slide(now);
  if (limits_.max_per_window > 0 && recent_.size() >= limits_.max_per_window) {
    ++counts_.refused_rate;
    // When the oldest leaves the window (at least a second).
    TimeMs wait_s = std::max<TimeMs>(
        1, (recent_.begin()->first + limits_.window - now + 999) / 1000);
    return Error{
        ErrorCode::kTooManyRequests,
        fmt::format("device \"{}\" cannot register now: {} new devices "
                    "registered in the last {} minutes, the limit "
                    "(registrations_per_hour); try again in {} s, or add "
                    "this printer with `printmeter devices add {}`",
                    shown, recent_.size(), limits_.window / kMinuteMs, wait_s,
                    shown)};
  }
  if (limits_.max_per_window > 0) {
    std::string name(device);
    if (in_window_.insert(name).second) recent_.emplace(now, std::move(name));
  }
  ++counts_.admitted;
  return {};
}

void RegistrationLimiter::Observe(
    const std::vector<std::pair<std::string, TimeMs>>& made) {
  if (limits_.max_per_window == 0) return;
  for (const auto& [device, time] : made) {
    if (in_window_.insert(device).second) recent_.emplace(time, device);
  }
}

void RegistrationLimiter::Slide(TimeMs now) {
  while (!recent_.empty() && recent_.begin()->first <= now - limits_.window) {
    in_window_.erase(recent_.begin()->second);
    recent_.erase(recent_.begin());
  }
}

}  // namespace pm

#include "ingest/registration_limit.h"

#include <fmt/format.h>

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
  while (!recent_.empty() && recent_.front() <= now - limits_.window) {
    recent_.pop_front();
  }
  if (limits_.max_per_window > 0 && recent_.size() >= limits_.max_per_window) {
    ++counts_.refused_rate;
    TimeMs wait_s = (recent_.front() + limits_.window - now + 999) / 1000;
    return Error{
        ErrorCode::kTooManyRequests,
        fmt::format("device \"{}\" cannot register now: {} new devices "
                    "registered in the last {} minutes, the limit "
                    "(registrations_per_hour); try again in {} s, or add "
                    "this printer with `printmeter devices add {}`",
                    shown, recent_.size(), limits_.window / kMinuteMs, wait_s,
                    shown)};
  }
  recent_.push_back(now);
  ++counts_.admitted;
  return {};
}

}  // namespace pm

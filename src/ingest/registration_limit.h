// RegistrationLimiter: how many printers may register themselves.
//
// In tofu and open mode a printer that was never heard from is accepted on
// first contact. Without a bound, one client inventing device ids could grow
// the device table, /metrics and /api/v1/printers without end. The limiter
// admits a new device only while fewer than `max_devices` are known in all
// and fewer than `max_per_window` registered in the last `window` (a sliding
// window). Configured devices never count as registrations.
//
// With several instances on one database (a print farm), each instance's
// writer shows its limiter the registrations the shared database holds
// (Observe): a registration counts once in the window, whichever instance
// made it, and the cap counts the devices the database knows.
//
// Pure and single-threaded: the ingest writer owns it and passes the time
// in, so tests drive it with a fake clock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "common/time.h"

namespace pm {

// Defaults for a print farm: a thousand printers in all, sixty new ones an
// hour (a farm being set up adds a few dozen at once; a flood adds
// thousands a second). 0 turns a limit off.
struct RegistrationLimits {
  size_t max_devices = 1000;  // devices known in all, configured included
  size_t max_per_window = 60;
  TimeMs window = kHourMs;
};

class RegistrationLimiter {
 public:
  explicit RegistrationLimiter(RegistrationLimits limits = {})
      : limits_(limits) {}

  // Whether `device`, never seen before, may register at `now` while
  // `known` devices are known. Ok counts the registration against the
  // window; otherwise kForbidden (403: the cap is reached) or
  // kTooManyRequests (429: too many new devices lately), with a message
  // that names the limit, its setting, and when to try again.
  Status Admit(std::string_view device, size_t known, TimeMs now);

  // Registrations made elsewhere (device, time of its first request), as
  // the shared database has them: each counts in the window from its time,
  // once (one this limiter admitted itself is not counted again).
  void Observe(const std::vector<std::pair<std::string, TimeMs>>& made);

  struct Counts {
    int64_t admitted = 0;
    int64_t refused_rate = 0;  // 429
    int64_t refused_cap = 0;   // 403
  };
  const Counts& counts() const { return counts_; }
  const RegistrationLimits& limits() const { return limits_; }

 private:
  RegistrationLimits limits_;
  // Drops what left the window by `now`.
  void Slide(TimeMs now);

  // Registrations inside the window by time, and their devices.
  std::multimap<TimeMs, std::string> recent_;
  std::set<std::string, std::less<>> in_window_;
  Counts counts_;
};

}  // namespace pm

#include "store/append_rules.h"

#include <algorithm>

#include "ledger/fold.h"

namespace pm::append_rules {

bool IsLost(const std::vector<DeviceRecord>& lost, const std::string& device) {
  return std::any_of(lost.begin(), lost.end(), [&](const DeviceRecord& d) {
    return d.device == device;
  });
}

Result<bool> IsDuplicate(
    const std::vector<EventRecord>& events, size_t i,
    const std::function<Result<bool>(const Event&)>& in_log) {
  const EventRecord& r = events[i];
  const Event& e = r.event;
  if (!r.request || !e.has_current_time) return false;
  bool earlier = std::any_of(
      events.begin(), events.begin() + static_cast<ptrdiff_t>(i),
      [&e](const EventRecord& x) {
        return x.event.id != 0 && x.request && IsDuplicateOf(e, x.event);
      });
  if (earlier) return true;
  return in_log(e);
}

}  // namespace pm::append_rules

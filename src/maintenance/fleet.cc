#include "maintenance/fleet.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

namespace pm {

Result<std::vector<DeviceMaintenance>> LoadFleetMaintenance(
    LedgerReader& store, const MaintenanceOptions& options, TimeMs now) {
  std::vector<DeviceMaintenance> fleet;
  if (options.empty()) return fleet;
  auto marks = store.LoadMaintenanceMarks();
  if (!marks) return marks.error();
  auto devices = store.LoadDevices();
  if (!devices) return devices.error();
  std::map<std::string, TimeMs, std::less<>> first_seen;
  for (const DeviceRecord& d : *devices) first_seen[d.device] = d.first_seen;

  // The earliest point a counter starts at: an item's latest mark. An item
  // never marked counts the printer's whole history (from its first
  // session, which an import can put before its first contact), so then
  // every session is read, as few as if from its first contact.
  TimeMs from = now;
  for (const auto& [device, items] : options.devices) {
    for (const MaintenanceItem& item : items) {
      std::optional<TimeMs> latest;
      for (const MaintenanceMark& m : *marks) {
        if (m.device == device && m.item == item.item &&
            (!latest || m.done_at > *latest)) {
          latest = m.done_at;
        }
      }
      from = std::min(from, latest.value_or(0));
    }
  }
  auto sessions = store.SessionsOverlapping(from, now + 1);
  if (!sessions) return sessions.error();

  for (const auto& [device, items] : options.devices) {
    MaintenanceInput in;
    in.device = device;
    in.items = items;
    in.marks = *marks;
    in.sessions = *sessions;
    auto seen = first_seen.find(device);
    if (seen != first_seen.end()) in.first_seen = seen->second;
    in.now = now;
    fleet.push_back(ComputeMaintenance(in));
  }
  return fleet;
}

Status RecordMark(Store& store, const MaintenanceOptions& options,
                  const MaintenanceMark& mark, TimeMs now) {
  if (Status s = CheckMark(options, mark); !s.ok()) return s;
  if (mark.done_at > now) {
    return Invalid(fmt::format(
        "the time it was done, {}, is in the future (now: {}); leave it out "
        "for now",
        FormatIso(mark.done_at), FormatIso(now)));
  }
  return store.RecordMaintenanceMark(mark);
}

}  // namespace pm

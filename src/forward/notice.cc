#include "forward/notice.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "common/time.h"

namespace pm {

bool WantsMaintenanceNotices(const ForwardTarget& target) {
  return target.events.empty() ||
         std::find(target.events.begin(), target.events.end(),
                   kMaintenanceDueEvent) != target.events.end();
}

std::string NoticeKey(const MaintenanceDue& due) {
  return fmt::format("maintenance:{}:{}:{}", due.device, due.item, due.since);
}

std::vector<MaintenanceDue> NoticesToSend(std::span<const MaintenanceDue> due,
                                          const std::set<std::string>& sent,
                                          const ForwardTarget& target) {
  std::vector<MaintenanceDue> out;
  if (!WantsMaintenanceNotices(target)) return out;
  for (const MaintenanceDue& d : due) {
    if (!target.devices.empty() &&
        std::find(target.devices.begin(), target.devices.end(), d.device) ==
            target.devices.end()) {
      continue;
    }
    if (!sent.contains(NoticeKey(d))) out.push_back(d);
  }
  return out;
}

Delivery NoticeDelivery(const MaintenanceDue& due) {
  MaintenanceItem item{due.item, due.kind, due.every, due.note};
  boost::json::object body;
  body["kind"] = kMaintenanceDueEvent;
  body["device"] = due.device;
  body["item"] = due.item;
  body["every"] = FormatEvery(item);
  body["unit"] = MaintenanceKindName(due.kind);
  body["threshold"] = due.every;
  body["used"] = due.used;
  body["state"] = MaintenanceStateName(due.state);
  body["since"] = FormatIso(due.since);
  body["note"] = due.note;
  Delivery d;
  d.key = NoticeKey(due);
  d.device = due.device;
  d.content_type = "application/json";
  d.body = boost::json::serialize(body);
  return d;
}

}  // namespace pm

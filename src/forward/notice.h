// Notices: what forwarding sends besides the log's events. Today one kind,
// `maintenance_due`: an item of a printer that is due or overdue, sent once
// per crossing to each target that asks for it.
//
// A crossing is one count from one `since` (the item's last mark, or the
// printer's start): its key "maintenance:DEVICE:ITEM:SINCE_MS" is the
// notice's X-Printmeter-Event and Idempotency-Key, the same on every retry.
// The forwarder stores the keys a target answered 2xx (ForwardStore::
// SaveForwardNotice), so that a restart or a SIGKILL sends none again; an
// item marked done starts a new count and, once due, a new notice.
//
// Pure: no I/O, no clock.
#pragma once

#include <set>
#include <span>
#include <string>
#include <vector>

#include "forward/delivery.h"
#include "forward/options.h"
#include "maintenance/maintenance.h"

namespace pm {

// The name a target's `events` list uses for these notices. A target with
// an empty list (every event) gets them too.
inline constexpr std::string_view kMaintenanceDueEvent = "maintenance_due";

// Whether `target` asks for maintenance_due notices.
bool WantsMaintenanceNotices(const ForwardTarget& target);

// "maintenance:DEVICE:ITEM:SINCE_MS".
std::string NoticeKey(const MaintenanceDue& due);

// The items of `due` that `target` is to be sent: of its printers, and whose
// key is not in `sent` (the keys it already answered 2xx). Once per
// crossing: an item still due in the same count is never sent again, whether
// it stays due or becomes overdue.
std::vector<MaintenanceDue> NoticesToSend(std::span<const MaintenanceDue> due,
                                          const std::set<std::string>& sent,
                                          const ForwardTarget& target);

// The delivery of a notice: a JSON body
//   {"kind": "maintenance_due", "device", "item", "every" ("200h"),
//    "unit" ("hours" | "filament_m" | "days"), "threshold" (in the unit),
//    "used" (in the unit, since `since`), "state" ("due" | "overdue"),
//    "since" (ISO 8601, UTC), "note"}
// under the notice's key.
Delivery NoticeDelivery(const MaintenanceDue& due);

}  // namespace pm

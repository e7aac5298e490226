// The fleet's maintenance as the store holds it: the configured items, the
// stored marks and the ledger's sessions, at `now`. The read side's helper
// for the API, /metrics, the CLI and the ledger's followers (forwarding,
// MQTT: DueItems / BecameDue on what it returns).
#pragma once

#include <vector>

#include "common/result.h"
#include "maintenance/maintenance.h"
#include "store/store.h"

namespace pm {

// Every configured device's items (devices in id order, items in configured
// order). Reads the marks, the devices and the sessions from the earliest
// point any counter starts at; errors are the store's.
Result<std::vector<DeviceMaintenance>> LoadFleetMaintenance(
    LedgerReader& store, const MaintenanceOptions& options, TimeMs now);

// Records `mark` after checking it names a configured device and item
// (CheckMark); `done_at` later than `now` is refused (a mark says what was
// done, not what will be).
Status RecordMark(Store& store, const MaintenanceOptions& options,
                  const MaintenanceMark& mark, TimeMs now);

}  // namespace pm

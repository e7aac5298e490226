// Maintenance on the read side: each printer's items in GET
// /api/v1/printers, POST /api/v1/printers/{device}/maintenance/{item}/done,
// and the maintenance series of /metrics.
#pragma once

#include <boost/json/array.hpp>

#include "api/handlers.h"
#include "maintenance/maintenance.h"

namespace pm {

// One item as the API shows it: {item, kind, every, every_text, used,
// remaining, fraction, state, since, last_done, done_by, note}; amounts in
// the kind's unit (hours, metres of filament, days).
boost::json::object ItemStatusJson(const ItemStatus& st);
// A printer's items; [] for nullptr (a printer without items).
boost::json::array MaintenanceJson(const DeviceMaintenance* d);

// POST /api/v1/printers/{device}/maintenance/{item}/done, body optional:
// {"by": "NAME", "at": "2024-08-02T14:30:00Z"}. Answers the item as it
// stands after the mark. 404 for an unknown printer or item (naming the
// known ones), 400 for a bad body or a time in the future.
Result<ApiResponse> PostMaintenanceDone(ApiContext& ctx, const ApiCall& call);

}  // namespace pm

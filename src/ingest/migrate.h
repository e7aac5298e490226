// Migrate: copies a whole printmeter database into a new one (`printmeter
// migrate`), e.g. from the Raspberry Pi's SQLite file to the print farm's
// PostgreSQL: the request log as stored (ids, requests, duplicate flags),
// the printers and their secrets, the rate history, the manual
// attributions, the maintenance marks, and where each forwarding target
// got to with the notices it was sent (so that forwarding goes on where it
// stopped: nothing undelivered is skipped, no notice is sent twice). The
// new database's ledger is then folded from the copied log (Rebuild), so
// it equals the old one's when that was folded by this version
// (`printmeter rebuild` first, to be sure).
//
// The target must be empty: nothing is merged or overwritten. A failure
// half-way leaves the target partly written; drop it and start again.
#pragma once

#include <cstdint>
#include <functional>

#include "common/result.h"
#include "ingest/rebuild.h"
#include "store/store.h"

namespace pm {

struct MigrateStats {
  int64_t events = 0;
  int64_t devices = 0;
  int64_t rate_changes = 0;
  int64_t attributions = 0;
  int64_t maintenance_marks = 0;
  int64_t forward_targets = 0;  // positions copied
  int64_t forward_notices = 0;  // notices recorded as sent
  RebuildStats ledger;
};

// `progress(phase, done)`: phase "copying" counts events copied, then
// Rebuild's phases ("reading", "folding") count them again.
Result<MigrateStats> Migrate(
    Store& from, Store& to, const LedgerConfig& config,
    const std::function<void(const char* phase, int64_t done)>& progress);

}  // namespace pm

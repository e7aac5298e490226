// WriteBatch: a log and its ledger written at once, past the ingest writer
// and its projector. For tests of the read side and for the benchmarks'
// ledger generator (bench/gen_db.cc), which need a ledger of a known shape;
// printmeter itself writes only through ingest/ (the log first, the
// projection behind it).
#pragma once

#include <optional>
#include <utility>
#include <vector>

#include "store/store.h"

namespace pm {

struct WriteBatch {
  std::vector<EventRecord> events;        // appended to the log
  std::vector<DeviceRecord> devices;      // registered with them
  std::vector<ProjectionBatch::Refold> refolds;
  std::vector<Session> sessions;          // upserted by id
  std::vector<std::pair<int64_t, std::optional<int64_t>>> event_sessions;
  std::vector<DeviceState> device_states;

  bool empty() const {
    return events.empty() && devices.empty() && refolds.empty() &&
           sessions.empty() && event_sessions.empty() &&
           device_states.empty();
  }
};

// Appends the events and devices (one transaction), then writes the ledger
// part with the projection's position moved past the appended events
// (another). The first error is returned; the append is then not undone.
Status CommitBatch(Store& store, const WriteBatch& batch);

}  // namespace pm

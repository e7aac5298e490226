#include "store/write_batch.h"

#include <algorithm>

namespace pm {

Status CommitBatch(Store& store, const WriteBatch& batch) {
  if (batch.empty()) return {};
  if (!batch.events.empty() || !batch.devices.empty()) {
    LogBatch log;
    log.events = batch.events;
    log.devices = batch.devices;
    if (Status s = store.Append(log); !s) return s;
  }
  Result<int64_t> position = store.ProjectedPosition();
  if (!position) return position.error();
  ProjectionBatch projection;
  projection.position = *position;
  for (const EventRecord& r : batch.events) {
    projection.position = std::max(projection.position, r.event.id);
  }
  projection.refolds = batch.refolds;
  projection.sessions = batch.sessions;
  projection.event_sessions = batch.event_sessions;
  projection.device_states = batch.device_states;
  return store.CommitProjection(projection);
}

}  // namespace pm

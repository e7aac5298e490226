// What both stores' Append (store.h, LogBatch) decide the same way, as the
// log stands in the append's transaction. Internal to src/store/.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "common/result.h"
#include "store/store.h"

namespace pm::append_rules {

// Whether `device`'s registration lost (LogBatch::lost): its events are not
// stored.
bool IsLost(const std::vector<DeviceRecord>& lost, const std::string& device);

// events[i]'s `duplicate` (ledger.md s. 3): a resend of an earlier event of
// the batch being stored (id given), else whatever `in_log` says of the
// committed log.
Result<bool> IsDuplicate(const std::vector<EventRecord>& events, size_t i,
                         const std::function<Result<bool>(const Event&)>& in_log);

}  // namespace pm::append_rules

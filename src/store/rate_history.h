// The rate history as every command sees it (ledger.md section 7): kept in
// the store, so that it survives restarts and is the same for `serve`,
// `report`, `sessions`, `import` and `rebuild`.
#pragma once

#include <string>

#include "common/result.h"
#include "ledger/cost.h"
#include "store/store.h"

namespace pm {

// The store's rate history (Store::LoadRateChanges), to price sessions with.
Result<RateHistory> LoadRateHistory(Store& store);

// The rate history to price with: the store's, after recording the
// configured rates where they differ from the latest stored ones, effective
// `now` (RateChangesToRecord: a config change takes effect when a command
// first sees it). When the store cannot be written (a read-only database
// file), the changes price this run only and `note` (when given) says that
// they were not recorded. Fails only when the history cannot be read.
Result<RateHistory> RecordRates(Store& store, const RatesByDevice& configured,
                                TimeMs now, std::string* note = nullptr);

}  // namespace pm

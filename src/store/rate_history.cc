#include "store/rate_history.h"

#include <fmt/format.h>

#include <vector>

namespace pm {

Result<RateHistory> LoadRateHistory(Store& store) {
  auto changes = store.LoadRateChanges();
  if (!changes) return changes.error();
  return RateHistory(*changes);
}

Result<RateHistory> RecordRates(Store& store, const RatesByDevice& configured,
                                TimeMs now, std::string* note) {
  auto stored = store.LoadRateChanges();
  if (!stored) return stored.error();
  std::vector<RateChange> changes =
      RateChangesToRecord(RateHistory(*stored), configured, now);
  if (changes.empty()) return RateHistory(*stored);
  if (Status s = store.RecordRateChanges(changes); !s.ok() && note) {
    *note = fmt::format(
        "the configured rates differ from those recorded in the database, "
        "which cannot be written ({}); they apply to this run only, until "
        "`printmeter serve` records them",
        s.error().message);
  }
  stored->insert(stored->end(), changes.begin(), changes.end());
  return RateHistory(*stored);
}

}  // namespace pm

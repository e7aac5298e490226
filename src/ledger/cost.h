// Cost: what a print costs, with the rates in force when it started
// (ledger.md section 7). Pure: the rate history is read and written by the
// shell (store/store.h keeps it, cli/ decides what to record).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/time.h"
#include "ledger/session.h"

namespace pm {

// Per-device prices (configuration; all zero by default).
struct Rates {
  double rate_per_hour = 0;        // per hour of print time (pauses free)
  double rate_per_m = 0;           // per metre of filament
  double minimum_per_session = 0;  // floor of one session's cost

  bool operator==(const Rates&) const = default;
};

// Configured rates by device id.
using RatesByDevice = std::map<std::string, Rates, std::less<>>;

// One entry of the rate history: from `effective_from` on (until the
// device's next entry), sessions of `device` that start are priced with
// `rates`.
struct RateChange {
  std::string device;
  TimeMs effective_from = 0;
  Rates rates;

  bool operator==(const RateChange&) const = default;
};

// The effective_from of the rates a database starts its history with: they
// price every earlier print too (see RateChangesToRecord).
constexpr TimeMs kSinceEver = 0;

// The rates of every device over time. A session is priced with the rates
// in force when it started, so a change never re-prices the past.
class RateHistory {
 public:
  RateHistory() = default;
  // `changes` in any order; of two entries for the same device and time the
  // later one in the vector wins.
  explicit RateHistory(const std::vector<RateChange>& changes);
  // `rates` in force since ever (tests, and callers without a history).
  static RateHistory Constant(const RatesByDevice& rates);

  // The rates of `device` at `t`: its latest entry effective at or before t;
  // zero before its first entry and for a device without one.
  Rates At(std::string_view device, TimeMs t) const;
  // The rates of the device's latest entry; nullptr when it has none.
  const Rates* Latest(std::string_view device) const;
  // Whether nothing at all has been recorded yet.
  bool empty() const { return by_device_.empty(); }
  // The devices with at least one entry, sorted.
  std::vector<std::string> Devices() const;
  // Every entry, by device then time.
  std::vector<RateChange> Changes() const;

 private:
  // By device: (effective_from, rates), sorted by time.
  std::map<std::string, std::vector<std::pair<TimeMs, Rates>>, std::less<>>
      by_device_;
};

// The entries to record so that `history` prices sessions starting from
// `now` with `configured` (a config change takes effect when it is seen):
//  - a configured device whose rates differ from its latest entry (or that
//    has none and non-zero rates) gets an entry effective `now`;
//  - a device with non-zero latest rates that is no longer configured gets
//    zero rates from `now`;
//  - an empty history (a new database, or one from a printmeter that kept no
//    history) starts with the configured rates effective kSinceEver, so
//    prints made before it are priced as they were configured, and with a
//    marker entry for the device "" (which no printer can have) so that the
//    history is never empty again and later first rates start from `now`.
// Nothing when `history` already says what `configured` says.
std::vector<RateChange> RateChangesToRecord(const RateHistory& history,
                                            const RatesByDevice& configured,
                                            TimeMs now);

// The price of `s` with `rates`: rate_per_hour * print_s / 3600 +
// rate_per_m * filament_mm / 1000 (unknown filament: 0), at least
// minimum_per_session; an open session's print time runs to `now`. Zero
// rates cost 0 (no minimum either). Unrounded: round for display only.
double SessionCost(const Session& s, const Rates& rates, TimeMs now);
// The same with the rates in force when `s` started.
double SessionCost(const Session& s, const RateHistory& history, TimeMs now);

}  // namespace pm

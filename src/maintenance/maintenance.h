// Maintenance: per printer, items due every so many print hours, metres of
// filament or days, counted from the last time each was marked done.
//
// Pure: no I/O, no clock. The shell reads the configured items (cli/), the
// marks (store/store.h) and the ledger's sessions, and passes `now`.
//
// How a counter counts, from `since` (the item's latest mark, or the
// printer's first session / first contact when it was never marked):
// - hours: print time (pauses excluded, as cost counts it) of the part of
//   each session after `since`; a session that straddles `since` counts the
//   part after it, an open one runs to `now`;
// - filament: each session's filament (session.h FilamentMm; unknown: 0),
//   prorated by the share of its print time that lies after `since`;
// - days: calendar time from `since` to `now`, printing or not.
// Because it is computed from the ledger, a late event that re-folds a
// printer's sessions moves the counters with it.
#pragma once

#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/time.h"
#include "ledger/session.h"

namespace pm {

enum class MaintenanceKind { kHours, kFilament, kDays };
std::string_view MaintenanceKindName(MaintenanceKind kind);  // "hours", ...

// One configured item: "nozzle every 200h".
struct MaintenanceItem {
  std::string item;  // its name, unique per printer: "nozzle"
  MaintenanceKind kind = MaintenanceKind::kHours;
  // The threshold, in the kind's unit: hours, metres of filament, days. > 0.
  double every = 0;
  std::string note;  // free text for the person doing it; "" for none

  bool operator==(const MaintenanceItem&) const = default;
};

// Parses a threshold as a person writes it: a number > 0 and a unit, "200h"
// (print hours), "90d" (days), "500m" or "2.5km" (metres of filament);
// spaces between them are allowed. The error says what is accepted.
Result<MaintenanceItem> ParseEvery(std::string_view text);
// The threshold as ParseEvery reads it: "200h", "500m", "90d".
std::string FormatEvery(const MaintenanceItem& item);

// The configured items, by device id (a plain struct the shell fills).
struct MaintenanceOptions {
  std::map<std::string, std::vector<MaintenanceItem>, std::less<>> devices;
  bool empty() const { return devices.empty(); }
  // The device's items; nullptr when it has none.
  const std::vector<MaintenanceItem>* Items(std::string_view device) const;
};

// "Done": an item was serviced at `done_at` by `by` ("" when not said).
struct MaintenanceMark {
  std::string device;
  std::string item;
  TimeMs done_at = 0;
  std::string by;

  bool operator==(const MaintenanceMark&) const = default;
};

// Whether `mark` names a configured device and one of its items: kNotFound
// otherwise, naming the devices (or the device's items) that are.
Status CheckMark(const MaintenanceOptions& options,
                 const MaintenanceMark& mark);

// ok below 90 % of the threshold, due_soon from 90 %, due from 100 %,
// overdue from 110 % (10 % past the threshold: "it should have been done by
// now", not "it is due today").
enum class MaintenanceState { kOk, kDueSoon, kDue, kOverdue };
std::string_view MaintenanceStateName(MaintenanceState state);  // "due_soon"
MaintenanceState StateOf(double fraction);
constexpr double kDueSoonFraction = 0.9;
constexpr double kOverdueFraction = 1.1;

// Where one item stands.
struct ItemStatus {
  MaintenanceItem item;
  double used = 0;       // in the kind's unit, since `since`
  double remaining = 0;  // every - used, at least 0
  double fraction = 0;   // used / every (over 1 when past due)
  MaintenanceState state = MaintenanceState::kOk;
  TimeMs since = 0;                  // where the count starts
  std::optional<MaintenanceMark> last_done;  // its latest mark, if any

  bool due() const { return state >= MaintenanceState::kDue; }
};

// One printer's items.
struct DeviceMaintenance {
  std::string device;
  std::vector<ItemStatus> items;  // in configured order
};

// What one printer's counters are computed from.
struct MaintenanceInput {
  std::string device;
  std::span<const MaintenanceItem> items;
  std::span<const MaintenanceMark> marks;  // any device and item, any order
  std::span<const Session> sessions;       // the device's (others ignored)
  // The printer's first contact (DeviceRecord::first_seen); nullopt when
  // never heard from. The earliest session start counts when earlier.
  std::optional<TimeMs> first_seen;
  TimeMs now = 0;
};

// The printer's items at `now`. An item never marked done counts from the
// printer's start (first_seen or its earliest session; `now` when it has
// neither). A mark later than `now` counts as done at `now` (used 0).
DeviceMaintenance ComputeMaintenance(const MaintenanceInput& input);

// The print time of `s` after `since`, up to `now` for an open session:
// the part of [started_at, end) after `since` less its pauses in that part.
TimeMs PrintMsSince(const Session& s, TimeMs since, TimeMs now);

// --- What became due (for forwarding a `maintenance_due` event once and
// publishing it over MQTT) ---

// One item that is due or overdue. A cycle is one count from one `since`:
// marking the item done starts a new one, so (device, item, since) names
// the cycle and `Key()` is a stable id to send it once under.
struct MaintenanceDue {
  std::string device;
  std::string item;
  MaintenanceKind kind = MaintenanceKind::kHours;
  double every = 0;
  double used = 0;
  double fraction = 0;
  MaintenanceState state = MaintenanceState::kDue;
  TimeMs since = 0;
  std::string note;

  std::string Key() const;  // "DEVICE/ITEM/SINCE_MS"
  bool operator==(const MaintenanceDue&) const = default;
};

// Every item of `fleet` that is due or overdue, by device then item order.
std::vector<MaintenanceDue> DueItems(std::span<const DeviceMaintenance> fleet);

// The items of `current` that became due since `previous` (an earlier
// DueItems): due now, and their cycle (Key) was not due then. An item that
// goes from due to overdue in the same cycle is not new; one marked done and
// due again is. A follower of the ledger keeps `previous` (or the keys it
// sent, stored) and calls this after each projection step.
std::vector<MaintenanceDue> BecameDue(std::span<const MaintenanceDue> previous,
                                      std::span<const MaintenanceDue> current);

}  // namespace pm

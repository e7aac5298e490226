#include "maintenance/maintenance.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>

namespace pm {

std::string_view MaintenanceKindName(MaintenanceKind kind) {
  switch (kind) {
    case MaintenanceKind::kHours:
      return "hours";
    case MaintenanceKind::kFilament:
      return "filament_m";
    case MaintenanceKind::kDays:
      return "days";
  }
  return "hours";
}

std::string_view MaintenanceStateName(MaintenanceState state) {
  switch (state) {
    case MaintenanceState::kOk:
      return "ok";
    case MaintenanceState::kDueSoon:
      return "due_soon";
    case MaintenanceState::kDue:
      return "due";
    case MaintenanceState::kOverdue:
      return "overdue";
  }
  return "ok";
}

MaintenanceState StateOf(double fraction) {
  if (fraction >= kOverdueFraction) return MaintenanceState::kOverdue;
  if (fraction >= 1.0) return MaintenanceState::kDue;
  if (fraction >= kDueSoonFraction) return MaintenanceState::kDueSoon;
  return MaintenanceState::kOk;
}

namespace {

// The units a threshold may carry: the kind it counts and the factor to the
// kind's unit.
struct Unit {
  std::string_view name;
  MaintenanceKind kind;
  double factor;
};
constexpr Unit kUnits[] = {
    {"h", MaintenanceKind::kHours, 1},
    {"d", MaintenanceKind::kDays, 1},
    {"m", MaintenanceKind::kFilament, 1},
    {"km", MaintenanceKind::kFilament, 1000},
};

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

Result<MaintenanceItem> ParseEvery(std::string_view text) {
  std::string_view s = Trim(text);
  double value = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  std::string_view unit =
      ec == std::errc() ? Trim(std::string_view(p, s.data() + s.size() - p))
                        : std::string_view();
  for (const Unit& u : kUnits) {
    if (unit != u.name || !std::isfinite(value * u.factor) || value <= 0) {
      continue;
    }
    MaintenanceItem item;
    item.kind = u.kind;
    item.every = value * u.factor;
    return item;
  }
  return Invalid(fmt::format(
      "\"{}\" is not a threshold like \"200h\" (print hours), \"500m\" or "
      "\"2.5km\" (metres of filament) or \"90d\" (days): a number > 0 and "
      "one of the units h, m, km, d",
      text));
}

std::string FormatEvery(const MaintenanceItem& item) {
  switch (item.kind) {
    case MaintenanceKind::kHours:
      return fmt::format("{}h", item.every);
    case MaintenanceKind::kDays:
      return fmt::format("{}d", item.every);
    case MaintenanceKind::kFilament:
      if (item.every >= 1000) {
        return fmt::format("{}km", item.every / 1000);
      }
      return fmt::format("{}m", item.every);
  }
  return "";
}

const std::vector<MaintenanceItem>* MaintenanceOptions::Items(
    std::string_view device) const {
  auto it = devices.find(device);
  return it == devices.end() ? nullptr : &it->second;
}

Status CheckMark(const MaintenanceOptions& options,
                 const MaintenanceMark& mark) {
  const std::vector<MaintenanceItem>* items = options.Items(mark.device);
  if (!items) {
    std::vector<std::string_view> known;
    for (const auto& [id, _] : options.devices) known.push_back(id);
    return NotFound(fmt::format(
        "printer \"{}\" has no maintenance items; {}", mark.device,
        known.empty() ? std::string("none are configured (add "
                                    "[[devices.ID.maintenance]] tables to "
                                    "the config file)")
                      : fmt::format("printers with items: {}",
                                    fmt::join(known, ", "))));
  }
  std::vector<std::string_view> names;
  for (const MaintenanceItem& item : *items) {
    if (item.item == mark.item) return {};
    names.push_back(item.item);
  }
  return NotFound(fmt::format("printer \"{}\" has no maintenance item \"{}\"; "
                              "its items: {}",
                              mark.device, mark.item, fmt::join(names, ", ")));
}

TimeMs PrintMsSince(const Session& s, TimeMs since, TimeMs now) {
  TimeMs end = s.ended_at.value_or(now);
  TimeMs begin = std::max(s.started_at, since);
  if (end <= begin) return 0;
  auto overlap = [&](TimeMs b, TimeMs e) {
    return std::max<TimeMs>(0, std::min(e, end) - std::max(b, begin));
  };
  TimeMs paused = 0;
  for (const Interval& p : s.pauses) paused += overlap(p.begin, p.end);
  if (s.pause_started_at) paused += overlap(*s.pause_started_at, end);
  return std::max<TimeMs>(0, end - begin - paused);
}

namespace {

// Metres of filament of `s` after `since`: its filament, prorated by the
// share of its print time after `since` (a session that took no print time
// counts whole when it started after `since`).
double FilamentMSince(const Session& s, TimeMs since, TimeMs now) {
  std::optional<double> mm = FilamentMm(s);
  if (!mm) return 0;
  TimeMs whole = PrintMs(s, now);
  double share = 0;
  if (whole <= 0) {
    share = s.started_at >= since ? 1 : 0;
  } else {
    share = static_cast<double>(PrintMsSince(s, since, now));
    return *mm * share / static_cast<double>(whole) / 1000;
  }
  return *mm * share / 1000;
}

double Used(const MaintenanceItem& item, const MaintenanceInput& in,
            TimeMs since) {
  if (item.kind == MaintenanceKind::kDays) {
    return static_cast<double>(in.now - since) / kDayMs;
  }
  double used = 0;
  for (const Session& s : in.sessions) {
    if (s.device != in.device) continue;
    if (item.kind == MaintenanceKind::kHours) {
      used += static_cast<double>(PrintMsSince(s, since, in.now)) / kHourMs;
    } else {
      used += FilamentMSince(s, since, in.now);
    }
  }
  return used;
}

}  // namespace

DeviceMaintenance ComputeMaintenance(const MaintenanceInput& in) {
  std::optional<TimeMs> start = in.first_seen;
  for (const Session& s : in.sessions) {
    if (s.device != in.device) continue;
    if (!start || s.started_at < *start) start = s.started_at;
  }
  DeviceMaintenance out;
  out.device = in.device;
  for (const MaintenanceItem& item : in.items) {
    ItemStatus st;
    st.item = item;
    for (const MaintenanceMark& m : in.marks) {
      if (m.device != in.device || m.item != item.item) continue;
      if (!st.last_done || m.done_at > st.last_done->done_at) st.last_done = m;
    }
    TimeMs since = st.last_done ? st.last_done->done_at : start.value_or(in.now);
    st.since = std::min(since, in.now);
    st.used = Used(item, in, st.since);
    st.remaining = std::max(0.0, item.every - st.used);
    st.fraction = item.every > 0 ? st.used / item.every : 0;
    st.state = StateOf(st.fraction);
    out.items.push_back(std::move(st));
  }
  return out;
}

std::string MaintenanceDue::Key() const {
  return fmt::format("{}/{}/{}", device, item, since);
}

std::vector<MaintenanceDue> DueItems(std::span<const DeviceMaintenance> fleet) {
  std::vector<MaintenanceDue> out;
  for (const DeviceMaintenance& d : fleet) {
    for (const ItemStatus& st : d.items) {
      if (!st.due()) continue;
      out.push_back({d.device, st.item.item, st.item.kind, st.item.every,
                     st.used, st.fraction, st.state, st.since, st.item.note});
    }
  }
  return out;
}

std::vector<MaintenanceDue> BecameDue(std::span<const MaintenanceDue> previous,
                                      std::span<const MaintenanceDue> current) {
  std::set<std::string> before;
  for (const MaintenanceDue& d : previous) before.insert(d.Key());
  std::vector<MaintenanceDue> out;
  for (const MaintenanceDue& d : current) {
    if (!before.contains(d.Key())) out.push_back(d);
  }
  return out;
}

}  // namespace pm

#include "ledger/cost.h"

#include <algorithm>

namespace pm {

RateHistory::RateHistory(const std::vector<RateChange>& changes) {
  for (const RateChange& c : changes) {
    by_device_[c.device].emplace_back(c.effective_from, c.rates);
  }
  for (auto& [device, entries] : by_device_) {
    // Stable: of equal times, the one given last is kept (below).
    std::stable_sort(
        entries.begin(), entries.end(),
        [](const auto& a, const auto& b) { return a.first < b.first; });
    auto last_of_equal = std::unique(
        entries.rbegin(), entries.rend(),
        [](const auto& a, const auto& b) { return a.first == b.first; });
    entries.erase(entries.begin(), last_of_equal.base());
  }
}

RateHistory RateHistory::Constant(const RatesByDevice& rates) {
  std::vector<RateChange> changes;
  for (const auto& [device, r] : rates) {
    changes.push_back({device, kSinceEver, r});
  }
  return RateHistory(changes);
}

Rates RateHistory::At(std::string_view device, TimeMs t) const {
  auto it = by_device_.find(device);
  if (it == by_device_.end()) return {};
  const auto& entries = it->second;
  auto after = std::upper_bound(
      entries.begin(), entries.end(), t,
      [](TimeMs time, const auto& entry) { return time < entry.first; });
  if (after == entries.begin()) return {};
  return std::prev(after)->second;
}

const Rates* RateHistory::Latest(std::string_view device) const {
  auto it = by_device_.find(device);
  if (it == by_device_.end() || it->second.empty()) return nullptr;
  return &it->second.back().second;
}

std::vector<std::string> RateHistory::Devices() const {
  std::vector<std::string> out;
  for (const auto& entry : by_device_) out.push_back(entry.first);
  return out;
}

std::vector<RateChange> RateHistory::Changes() const {
  std::vector<RateChange> out;
  for (const auto& [device, entries] : by_device_) {
    for (const auto& [from, rates] : entries) {
      out.push_back({device, from, rates});
    }
  }
  return out;
}

std::vector<RateChange> RateChangesToRecord(const RateHistory& history,
                                            const RatesByDevice& configured,
                                            TimeMs now) {
  std::vector<RateChange> out;
  if (history.empty()) {
    out.push_back({"", now, Rates{}});
    for (const auto& [device, rates] : configured) {
      if (rates != Rates{}) out.push_back({device, kSinceEver, rates});
    }
    return out;
  }
  for (const auto& [device, rates] : configured) {
    const Rates* latest = history.Latest(device);
    if (latest ? *latest != rates : rates != Rates{}) {
      out.push_back({device, now, rates});
    }
  }
  for (const std::string& device : history.Devices()) {
    const Rates* latest = history.Latest(device);
    if (!configured.count(device) && latest && *latest != Rates{}) {
      out.push_back({device, now, Rates{}});
    }
  }
  return out;
}

double SessionCost(const Session& s, const Rates& r, TimeMs now) {
  double print_s = static_cast<double>(PrintMs(s, now)) / 1000.0;
  double filament_mm = FilamentMm(s).value_or(0);
  double cost =
      r.rate_per_hour * print_s / 3600.0 + r.rate_per_m * filament_mm / 1000.0;
  return std::max(r.minimum_per_session, cost);
}

double SessionCost(const Session& s, const RateHistory& history, TimeMs now) {
  return SessionCost(s, history.At(s.device, s.started_at), now);
}

}  // namespace pm

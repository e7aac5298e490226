#include "ledger/replay.h"

#include <algorithm>
#include <span>
#include <utility>

namespace pm {

MemoryLedger::MemoryLedger(LedgerConfig config) : config_(config) {}

MemoryLedger::Ingested MemoryLedger::Ingest(Event e) {
  if (e.id == 0) e.id = next_id_;
  next_id_ = std::max(next_id_, e.id + 1);
  auto [it, added] = devices_.try_emplace(e.device);
  Device& d = it->second;
  if (added) d.state.device = e.device;
  if (e.kind != Kind::kSwept) {  // a request came from the device
    d.last_received = std::max(d.last_received, e.received_at);
  }

  Ingested out;
  out.id = e.id;
  out.test = e.test;
  out.duplicate = IsDuplicate(d, e);  // test events too, as the writer does
  log_.push_back({e, out.duplicate});
  if (e.has_current_time) d.by_time.emplace(e.time, log_.size() - 1);
  if (e.test || out.duplicate) return out;

  bool in_order = !d.state.last_applied || *d.state.last_applied < KeyOf(e);
  out.session_id = in_order ? FoldInOrder(d, e) : FoldLate(d, e);
  return out;
}

bool MemoryLedger::IsDuplicate(const Device& d, const Event& e) const {
  auto [begin, end] = d.by_time.equal_range(e.time);
  for (auto it = begin; it != end; ++it) {
    const Record& earlier = log_[it->second];
    if (IsDuplicateOf(e, earlier.event)) return true;
  }
  return false;
}

std::optional<int64_t> MemoryLedger::FoldInOrder(Device& d, const Event& e) {
  d.foldable.push_back(e);
  Applied applied = Apply(config_, d.state, e);
  for (Session& s : applied.touched) d.sessions[s.id] = std::move(s);
  event_sessions_[e.id] = applied.session_id;
  return applied.session_id;
}

std::optional<int64_t> MemoryLedger::FoldLate(Device& d, const Event& e) {
  EventKey late = KeyOf(e);
  auto pos = std::upper_bound(
      d.foldable.begin(), d.foldable.end(), late,
      [](const EventKey& k, const Event& x) { return k < KeyOf(x); });
  d.foldable.insert(pos, e);

  std::vector<Session> sessions;
  for (const auto& [id, s] : d.sessions) sessions.push_back(s);
  std::optional<EventKey> point = RefoldPoint(sessions, late);

  // Forget what the events after the point made, then make it again.
  std::erase_if(d.sessions, [&](const auto& entry) {
    return !point || *point < entry.second.opened_by;
  });
  auto first = d.foldable.begin();
  if (point) {
    first = std::upper_bound(
        d.foldable.begin(), d.foldable.end(), *point,
        [](const EventKey& k, const Event& x) { return k < KeyOf(x); });
  }
  auto suffix = std::span<const Event>(d.foldable)
                    .subspan(static_cast<size_t>(first - d.foldable.begin()));
  Refolded r = Refold(config_, d.state.device, suffix);
  d.state = std::move(r.state);
  for (Session& s : r.sessions) d.sessions[s.id] = std::move(s);
  std::optional<int64_t> late_session;
  for (const auto& [event_id, session_id] : r.event_sessions) {
    event_sessions_[event_id] = session_id;
    if (event_id == e.id) late_session = session_id;
  }
  return late_session;
}

std::vector<Event> MemoryLedger::Sweep(TimeMs now) {
  std::vector<Event> swept;
  for (auto& [name, d] : devices_) {
    std::optional<Event> e = SweepEvent(config_, d.state, d.last_received, now);
    if (!e) continue;
    e->id = next_id_;
    Ingest(*e);
    swept.push_back(*e);
  }
  return swept;
}

std::vector<Session> MemoryLedger::Sessions() const {
  std::vector<Session> all;
  for (const auto& [name, d] : devices_) {
    for (const auto& [id, s] : d.sessions) all.push_back(s);
  }
  std::sort(all.begin(), all.end(),
            [](const Session& a, const Session& b) { return a.id < b.id; });
  return all;
}

std::vector<Session> MemoryLedger::Sessions(std::string_view device) const {
  std::vector<Session> out;
  auto it = devices_.find(device);
  if (it == devices_.end()) return out;
  for (const auto& [id, s] : it->second.sessions) out.push_back(s);
  return out;
}

std::vector<DeviceState> MemoryLedger::States() const {
  std::vector<DeviceState> out;
  for (const auto& [name, d] : devices_) out.push_back(d.state);
  return out;
}

const DeviceState* MemoryLedger::State(std::string_view device) const {
  auto it = devices_.find(device);
  return it == devices_.end() ? nullptr : &it->second.state;
}

std::optional<int64_t> MemoryLedger::SessionOf(int64_t event_id) const {
  auto it = event_sessions_.find(event_id);
  if (it == event_sessions_.end()) return std::nullopt;
  return it->second;
}

}  // namespace pm

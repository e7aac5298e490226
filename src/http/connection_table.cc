#include "http/connection_table.h"

#include <algorithm>

namespace pm {

namespace {

int64_t Ns(SteadyTime t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             t.time_since_epoch())
      .count();
}

ActivityView ViewOf(const Activity& a) {
  return {a.phase.load(),
          SteadyTime(std::chrono::nanoseconds(a.since_ns.load())),
          a.request_bytes.load()};
}

bool Unfinished(Phase p) { return p == Phase::kHeaders || p == Phase::kBody; }

// Bytes per second of a request since its first byte (at least 1 ms).
double Rate(const ActivityView& v, SteadyTime now) {
  double seconds =
      std::max(0.001, std::chrono::duration<double>(now - v.since).count());
  return static_cast<double>(v.request_bytes) / seconds;
}

}  // namespace

void Activity::Enter(Phase p, SteadyTime now) {
  if (p == Phase::kIdle || p == Phase::kHeaders) {
    since_ns = Ns(now);
    request_bytes = 0;
  }
  phase = p;
}

std::optional<size_t> PickVictim(std::span<const ActivityView> candidates,
                                 SteadyTime now) {
  std::optional<size_t> idle, slow;
  for (size_t i = 0; i < candidates.size(); ++i) {
    const ActivityView& c = candidates[i];
    if (c.phase == Phase::kIdle) {
      if (!idle || c.since < candidates[*idle].since) idle = i;
    } else if (Unfinished(c.phase)) {
      if (!slow) {
        slow = i;
        continue;
      }
      double rate = Rate(c, now), best = Rate(candidates[*slow], now);
      if (rate < best || (rate == best && c.since < candidates[*slow].since)) {
        slow = i;
      }
    }
  }
  return idle ? idle : slow;
}

std::shared_ptr<ConnectionTable::Entry> ConnectionTable::TakeVictim(
    const std::vector<std::shared_ptr<Entry>>& pool, SteadyTime now) {
  std::vector<ActivityView> views;
  views.reserve(pool.size());
  for (const auto& e : pool) views.push_back(ViewOf(e->activity));
  auto at = PickVictim(views, now);
  if (!at) return nullptr;
  std::shared_ptr<Entry> victim = pool[*at];
  Erase(victim);
  return victim;
}

void ConnectionTable::Erase(const std::shared_ptr<Entry>& entry) {
  auto it = std::find(entries_.begin(), entries_.end(), entry);
  if (it == entries_.end()) return;
  *it = std::move(entries_.back());
  entries_.pop_back();
  auto peer = per_peer_.find(entry->peer);
  if (peer != per_peer_.end() && --peer->second == 0) per_peer_.erase(peer);
}

std::vector<std::shared_ptr<ConnectionTable::Entry>> ConnectionTable::OfPeer(
    const boost::asio::ip::address& peer) const {
  std::vector<std::shared_ptr<Entry>> out;
  for (const auto& e : entries_) {
    if (e->peer == peer) out.push_back(e);
  }
  return out;
}

bool ConnectionTable::Admit(const std::shared_ptr<Entry>& entry,
                            SteadyTime now) {
  std::vector<std::shared_ptr<Entry>> victims;
  bool admitted = true;
  {
    std::lock_guard lock(mu_);
    auto peer = per_peer_.find(entry->peer);
    size_t of_peer = peer == per_peer_.end() ? 0 : peer->second;
    while (admitted && of_peer >= limits_.max_per_client) {
      auto victim = TakeVictim(OfPeer(entry->peer), now);
      if (victim) {
        victims.push_back(std::move(victim));
        --of_peer;
      } else {
        admitted = false;
      }
    }
    while (admitted && entries_.size() >= limits_.max_total) {
      auto victim = TakeVictim(entries_, now);
      if (victim) {
        victims.push_back(std::move(victim));
      } else {
        admitted = false;
      }
    }
    if (admitted) {
      entries_.push_back(entry);
      ++per_peer_[entry->peer];
    }
  }
  evicted_ += victims.size();
  for (auto& v : victims) v->close();
  return admitted;
}

void ConnectionTable::Remove(const std::shared_ptr<Entry>& entry) {
  std::lock_guard lock(mu_);
  Erase(entry);
}

bool ConnectionTable::EvictOne(SteadyTime now) {
  std::shared_ptr<Entry> victim;
  {
    std::lock_guard lock(mu_);
    victim = TakeVictim(entries_, now);
  }
  if (!victim) return false;
  ++evicted_;
  victim->close();
  return true;
}

size_t ConnectionTable::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace pm

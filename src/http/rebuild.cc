#include "http/rebuild.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

namespace pm {

namespace {

// The event a stored record stands for today: re-decoded from its request,
// or as stored (swept events, requests today's decoder refuses).
Event Redecode(const EventRecord& record, const DecodeLimits& limits,
               RebuildStats& stats) {
  if (!record.request) return record.event;
  const StoredRequest& stored = *record.request;
  Request request;
  request.method = stored.method;
  request.target = stored.target;
  request.content_type = stored.content_type;
  request.body = stored.body;
  request.received_at = record.event.received_at;
  auto decoded = Decode(request, limits);
  if (!decoded) {
    ++stats.undecodable;
    spdlog::warn("event {} no longer decodes ({}); folding it as stored",
                 record.event.id, decoded.error().message);
    return record.event;
  }
  Event e = std::move(decoded->event);
  e.id = record.event.id;
  e.received_at = record.event.received_at;
  return e;
}

// A device's events seen so far, for the duplicate rule (id order).
class DuplicateIndex {
 public:
  bool IsDuplicate(const Event& e) const {
    if (!e.has_current_time) return false;
    auto range = seen_.equal_range({e.device, e.time});
    for (auto it = range.first; it != range.second; ++it) {
      if (IsDuplicateOf(e, it->second)) return true;
    }
    return false;
  }
  void Add(const Event& e) {
    if (e.has_current_time) seen_.emplace(std::make_pair(e.device, e.time), e);
  }

 private:
  std::multimap<std::pair<std::string, TimeMs>, Event> seen_;
};

}  // namespace

Result<RebuildStats> Rebuild(Store& store, const LedgerConfig& config,
                             const DecodeLimits& limits,
                             const std::function<void(int64_t)>& progress) {
  RebuildStats stats;
  DuplicateIndex duplicates;
  std::map<std::string, std::vector<Event>> foldable;  // by device
  // Rows whose decoded columns or duplicate flag no longer match today's
  // reading: rewritten with the ledger, so that later re-folds of their
  // printer (a late event) read what this rebuild read.
  std::vector<EventUpdate> updates;
  Status read = store.ForEachEvent([&](const EventRecord& record) -> Status {
    Event e = Redecode(record, limits, stats);
    bool duplicate = record.request && duplicates.IsDuplicate(e);
    if (record.request) duplicates.Add(e);
    if (e != record.event || duplicate != record.duplicate) {
      ++stats.redecoded_differently;
      updates.push_back({e, duplicate, std::nullopt});
    }
    ++stats.events;
    if (!record.request) ++stats.swept;
    if (duplicate) {
      ++stats.duplicates;
    } else if (e.test) {
      ++stats.tests;
    } else {
      foldable[e.device].push_back(std::move(e));
    }
    if (progress) progress(stats.events);
    return {};
  });
  if (!read) return read.error();

  WriteBatch batch;
  std::map<int64_t, std::optional<int64_t>> session_of;  // event -> session
  for (auto& [device, events] : foldable) {
    std::sort(events.begin(), events.end(),
              [](const Event& a, const Event& b) { return KeyOf(a) < KeyOf(b); });
    stats.folded += static_cast<int64_t>(events.size());
    Refolded refolded = Refold(config, device, events);
    stats.sessions += static_cast<int64_t>(refolded.sessions.size());
    for (Session& s : refolded.sessions) batch.sessions.push_back(std::move(s));
    for (auto& es : refolded.event_sessions) {
      batch.event_sessions.push_back(es);
      session_of[es.first] = es.second;
    }
    batch.device_states.push_back(std::move(refolded.state));
    ++stats.devices;
  }
  for (EventUpdate& u : updates) {
    auto it = session_of.find(u.event.id);
    if (it != session_of.end()) u.session_id = it->second;
  }
  batch.event_updates = std::move(updates);
  if (auto s = store.ResetLedger(); !s) return s.error();
  if (auto s = store.Commit(batch); !s) {
    return Unavailable(fmt::format(
        "the ledger was reset but the rebuilt one could not be stored: {}; "
        "run `printmeter rebuild` again",
        s.error().message));
  }
  if (stats.redecoded_differently > 0) {
    spdlog::warn("{} stored event(s) read differently today than when they "
                 "were received; the ledger now follows today's reading",
                 stats.redecoded_differently);
  }
  return stats;
}

}  // namespace pm

#include "ingest/rebuild.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <string>
#include <unordered_map>
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
  // A picture stored apart left an empty part in the body: it came all the
  // same, whether or not the retention rule kept it.
  if (stored.picture) e.snapshot = true;
  e.id = record.event.id;
  e.received_at = record.event.received_at;
  return e;
}

// A device's events seen so far, for the duplicate rule (id order): by
// device and time, what the rule compares besides them.
class DuplicateIndex {
 public:
  bool IsDuplicate(const Event& e) const {
    if (!e.has_current_time) return false;
    auto it = seen_.find(e.device);
    if (it == seen_.end()) return false;
    auto range = it->second.equal_range(e.time);
    const DuplicateFields fields = DuplicateFieldsOf(e);
    for (auto seen = range.first; seen != range.second; ++seen) {
      if (seen->second == fields) return true;
    }
    return false;
  }
  void Add(const Event& e) {
    if (!e.has_current_time) return;
    auto it = seen_.find(e.device);
    if (it == seen_.end()) it = seen_.emplace(e.device, Times{}).first;
    it->second.emplace(e.time, DuplicateFieldsOf(e));
  }

 private:
  using Times = std::unordered_multimap<TimeMs, DuplicateFields>;
  std::unordered_map<std::string, Times> seen_;
};

}  // namespace

Result<RebuildStats> Rebuild(Store& store, const LedgerConfig& config,
                             const DecodeLimits& limits,
                             const std::function<void(int64_t)>& progress) {
  RebuildStats stats;
  DuplicateIndex duplicates;
  std::map<std::string, std::vector<Event>> foldable;  // by device
  // Rows whose decoded columns or duplicate flag no longer match today's
  // reading: rewritten before the ledger, so that later re-folds of their
  // printer (a late event) read what this rebuild read.
  std::vector<EventUpdate> updates;
  int64_t last_id = 0;
  Status read = store.ForEachEvent([&](const EventRecord& record) -> Status {
    Event e = Redecode(record, limits, stats);
    bool duplicate = record.request && duplicates.IsDuplicate(e);
    if (record.request) duplicates.Add(e);
    if (e != record.event || duplicate != record.duplicate) {
      ++stats.redecoded_differently;
      updates.push_back({e, duplicate});
    }
    ++stats.events;
    last_id = std::max(last_id, record.event.id);
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
  if (auto s = store.RewriteEvents(updates); !s) return s.error();

  // The projection replaced whole, at the position of the last event read:
  // a projector that starts later folds only what was logged after it.
  ProjectionBatch batch;
  batch.reset = true;
  batch.position = last_id;
  batch.device_states.reserve(foldable.size());
  batch.sessions.reserve(foldable.size());
  batch.event_sessions.reserve(static_cast<size_t>(stats.events));
  for (auto& [device, events] : foldable) {
    std::sort(events.begin(), events.end(),
              [](const Event& a, const Event& b) { return KeyOf(a) < KeyOf(b); });
    stats.folded += static_cast<int64_t>(events.size());
    Refolded refolded = Refold(config, device, events);
    stats.sessions += static_cast<int64_t>(refolded.sessions.size());
    for (Session& s : refolded.sessions) batch.sessions.push_back(std::move(s));
    for (auto& es : refolded.event_sessions) {
      if (es.second) batch.event_sessions.push_back(es);
    }
    batch.device_states.push_back(std::move(refolded.state));
    ++stats.devices;
    std::vector<Event>().swap(events);  // folded: its memory goes back
  }
  if (auto s = store.CommitProjection(batch); !s) {
    return Unavailable(fmt::format(
        "the rebuilt ledger could not be stored (the old one is unchanged): "
        "{}; run `printmeter rebuild` again",
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

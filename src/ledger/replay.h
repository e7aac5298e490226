// MemoryLedger: the reference ingest, all in memory.
//
// Does with plain containers exactly what the ingest writer does with a
// Store (ledger.md sections 3-5): every event is kept; test events and
// duplicates are never folded; an event in order is applied with Apply(); a
// late one re-folds its device from RefoldPoint() with Refold(); Sweep()
// appends the stale sweep's synthetic events. Tests of the store, the writer
// and the HTTP server compare their sessions with this one's.
//
// Not thread-safe; O(events) memory; meant for tests and tools, not serving.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "decode/event.h"
#include "ledger/fold.h"
#include "ledger/session.h"

namespace pm {

class MemoryLedger {
 public:
  explicit MemoryLedger(LedgerConfig config = {});

  struct Ingested {
    int64_t id = 0;
    bool duplicate = false;
    bool test = false;
    std::optional<int64_t> session_id;  // the session it was folded into
  };

  // Stores `e` and folds it. An id of 0 is assigned (one above the highest
  // id seen so far), as the store does in arrival order; a given id is kept,
  // so a test can replay the ids a server assigned. Ids must be unique.
  Ingested Ingest(Event e);

  // The stale sweep at `now`: for every device whose open session went stale
  // (SweepEvent), appends and folds the `swept` event. Returns them, with ids.
  std::vector<Event> Sweep(TimeMs now);

  // Every session of every device (of one device), ordered by id.
  std::vector<Session> Sessions() const;
  std::vector<Session> Sessions(std::string_view device) const;
  // Every device's state, ordered by device; nullptr for an unknown device.
  std::vector<DeviceState> States() const;
  const DeviceState* State(std::string_view device) const;
  // The session event `event_id` was folded into (nullopt: none, or unknown).
  std::optional<int64_t> SessionOf(int64_t event_id) const;

  // Every stored event in arrival order, flagged when it was a duplicate.
  struct Record {
    Event event;
    bool duplicate = false;
  };
  const std::vector<Record>& Log() const { return log_; }

 private:
  struct Device {
    DeviceState state;
    std::vector<Event> foldable;                      // sorted by key
    std::map<int64_t, Session> sessions;              // by id
    TimeMs last_received = 0;                         // of its latest request
    std::unordered_multimap<TimeMs, size_t> by_time;  // log_ index, for dups
  };

  bool IsDuplicate(const Device& d, const Event& e) const;
  std::optional<int64_t> FoldInOrder(Device& d, const Event& e);
  std::optional<int64_t> FoldLate(Device& d, const Event& e);

  LedgerConfig config_;
  int64_t next_id_ = 1;
  std::vector<Record> log_;
  std::map<std::string, Device, std::less<>> devices_;
  std::unordered_map<int64_t, std::optional<int64_t>> event_sessions_;
};

}  // namespace pm

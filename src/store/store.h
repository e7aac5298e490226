// Store: where the event log and the ledger live. SQLite is the embedded
// default; a PostgreSQL implementation follows the same interface, so nothing
// above this header may depend on a SQL dialect.
//
// Threading: one writer (the ingest writer, http/ingest.h) calls the write
// methods; any number of readers may call the read methods concurrently
// (implementations open a connection per reader thread or serialize).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "decode/decode.h"
#include "ledger/cost.h"
#include "ledger/fold.h"
#include "ledger/session.h"

namespace pm {

// The request exactly as received, so the ledger can be rebuilt from it.
struct StoredRequest {
  std::string method;
  std::string target;  // path and query
  std::string content_type;
  std::string body;  // bytes as received
};

struct EventRecord {
  Event event;  // event.id set by the caller from AllocateEventIds()
  std::optional<StoredRequest> request;  // nullopt for a synthetic `swept`
  std::optional<Snapshot> snapshot;
  bool duplicate = false;
  std::optional<int64_t> session_id;  // the session it was folded into
};

// A printer printmeter knows: configured, or registered on first contact.
struct DeviceRecord {
  std::string device;
  std::optional<std::string> secret;  // as registered (tofu) or configured
  TimeMs first_seen = 0;
  TimeMs last_received = 0;  // receive time of its latest request
};

// A stored event read again (`rebuild` with a newer decoder): its decoded
// columns, duplicate flag and session replaced; the raw request and the
// snapshot bytes stay as received.
struct EventUpdate {
  Event event;  // event.id names the row to update
  bool duplicate = false;
  std::optional<int64_t> session_id;
};

// All that one ingest step changes, committed as one transaction.
struct WriteBatch {
  std::vector<EventRecord> events;
  // Late events: delete the device's sessions opened after `after` (all its
  // sessions when nullopt) before upserting the re-folded ones.
  struct Refold {
    std::string device;
    std::optional<EventKey> after;
  };
  std::vector<Refold> refolds;
  std::vector<Session> sessions;  // upserted by id
  // Event -> session assignments changed by a re-fold.
  std::vector<std::pair<int64_t, std::optional<int64_t>>> event_sessions;
  std::vector<DeviceState> device_states;  // upserted by device
  std::vector<DeviceRecord> devices;       // upserted by device
  // Existing events rewritten, applied after `events` and before
  // `event_sessions` (which may reassign their sessions again). An id that
  // names no stored event fails the whole commit.
  std::vector<EventUpdate> event_updates;

  bool empty() const {
    return events.empty() && refolds.empty() && sessions.empty() &&
           event_sessions.empty() && device_states.empty() && devices.empty() &&
           event_updates.empty();
  }
};

// A stored event for the API (`EVENT` in api.md).
struct EventView {
  Event event;
  bool duplicate = false;
  std::optional<int64_t> session_id;
  std::string content_type;
  std::optional<std::string> body;  // nullopt for swept events
};

struct SessionFilter {
  std::optional<std::string> device;
  std::optional<std::string> user;  // matches the attributed user
  std::optional<SessionStatus> status;
  std::optional<TimeMs> from;  // sessions overlapping [from, to)
  std::optional<TimeMs> to;
};

// Newest first (started_at desc, id desc). `after` continues a page.
struct SessionPageQuery {
  SessionFilter filter;
  std::optional<std::pair<TimeMs, int64_t>> after;  // (started_at, id)
  int limit = 100;
};

// Stored webhook requests of one device, by the answer they got: what
// `printmeter_webhook_requests_total` reports for stored/duplicate/test.
// Swept events (no request) are not counted.
struct RequestCounts {
  int64_t stored = 0;     // neither duplicate nor test
  int64_t duplicate = 0;  // not test
  int64_t test = 0;       // test events, duplicate or not
};

// The counts of the events with id > `after_id`, and the greatest id read,
// so that a caller can keep a running total and read only what is new
// (the single writer commits ids in increasing order).
struct RequestTally {
  int64_t last_id = 0;  // `after_id` when nothing newer is stored
  std::map<std::string, RequestCounts, std::less<>> by_device;
};

// One page of a session's events, in fold order (time, then id).
struct SessionEventsQuery {
  int64_t session_id = 0;
  std::optional<std::pair<TimeMs, int64_t>> after;  // (time, id) served last
  int limit = 100;
};

struct EventPageQuery {
  std::optional<std::string> device;
  std::optional<int64_t> before_id;  // newest first: ids below this
  int limit = 100;
};

class Store {
 public:
  virtual ~Store() = default;

  // --- write side: the single writer only ---

  // Reserves `count` consecutive event ids and returns the first.
  virtual Result<int64_t> AllocateEventIds(int64_t count) = 0;
  // Whether an earlier-stored event is a duplicate of `e` (ledger.md s. 3).
  virtual Result<bool> HasDuplicate(const Event& e) = 0;
  // The device's foldable events (not duplicate, not test) with key > after
  // (all when nullopt), sorted by key.
  virtual Result<std::vector<Event>> FoldableEvents(
      const std::string& device, std::optional<EventKey> after) = 0;
  // The device's sessions that closed to idle (idle_after) with closed_by <
  // before, the latest one only (what RefoldPoint needs).
  virtual Result<std::optional<Session>> LastIdleSessionBefore(
      const std::string& device, EventKey before) = 0;
  virtual Result<std::vector<DeviceState>> LoadDeviceStates() = 0;
  virtual Result<std::vector<DeviceRecord>> LoadDevices() = 0;
  // Commits `batch` as one transaction; durable when it returns ok.
  virtual Status Commit(const WriteBatch& batch) = 0;

  // Rebuild: every stored event in id order, then ResetLedger() and re-ingest.
  virtual Status ForEachEvent(
      const std::function<Status(const EventRecord&)>& fn) = 0;
  // Deletes sessions, device states and event->session assignments (not
  // events, devices or user attributions).
  virtual Status ResetLedger() = 0;

  // --- read side ---

  // Storage readable and, as far as can be told without writing, writable
  // (readyz); the error says what is wrong and what to do.
  virtual Status Ping() = 0;
  // A session that started inside [from, to) and lasted no time counts as
  // overlapping (it started in the window). `limit` is capped at 10,000.
  virtual Result<std::vector<Session>> ListSessions(
      const SessionPageQuery& q) = 0;
  virtual Result<std::optional<Session>> GetSession(int64_t id) = 0;
  virtual Result<std::vector<EventView>> SessionEvents(int64_t id) = 0;
  // Up to q.limit of the session's events after q.after. The default reads
  // them all and cuts the page out; stores override it with a keyset query.
  virtual Result<std::vector<EventView>> SessionEventsPage(
      const SessionEventsQuery& q);
  virtual Result<std::vector<EventView>> ListEvents(
      const EventPageQuery& q) = 0;
  // Every session overlapping [from, to) or open, for usage (zero-length
  // sessions that started inside the window included, as in ListSessions).
  virtual Result<std::vector<Session>> SessionsOverlapping(TimeMs from,
                                                           TimeMs to) = 0;
  // Attributes a session to a person, apart from the log (survives rebuild).
  // Sessions read back carry it in `user`. kNotFound for an unknown session.
  // An empty `user` removes the attribution.
  virtual Status SetSessionUser(int64_t id, const std::string& user) = 0;
  virtual Result<std::optional<Snapshot>> GetSnapshot(int64_t event_id) = 0;
  // Counts of the stored requests with id > after_id (see RequestTally).
  // Stores that cannot count answer kUnavailable.
  virtual Result<RequestTally> CountRequests(int64_t after_id) {
    return Unavailable("this store cannot count the stored requests");
  }

  // --- rate history (ledger.md s. 7, ledger/cost.h) ---
  // Apart from the log: `rebuild` keeps it. Safe from any thread, and from
  // any command (not only the single writer).

  // Every recorded rate change, in any order.
  virtual Result<std::vector<RateChange>> LoadRateChanges() {
    return Unavailable("this store keeps no rate history");
  }
  // Records `changes` in one transaction (an entry for a device and time
  // already recorded is replaced). kUnavailable when the database cannot be
  // written (a read-only file).
  virtual Status RecordRateChanges(const std::vector<RateChange>& changes) {
    return Unavailable("this store keeps no rate history");
  }
};

struct OpenOptions {
  // Serve, import and rebuild write: they take the database's writer lock
  // (the SQLite store: an flock on "<path>-writer.lock", released when the
  // store is closed or the process ends) and a second writer is refused with
  // kConflict naming the first one's pid. Readers (report, sessions,
  // `devices list`) never take it.
  bool writer = false;
  // Recorded in the lock for the message a second writer gets, e.g.
  // "printmeter serve".
  std::string program;
  // Readers (report, sessions, `devices list`; not with `writer`) open an
  // existing database only and never create, migrate or change it (but
  // RecordRateChanges, which may write when the file is writable): a
  // missing file is kNotFound, an older schema kConflict asking to start
  // `serve` once. They work on a file they may not write.
  bool read_only = false;
};

// Opens the store named by a --db URL: "sqlite:PATH" (created when missing,
// migrated to the current schema, unless options.read_only; a database from
// a newer printmeter is refused with kConflict) or "postgresql://..." when
// built with it.
Result<std::unique_ptr<Store>> OpenStore(const std::string& url);
Result<std::unique_ptr<Store>> OpenStore(const std::string& url,
                                         const OpenOptions& options);

}  // namespace pm

// Store: where the event log and the ledger live. SQLite is the embedded
// default; a PostgreSQL implementation follows the same interface, so nothing
// above this header may depend on a SQL dialect.
//
// The log is the truth; the ledger is a projection of it (ledger.md s. 2).
// The interface has a face per caller: LogStore for the single writer, which
// appends requests and answers; ProjectionStore for the projector, which
// folds the log into sessions behind it; LedgerReader for everyone who
// reads. A test fake implements only the face it tests.
//
// Threading: one thread (the ingest writer, ingest/writer.h) calls LogStore
// and ProjectionStore; any number of threads may call LedgerReader.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/result.h"
#include "decode/decode.h"
#include "ledger/cost.h"
#include "ledger/fold.h"
#include "ledger/session.h"
#include "maintenance/maintenance.h"
#include "store/stored_body.h"

namespace pm {

// The webcam picture of a request (its multipart `snapshot` part), stored
// apart from the request's body: the log keeps what it was and where its
// bytes were cut out, the pictures' table keeps the bytes, and the
// retention rule (ingest/retention.h) may let them go. The request as
// received is the body with `bytes` put back at `offset`.
struct StoredPicture {
  int64_t offset = 0;  // where in the body its bytes were
  int64_t size = 0;    // how many bytes it had
  std::string content_type;
  // For Append; empty as read back from the log, and for a picture the
  // retention rule let go (Append then stores no bytes).
  std::string bytes{};
};

// The request as received, so the ledger can be rebuilt from it (ledger.md
// s. 2: body bytes, content type, the snapshot separately).
struct StoredRequest {
  std::string method;
  std::string target;  // path and query
  std::string content_type;
  std::string body;  // bytes as received, less the picture's when `picture`
  std::optional<StoredPicture> picture = std::nullopt;
  // `body` as the SQLite log keeps it (stored_body.h), made beforehand on
  // the submitter's thread by LogStore::Prepare; nullopt: the store makes it
  // when it needs it. Whoever changes `body` afterwards resets it.
  std::optional<CompressedBody> compressed = std::nullopt;
};

// Moves the picture `snapshot` (as decoded from request.body) out of the
// body into request.picture, to be stored once, apart. A snapshot that is
// not where it says in the body is left in it.
void SetPictureApart(StoredRequest& request, Snapshot snapshot);

struct EventRecord {
  Event event;  // event.id: 0 for Append to assign (see LogBatch)
  std::optional<StoredRequest> request;  // nullopt for a synthetic `swept`
  bool duplicate = false;
  // The decoder that read the request into `event` (Decoded::decoder): 0
  // when not said (a row logged before it was kept, a test's own event).
  int64_t decoder = 0;
};

// A printer printmeter knows: configured, or registered on first contact.
struct DeviceRecord {
  std::string device;
  std::optional<std::string> secret;  // as registered (tofu) or configured
  TimeMs first_seen = 0;
  TimeMs last_received = 0;  // receive time of its latest projected request

  bool operator==(const DeviceRecord&) const = default;
};

// A stored event read again (`rebuild` with a newer decoder): its decoded
// columns and duplicate flag replaced; the raw request stays as received.
struct EventUpdate {
  Event event;  // event.id names the row to update
  bool duplicate = false;
};

// What one group commit of the single writer appends to the log, as one
// durable transaction: the accepted requests and the printers they
// registered. Nothing derived.
struct LogBatch {
  // Events with id 0 get the next ids from Append, consecutive, in batch
  // order, each greater than every id committed before (with several
  // instances on one database too, so that the projector, which reads the
  // log by id, never passes an id still being committed). Events given an
  // id keep it (tests, a copied log).
  std::vector<EventRecord> events;
  // Printers heard from for the first time, and printers registering a
  // secret (tofu): inserted, or for a known printer without a secret its
  // secret set (first_seen and last_received kept). A secret already stored
  // is never replaced: the first one presented wins, on every instance.
  std::vector<DeviceRecord> devices;
  // The writer's batches: Append decides each event's `duplicate`
  // (ledger.md s. 3) against the log and the batch's earlier events, as the
  // log stands at the commit. Otherwise the flags are stored as given.
  bool decide_duplicates = false;
  // The writer's batches: Append may return once the batch is committed
  // and visible, before it is on disk (PostgreSQL: so that the next append
  // need not wait for this one's flush). It then says so in `durable`, and
  // nothing of the batch may be acknowledged before a Flush() called after
  // Append returned. Stores whose appends are on disk when they return
  // (SQLite's journal) ignore it.
  bool flush_later = false;

  // Filled in by Append: false when the batch is committed but not yet on
  // disk (flush_later); then the Flush() that can confirm it is one that
  // answers `flush_session`.
  bool durable = true;
  int64_t flush_session = 0;
  // Filled in by Append: the printers whose registration in `devices` lost
  // to a different secret stored first (by another instance), as stored.
  // Their events in the batch were not stored: each keeps id 0.
  std::vector<DeviceRecord> lost;
  bool empty() const { return events.empty() && devices.empty(); }
};

// A logged event as the projector reads it: decoded columns and verdicts,
// without the request's bytes.
struct LoggedEvent {
  Event event;
  bool duplicate = false;
  bool request = true;  // false for a synthetic `swept`
  bool picture = false;  // its picture was stored apart (StoredPicture)
};

// A picture still kept in the pictures' table, as the retention rule sees it.
struct KeptPicture {
  int64_t event_id = 0;
  std::optional<int64_t> session_id;  // the projection's link, if any
  EventKey key;                       // the event's (time, id)
};

// What one projector step writes, as one transaction, with the log position
// it reached: after it commits, the projection is the fold of the log up to
// and including event `position`.
struct ProjectionBatch {
  // Late events: delete the device's sessions opened after `after` (all its
  // sessions when nullopt) before upserting the re-folded ones.
  struct Refold {
    std::string device;
    std::optional<EventKey> after;
  };
  std::vector<Refold> refolds;
  std::vector<Session> sessions;  // upserted by id
  // Event -> session; nullopt removes the event's link.
  std::vector<std::pair<int64_t, std::optional<int64_t>>> event_sessions;
  std::vector<DeviceState> device_states;  // upserted by device
  // Receive time of each device's latest request up to `position`.
  std::vector<std::pair<std::string, TimeMs>> last_received;
  // Events whose pictures the retention rule lets go: their bytes are
  // deleted, the log still says what they were.
  std::vector<int64_t> dropped_pictures;
  int64_t position = 0;
  // The position this step folded from: the commit fails with kConflict
  // (and stores nothing) when the stored position is another, i.e. another
  // projector (another instance on the same database) got there first; the
  // projector then reloads and folds on from there. -1: unconditional.
  int64_t from = -1;
};

// The open sessions of batch.device_states that batch.sessions does not
// already hold as they are. A store upserts the states' open sessions too
// (the state's is the latest version, and FindDeviceStates must find it),
// but nearly always the step touched that session and it is in
// batch.sessions already: written twice, it cost a session write per
// event (on PostgreSQL the projection's largest statement).
std::vector<const Session*> OpenSessionsToWrite(const ProjectionBatch& batch);

// Which device states LedgerReader::FindDeviceStates reads (all when
// nothing is set; each condition set narrows them).
struct DeviceStateFilter {
  // These devices' (any number; a device without a state is left out).
  std::optional<std::vector<std::string>> devices;
  // Devices with an open session whose last event is at or before this
  // time and whose latest request (DeviceRecord::last_received) came at or
  // before it too: the candidates of the stale sweep (ledger.md section 5).
  std::optional<TimeMs> open_and_quiet_since;
};

// How far the projection trails the log (`/readyz`, metrics).
struct ProjectionLag {
  int64_t logged = 0;     // the log's greatest event id
  int64_t projected = 0;  // the projection's position
  // Receive time of the oldest event not yet projected; nullopt when none.
  std::optional<TimeMs> oldest_unprojected;
  int64_t events() const { return logged > projected ? logged - projected : 0; }
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

// The devices a database knows (ingest/registration_limit.h): all of them,
// and those whose first request came after a time, with that time.
struct RegistrationTally {
  std::vector<std::string> devices;  // every device, by id
  std::vector<std::pair<std::string, TimeMs>> since;
};

// The log's face: what the single writer needs before it answers a
// request (ingest/writer.h). Only the single writer calls it.
class LogStore {
 public:
  virtual ~LogStore() = default;
  // The id of the last logged event (0: none).
  virtual Result<int64_t> LastEventId() = 0;
  // Appends `batch` as one transaction (see LogBatch: ids, duplicates and
  // registrations are decided in it), durable when it returns ok unless
  // LogBatch::flush_later let it leave that to Flush(); a failure stores
  // nothing of it.
  virtual Status Append(LogBatch& batch) = 0;
  // Returns once every append that returned before the call is on disk,
  // with the flush session that says so: an append not durable when it
  // returned is confirmed only by a Flush() that answers its
  // LogBatch::flush_session (another means the database may have restarted
  // since it committed, and lost it). An error when nothing can be
  // confirmed (the database went away). Thread-safe: called beside the
  // single writer, on a thread of its own.
  virtual Result<int64_t> Flush() = 0;
  // What the store would do to `request` in Append that depends on nothing
  // shared, done beforehand on the caller's thread so that the one writer
  // need not (on SQLite: compressing the body). Thread-safe; cannot fail.
  virtual void Prepare(StoredRequest& request) const {}
  // The devices the database knows, and those first heard after `since`
  // (what every instance on a shared database registered).
  virtual Result<RegistrationTally> Registrations(TimeMs since) = 0;
};

// The projection's face: the projector (ingest/projector.h) reads the log
// behind its position and writes what the fold made of it.
class ProjectionStore {
 public:
  virtual ~ProjectionStore() = default;
  // The last event id folded into the stored projection (0: none).
  virtual Result<int64_t> ProjectedPosition() = 0;
  // Attributes a session to a person, apart from the log (survives
  // rebuild), durably. Sessions read back carry it in `user`. kNotFound for
  // an unknown session. An empty `user` removes the attribution. A write to
  // the ledger, so it is the projector's, made on its thread.
  virtual Status SetSessionUser(int64_t id, const std::string& user) = 0;
  // Up to `limit` logged events with id > after_id, in id order.
  virtual Result<std::vector<LoggedEvent>> ReadLog(int64_t after_id,
                                                   int limit) = 0;
  // The device's foldable events (not duplicate, not test) with key > after
  // (all when nullopt) and id <= up_to_id, sorted by key.
  virtual Result<std::vector<Event>> FoldableEvents(
      const std::string& device, std::optional<EventKey> after,
      int64_t up_to_id) = 0;
  // The stored session links (event id -> session id) of the device's
  // events with key > after (all when nullopt) and id <= up_to_id: what a
  // re-fold of those events compares its links with, so that it writes only
  // the ones that changed.
  virtual Result<std::map<int64_t, int64_t>> StoredLinks(
      const std::string& device, std::optional<EventKey> after,
      int64_t up_to_id) = 0;
  // Each device with a foldable event (not duplicate, not test) of id in
  // (after_id, up_to_id], with the greatest such id: the printers whose
  // ledger those events changed (another instance folded them).
  virtual Result<std::map<std::string, int64_t, std::less<>>> FoldedDevices(
      int64_t after_id, int64_t up_to_id) = 0;
  // The device's sessions that closed to idle (idle_after) with closed_by <
  // before, the latest one only (what RefoldPoint needs).
  virtual Result<std::optional<Session>> LastIdleSessionBefore(
      const std::string& device, EventKey before) = 0;
  // The device's kept pictures of events with id <= up_to that a newer
  // picture may make redundant: its latest one, and every one linked to a
  // session of `sessions` or to the latest one's session.
  virtual Result<std::vector<KeptPicture>> KeptPictures(
      const std::string& device, const std::vector<int64_t>& sessions,
      int64_t up_to) = 0;
  // Commits `batch` and its position as one transaction. It need not be
  // durable at once: a projection lost to a power cut is folded again from
  // the stored position.
  virtual Status CommitProjection(const ProjectionBatch& batch) = 0;
  // Whether this process should fold the projection now. With several
  // instances on one database one folds at a time: the holder of a lock
  // that ends with its connection, so that when it dies another takes over
  // by itself, from the stored position. The others take its ledger as it
  // is (Projector::Follow). It saves work only: a step from a stale
  // position is refused (kConflict) whoever holds the lock. A lone writer
  // (SQLite) always leads. An error when the database cannot be reached.
  virtual Result<bool> LeadProjection() { return true; }
};

// The readers' face: the API, the metrics, the CLI's reports. Safe from any
// number of threads at once.
class LedgerReader {
 public:
  virtual ~LedgerReader() = default;
  // Storage readable and, as far as can be told without writing, writable
  // (readyz); the error says what is wrong and what to do.
  virtual Status Ping() = 0;
  virtual Result<ProjectionLag> Lag() = 0;
  // The projection's device states, by device (the open session carries
  // its attributed user, like every session read back).
  Result<std::vector<DeviceState>> LoadDeviceStates() {
    return FindDeviceStates({});
  }
  // Those of the states `filter` chooses, by device.
  virtual Result<std::vector<DeviceState>> FindDeviceStates(
      const DeviceStateFilter& filter) = 0;
  virtual Result<std::vector<DeviceRecord>> LoadDevices() = 0;  // by device
  // The records of those of `devices` that are registered, by device.
  virtual Result<std::vector<DeviceRecord>> FindDevices(
      const std::vector<std::string>& devices) = 0;
  virtual Result<int64_t> CountDevices() = 0;  // registered printers
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
  // The picture that came with an event (stored apart, or for an event
  // stored before pictures were, read out of its request); nullopt when
  // none came or no such event. kNotFound, saying so, when one came but the
  // retention rule did not keep it.
  virtual Result<std::optional<Snapshot>> GetSnapshot(int64_t event_id) = 0;
  // Counts of the stored requests with id > after_id (see RequestTally).
  // Stores that cannot count answer kUnavailable.
  virtual Result<RequestTally> CountRequests(int64_t after_id) {
    return Unavailable("this store cannot count the stored requests");
  }
  // Every recorded rate change (ledger.md s. 7, ledger/cost.h), any order.
  virtual Result<std::vector<RateChange>> LoadRateChanges() {
    return Unavailable("this store keeps no rate history");
  }
  // Every maintenance mark ("done", maintenance/maintenance.h), any order.
  virtual Result<std::vector<MaintenanceMark>> LoadMaintenanceMarks() {
    return Unavailable("this store keeps no maintenance marks");
  }
};

// Forwarding's face (forward/forwarder.h): reads the log with its requests
// behind each target's position, and keeps the positions. Safe from any
// thread; it never uses the single writer's connection, and its writes are
// small and need not be durable at once (a position lost to a power cut
// means events delivered again, never lost).
class ForwardStore {
 public:
  virtual ~ForwardStore() = default;
  // Up to `limit` logged events with id > after_id, in id order, each with
  // its request as received; a picture stored apart comes back with its
  // bytes in request->picture->bytes (empty when the retention rule let
  // them go).
  virtual Result<std::vector<EventRecord>> ReadRequests(int64_t after_id,
                                                        int limit) = 0;
  // The id of the last logged event (0: none), from any thread.
  virtual Result<int64_t> LogEnd() = 0;
  // Every target's stored position (the last event id delivered).
  virtual Result<std::map<std::string, int64_t, std::less<>>>
  ForwardPositions() = 0;
  // Sets `target`'s position to `to` if it is still `from` (nullopt: the
  // target has none yet): a compare-and-set, so that of several instances
  // on one database only one moves a position; the others get kConflict
  // and read it again.
  virtual Status SaveForwardPosition(const std::string& target,
                                     std::optional<int64_t> from,
                                     int64_t to) = 0;
  // The keys of the notices (e.g. `maintenance_due`) delivered to `target`,
  // as SaveForwardNotice recorded them.
  virtual Result<std::set<std::string>> ForwardNotices(
      const std::string& target) = 0;
  // Records that `target` answered 2xx to the notice `key` at `sent_at`
  // (ms); recording it again is no error. Durable once it returns.
  virtual Status SaveForwardNotice(const std::string& target,
                                   const std::string& key, TimeMs sent_at) = 0;
};

// One link of a rebuilt ledger: an event, its session and the event's time.
struct EventLink {
  int64_t event_id = 0;
  int64_t session_id = 0;
  TimeMs time = 0;
};

// A part of a rebuilt ledger: whole printers (a printer is never split
// between two parts). Sessions are written by id, a later version of an id
// winning, the open session of each state last (its latest version). Links
// too: the last one of an event wins.
struct LedgerPart {
  std::vector<Session> sessions;
  std::vector<EventLink> links;
  std::vector<DeviceState> device_states;
  bool empty() const {
    return sessions.empty() && links.empty() && device_states.empty();
  }
  void clear() {  // keeps the vectors' memory for the next part
    sessions.clear();
    links.clear();
    device_states.clear();
  }
};

// The whole ledger (sessions, device states, event -> session links)
// replaced in ONE transaction, written a part at a time so that memory does
// not grow with the log: `rebuild` adds each printer's fold as it goes. Until
// Commit() readers see the old ledger; destroyed without a Commit() (an
// error, a crash) nothing of it is stored, the old ledger stays. Manual
// attributions are not part of it and survive. A store may keep the parts
// on disk (SQLite, an empty ledger: temporary tables, sorted into place at
// the commit), or write only the rows that differ from the stored ledger
// (SQLite, a ledger with rows: rows_changed()).
class LedgerRewrite {
 public:
  virtual ~LedgerRewrite() = default;  // rolls back unless committed
  // Log rows whose decoded columns or duplicate flag change, in the same
  // transaction as the ledger that reads them so.
  virtual Status RewriteEvents(const std::vector<EventUpdate>& updates) = 0;
  virtual Status Add(const LedgerPart& part) = 0;
  // The new ledger replaces the old one, projected up to and including
  // event `position`. Once: afterwards every call fails.
  virtual Status Commit(int64_t position) = 0;
  // After Commit(): how many rows of the ledger (sessions, links, printer
  // states) were written or deleted, where the store wrote only those
  // that differed; nullopt where it wrote the whole ledger anew.
  virtual std::optional<int64_t> rows_changed() const { return std::nullopt; }
};

// Each session of `part` once, its latest version (the open session of a
// state is the newest), by id.
std::vector<const Session*> SessionsToWrite(const LedgerPart& part);

// A whole database: the faces, and what `rebuild` and the shell need.
class Store : public LogStore,
              public ProjectionStore,
              public LedgerReader,
              public ForwardStore {
 public:
  // Reserves `count` consecutive event ids and returns the first, for a
  // LogBatch that gives its ids (tests, a copied log).
  virtual Result<int64_t> AllocateEventIds(int64_t count) = 0;
  // Whether an earlier-logged event is a duplicate of `e` (ledger.md s. 3).
  virtual Result<bool> HasDuplicate(const Event& e) = 0;
  // Rebuild: every logged event in id order, its request included.
  virtual Status ForEachEvent(
      const std::function<Status(const EventRecord&)>& fn) = 0;
  // Rebuild's second pass: every logged event with id <= up_to_id, without
  // its request's bytes, ordered by device, then key (time, id): each
  // printer's events together, in the order the fold and the duplicate rule
  // take them. Read a chunk at a time, outside any transaction, so that the
  // process holds one chunk of the log and `fn` may write to the store.
  virtual Status ForEachEventByDevice(
      int64_t up_to_id,
      const std::function<Status(const LoggedEvent&)>& fn) = 0;
  // Rewrites logged events' decoded columns and duplicate flags in one
  // transaction (a newer decoder). An unknown id fails the whole call.
  virtual Status RewriteEvents(const std::vector<EventUpdate>& updates) = 0;
  // Rebuild's first pass: the logged requests (swept events left out), in
  // id order, that `decoder` may read otherwise than they are stored: those
  // another decoder read, or one not said, after the event up to which the
  // log was last checked with `decoder` (RecordDecoded). Every request when
  // `decoder` is 0. Read in chunks, like ForEachEvent.
  virtual Status ForEachEventToDecode(
      int64_t decoder, const std::function<Status(const EventRecord&)>& fn) = 0;
  // Records that every logged request up to event `up_to` reads as stored
  // with `decoder` (rebuild, after its first pass). Durable once it returns.
  virtual Status RecordDecoded(int64_t decoder, int64_t up_to) = 0;
  // Starts replacing the whole ledger (`rebuild`): see LedgerRewrite. Holds
  // the database's write transaction until it is committed or destroyed.
  virtual Result<std::unique_ptr<LedgerRewrite>> RewriteLedger() = 0;
  // Every manual attribution (session id, person), by session id.
  virtual Result<std::vector<std::pair<int64_t, std::string>>>
  LoadAttributions() = 0;
  // Records rate changes in one transaction (an entry for a device and time
  // already recorded is replaced). Apart from the log: `rebuild` keeps it.
  // Safe from any thread and command; kUnavailable when the database cannot
  // be written (a read-only file).
  virtual Status RecordRateChanges(const std::vector<RateChange>& changes) {
    return Unavailable("this store keeps no rate history");
  }
  // Records that an item was serviced (a mark for the same device, item and
  // done_at replaces it). Apart from the log: `rebuild` keeps it. Safe from
  // any thread and command, beside the single writer, as RecordRateChanges:
  // no appended or projected row depends on a mark, so it needs no order
  // with the writer's transactions (SQLite: its own short connection waits
  // for the writer's lock; PostgreSQL: its own transaction). kUnavailable
  // when the database cannot be written.
  virtual Status RecordMaintenanceMark(const MaintenanceMark& mark) {
    return Unavailable("this store keeps no maintenance marks");
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
  // SQLite, with `writer` (serve): a webhook's answer waits for an append
  // to a journal file beside the database ("<path>-appends",
  // store/append_journal.h) instead of a commit of the database; the
  // appends are moved into the database behind the answers, before the
  // projector reads them. Any writer that opens the database first moves
  // what a crash left in the journal, with or without this.
  bool append_journal = false;
};

// `url` fit for a log line or a message: the password of a URL with an
// authority (PostgreSQL's, or a mistyped one: in its user info, or a
// `password=` parameter) shown as "****".
std::string RedactedUrl(std::string_view url);

// Opens the store named by a --db URL: "sqlite:PATH" (created when missing,
// migrated to the current schema, unless options.read_only; a database from
// a newer printmeter is refused with kConflict) or "postgresql://..." when
// built with it.
Result<std::unique_ptr<Store>> OpenStore(const std::string& url);
Result<std::unique_ptr<Store>> OpenStore(const std::string& url,
                                         const OpenOptions& options);

}  // namespace pm

// SqliteStore: the embedded Store (store.h) on one SQLite file.
//
// The file is in WAL mode. The log's appends commit with synchronous=FULL, so
// an Append() that returned ok survives a power cut; the projection commits
// with synchronous=NORMAL (its frames reach the disk with the next durable
// commit or checkpoint, and one lost to a power cut is folded again from its
// position). Opened with OpenOptions::append_journal (serve), the writer's
// appends go to an AppendJournal beside the file instead and are moved into
// the log before the projector reads it (sqlite_journal.cc); the log's
// readers see them once moved, the writer's own lookups at once.
// Readers never block the writer. The log's face (LogStore) runs on the
// appending thread's connection and the projection's face (ProjectionStore)
// on the projector's, so the two faces may be used at once from one thread
// each (ingest/writer.h); their write transactions take turns on a mutex.
// Read methods lease a connection from a small pool, one per concurrent
// reader thread. Every connection caches its prepared statements.
//
// A store opened as a writer checkpoints on a background thread (see
// Checkpointer in sqlite_store.cc): never on the request path.
//
// The code is split by job: sqlite_store.cc opens, pools and checkpoints;
// sqlite_log.cc appends (LogStore, rebuild's rewrites); sqlite_journal.cc
// the appends answered from the journal; sqlite_projection.cc
// is the projector's (ProjectionStore); sqlite_read.cc the readers'
// (LedgerReader); sqlite_rows.* maps rows to structs; schema.cc migrates.
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "store/append_journal.h"
#include "store/journal_record.h"
#include "store/sqlite_db.h"
#include "store/store.h"
#include "store/writer_lock.h"

namespace pm {

namespace sqlite {

// When the background checkpoint copies the WAL into the database file
// (SqliteStore's Checkpointer looks once a second): when the WAL holds
// kFrames frames the previous checkpoint did not see, or kAfter after it
// when any frame came since. A Raspberry Pi's card then gets a page that
// many webhooks change (an open print's session, a printer's state, the
// index leaves they share) written to the database file once every few
// seconds at a makerspace's pace, instead of once a second: at 5 webhooks
// a second, 1.9 KiB of checkpoint writes a webhook instead of 9.5. Under
// load nothing changes: kFrames come in well under a second.
struct CheckpointSchedule {
  static constexpr int64_t kFrames = 1024;  // 4 MiB of 4 KiB pages
  static constexpr std::chrono::seconds kAfter{30};
  // `frames`: in the WAL now; `seen`: in it at the previous checkpoint (a
  // WAL started over since holds fewer: all of them are new); `since`: how
  // long ago that was.
  static bool Due(int64_t frames, int64_t seen,
                  std::chrono::steady_clock::duration since) {
    int64_t fresh = frames < seen ? frames : frames - seen;
    return fresh >= kFrames || (fresh > 0 && since >= kAfter);
  }
};

}  // namespace sqlite

class SqliteStore final : public Store {
 public:
  // Opens (creating when missing) and migrates the database at `path`.
  // With options.writer, first takes the writer lock (store.h, OpenOptions):
  // kConflict while another writer holds it.
  static Result<std::unique_ptr<SqliteStore>> Open(const std::string& path);
  static Result<std::unique_ptr<SqliteStore>> Open(const std::string& path,
                                                   const OpenOptions& options);
  ~SqliteStore() override;

  // --- LogStore (sqlite_log.cc) ---
  Result<int64_t> LastEventId() override;
  Status Append(LogBatch& batch) override;
  // Nothing to wait for: an append is on disk when it returns (its journal
  // record is flushed, or its transaction committed with synchronous=FULL).
  Result<int64_t> Flush() override { return int64_t{0}; }
  void Prepare(StoredRequest& request) const override;
  Result<RegistrationTally> Registrations(TimeMs since) override;

  // --- ProjectionStore (sqlite_projection.cc) ---
  Result<int64_t> ProjectedPosition() override;
  Status SetSessionUser(int64_t id, const std::string& user) override;
  Result<std::vector<LoggedEvent>> ReadLog(int64_t after_id,
                                           int limit) override;
  Result<std::vector<Event>> FoldableEvents(const std::string& device,
                                            std::optional<EventKey> after,
                                            int64_t up_to_id) override;
  Result<std::map<std::string, int64_t, std::less<>>> FoldedDevices(
      int64_t after_id, int64_t up_to_id) override;
  Result<std::map<int64_t, int64_t>> StoredLinks(
      const std::string& device, std::optional<EventKey> after,
      int64_t up_to_id) override;
  Result<std::optional<Session>> LastIdleSessionBefore(
      const std::string& device, EventKey before) override;
  // Through pictures_device (the latest) and event_sessions_session.
  Result<std::vector<KeptPicture>> KeptPictures(
      const std::string& device, const std::vector<int64_t>& sessions,
      int64_t up_to) override;
  Status CommitProjection(const ProjectionBatch& batch) override;

  // --- LedgerReader (sqlite_read.cc) ---
  Status Ping() override;
  Result<ProjectionLag> Lag() override;
  Result<std::vector<DeviceState>> FindDeviceStates(
      const DeviceStateFilter& filter) override;
  Result<std::vector<DeviceRecord>> LoadDevices() override;
  Result<std::vector<DeviceRecord>> FindDevices(
      const std::vector<std::string>& devices) override;
  Result<int64_t> CountDevices() override;  // by device
  Result<std::vector<Session>> ListSessions(const SessionPageQuery& q) override;
  Result<std::optional<Session>> GetSession(int64_t id) override;
  Result<std::vector<EventView>> SessionEvents(int64_t id) override;
  // Keyset paging on the event_sessions_session index.
  Result<std::vector<EventView>> SessionEventsPage(
      const SessionEventsQuery& q) override;
  Result<std::vector<EventView>> ListEvents(const EventPageQuery& q) override;
  // Also returns sessions that started within [from, to) and lasted no time.
  Result<std::vector<Session>> SessionsOverlapping(TimeMs from,
                                                   TimeMs to) override;
  Result<std::optional<Snapshot>> GetSnapshot(int64_t event_id) override;
  // A range scan of the events' primary key from after_id.
  Result<RequestTally> CountRequests(int64_t after_id) override;
  // sqlite_rates.cc. Recording opens its own short-lived connection that
  // may write, also in a read-only store (and fails when the file is not
  // writable).
  Result<std::vector<RateChange>> LoadRateChanges() override;
  Status RecordRateChanges(const std::vector<RateChange>& changes) override;
  // sqlite_marks.cc; recording as RecordRateChanges does.
  Result<std::vector<MaintenanceMark>> LoadMaintenanceMarks() override;
  Status RecordMaintenanceMark(const MaintenanceMark& mark) override;

  // --- Store (sqlite_log.cc) ---
  Result<int64_t> AllocateEventIds(int64_t count) override;
  // A resend carries the same currentTime as the original, so only earlier
  // events that also carried currentTime are compared against (through
  // events_device_time).
  Result<bool> HasDuplicate(const Event& e) override;
  Result<std::vector<std::pair<int64_t, std::string>>> LoadAttributions()
      override;

  // --- ForwardStore (sqlite_forward.cc) ---
  Result<std::vector<EventRecord>> ReadRequests(int64_t after_id,
                                                int limit) override;
  Result<int64_t> LogEnd() override;
  Result<std::map<std::string, int64_t, std::less<>>> ForwardPositions()
      override;
  Status SaveForwardPosition(const std::string& target,
                             std::optional<int64_t> from, int64_t to) override;
  Result<std::set<std::string>> ForwardNotices(
      const std::string& target) override;
  Status SaveForwardNotice(const std::string& target, const std::string& key,
                           TimeMs sent_at) override;

  // --- rebuild (sqlite_log.cc) ---
  // Reads in chunks, outside any transaction, so `fn` may write to the store.
  Status ForEachEvent(
      const std::function<Status(const EventRecord&)>& fn) override;
  Status ForEachEventByDevice(
      int64_t up_to_id,
      const std::function<Status(const LoggedEvent&)>& fn) override;
  Status RewriteEvents(const std::vector<EventUpdate>& updates) override;
  Status ForEachEventToDecode(
      int64_t decoder,
      const std::function<Status(const EventRecord&)>& fn) override;
  Status RecordDecoded(int64_t decoder, int64_t up_to) override;
  // In one write transaction on the projector's connection, holding the
  // write mutex until it is committed or destroyed (sqlite_projection.cc).
  Result<std::unique_ptr<LedgerRewrite>> RewriteLedger() override;

 private:
  // A pooled reader connection, returned to the pool when destroyed.
  class Lease {
   public:
    Lease(SqliteStore* store, std::unique_ptr<sqlite::Connection> conn)
        : store_(store), conn_(std::move(conn)) {}
    Lease(Lease&& other) noexcept = default;
    ~Lease();
    sqlite::Connection& operator*() { return *conn_; }
    sqlite::Connection* operator->() { return conn_.get(); }

   private:
    SqliteStore* store_;
    std::unique_ptr<sqlite::Connection> conn_;
  };
  class Checkpointer;  // the background checkpoint thread
  class LedgerRewriter;  // RewriteLedger's (sqlite_projection.cc)

  SqliteStore(std::string path, std::unique_ptr<sqlite::Connection> writer);

  // With options.read_only: the file exists and is at the current schema.
  static Result<std::unique_ptr<SqliteStore>> OpenReadOnly(
      const std::string& path);
  Result<Lease> Reader();
  // ForEachEvent's reading of the rows after `after`, narrowed by
  // `condition` ("AND ...", its `?`s bound to `params` in order)
  // (sqlite_log.cc).
  Status ForEachEventWhere(const std::string& condition,
                           const std::vector<int64_t>& params, int64_t after,
                           const std::function<Status(const EventRecord&)>& fn);
  // Runs `body` in BEGIN IMMEDIATE ... COMMIT on `conn`, rolling back when
  // it fails, holding write_mutex_; `durable`: the commit is fsynced
  // (synchronous=FULL) before this returns, else NORMAL. Every write of
  // this process goes through here (writer_, projector_, and the side
  // writes on a reader's or their own connection: forwarding positions and
  // notices, maintenance marks, rates), so that they take turns on the
  // mutex: under appends that never pause, SQLite's busy handler (which
  // sleeps in steps of up to 100 ms and retries) held a forwarding
  // position's save for seconds and the target got ~100 events/s.
  Status WriteTransaction(sqlite::Connection& conn, bool durable,
                          const std::function<Status()>& body);
  Status ProjectInTransaction(const ProjectionBatch& batch);

  // --- The append journal (sqlite_journal.cc) ---
  // Appends answered from the journal and not yet in the database, oldest
  // first; each moved in one transaction with the others pending.
  struct Pending {
    // The journal's record, as written: what MovePending inserts (decoded
    // again, as after a crash), kept encoded (~1.2 KB a webhook).
    std::string record;
    std::vector<std::pair<int64_t, TimeMs>> events;  // id, received_at
    std::vector<std::string> keys;          // DuplicateKey of each event
    std::vector<DeviceRecord> devices;      // its registrations
    std::vector<std::string> new_devices;   // of them, not stored before
    int segment = 0;                        // of the journal it is in
  };
  // Inserts a journal record's events and registrations on `conn`, inside
  // a transaction.
  Status InsertJournaled(sqlite::Connection& conn, const journal::Batch& b);
  // Opens the journal at "<path>-appends" (made when `make`), moves what it
  // holds beyond the log into the database and starts a new lap. Without
  // `make` and no file: nothing.
  Status OpenJournal(bool make);
  // Renames the journal at `path`, which holds `records` of another
  // database, to "<path>.other-N", and makes a new one for `owner`.
  Result<std::unique_ptr<AppendJournal>> SetJournalAside(
      const std::string& path, int64_t records, const std::string& owner);
  // Append() through the journal: false in `taken` when the batch is not
  // for it (ids given, too large), to be appended to the database instead.
  Status JournalAppend(LogBatch& batch, bool& taken);
  // Moves every pending append into the database on `conn` (durably), then
  // forgets them. Serialized by move_mutex_.
  Status MovePending(sqlite::Connection& conn);
  // The request's body as the log keeps it: as Prepare made it, else made
  // now.
  static CompressedBody StoredBodyOf(const StoredRequest& request);
  // What a lookup of the writer needs of the pending appends.
  bool PendingHasDuplicate(const Event& e);
  // The device's pending registration merged as the database would store
  // it: nullopt when no pending append registers it.
  std::optional<DeviceRecord> PendingDevice(const std::string& device);
  // Keeps the WAL from growing without end under appends that never pause
  // (sqlite_projection.cc; after each projection commit).
  void BoundWal();

  const std::string path_;
  std::optional<WriterLock> lock_;              // held for the store's life
  std::unique_ptr<sqlite::Connection> writer_;  // the appending thread's
  // The projector's (ProjectionStore, SetSessionUser): its own connection
  // in a writable store, writer_ in a read-only one.
  std::unique_ptr<sqlite::Connection> projector_owned_;
  sqlite::Connection* projector_;
  std::mutex write_mutex_;  // held by each write transaction
  int64_t next_event_id_ = 1;                   // the writer's
  bool read_only_ = false;  // every connection opened read-only

  std::unique_ptr<AppendJournal> journal_;  // the appending thread's
  std::mutex move_mutex_;                   // held by MovePending
  std::mutex pending_mutex_;
  std::deque<std::shared_ptr<const Pending>> pending_;  // guarded
  // Guarded, kept with pending_ (a lookup per request must not walk it):
  // the duplicate keys of its events (DuplicateKey in sqlite_journal.cc)
  // and its registrations merged by device, each with how many pending
  // appends hold it.
  std::unordered_map<std::string, int> pending_keys_;
  std::unordered_map<std::string, std::pair<DeviceRecord, int>>
      pending_devices_;
  // Adds to / removes from the two above (pending_mutex_ held).
  void IndexPending(const Pending& p);
  void UnindexPending(const Pending& p);

  std::mutex pool_mutex_;
  std::vector<std::unique_ptr<sqlite::Connection>> idle_readers_;  // guarded

  std::unique_ptr<Checkpointer> checkpointer_;  // writers only; last member
};

}  // namespace pm

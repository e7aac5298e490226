// PgStore: the Store (store.h) on a PostgreSQL database shared by several
// printmeter instances (a print farm). PostgreSQL is the one truth: its
// transactions, constraints and locks decide what several instances must
// agree on; printmeter adds no clustering of its own.
//
// - Appends are serialized by the row lock on `log_head`, taken in the
//   append's transaction and held until its commit: ids are assigned in
//   commit order, so the projector, which reads the log by id, never passes
//   an id another instance is still committing. Duplicates are decided in
//   that transaction against the committed log (ledger.md s. 3), on every
//   instance alike. Registrations (tofu) are upserts that never replace a
//   stored secret: the first one committed wins, and a batch that lost one
//   learns it (LogBatch::lost).
// - Event ids come from `log_head`, session ids are their opening event's:
//   global, and stable across rebuilds.
// - The projection (sessions, device states, links, position) is written
//   in one transaction per step, like on SQLite.
// - The database away: every call answers kUnavailable naming the server;
//   a dropped connection is re-established by the next call.
//
// The log's face (LogStore) and the projection's (ProjectionStore) use a
// connection each, so that one thread may append while another folds
// (ingest/writer.h); readers lease one from a small pool.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "store/pg_db.h"
#include "store/store.h"

namespace pm {

class PgStore final : public Store {
 public:
  // Connects to `url`, creates or migrates the schema (in one transaction
  // under an advisory lock, so that instances starting together agree); a
  // database from a newer printmeter is refused with kConflict.
  static Result<std::unique_ptr<PgStore>> Open(const std::string& url,
                                               const OpenOptions& options);
  ~PgStore() override;

  // --- LogStore ---
  Result<int64_t> LastEventId() override;
  Status Append(LogBatch& batch) override;
  Result<int64_t> Flush() override;
  Result<RegistrationTally> Registrations(TimeMs since) override;

  // --- ProjectionStore ---
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
  Result<std::vector<KeptPicture>> KeptPictures(
      const std::string& device, const std::vector<int64_t>& sessions,
      int64_t up_to) override;
  Status CommitProjection(const ProjectionBatch& batch) override;
  Result<bool> LeadProjection() override;

  // --- LedgerReader ---
  Status Ping() override;
  Result<ProjectionLag> Lag() override;
  Result<std::vector<DeviceState>> FindDeviceStates(
      const DeviceStateFilter& filter) override;
  Result<std::vector<DeviceRecord>> LoadDevices() override;
  Result<std::vector<DeviceRecord>> FindDevices(
      const std::vector<std::string>& devices) override;
  Result<int64_t> CountDevices() override;
  Result<std::vector<Session>> ListSessions(const SessionPageQuery& q) override;
  Result<std::optional<Session>> GetSession(int64_t id) override;
  Result<std::vector<EventView>> SessionEvents(int64_t id) override;
  Result<std::vector<EventView>> SessionEventsPage(
      const SessionEventsQuery& q) override;
  Result<std::vector<EventView>> ListEvents(const EventPageQuery& q) override;
  Result<std::vector<Session>> SessionsOverlapping(TimeMs from,
                                                   TimeMs to) override;
  Result<std::optional<Snapshot>> GetSnapshot(int64_t event_id) override;
  Result<RequestTally> CountRequests(int64_t after_id) override;
  Result<std::vector<RateChange>> LoadRateChanges() override;
  Status RecordRateChanges(const std::vector<RateChange>& changes) override;
  Result<std::vector<MaintenanceMark>> LoadMaintenanceMarks() override;
  Status RecordMaintenanceMark(const MaintenanceMark& mark) override;

  // --- Store ---
  Result<int64_t> AllocateEventIds(int64_t count) override;
  Result<bool> HasDuplicate(const Event& e) override;
  Result<std::vector<std::pair<int64_t, std::string>>> LoadAttributions()
      override;
  // --- ForwardStore (on a pooled reader connection) ---
  Result<std::vector<EventRecord>> ReadRequests(int64_t after_id,
                                                int limit) override;
  Result<int64_t> LogEnd() override;
  Result<std::map<std::string, int64_t, std::less<>>> ForwardPositions()
      override;
  // Several instances may deliver to one target: the compare-and-set lets
  // one of them move the position; see forward/forwarder.h for what the
  // receiver then sees (repeats it can drop by X-Printmeter-Event).
  Status SaveForwardPosition(const std::string& target,
                             std::optional<int64_t> from, int64_t to) override;
  Result<std::set<std::string>> ForwardNotices(
      const std::string& target) override;
  Status SaveForwardNotice(const std::string& target, const std::string& key,
                           TimeMs sent_at) override;

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
  // One transaction on the projector's connection, each part sent in
  // pipelines (pg_store.cc).
  Result<std::unique_ptr<LedgerRewrite>> RewriteLedger() override;

 private:
  class LedgerRewriter;
  class Lease;
  PgStore(std::string url, std::unique_ptr<pg::Connection> writer,
          std::unique_ptr<pg::Connection> projector);
  Result<Lease> Reader();
  // ForEachEvent's reading, the rows narrowed by `condition` ("AND ...",
  // its `?`s bound to `params` in order).
  Status ForEachEventWhere(const std::string& condition,
                           const std::vector<int64_t>& params,
                           const std::function<Status(const EventRecord&)>& fn);
  // Append's two ways (pg_store.cc): false when a registration was lost.
  Result<bool> AppendPipelined(LogBatch& batch);
  Status AppendStepByStep(LogBatch& batch);
  // Runs `body` in BEGIN ... COMMIT on `conn`, rolling back when it fails.
  Status Transaction(pg::Connection& conn, const std::function<Status()>& body);
  Status ProjectInTransaction(const ProjectionBatch& batch);
  Result<bool> HasDuplicateOn(pg::Connection& conn, const Event& e);
  // The flusher's session an append made now can be confirmed by (Flush),
  // its connection opened on first use.
  Result<int64_t> FlushSession();

  const std::string url_;
  std::unique_ptr<pg::Connection> writer_;  // LogStore: the appending thread's
  // ProjectionStore (and SetSessionUser): the projector's thread's.
  std::unique_ptr<pg::Connection> projector_;
  // The projection lead (LeadProjection): a session advisory lock held on a
  // connection of its own, checked at most once a second. Used by the
  // projector's thread only.
  std::unique_ptr<pg::Connection> lead_;
  bool leading_ = false;
  std::chrono::steady_clock::time_point lead_checked_{};
  // Flush(): a connection of its own, opened by the first append that
  // leaves its flush apart, and the session of it that last flushed (0:
  // not opened yet).
  std::mutex flush_mutex_;
  std::unique_ptr<pg::Connection> flusher_;  // guarded by flush_mutex_
  std::atomic<int64_t> flush_session_{0};
  std::mutex pool_mutex_;
  std::vector<std::unique_ptr<pg::Connection>> idle_readers_;  // guarded
};

}  // namespace pm

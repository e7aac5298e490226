// SqliteStore: the embedded Store (store.h) on one SQLite file.
//
// The file is in WAL mode with synchronous=FULL, so a Commit() that returned
// ok survives a power cut, and readers never block the writer. The writer's
// methods run on one connection owned by the single writer; read methods
// lease a connection from a small pool, one per concurrent reader thread.
// Every connection caches its prepared statements.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "store/sqlite_db.h"
#include "store/store.h"
#include "store/writer_lock.h"

namespace pm {

class SqliteStore final : public Store {
 public:
  // Opens (creating when missing) and migrates the database at `path`.
  // With options.writer, first takes the writer lock (store.h, OpenOptions):
  // kConflict while another writer holds it.
  static Result<std::unique_ptr<SqliteStore>> Open(const std::string& path);
  static Result<std::unique_ptr<SqliteStore>> Open(const std::string& path,
                                                   const OpenOptions& options);
  ~SqliteStore() override;

  Result<int64_t> AllocateEventIds(int64_t count) override;
  // A resend carries the same currentTime as the original, so only earlier
  // events that also carried currentTime are compared against.
  Result<bool> HasDuplicate(const Event& e) override;
  Result<std::vector<Event>> FoldableEvents(
      const std::string& device, std::optional<EventKey> after) override;
  Result<std::optional<Session>> LastIdleSessionBefore(
      const std::string& device, EventKey before) override;
  // Safe from reader threads too. An open session carries its attributed
  // user, like every session read back.
  Result<std::vector<DeviceState>> LoadDeviceStates() override;
  Result<std::vector<DeviceRecord>> LoadDevices() override;  // by device
  Status Commit(const WriteBatch& batch) override;

  // Reads in chunks, outside any transaction, so `fn` may write to the store.
  Status ForEachEvent(
      const std::function<Status(const EventRecord&)>& fn) override;
  Status ResetLedger() override;

  Status Ping() override;
  Result<std::vector<Session>> ListSessions(const SessionPageQuery& q) override;
  Result<std::optional<Session>> GetSession(int64_t id) override;
  Result<std::vector<EventView>> SessionEvents(int64_t id) override;
  // Keyset paging on the events_session index.
  Result<std::vector<EventView>> SessionEventsPage(
      const SessionEventsQuery& q) override;
  Result<std::vector<EventView>> ListEvents(const EventPageQuery& q) override;
  // Also returns sessions that started within [from, to) and lasted no time.
  Result<std::vector<Session>> SessionsOverlapping(TimeMs from,
                                                   TimeMs to) override;
  // An empty `user` removes the attribution.
  Status SetSessionUser(int64_t id, const std::string& user) override;
  Result<std::optional<Snapshot>> GetSnapshot(int64_t event_id) override;
  // A range scan of the events' primary key from after_id.
  Result<RequestTally> CountRequests(int64_t after_id) override;
  // sqlite_rates.cc. Recording opens its own short-lived connection that
  // may write, also in a read-only store (and fails when the file is not
  // writable).
  Result<std::vector<RateChange>> LoadRateChanges() override;
  Status RecordRateChanges(const std::vector<RateChange>& changes) override;

 private:
  class Lease;  // a pooled reader connection, returned when destroyed

  SqliteStore(std::string path, std::unique_ptr<sqlite::Connection> writer)
      : path_(std::move(path)), writer_(std::move(writer)) {}

  // With options.read_only: the file exists and is at the current schema.
  static Result<std::unique_ptr<SqliteStore>> OpenReadOnly(
      const std::string& path);
  Result<Lease> Reader();
  Status CommitInTransaction(const WriteBatch& batch);

  const std::string path_;
  std::optional<WriterLock> lock_;              // held for the store's life
  std::unique_ptr<sqlite::Connection> writer_;  // the single writer's
  int64_t next_event_id_ = 1;                   // the writer's
  bool read_only_ = false;  // every connection opened read-only

  std::mutex pool_mutex_;
  std::vector<std::unique_ptr<sqlite::Connection>> idle_readers_;  // guarded
};

}  // namespace pm

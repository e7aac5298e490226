// The projector's side of SqliteStore: reading the log behind the
// projection's position and writing what the fold made of it, with the
// position, in one transaction.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <functional>
#include <limits>
#include <map>

#include "store/row_digest.h"
#include "store/row_mapping.h"
#include "store/sqlite_rows.h"
#include "store/sqlite_store.h"

namespace pm {

using sqlite::Connection;
using sqlite::Query;
using sqlite::BindSession;
using sqlite::EncodePauses;
using sqlite::RunOn;
using sqlite::StoredPrinterState;
using sqlite::StoredStatus;

namespace {

// The attributed user is copied from session_users on every upsert, so that
// it survives a reset of the projection and a rebuild.
// A new session (rebuild: each written once, into its scratch table).
// The columns BindSession binds, in its order, then attributed_user.
#define PM_SESSION_COLUMNS                                                    \
  "id, device, status, started_at, ended_at, "                                \
  "last_event_at, pauses, pause_started_at, file_name, file_path, "           \
  "file_display, file_origin, file_size, user, progress_pct, "                \
  "reported_time_s, estimated_s, job_filament_mm, job_filament_cm3, error, "  \
  "start_inferred, end_inferred, event_count, snapshot, opened_by_time, "     \
  "opened_by_id, closed_by_time, closed_by_id, idle_after, time_left_s, "     \
  "time_left_at, attributed_user"
constexpr const char* kInsertSession =
    "INSERT INTO sessions (" PM_SESSION_COLUMNS ") "
    "VALUES (?1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
    "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
    "(SELECT user FROM session_users WHERE session_id = ?1))";
const std::string kUpsertSession = std::string(kInsertSession) +
    " ON CONFLICT (id) DO UPDATE SET device = excluded.device, "
    "status = excluded.status, started_at = excluded.started_at, "
    "ended_at = excluded.ended_at, last_event_at = excluded.last_event_at, "
    "pauses = excluded.pauses, pause_started_at = excluded.pause_started_at, "
    "file_name = excluded.file_name, file_path = excluded.file_path, "
    "file_display = excluded.file_display, "
    "file_origin = excluded.file_origin, file_size = excluded.file_size, "
    "user = excluded.user, progress_pct = excluded.progress_pct, "
    "reported_time_s = excluded.reported_time_s, "
    "estimated_s = excluded.estimated_s, "
    "job_filament_mm = excluded.job_filament_mm, "
    "job_filament_cm3 = excluded.job_filament_cm3, error = excluded.error, "
    "start_inferred = excluded.start_inferred, "
    "end_inferred = excluded.end_inferred, "
    "event_count = excluded.event_count, snapshot = excluded.snapshot, "
    "opened_by_time = excluded.opened_by_time, "
    "opened_by_id = excluded.opened_by_id, "
    "closed_by_time = excluded.closed_by_time, "
    "closed_by_id = excluded.closed_by_id, idle_after = excluded.idle_after, "
    "time_left_s = excluded.time_left_s, time_left_at = excluded.time_left_at, "
    "attributed_user = excluded.attributed_user";

Status DeleteRefolded(Connection& conn, const ProjectionBatch::Refold& r) {
  if (!r.after) {
    return RunOn(conn, "DELETE FROM sessions WHERE device = ?",
                 [&r](Query& q) { q.Bind(r.device); });
  }
  return RunOn(conn,
               "DELETE FROM sessions WHERE device = ? AND "
               "(opened_by_time, opened_by_id) > (?, ?)",
               [&r](Query& q) {
                 q.Bind(r.device).Bind(r.after->time).Bind(r.after->id);
               });
}

// A session's new version when none of its indexed columns changed (an open
// print's progress, most of the writer's traffic): only the row is
// rewritten, in place, instead of the upsert's delete and insert through the
// unique index. Measured with bench/http_load: about 8 of the 70 KB written
// to the WAL and database for each webhook.
constexpr const char* kUpdateSessionRow =
    "UPDATE sessions SET last_event_at = ?, pauses = ?, pause_started_at = ?, "
    "file_name = ?, file_path = ?, file_display = ?, file_origin = ?, "
    "file_size = ?, progress_pct = ?, reported_time_s = ?, estimated_s = ?, "
    "job_filament_mm = ?, job_filament_cm3 = ?, error = ?, "
    "start_inferred = ?, end_inferred = ?, event_count = ?, snapshot = ?, "
    "time_left_s = ?, time_left_at = ? WHERE started_at = ? AND id = ? AND device = ? AND status = ? AND "
    "ended_at IS ? AND user IS ? AND opened_by_time = ? AND opened_by_id = ? "
    "AND closed_by_time IS ? AND closed_by_id IS ? AND idle_after = ?";

Result<bool> UpdateSessionRow(Connection& conn, const Session& s) {
  Status run = RunOn(conn, kUpdateSessionRow, [&s](Query& q) {
    q.Bind(s.last_event_at).Bind(EncodePauses(s.pauses));
    q.Bind(s.pause_started_at).Bind(s.file.name).Bind(s.file.path);
    q.Bind(s.file.display).Bind(s.file.origin).Bind(s.file.size);
    q.Bind(s.progress_pct).Bind(s.reported_time_s).Bind(s.estimated_s);
    q.Bind(s.job_filament_mm).Bind(s.job_filament_cm3).Bind(s.error);
    q.Bind(s.start_inferred).Bind(s.end_inferred).Bind(s.event_count);
    q.Bind(s.snapshot).Bind(s.time_left_s).Bind(s.time_left_at);
    q.Bind(s.started_at).Bind(s.id).Bind(s.device);
    q.Bind(StoredStatus(s.status)).Bind(s.ended_at).Bind(s.user);
    q.Bind(s.opened_by.time).Bind(s.opened_by.id);
    if (s.closed_by) {
      q.Bind(s.closed_by->time).Bind(s.closed_by->id);
    } else {
      q.BindNull().BindNull();
    }
    q.Bind(s.idle_after);
  });
  if (!run.ok()) return run.error();
  return conn.Changes() == 1;
}

Status UpsertSession(Connection& conn, const Session& s) {
  Result<bool> updated = UpdateSessionRow(conn, s);
  if (!updated.ok()) return updated.error();
  if (*updated) return {};
  return RunOn(conn, kUpsertSession, [&s](Query& q) { BindSession(q, s); });
}

#define PM_DEVICE_STATE_COLUMNS                                            \
  "device, state, open_session_id, needs_attention, last_applied_time, "    \
  "last_applied_id, last_topic, last_error"

Status UpsertDeviceState(Connection& conn, const DeviceState& d) {
  return RunOn(conn,
               "INSERT OR REPLACE INTO device_states (" PM_DEVICE_STATE_COLUMNS
               ") VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
               [&d](Query& q) { rows::BindDeviceState(q, d); });
}

Status LinkEvent(Connection& conn, int64_t event_id,
                 std::optional<int64_t> session_id) {
  if (!session_id) {
    return RunOn(conn, "DELETE FROM event_sessions WHERE event_id = ?",
                 [&](Query& q) { q.Bind(event_id); });
  }
  return RunOn(conn,
               "INSERT OR REPLACE INTO event_sessions (event_id, session_id, "
               "time) VALUES (?1, ?2, (SELECT time FROM events WHERE id = ?1))",
               [&](Query& q) { q.Bind(event_id).Bind(*session_id); });
}

// A projector step: what it changed, upserted row by row.
Status UpsertProjection(Connection& conn, const ProjectionBatch& batch) {
  for (const ProjectionBatch::Refold& r : batch.refolds) {
    if (Status s = DeleteRefolded(conn, r); !s.ok()) return s;
  }
  for (const Session& session : batch.sessions) {
    if (Status s = UpsertSession(conn, session); !s.ok()) return s;
  }
  for (const auto& [event_id, session_id] : batch.event_sessions) {
    if (Status s = LinkEvent(conn, event_id, session_id); !s.ok()) return s;
  }
  for (const Session* open : OpenSessionsToWrite(batch)) {
    if (Status s = UpsertSession(conn, *open); !s.ok()) return s;
  }
  for (const DeviceState& d : batch.device_states) {
    if (Status s = UpsertDeviceState(conn, d); !s.ok()) return s;
  }
  return {};
}

}  // namespace

Result<int64_t> SqliteStore::ProjectedPosition() {
  return sqlite::Single<int64_t>(
      *projector_, "SELECT coalesce(max(position), 0) + ? FROM projection", 0,
      [](Query& q) { return q.Int(); }, 0);
}

Result<std::vector<LoggedEvent>> SqliteStore::ReadLog(int64_t after_id,
                                                      int limit) {
  static const std::string kSql = fmt::format(
      "SELECT {}, {} FROM events WHERE id > ? ORDER BY id LIMIT ?",
      sqlite::EventColumns(""), rows::kLoggedEventColumns);
  // The appends answered from the journal first: the ledger must not pass
  // an event the database does not have.
  if (journal_) {
    if (Status s = MovePending(*projector_); !s.ok()) {
      return Unavailable(fmt::format(
          "cannot move the answered webhooks into the database: {}",
          s.error().message));
    }
  }
  sqlite::Sql sql{kSql, {after_id, int64_t{limit}}};
  std::vector<LoggedEvent> out;
  Status s = sqlite::Collect(*projector_, sql,
                             rows::ReadLoggedEvent<Query>, out);
  if (!s.ok()) return s.error();
  return out;
}

Result<std::vector<Event>> SqliteStore::FoldableEvents(
    const std::string& device, std::optional<EventKey> after,
    int64_t up_to_id) {
  static const std::string kAll = fmt::format(
      "SELECT {} FROM events WHERE device = ? AND id <= ? AND duplicate = 0 "
      "AND test = 0 ORDER BY time, id",
      sqlite::EventColumns(""));
  static const std::string kAfter = fmt::format(
      "SELECT {} FROM events WHERE device = ? AND id <= ? AND duplicate = 0 "
      "AND test = 0 AND (time, id) > (?, ?) ORDER BY time, id",
      sqlite::EventColumns(""));
  sqlite::Sql sql{after ? kAfter : kAll, {device, up_to_id}};
  if (after) {
    sql.params.emplace_back(after->time);
    sql.params.emplace_back(after->id);
  }
  std::vector<Event> events;
  if (Status s = sqlite::Collect(*projector_, sql, sqlite::ReadEvent, events);
      !s.ok()) {
    return s.error();
  }
  return events;
}

Result<std::map<int64_t, int64_t>> SqliteStore::StoredLinks(
    const std::string& device, std::optional<EventKey> after,
    int64_t up_to_id) {
  // Through events_device_time, as FoldableEvents.
  static const std::string kAll =
      "SELECT l.event_id, l.session_id FROM events e JOIN event_sessions l ON "
      "l.event_id = e.id WHERE e.device = ? AND e.id <= ?";
  static const std::string kAfter = kAll + " AND (e.time, e.id) > (?, ?)";
  sqlite::Sql sql{after ? kAfter : kAll, {device, up_to_id}};
  if (after) {
    sql.params.emplace_back(after->time);
    sql.params.emplace_back(after->id);
  }
  std::vector<std::pair<int64_t, int64_t>> rows;
  Status s = sqlite::Collect(
      *projector_, sql,
      [](Query& q) {
        int64_t event = q.Int();
        return std::pair<int64_t, int64_t>(event, q.Int());
      },
      rows);
  if (!s.ok()) return s.error();
  return std::map<int64_t, int64_t>(rows.begin(), rows.end());
}

Result<std::map<std::string, int64_t, std::less<>>>
SqliteStore::FoldedDevices(int64_t after_id, int64_t up_to_id) {
  std::vector<std::pair<std::string, int64_t>> rows;
  Status s = sqlite::Collect(
      *projector_,
      sqlite::Sql{"SELECT device, max(id) FROM events WHERE id > ? AND id <= ? "
                  "AND duplicate = 0 AND test = 0 GROUP BY device",
                  {after_id, up_to_id}},
      [](Query& q) {
        std::string device = q.Text();
        return std::pair<std::string, int64_t>(std::move(device), q.Int());
      },
      rows);
  if (!s.ok()) return s.error();
  return std::map<std::string, int64_t, std::less<>>(rows.begin(), rows.end());
}

Result<std::optional<Session>> SqliteStore::LastIdleSessionBefore(
    const std::string& device, EventKey before) {
  sqlite::Sql sql{
      fmt::format("SELECT {} FROM sessions s WHERE s.device = ? AND "
                  "s.idle_after = 1 AND (s.closed_by_time, s.closed_by_id) < "
                  "(?, ?) ORDER BY s.closed_by_time DESC, s.closed_by_id DESC "
                  "LIMIT 1",
                  sqlite::kSessionSelect),
      {device, before.time, before.id}};
  std::vector<Session> found;
  if (Status s = sqlite::Collect(*projector_, sql, sqlite::ReadSession, found);
      !s.ok()) {
    return s.error();
  }
  if (found.empty()) return std::optional<Session>();
  return std::optional<Session>(std::move(found.front()));
}

Result<std::vector<KeptPicture>> SqliteStore::KeptPictures(
    const std::string& device, const std::vector<int64_t>& sessions,
    int64_t up_to) {
  auto read = [](Query& q) {
    KeptPicture p;
    p.event_id = q.Int();
    p.session_id = q.OptInt();
    p.key = {q.Int(), p.event_id};
    return p;
  };
  std::vector<KeptPicture> latest;
  sqlite::Sql last{
      "SELECT p.event_id, l.session_id, e.time FROM pictures p JOIN events e "
      "ON e.id = p.event_id LEFT JOIN event_sessions l ON l.event_id = "
      "p.event_id WHERE p.device = ? AND p.event_id <= ? ORDER BY p.event_id "
      "DESC LIMIT 1",
      {device, up_to}};
  if (Status s = sqlite::Collect(*projector_, last, read, latest); !s.ok()) {
    return s.error();
  }
  std::vector<int64_t> linked = sessions;
  if (!latest.empty() && latest.front().session_id) {
    linked.push_back(*latest.front().session_id);
  }
  std::sort(linked.begin(), linked.end());
  linked.erase(std::unique(linked.begin(), linked.end()), linked.end());
  std::vector<KeptPicture> out;
  // CROSS JOIN: from the session's events, never the printer's every picture.
  for (int64_t session : linked) {
    sqlite::Sql sql{
        "SELECT l.event_id, l.session_id, l.time FROM event_sessions l CROSS "
        "JOIN pictures p ON p.event_id = l.event_id WHERE l.session_id = ? AND "
        "l.event_id <= ? AND p.device = ?",
        {session, up_to, device}};
    if (Status s = sqlite::Collect(*projector_, sql, read, out); !s.ok()) {
      return s.error();
    }
  }
  if (!latest.empty() && !latest.front().session_id) {
    out.push_back(latest.front());
  }
  return out;
}

Status SqliteStore::CommitProjection(const ProjectionBatch& batch) {
  Status s = WriteTransaction(*projector_, /*durable=*/false,
                              [&] { return ProjectInTransaction(batch); });
  if (!s.ok() && s.error().code != ErrorCode::kConflict) {
    return Unavailable(fmt::format("the ledger could not be updated: {}",
                                   s.error().message));
  }
  if (!s.ok()) return s;
  BoundWal();
  return s;
}

// Once the WAL holds more than kMaxWalFrames (16 MiB of 4 KiB pages), the
// projector checkpoints it itself, PASSIVE, after a projection step, holding
// the store's write mutex so that no append runs meanwhile: that copies every
// frame no reader still needs (the background checkpoints already copied all
// but the last second's), so the next append starts the WAL over from its
// beginning and journal_size_limit trims the file. The background
// checkpoints alone never get there while appends keep coming. Costs one
// copy of a second of appends and an fsync of the database file, once per
// 16 MiB; an append waits for it.
void SqliteStore::BoundWal() {
  constexpr int64_t kMaxWalFrames = 4096;
  if (projector_->wal_frames() <= kMaxWalFrames) return;
  std::lock_guard lock(write_mutex_);
  if (Status s = projector_->Exec("PRAGMA wal_checkpoint(PASSIVE)"); !s.ok()) {
    spdlog::warn("checkpoint of a full WAL failed (will retry): {}",
                 s.error().message);
  }
}

Status SqliteStore::ProjectInTransaction(const ProjectionBatch& batch) {
  Connection& conn = *projector_;
  if (Status s = UpsertProjection(conn, batch); !s.ok()) return s;
  for (const auto& [device, received] : batch.last_received) {
    // Only where it moves on: a row rewritten with its own value is a
    // page written to the WAL all the same (a new printer's row was just
    // inserted with it).
    Status s = RunOn(conn,
                     "UPDATE devices SET last_received = ?1 WHERE device = ?2 "
                     "AND last_received < ?1",
                     [&](Query& q) { q.Bind(received).Bind(device); });
    if (!s.ok()) return s;
  }
  for (int64_t event_id : batch.dropped_pictures) {
    Status s = RunOn(conn, "DELETE FROM pictures WHERE event_id = ?",
                     [&](Query& q) { q.Bind(event_id); });
    if (!s.ok()) return s;
  }
  if (batch.from >= 0) {
    Result<int64_t> stored = ProjectedPosition();
    if (!stored.ok()) return stored.error();
    if (*stored != batch.from) {
      return Error{ErrorCode::kConflict,
                   fmt::format("the ledger was projected to event {} "
                               "meanwhile, not {}",
                               *stored, batch.from)};
    }
  }
  return RunOn(conn,
               "INSERT OR REPLACE INTO projection (id, position) VALUES (1, ?)",
               [&](Query& q) { q.Bind(batch.position); });
}


// --- rebuild's replacement of the ledger ---------------------------------
//
// Two ways, chosen at the start:
//
// - The ledger is empty (a copied log, a reset projection): everything is
//   written. Row by row through the ledger's nine session B-trees (an
//   upsert that first tries an update) a rebuild wrote ~26 µs per session,
//   and holding the whole new ledger to write it sorted took ~2 KB of
//   memory per session. Here each part goes to two temporary tables as it
//   comes (appended, in the order of its printers), which SQLite keeps in a
//   temporary file, not in memory. At the commit the ledger's indexes are
//   dropped, the rows are copied into place in each table's own order
//   (SQLite's external sorter, bounded by the page cache), and the indexes
//   are made again from the schema's own statements, each sorted once.
//   Device states come in the order of their printers, the table's own:
//   they go straight in.
//
// - The ledger holds rows (the usual case: `rebuild` after an upgrade, or
//   to check it): only what differs is written. At the start one scan of
//   each table keeps, for every stored session its id and a digest of its
//   row (RowDigest, computed in SQL by pm_row_digest), for every link its
//   event, session and time, for every printer's state its name and
//   digest: 16, 24 and ~40 bytes each (the vectors sized once, from a
//   count: 25 MB for 313,000 of each, peak RSS 51 MB against the whole
//   rewrite's 37). Each part's rows are compared with
//   them as they come; a row that differs is upserted, and at the commit
//   the stored rows the rebuild did not make are deleted. A ledger that
//   was right is read, not written: on a log of 313,000 printers, each
//   with a session, 5.4 s and 686 MB written (the WAL, temporary files,
//   the checkpoint; getrusage's blocks out) became ~1.5 s and 0.2 MB.
//   Attributions (session_users) are read whole at the start, to digest
//   each session with the user its row copies.
class SqliteStore::LedgerRewriter final : public LedgerRewrite {
 public:
  static Result<std::unique_ptr<LedgerRewrite>> Begin(SqliteStore& store) {
    if (store.read_only_) {
      return Unavailable(fmt::format(
          "{} is open read-only: the ledger cannot be rebuilt", store.path_));
    }
    std::unique_lock lock(store.write_mutex_);
    Connection& conn = *store.projector_;
    Result<int64_t> cache = sqlite::Single<int64_t>(
        conn, "SELECT cache_size + ? FROM pragma_cache_size()", 0,
        [](Query& q) { return q.Int(); }, int64_t{0});
    if (!cache.ok()) return cache.error();
    std::unique_ptr<LedgerRewriter> rewrite(
        new LedgerRewriter(conn, std::move(lock), *cache));
    // 8 MiB of pages for the sorts and the index builds (SQLite's default
    // is 2). Measured on a log of 200,000 printers with a session each:
    // 4 MiB 6.6-7.3 s and 26 MB resident, 8 MiB 6.4-6.5 s and 34 MB,
    // 64 MiB 6.6-6.7 s and 135 MB.
    Status s = conn.Exec(
        "PRAGMA cache_size = -8192; PRAGMA temp_store = FILE; "
        "PRAGMA synchronous = FULL; BEGIN IMMEDIATE");
    if (!s.ok()) return s.error();
    rewrite->open_ = true;
    Result<int64_t> stored = sqlite::Single<int64_t>(
        conn,
        "SELECT ? + EXISTS (SELECT 1 FROM sessions) + EXISTS (SELECT 1 FROM "
        "event_sessions) + EXISTS (SELECT 1 FROM device_states)",
        0, [](Query& q) { return q.Int(); }, int64_t{0});
    if (!stored.ok()) return rewrite->Fail(stored.error()).error();
    rewrite->compare_ = *stored > 0;
    s = rewrite->compare_ ? rewrite->ReadStored() : rewrite->MakeScratch();
    if (!s.ok()) return rewrite->Fail(s).error();
    return std::unique_ptr<LedgerRewrite>(std::move(rewrite));
  }

  ~LedgerRewriter() override {
    if (open_) (void)conn_.Exec("ROLLBACK");
    (void)conn_.Exec(fmt::format("PRAGMA cache_size = {}", cache_pages_));
  }

  Status RewriteEvents(const std::vector<EventUpdate>& updates) override {
    if (Status s = Usable(); !s.ok()) return s;
    for (const EventUpdate& u : updates) {
      if (Status s = sqlite::UpdateEvent(conn_, u); !s.ok()) return Fail(s);
    }
    return {};
  }

  Status Add(const LedgerPart& part) override {
    if (Status s = Usable(); !s.ok()) return s;
    Status s = compare_ ? AddChanges(part) : AddToScratch(part);
    if (!s.ok()) return Fail(s);
    return {};
  }

  Status Commit(int64_t position) override {
    if (Status s = Usable(); !s.ok()) return s;
    Status s = compare_ ? RemoveUnmade() : CopyScratch();
    if (!s.ok()) return Fail(s);
    s = RunOn(conn_,
              "INSERT OR REPLACE INTO projection (id, position) VALUES (1, ?)",
              [position](Query& q) { q.Bind(position); });
    if (!s.ok()) return Fail(s);
    if (s = conn_.Exec("COMMIT"); !s.ok()) return Fail(s);
    open_ = false;
    failure_ = Internal("the rebuilt ledger is committed already");
    return {};
  }

  std::optional<int64_t> rows_changed() const override {
    if (!compare_) return std::nullopt;
    return changed_;
  }

 private:
  LedgerRewriter(Connection& conn, std::unique_lock<std::mutex> lock,
                 int64_t cache_pages)
      : conn_(conn), lock_(std::move(lock)), cache_pages_(cache_pages) {}

  Status Usable() const {
    if (failure_) return *failure_;
    return {};
  }
  // The transaction is rolled back at the first failure: nothing of the
  // new ledger is kept, and every later call says why.
  Status Fail(Status s) {
    if (open_) (void)conn_.Exec("ROLLBACK");
    open_ = false;
    failure_ = s.error();
    return s;
  }

  // --- an empty ledger: everything through scratch tables ---

  Status MakeScratch() {
    return conn_.Exec(
        "DROP TABLE IF EXISTS temp.rebuilt_sessions; "
        "DROP TABLE IF EXISTS temp.rebuilt_links; "
        "CREATE TEMP TABLE rebuilt_sessions AS "
        "SELECT * FROM main.sessions WHERE 0; "
        "CREATE TEMP TABLE rebuilt_links (event_id INTEGER NOT NULL, "
        "session_id INTEGER NOT NULL, time INTEGER NOT NULL); "
        "DELETE FROM main.device_states;");
  }

  Status AddToScratch(const LedgerPart& part) {
    static const std::string kInsert = [] {
      std::string sql = kInsertSession;
      const std::string from = "INSERT INTO sessions ";
      return sql.replace(sql.find(from), from.size(),
                         "INSERT INTO temp.rebuilt_sessions ");
    }();
    for (const Session* session : SessionsToWrite(part)) {
      Status s = RunOn(conn_, kInsert,
                       [session](Query& q) { BindSession(q, *session); });
      if (!s.ok()) return s;
    }
    for (const EventLink* l : LastLinks(part)) {
      Status s = RunOn(conn_,
                       "INSERT INTO temp.rebuilt_links (event_id, session_id, "
                       "time) VALUES (?, ?, ?)",
                       [l](Query& q) {
                         q.Bind(l->event_id).Bind(l->session_id).Bind(l->time);
                       });
      if (!s.ok()) return s;
    }
    for (const DeviceState& d : part.device_states) {
      if (Status s = UpsertDeviceState(conn_, d); !s.ok()) return s;
    }
    return {};
  }

  Status CopyScratch() {
    struct Index {
      std::string name;
      std::string sql;
    };
    std::vector<Index> indexes;
    Status s = sqlite::Collect(
        conn_,
        sqlite::Sql{"SELECT name, sql FROM main.sqlite_schema WHERE type = "
                    "'index' AND sql IS NOT NULL AND tbl_name IN ('sessions', "
                    "'event_sessions')",
                    {}},
        [](Query& q) {
          Index i;
          i.name = q.Text();
          i.sql = q.Text();
          return i;
        },
        indexes);
    if (!s.ok()) return s;
    for (const Index& i : indexes) {
      s = conn_.Exec(fmt::format("DROP INDEX main.\"{}\"", i.name));
      if (!s.ok()) return s;
    }
    s = conn_.Exec(
        "DELETE FROM main.sessions; DELETE FROM main.event_sessions; "
        "INSERT INTO main.sessions SELECT * FROM temp.rebuilt_sessions "
        "ORDER BY started_at, id; "
        "INSERT INTO main.event_sessions (event_id, session_id, time) "
        "SELECT event_id, session_id, time FROM temp.rebuilt_links "
        "ORDER BY event_id; "
        "DROP TABLE temp.rebuilt_sessions; DROP TABLE temp.rebuilt_links;");
    if (!s.ok()) return s;
    for (const Index& i : indexes) {
      if (s = conn_.Exec(i.sql); !s.ok()) return s;
    }
    return {};
  }

  // Each link of `part` once, the last one given for its event, by event.
  const std::vector<const EventLink*>& LastLinks(const LedgerPart& part) {
    links_.clear();
    for (const EventLink& l : part.links) links_.push_back(&l);
    std::stable_sort(links_.begin(), links_.end(),
                     [](const EventLink* a, const EventLink* b) {
                       return a->event_id < b->event_id;
                     });
    size_t kept = 0;
    for (size_t i = 0; i < links_.size(); ++i) {
      if (i + 1 < links_.size() &&
          links_[i + 1]->event_id == links_[i]->event_id) {
        continue;
      }
      links_[kept++] = links_[i];
    }
    links_.resize(kept);
    return links_;
  }

  // --- a ledger with rows: only what differs ---

  // Each kept with a flag, in a vector of its own (made_sessions_ ...):
  // whether the rebuild made that row.
  struct StoredSession {
    int64_t id;
    uint64_t digest;
  };
  struct StoredLink {
    int64_t event_id;
    int64_t session_id;
    int64_t time;
  };
  struct StoredState {
    std::string device;
    uint64_t digest;
  };

  Status ReadStored() {
    if (Status s = conn_.DefineRowDigest(); !s.ok()) return s;
    Status s = sqlite::Collect(
        conn_,
        sqlite::Sql{"SELECT session_id, user FROM session_users", {}},
        [](Query& q) {
          int64_t id = q.Int();
          return std::pair<int64_t, std::string>(id, q.Text());
        },
        attributions_);
    if (!s.ok()) return s;
    std::sort(attributions_.begin(), attributions_.end());
    // Sized once (no vector doubling on the way, which peaked at twice the
    // memory).
    for (auto [table, reserve] :
         {std::pair<const char*, std::function<void(size_t)>>{
              "sessions", [this](size_t n) { sessions_.reserve(n); }},
          {"event_sessions", [this](size_t n) { links_stored_.reserve(n); }},
          {"device_states", [this](size_t n) { states_.reserve(n); }}}) {
      Result<int64_t> rows = sqlite::Single<int64_t>(
          conn_, fmt::format("SELECT count(*) + ? FROM {}", table), 0,
          [](Query& q) { return q.Int(); }, int64_t{0});
      if (!rows.ok()) return rows.error();
      reserve(static_cast<size_t>(*rows));
    }
    s = sqlite::Collect(
        conn_,
        sqlite::Sql{"SELECT id, pm_row_digest(" PM_SESSION_COLUMNS
                    ") FROM sessions",
                    {}},
        [](Query& q) {
          int64_t id = q.Int();
          return StoredSession{id, static_cast<uint64_t>(q.Int())};
        },
        sessions_);
    if (!s.ok()) return s;
    std::sort(sessions_.begin(), sessions_.end(),
              [](const auto& a, const auto& b) { return a.id < b.id; });
    s = sqlite::Collect(  // in event_id order: the table's own
        conn_,
        sqlite::Sql{"SELECT event_id, session_id, time FROM event_sessions "
                    "ORDER BY event_id",
                    {}},
        [](Query& q) {
          int64_t event_id = q.Int();
          int64_t session_id = q.Int();
          return StoredLink{event_id, session_id, q.Int()};
        },
        links_stored_);
    if (!s.ok()) return s;
    s = sqlite::Collect(  // in device order: the table's own
        conn_,
        sqlite::Sql{"SELECT device, pm_row_digest(" PM_DEVICE_STATE_COLUMNS
                    ") FROM device_states ORDER BY device",
                    {}},
        [](Query& q) {
          std::string device = q.Text();
          return StoredState{std::move(device),
                             static_cast<uint64_t>(q.Int())};
        },
        states_);
    if (!s.ok()) return s;
    made_sessions_.assign(sessions_.size(), false);
    made_links_.assign(links_stored_.size(), false);
    made_states_.assign(states_.size(), false);
    return {};
  }

  std::optional<std::string> AttributedUser(int64_t session_id) const {
    auto it = std::lower_bound(
        attributions_.begin(), attributions_.end(), session_id,
        [](const auto& a, int64_t id) { return a.first < id; });
    if (it == attributions_.end() || it->first != session_id) {
      return std::nullopt;
    }
    return it->second;
  }

  Status AddChanges(const LedgerPart& part) {
    for (const Session* session : SessionsToWrite(part)) {
      RowDigest d;
      rows::BindSession(d, *session);
      d.Bind(AttributedUser(session->id));
      auto it = std::lower_bound(
          sessions_.begin(), sessions_.end(), session->id,
          [](const StoredSession& a, int64_t id) { return a.id < id; });
      const bool stored = it != sessions_.end() && it->id == session->id;
      if (stored) made_sessions_[it - sessions_.begin()] = true;
      if (stored && it->digest == d.value()) continue;
      // Through the upsert itself, which copies the attributed user
      // (UpsertSession's in-place update first would leave a stale one).
      Status s = RunOn(conn_, kUpsertSession,
                       [session](Query& q) { BindSession(q, *session); });
      if (!s.ok()) return s;
      ++changed_;
    }
    for (const EventLink* l : LastLinks(part)) {
      auto it = std::lower_bound(
          links_stored_.begin(), links_stored_.end(), l->event_id,
          [](const StoredLink& a, int64_t id) { return a.event_id < id; });
      const bool stored =
          it != links_stored_.end() && it->event_id == l->event_id;
      if (stored) made_links_[it - links_stored_.begin()] = true;
      if (stored && it->session_id == l->session_id && it->time == l->time) {
        continue;
      }
      Status s = RunOn(conn_,
                       "INSERT OR REPLACE INTO event_sessions (event_id, "
                       "session_id, time) VALUES (?, ?, ?)",
                       [l](Query& q) {
                         q.Bind(l->event_id).Bind(l->session_id).Bind(l->time);
                       });
      if (!s.ok()) return s;
      ++changed_;
    }
    for (const DeviceState& state : part.device_states) {
      RowDigest d;
      rows::BindDeviceState(d, state);
      auto it = std::lower_bound(
          states_.begin(), states_.end(), state.device,
          [](const StoredState& a, const std::string& device) {
            return a.device < device;
          });
      const bool stored = it != states_.end() && it->device == state.device;
      if (stored) made_states_[it - states_.begin()] = true;
      if (stored && it->digest == d.value()) continue;
      if (Status s = UpsertDeviceState(conn_, state); !s.ok()) return s;
      ++changed_;
    }
    return {};
  }

  // The stored rows the rebuild did not make (a printer or an event no
  // longer in the log, a session the fold no longer opens).
  Status RemoveUnmade() {
    auto remove = [this](const auto& stored, const std::vector<bool>& made,
                         const std::string& sql, auto key) -> Status {
      for (size_t i = 0; i < stored.size(); ++i) {
        if (made[i]) continue;
        Status s = RunOn(conn_, sql,
                         [&](Query& q) { q.Bind(key(stored[i])); });
        if (!s.ok()) return s;
        ++changed_;
      }
      return {};
    };
    Status s = remove(sessions_, made_sessions_,
                      "DELETE FROM sessions WHERE id = ?",
                      [](const StoredSession& r) { return r.id; });
    if (s.ok()) {
      s = remove(links_stored_, made_links_,
                 "DELETE FROM event_sessions WHERE event_id = ?",
                 [](const StoredLink& r) { return r.event_id; });
    }
    if (s.ok()) {
      s = remove(states_, made_states_,
                 "DELETE FROM device_states WHERE device = ?",
                 [](const StoredState& r) -> const std::string& {
                   return r.device;
                 });
    }
    return s;
  }

  Connection& conn_;
  std::unique_lock<std::mutex> lock_;  // the store's write mutex
  int64_t cache_pages_;  // the connection's page cache before
  bool open_ = false;    // the transaction is open
  std::optional<Error> failure_;
  bool compare_ = false;  // the ledger held rows: only differences written
  int64_t changed_ = 0;   // rows written or deleted (compare_)
  // Add()'s working space, kept from part to part.
  std::vector<const EventLink*> links_;
  // The stored ledger (compare_), by id, event and device.
  std::vector<StoredSession> sessions_;
  std::vector<StoredLink> links_stored_;
  std::vector<StoredState> states_;
  std::vector<bool> made_sessions_, made_links_, made_states_;
  std::vector<std::pair<int64_t, std::string>> attributions_;
};

Result<std::unique_ptr<LedgerRewrite>> SqliteStore::RewriteLedger() {
  return LedgerRewriter::Begin(*this);
}

}  // namespace pm

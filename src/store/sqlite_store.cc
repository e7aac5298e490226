#include "store/sqlite_store.h"

#include <fmt/format.h>

#include <charconv>
#include <limits>
#include <unordered_set>
#include <utility>
#include <variant>

#include "store/schema.h"
#include "store/sqlite_file.h"
#include "store/sqlite_rates.h"

namespace pm {

using sqlite::Connection;
using sqlite::Query;
using sqlite::Statement;

namespace {

constexpr size_t kMaxIdleReaders = 8;
constexpr int kForEachChunk = 512;
constexpr int kMaxPageLimit = 10000;

// --- SQL ---------------------------------------------------------------------

// Every Event field, in the order BindEvent() and ReadEvent() use.
constexpr const char* kEventFields[] = {"id",
                                        "device",
                                        "topic",
                                        "kind",
                                        "test",
                                        "time",
                                        "has_current_time",
                                        "received_at",
                                        "file_name",
                                        "file_path",
                                        "file_display",
                                        "file_origin",
                                        "file_size",
                                        "user",
                                        "message",
                                        "reported_time_s",
                                        "reason",
                                        "progress_pct",
                                        "print_time_s",
                                        "filament_mm",
                                        "filament_cm3",
                                        "estimated_s",
                                        "error",
                                        "printing",
                                        "paused",
                                        "snapshot"};

std::string EventColumns(std::string_view prefix) {
  std::string out;
  for (const char* name : kEventFields) {
    if (!out.empty()) out += ", ";
    out += fmt::format("{}{}", prefix, name);
  }
  return out;
}

std::string Placeholders(int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += i ? ", ?" : "?";
  return out;
}

// Every Session field, in the order ReadSession() uses; `user` is the
// attributed user when there is one.
constexpr const char* kSessionSelect =
    "s.id, s.device, s.status, s.started_at, s.ended_at, s.last_event_at, "
    "s.pauses, s.pause_started_at, s.file_name, s.file_path, s.file_display, "
    "s.file_origin, s.file_size, coalesce(s.attributed_user, s.user), "
    "s.progress_pct, s.reported_time_s, s.estimated_s, s.job_filament_mm, "
    "s.job_filament_cm3, s.error, s.start_inferred, s.end_inferred, "
    "s.event_count, s.snapshot, s.opened_by_time, s.opened_by_id, "
    "s.closed_by_time, s.closed_by_id, s.idle_after";

// The attributed user is copied from session_users on every upsert, so that
// it survives ResetLedger() and a rebuild.
constexpr const char* kUpsertSession =
    "INSERT INTO sessions (id, device, status, started_at, ended_at, "
    "last_event_at, pauses, pause_started_at, file_name, file_path, "
    "file_display, file_origin, file_size, user, progress_pct, "
    "reported_time_s, estimated_s, job_filament_mm, job_filament_cm3, error, "
    "start_inferred, end_inferred, event_count, snapshot, opened_by_time, "
    "opened_by_id, closed_by_time, closed_by_id, idle_after, attributed_user) "
    "VALUES (?1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
    "?, "
    "?, ?, ?, ?, ?, ?, ?, (SELECT user FROM session_users WHERE session_id = "
    "?1)) "
    "ON CONFLICT (id) DO UPDATE SET device = excluded.device, "
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
    "attributed_user = excluded.attributed_user";

// The partial index sessions_long: open sessions and those longer than
// kLongSessionMs. Overlap queries read sessions that started up to
// kLongSessionMs before the window through sessions_started, and the few
// older ones that may still reach into it through this index.
constexpr const char* kLongOrOpen =
    "(s.ended_at IS NULL OR s.ended_at - s.started_at > 604800000)";

// A session overlaps [from, to) when it started before `to` and ended after
// `from` (or is open). One that started inside the window and lasted no time
// counts too: it started in the window (ledger.md section 7 counts it).
constexpr const char* kOverlapsRecent =
    "s.started_at >= ? AND s.started_at < ? AND "
    "(s.ended_at IS NULL OR s.ended_at > ? OR s.started_at >= ?)";
constexpr const char* kOverlapsOld =
    "s.started_at < ? AND (s.ended_at IS NULL OR s.ended_at > ?)";

TimeMs SaturatingSub(TimeMs a, TimeMs b) {
  return a < std::numeric_limits<TimeMs>::min() + b
             ? std::numeric_limits<TimeMs>::min()
             : a - b;
}

// --- Rows <-> structs
// ---------------------------------------------------------

void BindEvent(Query& q, const Event& e) {
  q.Bind(e.id).Bind(e.device).Bind(e.topic).Bind(sqlite::StoredKind(e.kind));
  q.Bind(e.test).Bind(e.time).Bind(e.has_current_time).Bind(e.received_at);
  q.Bind(e.file.name).Bind(e.file.path).Bind(e.file.display);
  q.Bind(e.file.origin).Bind(e.file.size).Bind(e.user).Bind(e.message);
  q.Bind(e.reported_time_s).Bind(e.reason).Bind(e.progress_pct);
  q.Bind(e.print_time_s).Bind(e.filament_mm).Bind(e.filament_cm3);
  q.Bind(e.estimated_s).Bind(e.error).Bind(e.printing).Bind(e.paused);
  q.Bind(e.snapshot);
}

Event ReadEvent(Query& q) {
  Event e;
  e.id = q.Int();
  e.device = q.Text();
  e.topic = q.Text();
  e.kind = sqlite::KindFromStored(q.Text()).value_or(Kind::kOther);
  e.test = q.Bool();
  e.time = q.Int();
  e.has_current_time = q.Bool();
  e.received_at = q.Int();
  e.file.name = q.OptText();
  e.file.path = q.OptText();
  e.file.display = q.OptText();
  e.file.origin = q.OptText();
  e.file.size = q.OptInt();
  e.user = q.OptText();
  e.message = q.OptText();
  e.reported_time_s = q.OptReal();
  e.reason = q.OptText();
  e.progress_pct = q.OptReal();
  e.print_time_s = q.OptReal();
  e.filament_mm = q.OptReal();
  e.filament_cm3 = q.OptReal();
  e.estimated_s = q.OptReal();
  e.error = q.OptText();
  e.printing = q.OptBool();
  e.paused = q.OptBool();
  e.snapshot = q.Bool();
  return e;
}

// Closed pauses as compact JSON: [[begin,end],...] in epoch ms.
std::string EncodePauses(const std::vector<Interval>& pauses) {
  std::string out = "[";
  for (const Interval& p : pauses) {
    if (out.size() > 1) out += ',';
    out += fmt::format("[{},{}]", p.begin, p.end);
  }
  return out + "]";
}

std::vector<Interval> DecodePauses(std::string_view text) {
  std::vector<int64_t> numbers;
  const char* p = text.data();
  const char* end = p + text.size();
  while (p < end) {
    if (*p == '-' || (*p >= '0' && *p <= '9')) {
      int64_t v = 0;
      auto [next, ec] = std::from_chars(p, end, v);
      if (ec != std::errc()) break;
      numbers.push_back(v);
      p = next;
    } else {
      ++p;
    }
  }
  std::vector<Interval> pauses;
  for (size_t i = 0; i + 1 < numbers.size(); i += 2) {
    pauses.push_back({numbers[i], numbers[i + 1]});
  }
  return pauses;
}

std::optional<EventKey> OptKey(Query& q) {
  std::optional<int64_t> time = q.OptInt();
  std::optional<int64_t> id = q.OptInt();
  if (!time || !id) return std::nullopt;
  return EventKey{*time, *id};
}

void BindSession(Query& q, const Session& s) {
  q.Bind(s.id).Bind(s.device).Bind(sqlite::StoredStatus(s.status));
  q.Bind(s.started_at).Bind(s.ended_at).Bind(s.last_event_at);
  q.Bind(EncodePauses(s.pauses)).Bind(s.pause_started_at);
  q.Bind(s.file.name).Bind(s.file.path).Bind(s.file.display);
  q.Bind(s.file.origin).Bind(s.file.size).Bind(s.user).Bind(s.progress_pct);
  q.Bind(s.reported_time_s).Bind(s.estimated_s).Bind(s.job_filament_mm);
  q.Bind(s.job_filament_cm3).Bind(s.error).Bind(s.start_inferred);
  q.Bind(s.end_inferred).Bind(s.event_count).Bind(s.snapshot);
  q.Bind(s.opened_by.time).Bind(s.opened_by.id);
  if (s.closed_by) {
    q.Bind(s.closed_by->time).Bind(s.closed_by->id);
  } else {
    q.BindNull().BindNull();
  }
  q.Bind(s.idle_after);
}

Session ReadSession(Query& q) {
  Session s;
  s.id = q.Int();
  s.device = q.Text();
  // Only this code writes the column; an unknown name means a damaged file.
  s.status =
      sqlite::StatusFromStored(q.Text()).value_or(SessionStatus::kInterrupted);
  s.started_at = q.Int();
  s.ended_at = q.OptInt();
  s.last_event_at = q.Int();
  s.pauses = DecodePauses(q.Text());
  s.pause_started_at = q.OptInt();
  s.file.name = q.OptText();
  s.file.path = q.OptText();
  s.file.display = q.OptText();
  s.file.origin = q.OptText();
  s.file.size = q.OptInt();
  s.user = q.OptText();
  s.progress_pct = q.OptReal();
  s.reported_time_s = q.OptReal();
  s.estimated_s = q.OptReal();
  s.job_filament_mm = q.OptReal();
  s.job_filament_cm3 = q.OptReal();
  s.error = q.OptText();
  s.start_inferred = q.Bool();
  s.end_inferred = q.Bool();
  s.event_count = q.Int();
  s.snapshot = q.Bool();
  s.opened_by.time = q.Int();
  s.opened_by.id = q.Int();
  s.closed_by = OptKey(q);
  s.idle_after = q.Bool();
  return s;
}

// Columns after the Event's for an EventView: duplicate, session_id,
// content_type, body, method.
EventView ReadEventView(Query& q) {
  EventView v;
  v.event = ReadEvent(q);
  v.duplicate = q.Bool();
  v.session_id = q.OptInt();
  v.content_type = q.Text();
  std::optional<std::string> body = q.OptText();
  bool has_request = !q.IsNull();  // method
  if (has_request) v.body = body ? std::move(*body) : std::string();
  return v;
}

// --- Running queries
// ------------------------------------------------------------

using Param = std::variant<int64_t, std::string>;

// SQL and its parameters, built from optional filters.
struct Sql {
  std::string text;
  std::vector<Param> params;
};

void BindAll(Query& q, const std::vector<Param>& params) {
  for (const Param& p : params) {
    std::visit([&q](const auto& v) { q.Bind(v); }, p);
  }
}

// Runs `sql` and appends ReadRow(q) for every row to `out`.
template <typename T, typename ReadRow>
Status Collect(Connection& conn, const Sql& sql, ReadRow read_row,
               std::vector<T>& out) {
  Result<Statement*> stmt = conn.Prepare(sql.text);
  if (!stmt.ok()) return stmt.error();
  Query q(*stmt);
  BindAll(q, sql.params);
  for (;;) {
    Result<bool> row = q.Step();
    if (!row.ok()) return row.error();
    if (!*row) return {};
    out.push_back(read_row(q));
  }
}

// Runs a statement that returns no rows, binding with `bind(q)`.
template <typename BindFn>
Status RunOn(Connection& conn, const std::string& sql, BindFn bind) {
  Result<Statement*> stmt = conn.Prepare(sql);
  if (!stmt.ok()) return stmt.error();
  Query q(*stmt);
  bind(q);
  return q.Run();
}

// A read transaction, so that several statements see one snapshot.
class ReadTransaction {
 public:
  explicit ReadTransaction(Connection& conn) : conn_(conn) {}
  Status Begin() { return conn_.Exec("BEGIN"); }
  ~ReadTransaction() { (void)conn_.Exec("COMMIT"); }

 private:
  Connection& conn_;
};

// The session filter (everything except the window) as SQL conditions.
void AddFilter(const SessionFilter& f, Sql& sql) {
  if (f.device) {
    sql.text += " AND s.device = ?";
    sql.params.emplace_back(*f.device);
  }
  if (f.user) {
    sql.text += " AND coalesce(s.attributed_user, s.user) = ?";
    sql.params.emplace_back(*f.user);
  }
  if (f.status) {
    sql.text += " AND s.status = ?";
    sql.params.emplace_back(std::string(sqlite::StoredStatus(*f.status)));
  }
}

void AddPage(const SessionPageQuery& q, int limit, Sql& sql) {
  if (q.after) {
    sql.text += " AND (s.started_at, s.id) < (?, ?)";
    sql.params.emplace_back(q.after->first);
    sql.params.emplace_back(q.after->second);
  }
  sql.text += " ORDER BY s.started_at DESC, s.id DESC LIMIT ?";
  sql.params.emplace_back(int64_t{limit});
}

Sql SessionsWhere(const char* condition) {
  return {fmt::format("SELECT {} FROM sessions s WHERE {}", kSessionSelect,
                      condition),
          {}};
}

Status InsertEvent(Connection& conn, const EventRecord& r) {
  static const std::string kSql = fmt::format(
      "INSERT INTO events ({}, duplicate, session_id, method, target, "
      "content_type, body) VALUES ({})",
      EventColumns(""),
      Placeholders(static_cast<int>(std::size(kEventFields)) + 6));
  Status s = RunOn(conn, kSql, [&r](Query& q) {
    BindEvent(q, r.event);
    q.Bind(r.duplicate).Bind(r.session_id);
    if (r.request) {
      q.Bind(r.request->method).Bind(r.request->target);
      q.Bind(r.request->content_type).BindBlob(r.request->body);
    } else {
      q.BindNull().BindNull().BindNull().BindNull();
    }
  });
  if (!s.ok() || !r.snapshot) return s;
  return RunOn(conn,
               "INSERT INTO snapshots (event_id, content_type, bytes) VALUES "
               "(?, ?, ?)",
               [&r](Query& q) {
                 q.Bind(r.event.id).Bind(r.snapshot->content_type);
                 q.BindBlob(r.snapshot->bytes);
               });
}

// Every Event column but the id, then duplicate and session_id, by id.
Status UpdateEvent(Connection& conn, const EventUpdate& u) {
  static const std::string kSql = [] {
    std::string set;
    for (const char* name : kEventFields) {
      if (std::string_view(name) == "id") continue;
      set += fmt::format("{} = ?, ", name);
    }
    return fmt::format(
        "UPDATE events SET {}duplicate = ?, session_id = ? WHERE id = ?", set);
  }();
  Result<Statement*> stmt = conn.Prepare(kSql);
  if (!stmt.ok()) return stmt.error();
  {
    Query q(*stmt);
    const Event& e = u.event;
    // BindEvent's order without the leading id.
    q.Bind(e.device).Bind(e.topic).Bind(sqlite::StoredKind(e.kind));
    q.Bind(e.test).Bind(e.time).Bind(e.has_current_time).Bind(e.received_at);
    q.Bind(e.file.name).Bind(e.file.path).Bind(e.file.display);
    q.Bind(e.file.origin).Bind(e.file.size).Bind(e.user).Bind(e.message);
    q.Bind(e.reported_time_s).Bind(e.reason).Bind(e.progress_pct);
    q.Bind(e.print_time_s).Bind(e.filament_mm).Bind(e.filament_cm3);
    q.Bind(e.estimated_s).Bind(e.error).Bind(e.printing).Bind(e.paused);
    q.Bind(e.snapshot);
    q.Bind(u.duplicate).Bind(u.session_id).Bind(e.id);
    if (Status s = q.Run(); !s.ok()) return s;
  }
  if (conn.Changes() == 0) {
    return NotFound(fmt::format(
        "cannot rewrite event {}: no such event is stored", u.event.id));
  }
  return {};
}

Status DeleteRefolded(Connection& conn, const WriteBatch::Refold& r) {
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
    "start_inferred = ?, end_inferred = ?, event_count = ?, snapshot = ? "
    "WHERE started_at = ? AND id = ? AND device = ? AND status = ? AND "
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
    q.Bind(s.snapshot);
    q.Bind(s.started_at).Bind(s.id).Bind(s.device);
    q.Bind(sqlite::StoredStatus(s.status)).Bind(s.ended_at).Bind(s.user);
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

Status UpsertDeviceState(Connection& conn, const DeviceState& d) {
  return RunOn(
      conn,
      "INSERT OR REPLACE INTO device_states (device, state, open_session_id, "
      "needs_attention, last_applied_time, last_applied_id, last_topic, "
      "last_error) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      [&d](Query& q) {
        q.Bind(d.device).Bind(sqlite::StoredPrinterState(d.state));
        if (d.open) {
          q.Bind(d.open->id);
        } else {
          q.BindNull();
        }
        q.Bind(d.needs_attention);
        if (d.last_applied) {
          q.Bind(d.last_applied->time).Bind(d.last_applied->id);
        } else {
          q.BindNull().BindNull();
        }
        q.Bind(d.last_topic).Bind(d.last_error);
      });
}

Status UpsertDevice(Connection& conn, const DeviceRecord& d) {
  return RunOn(conn,
               "INSERT OR REPLACE INTO devices (device, secret, first_seen, "
               "last_received) VALUES (?, ?, ?, ?)",
               [&d](Query& q) {
                 q.Bind(d.device).Bind(d.secret).Bind(d.first_seen);
                 q.Bind(d.last_received);
               });
}

// Configures a freshly opened connection. Reads map the file instead of
// copying pages through read(2): a month's report touches thousands of pages.
// The WAL is cut back to 64 MiB after a checkpoint (a rebuild writes the whole
// ledger in one transaction; a Raspberry Pi's card should not keep that).
Status Configure(Connection& conn) {
  return conn.Exec(
      "PRAGMA busy_timeout = 5000; PRAGMA synchronous = FULL; "
      "PRAGMA foreign_keys = ON; PRAGMA mmap_size = 268435456; "
      "PRAGMA journal_size_limit = 67108864;");
}

template <typename T>
Result<T> Single(Connection& conn, const std::string& sql, int64_t param,
                 T (*read)(Query&), T missing) {
  Result<Statement*> stmt = conn.Prepare(sql);
  if (!stmt.ok()) return stmt.error();
  Query q(*stmt);
  q.Bind(param);
  Result<bool> row = q.Step();
  if (!row.ok()) return row.error();
  return *row ? read(q) : missing;
}

}  // namespace

// --- The reader pool
// --------------------------------------------------------------

class SqliteStore::Lease {
 public:
  Lease(SqliteStore* store, std::unique_ptr<Connection> conn)
      : store_(store), conn_(std::move(conn)) {}
  Lease(Lease&& other) noexcept = default;
  ~Lease() {
    if (!conn_) return;
    if (conn_->InTransaction()) (void)conn_->Exec("ROLLBACK");
    std::lock_guard lock(store_->pool_mutex_);
    if (store_->idle_readers_.size() < kMaxIdleReaders) {
      store_->idle_readers_.push_back(std::move(conn_));
    }
  }
  Connection& operator*() { return *conn_; }
  Connection* operator->() { return conn_.get(); }

 private:
  SqliteStore* store_;
  std::unique_ptr<Connection> conn_;
};

Result<SqliteStore::Lease> SqliteStore::Reader() {
  {
    std::lock_guard lock(pool_mutex_);
    if (!idle_readers_.empty()) {
      std::unique_ptr<Connection> conn = std::move(idle_readers_.back());
      idle_readers_.pop_back();
      return Lease(this, std::move(conn));
    }
  }
  Result<std::unique_ptr<Connection>> conn =
      read_only_ ? Connection::OpenReadOnly(path_)
                 : Connection::Open(path_, false);
  if (!conn.ok()) return conn.error();
  if (Status s = Configure(**conn); !s.ok()) return s.error();
  return Lease(this, std::move(*conn));
}

// --- Opening
// ----------------------------------------------------------------------

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(
    const std::string& path) {
  return Open(path, OpenOptions{});
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(
    const std::string& path, const OpenOptions& options) {
  // A file that is not a sound SQLite database is refused untouched; then
  // the lock: a second writer must not even migrate the file.
  if (Status s = sqlite::CheckDatabaseFile(path); !s.ok()) return s.error();
  if (options.read_only && !options.writer) return OpenReadOnly(path);
  std::optional<WriterLock> lock;
  if (options.writer) {
    Result<WriterLock> taken = WriterLock::Acquire(path, options.program);
    if (!taken.ok()) return taken.error();
    lock.emplace(std::move(*taken));
  }
  Result<std::unique_ptr<Connection>> conn = Connection::Open(path, true);
  if (!conn.ok()) return conn.error();
  Connection& writer = **conn;
  if (Status s = Configure(writer); !s.ok()) return s.error();
  if (Status s = sqlite::Migrate(writer); !s.ok()) return s.error();
  if (Status s = writer.Exec("PRAGMA journal_mode = WAL"); !s.ok()) {
    return s.error();
  }
  std::unique_ptr<SqliteStore> store(new SqliteStore(path, std::move(*conn)));
  store->lock_ = std::move(lock);
  Result<int64_t> max_id = Single<int64_t>(
      *store->writer_, "SELECT coalesce(max(id), 0) + ? FROM events", 1,
      [](Query& q) { return q.Int(); }, 1);
  if (!max_id.ok()) return max_id.error();
  store->next_event_id_ = *max_id;
  return store;
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::OpenReadOnly(
    const std::string& path) {
  Result<std::unique_ptr<Connection>> conn = Connection::OpenReadOnly(path);
  if (!conn.ok()) return conn.error();
  if (Status s = Configure(**conn); !s.ok()) return s.error();
  if (Status s = sqlite::CheckReadable(**conn); !s.ok()) return s.error();
  std::unique_ptr<SqliteStore> store(new SqliteStore(path, std::move(*conn)));
  store->read_only_ = true;
  return store;
}

SqliteStore::~SqliteStore() = default;

Result<std::vector<RateChange>> SqliteStore::LoadRateChanges() {
  Result<Lease> lease = Reader();
  if (!lease.ok()) return lease.error();
  return sqlite::ReadRateChanges(**lease);
}

// --- Write side
// -------------------------------------------------------------------

Result<int64_t> SqliteStore::AllocateEventIds(int64_t count) {
  if (count < 0) return Invalid("cannot allocate a negative number of ids");
  int64_t first = next_event_id_;
  next_event_id_ += count;
  return first;
}

Result<bool> SqliteStore::HasDuplicate(const Event& e) {
  if (!e.has_current_time) return false;
  Result<Statement*> stmt = writer_->Prepare(
      "SELECT 1 FROM events WHERE device = ? AND kind = ? AND time = ? AND "
      "has_current_time = 1 AND file_path IS ? AND reported_time_s IS ? "
      "LIMIT 1");
  if (!stmt.ok()) return stmt.error();
  Query q(*stmt);
  q.Bind(e.device).Bind(sqlite::StoredKind(e.kind)).Bind(e.time);
  q.Bind(e.file.path).Bind(e.reported_time_s);
  return q.Step();
}

Result<std::vector<Event>> SqliteStore::FoldableEvents(
    const std::string& device, std::optional<EventKey> after) {
  static const std::string kAll = fmt::format(
      "SELECT {} FROM events WHERE device = ? AND duplicate = 0 AND test = 0 "
      "ORDER BY time, id",
      EventColumns(""));
  static const std::string kAfter = fmt::format(
      "SELECT {} FROM events WHERE device = ? AND duplicate = 0 AND test = 0 "
      "AND (time, id) > (?, ?) ORDER BY time, id",
      EventColumns(""));
  Sql sql{after ? kAfter : kAll, {device}};
  if (after) {
    sql.params.emplace_back(after->time);
    sql.params.emplace_back(after->id);
  }
  std::vector<Event> events;
  if (Status s = Collect(*writer_, sql, ReadEvent, events); !s.ok()) {
    return s.error();
  }
  return events;
}

Result<std::optional<Session>> SqliteStore::LastIdleSessionBefore(
    const std::string& device, EventKey before) {
  Sql sql = SessionsWhere(
      "s.device = ? AND s.idle_after = 1 AND (s.closed_by_time, "
      "s.closed_by_id) < (?, ?) ORDER BY s.closed_by_time DESC, "
      "s.closed_by_id DESC LIMIT 1");
  sql.params = {device, before.time, before.id};
  std::vector<Session> found;
  if (Status s = Collect(*writer_, sql, ReadSession, found); !s.ok()) {
    return s.error();
  }
  if (found.empty()) return std::optional<Session>();
  return std::optional<Session>(std::move(found.front()));
}

Status SqliteStore::Commit(const WriteBatch& batch) {
  if (batch.empty()) return {};
  if (Status s = writer_->Exec("BEGIN IMMEDIATE"); !s.ok()) return s;
  Status s = CommitInTransaction(batch);
  if (s.ok()) s = writer_->Exec("COMMIT");
  if (!s.ok()) {
    (void)writer_->Exec("ROLLBACK");
    return Unavailable(
        fmt::format("nothing was stored: {}", s.error().message));
  }
  return {};
}

Status SqliteStore::CommitInTransaction(const WriteBatch& batch) {
  Connection& conn = *writer_;
  for (const EventRecord& r : batch.events) {
    if (r.event.id <= 0) {
      return Internal(fmt::format(
          "an event of device {} has no id (call AllocateEventIds first)",
          r.event.device));
    }
    if (Status s = InsertEvent(conn, r); !s.ok()) return s;
    next_event_id_ = std::max(next_event_id_, r.event.id + 1);
  }
  for (const EventUpdate& u : batch.event_updates) {
    if (Status s = UpdateEvent(conn, u); !s.ok()) return s;
  }
  for (const WriteBatch::Refold& r : batch.refolds) {
    if (Status s = DeleteRefolded(conn, r); !s.ok()) return s;
  }
  for (const Session& session : batch.sessions) {
    if (Status s = UpsertSession(conn, session); !s.ok()) return s;
  }
  for (const auto& [event_id, session_id] : batch.event_sessions) {
    Status s = RunOn(conn, "UPDATE events SET session_id = ? WHERE id = ?",
                     [&](Query& q) { q.Bind(session_id).Bind(event_id); });
    if (!s.ok()) return s;
  }
  for (const DeviceState& d : batch.device_states) {
    // The open session as the state has it is the latest version: store it
    // too, so that LoadDeviceStates() always finds it.
    if (d.open) {
      if (Status s = UpsertSession(conn, *d.open); !s.ok()) return s;
    }
    if (Status s = UpsertDeviceState(conn, d); !s.ok()) return s;
  }
  for (const DeviceRecord& d : batch.devices) {
    if (Status s = UpsertDevice(conn, d); !s.ok()) return s;
  }
  return {};
}

Status SqliteStore::ResetLedger() {
  return writer_->Exec(
      "BEGIN IMMEDIATE; DELETE FROM sessions; DELETE FROM device_states; "
      "UPDATE events SET session_id = NULL WHERE session_id IS NOT NULL; "
      "COMMIT;");
}

Status SqliteStore::ForEachEvent(
    const std::function<Status(const EventRecord&)>& fn) {
  static const std::string kSql = fmt::format(
      "SELECT {}, e.duplicate, e.session_id, e.method, e.target, "
      "e.content_type, e.body, n.content_type, n.bytes FROM events e LEFT "
      "JOIN snapshots n ON n.event_id = e.id WHERE e.id > ? ORDER BY e.id "
      "LIMIT {}",
      EventColumns("e."), kForEachChunk);
  int64_t last_id = std::numeric_limits<int64_t>::min();
  for (;;) {
    std::vector<EventRecord> chunk;
    {
      Result<Lease> reader = Reader();
      if (!reader.ok()) return reader.error();
      Sql sql{kSql, {last_id}};
      Status s = Collect(
          **reader, sql,
          [](Query& q) {
            EventRecord r;
            r.event = ReadEvent(q);
            r.duplicate = q.Bool();
            r.session_id = q.OptInt();
            if (!q.IsNull()) {
              r.request = StoredRequest{q.Text(), q.Text(), q.Text(), q.Text()};
            } else {
              for (int i = 0; i < 4; ++i) q.Skip();
            }
            if (!q.IsNull()) r.snapshot = Snapshot{q.Text(), q.Text()};
            return r;
          },
          chunk);
      if (!s.ok()) return s;
    }
    for (const EventRecord& r : chunk) {
      if (Status s = fn(r); !s.ok()) return s;
    }
    if (chunk.size() < kForEachChunk) return {};
    last_id = chunk.back().event.id;
  }
}

// --- Read side
// --------------------------------------------------------------------

Result<std::vector<DeviceState>> SqliteStore::LoadDeviceStates() {
  Result<Lease> reader = Reader();
  if (!reader.ok()) return reader.error();
  Sql sql{
      fmt::format("SELECT d.device, d.state, d.needs_attention, "
                  "d.last_applied_time, d.last_applied_id, d.last_topic, "
                  "d.last_error, d.open_session_id, s.id IS NOT NULL, {} FROM "
                  "device_states d LEFT JOIN sessions s ON s.id = "
                  "d.open_session_id ORDER BY d.device",
                  kSessionSelect),
      {}};
  std::vector<DeviceState> states;
  std::optional<std::string> damaged;
  Status s = Collect(
      **reader, sql,
      [&damaged](Query& q) {
        DeviceState d;
        d.device = q.Text();
        d.state = sqlite::PrinterStateFromStored(q.Text()).value_or(
            PrinterState::kIdle);
        d.needs_attention = q.Bool();
        d.last_applied = OptKey(q);
        d.last_topic = q.Text();
        d.last_error = q.OptText();
        std::optional<int64_t> open_id = q.OptInt();
        bool found = q.Bool();
        if (found) {
          d.open = ReadSession(q);
        } else if (open_id && !damaged) {
          damaged =
              fmt::format("device {} refers to session {}, which is missing",
                          d.device, *open_id);
        }
        return d;
      },
      states);
  if (!s.ok()) return s.error();
  if (damaged) {
    return Internal(fmt::format(
        "the ledger in {} is inconsistent: {}; run `printmeter rebuild`", path_,
        *damaged));
  }
  return states;
}

Result<std::vector<DeviceRecord>> SqliteStore::LoadDevices() {
  Result<Lease> reader = Reader();
  if (!reader.ok()) return reader.error();
  Sql sql{
      "SELECT device, secret, first_seen, last_received FROM devices "
      "ORDER BY device",
      {}};
  std::vector<DeviceRecord> devices;
  Status s = Collect(
      **reader, sql,
      [](Query& q) {
        DeviceRecord d;
        d.device = q.Text();
        d.secret = q.OptText();
        d.first_seen = q.Int();
        d.last_received = q.Int();
        return d;
      },
      devices);
  if (!s.ok()) return s.error();
  return devices;
}

Status SqliteStore::Ping() {
  // What the file system says first: it explains a failing read too.
  if (Status s = sqlite::CheckWritable(path_); !s.ok()) return s;
  Result<Lease> reader = Reader();
  if (!reader.ok()) return reader.error();
  return (*reader)->Exec("SELECT 1 FROM sessions LIMIT 1");
}

Result<std::vector<Session>> SqliteStore::ListSessions(
    const SessionPageQuery& q) {
  if (q.limit <= 0) return std::vector<Session>();
  int limit = std::min(q.limit, kMaxPageLimit);
  Result<Lease> reader = Reader();
  if (!reader.ok()) return reader.error();
  ReadTransaction txn(**reader);
  if (Status s = txn.Begin(); !s.ok()) return s.error();

  const SessionFilter& f = q.filter;
  std::vector<Session> out;
  if (!f.from) {
    Sql sql = SessionsWhere("1");
    if (f.to) {
      sql.text += " AND s.started_at < ?";
      sql.params.emplace_back(*f.to);
    }
    AddFilter(f, sql);
    AddPage(q, limit, sql);
    if (Status s = Collect(**reader, sql, ReadSession, out); !s.ok()) {
      return s.error();
    }
    return out;
  }
  // Two ranges, newest first: sessions that started since from - long, then
  // the few long ones that started earlier and still reach into the window.
  TimeMs from = *f.from;
  TimeMs to = f.to.value_or(std::numeric_limits<TimeMs>::max());
  TimeMs bound = SaturatingSub(from, sqlite::kLongSessionMs);
  Sql recent = SessionsWhere(kOverlapsRecent);
  recent.params = {bound, to, from, from};
  AddFilter(f, recent);
  AddPage(q, limit, recent);
  if (Status s = Collect(**reader, recent, ReadSession, out); !s.ok()) {
    return s.error();
  }
  if (static_cast<int>(out.size()) >= limit) return out;
  Sql old = SessionsWhere(kLongOrOpen);
  old.text += fmt::format(" AND {}", kOverlapsOld);
  old.params = {std::min(bound, to), from};
  AddFilter(f, old);
  AddPage(q, limit - static_cast<int>(out.size()), old);
  if (Status s = Collect(**reader, old, ReadSession, out); !s.ok()) {
    return s.error();
  }
  return out;
}

Result<std::optional<Session>> SqliteStore::GetSession(int64_t id) {
  Result<Lease> reader = Reader();
  if (!reader.ok()) return reader.error();
  Sql sql = SessionsWhere("s.id = ?");
  sql.params = {id};
  std::vector<Session> found;
  if (Status s = Collect(**reader, sql, ReadSession, found); !s.ok()) {
    return s.error();
  }
  if (found.empty()) return std::optional<Session>();
  return std::optional<Session>(std::move(found.front()));
}

namespace {

const std::string& EventViewSelect() {
  static const std::string kSql = fmt::format(
      "SELECT {}, duplicate, session_id, content_type, body, method FROM "
      "events",
      EventColumns(""));
  return kSql;
}

}  // namespace

Result<std::vector<EventView>> SqliteStore::SessionEvents(int64_t id) {
  Result<Lease> reader = Reader();
  if (!reader.ok()) return reader.error();
  Sql sql{EventViewSelect() + " WHERE session_id = ? ORDER BY time, id", {id}};
  std::vector<EventView> views;
  if (Status s = Collect(**reader, sql, ReadEventView, views); !s.ok()) {
    return s.error();
  }
  return views;
}

Result<std::vector<EventView>> SqliteStore::SessionEventsPage(
    const SessionEventsQuery& q) {
  if (q.limit <= 0) return std::vector<EventView>();
  Result<Lease> reader = Reader();
  if (!reader.ok()) return reader.error();
  Sql sql{EventViewSelect() + " WHERE session_id = ?", {q.session_id}};
  if (q.after) {
    sql.text += " AND (time, id) > (?, ?)";
    sql.params.emplace_back(q.after->first);
    sql.params.emplace_back(q.after->second);
  }
  sql.text += " ORDER BY time, id LIMIT ?";
  sql.params.emplace_back(int64_t{std::min(q.limit, kMaxPageLimit)});
  std::vector<EventView> views;
  if (Status s = Collect(**reader, sql, ReadEventView, views); !s.ok()) {
    return s.error();
  }
  return views;
}

Result<std::vector<EventView>> SqliteStore::ListEvents(
    const EventPageQuery& q) {
  if (q.limit <= 0) return std::vector<EventView>();
  Result<Lease> reader = Reader();
  if (!reader.ok()) return reader.error();
  Sql sql{EventViewSelect() + " WHERE 1", {}};
  if (q.device) {
    sql.text += " AND device = ?";
    sql.params.emplace_back(*q.device);
  }
  if (q.before_id) {
    sql.text += " AND id < ?";
    sql.params.emplace_back(*q.before_id);
  }
  sql.text += " ORDER BY id DESC LIMIT ?";
  sql.params.emplace_back(int64_t{std::min(q.limit, kMaxPageLimit)});
  std::vector<EventView> views;
  if (Status s = Collect(**reader, sql, ReadEventView, views); !s.ok()) {
    return s.error();
  }
  return views;
}

Result<std::vector<Session>> SqliteStore::SessionsOverlapping(TimeMs from,
                                                              TimeMs to) {
  Result<Lease> reader = Reader();
  if (!reader.ok()) return reader.error();
  ReadTransaction txn(**reader);
  if (Status s = txn.Begin(); !s.ok()) return s.error();
  TimeMs bound = SaturatingSub(from, sqlite::kLongSessionMs);
  // Recent starts (by sessions_started), then long or open sessions that
  // started earlier, then open ones that started after the window (both by
  // sessions_long).
  Sql recent = SessionsWhere(kOverlapsRecent);
  recent.params = {bound, to, from, from};
  Sql old = SessionsWhere(kLongOrOpen);
  old.text += fmt::format(" AND {}", kOverlapsOld);
  old.params = {std::min(bound, to), from};
  Sql later = SessionsWhere(kLongOrOpen);
  later.text += " AND s.ended_at IS NULL AND s.started_at >= ?";
  later.params = {to};
  std::vector<Session> out;
  for (const Sql* sql : {&recent, &old, &later}) {
    if (Status s = Collect(**reader, *sql, ReadSession, out); !s.ok()) {
      return s.error();
    }
  }
  return out;
}

Status SqliteStore::SetSessionUser(int64_t id, const std::string& user) {
  Result<Lease> reader = Reader();
  if (!reader.ok()) return reader.error();
  Connection& conn = **reader;
  if (Status s = conn.Exec("BEGIN IMMEDIATE"); !s.ok()) return s;
  Result<bool> exists = Single<bool>(
      conn, "SELECT 1 FROM sessions WHERE id = ?", id,
      [](Query&) { return true; }, false);
  Status s = exists.ok() ? Status() : Status(exists.error());
  if (s.ok() && !*exists) {
    s = NotFound(fmt::format("there is no session {}", id));
  }
  std::optional<std::string> attributed;
  if (!user.empty()) attributed = user;
  if (s.ok()) {
    s = attributed
            ? RunOn(conn,
                    "INSERT OR REPLACE INTO session_users (session_id, user) "
                    "VALUES (?, ?)",
                    [&](Query& q) { q.Bind(id).Bind(user); })
            : RunOn(conn, "DELETE FROM session_users WHERE session_id = ?",
                    [&](Query& q) { q.Bind(id); });
  }
  if (s.ok()) {
    s = RunOn(conn, "UPDATE sessions SET attributed_user = ? WHERE id = ?",
              [&](Query& q) { q.Bind(attributed).Bind(id); });
  }
  if (s.ok()) s = conn.Exec("COMMIT");
  if (!s.ok()) (void)conn.Exec("ROLLBACK");
  return s;
}

Result<std::optional<Snapshot>> SqliteStore::GetSnapshot(int64_t event_id) {
  Result<Lease> reader = Reader();
  if (!reader.ok()) return reader.error();
  Sql sql{"SELECT content_type, bytes FROM snapshots WHERE event_id = ?",
          {event_id}};
  std::vector<Snapshot> found;
  Status s = Collect(
      **reader, sql,
      [](Query& q) {
        Snapshot snap;
        snap.content_type = q.Text();
        snap.bytes = q.Text();
        return snap;
      },
      found);
  if (!s.ok()) return s.error();
  if (found.empty()) return std::optional<Snapshot>();
  return std::optional<Snapshot>(std::move(found.front()));
}

Result<RequestTally> SqliteStore::CountRequests(int64_t after_id) {
  Result<Lease> reader = Reader();
  if (!reader.ok()) return reader.error();
  ReadTransaction txn(**reader);
  if (Status s = txn.Begin(); !s.ok()) return s.error();
  RequestTally tally;
  tally.last_id = after_id;
  Sql max_id{"SELECT max(id) FROM events WHERE id > ?", {after_id}};
  std::vector<std::optional<int64_t>> found;
  Status s = Collect(
      **reader, max_id, [](Query& q) { return q.OptInt(); }, found);
  if (!s.ok()) return s.error();
  if (found.empty() || !found.front()) return tally;
  tally.last_id = *found.front();
  // Swept events (method NULL) are not requests; a test event counts as a
  // test whether or not it was a resend, as the receiver answers it.
  Sql counts{
      "SELECT device, sum(test = 0 AND duplicate = 0), "
      "sum(test = 0 AND duplicate = 1), sum(test = 1) FROM events "
      "WHERE id > ? AND id <= ? AND method IS NOT NULL GROUP BY device",
      {after_id, tally.last_id}};
  std::vector<std::pair<std::string, RequestCounts>> rows;
  s = Collect(
      **reader, counts,
      [](Query& q) {
        std::string device = q.Text();
        RequestCounts c;
        c.stored = q.Int();
        c.duplicate = q.Int();
        c.test = q.Int();
        return std::make_pair(std::move(device), c);
      },
      rows);
  if (!s.ok()) return s.error();
  for (auto& [device, c] : rows) tally.by_device[device] = c;
  return tally;
}

}  // namespace pm

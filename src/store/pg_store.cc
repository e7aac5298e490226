#include "store/pg_store.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <type_traits>
#include <unordered_map>

#include "decode/decode.h"
#include "store/append_rules.h"
#include "store/pg_schema.h"
#include "store/chunks.h"
#include "store/row_mapping.h"

namespace pm {

using pg::Connection;
using pg::Params;
using pg::Rows;

namespace {

constexpr int kMaxPageLimit = 10000;
constexpr int kForEachChunk = 512;
constexpr size_t kMaxIdleReaders = 4;

// An Event column's name here: `user` is reserved in PostgreSQL.
std::string_view Column(std::string_view name) {
  return name == "user" ? "user_name" : name;
}

std::string EventColumns(std::string_view prefix) {
  std::string out;
  for (const char* name : rows::kEventFields) {
    if (!out.empty()) out += ", ";
    out += fmt::format("{}{}", prefix, Column(name));
  }
  return out;
}

constexpr const char* kSessionSelect =
    "s.id, s.device, s.status, s.started_at, s.ended_at, s.last_event_at, "
    "s.pauses, s.pause_started_at, s.file_name, s.file_path, s.file_display, "
    "s.file_origin, s.file_size, coalesce(s.attributed_user, s.user_name), "
    "s.progress_pct, s.reported_time_s, s.estimated_s, s.job_filament_mm, "
    "s.job_filament_cm3, s.error, s.start_inferred, s.end_inferred, "
    "s.event_count, s.snapshot, s.opened_by_time, s.opened_by_id, "
    "s.closed_by_time, s.closed_by_id, s.idle_after, s.time_left_s, "
    "s.time_left_at";

// `sql` written with `?` placeholders, numbered $1, $2, ... for libpq.
std::string Numbered(std::string_view sql) {
  std::string out;
  int n = 0;
  bool quoted = false;
  for (char c : sql) {
    if (c == '\'') quoted = !quoted;
    if (c == '?' && !quoted) {
      out += fmt::format("${}", ++n);
    } else {
      out += c;
    }
  }
  return out;
}

// A statement with `?` placeholders and its parameters, built up from
// optional filters.
struct Sql {
  std::string text;
  Params params;
};

template <typename T, typename ReadRow>
Status Collect(Connection& conn, const Sql& sql, ReadRow read_row,
               std::vector<T>& out) {
  auto rows = conn.Exec(Numbered(sql.text), sql.params);
  if (!rows.ok()) return rows.error();
  for (int i = 0; i < rows->size(); ++i) {
    Rows::Row row = rows->row(i);
    out.push_back(read_row(row));
  }
  return {};
}

Event ReadEventRow(Rows::Row& r) { return rows::ReadEvent(r); }
Session ReadSessionRow(Rows::Row& r) { return rows::ReadSession(r); }

EventView ReadEventView(Rows::Row& q) {
  EventView v;
  v.event = rows::ReadEvent(q);
  v.duplicate = q.Bool();
  v.session_id = q.OptInt();
  v.content_type = q.OptText().value_or("");
  std::optional<std::string> body = q.OptBytes();
  bool has_request = !q.IsNull();  // method
  if (has_request) v.body = body ? std::move(*body) : std::string();
  return v;
}

std::string EventViewColumns() {
  return fmt::format(
      "SELECT {}, e.duplicate, l.session_id, e.content_type, e.body, "
      "e.method",
      EventColumns("e."));
}

constexpr const char* kSessionEventsFrom =
    " FROM event_sessions l JOIN events e ON e.id = l.event_id WHERE "
    "l.session_id = ?";

TimeMs SaturatingSub(TimeMs a, TimeMs b) {
  return a < std::numeric_limits<TimeMs>::min() + b
             ? std::numeric_limits<TimeMs>::min()
             : a - b;
}

constexpr const char* kLongOrOpen =
    "(s.ended_at IS NULL OR s.ended_at - s.started_at > 604800000)";
constexpr const char* kOverlapsRecent =
    "s.started_at >= ? AND s.started_at < ? AND "
    "(s.ended_at IS NULL OR s.ended_at > ? OR s.started_at >= ?)";
constexpr const char* kOverlapsOld =
    "s.started_at < ? AND (s.ended_at IS NULL OR s.ended_at > ?)";

Sql SessionsWhere(const char* condition) {
  return {fmt::format("SELECT {} FROM sessions s WHERE {}", kSessionSelect,
                      condition),
          {}};
}

void AddFilter(const SessionFilter& f, Sql& sql) {
  if (f.device) {
    sql.text += " AND s.device = ?";
    sql.params.Bind(*f.device);
  }
  if (f.user) {
    sql.text += " AND coalesce(s.attributed_user, s.user_name) = ?";
    sql.params.Bind(*f.user);
  }
  if (f.status) {
    sql.text += " AND s.status = ?";
    sql.params.Bind(sqlite::StoredStatus(*f.status));
  }
}

void AddPage(const SessionPageQuery& q, int limit, Sql& sql) {
  if (q.after) {
    sql.text += " AND (s.started_at, s.id) < (?, ?)";
    sql.params.Bind(q.after->first).Bind(q.after->second);
  }
  sql.text += " ORDER BY s.started_at DESC, s.id DESC LIMIT ?";
  sql.params.Bind(limit);
}

Status Run(Connection& conn, const std::string& sql, Params params = {}) {
  auto rows = conn.Exec(Numbered(sql), std::move(params));
  if (!rows.ok()) return rows.error();
  return {};
}

// Runs `statements` in pipelines of at most kPipelineChunk (libpq's
// blocking mode sends a whole pipeline before it reads a result: bounded, so
// that neither side's socket buffer fills while the other waits). Returns
// the rows the first statement changed; `affected`, when given, gets the
// count of every statement, in order.
constexpr size_t kPipelineChunk = 512;

Result<int64_t> RunPipelined(Connection& conn,
                             std::vector<Connection::Statement>& statements,
                             std::vector<int64_t>* affected = nullptr) {
  int64_t first_affected = 0;
  for (size_t at = 0; at < statements.size(); at += kPipelineChunk) {
    size_t end = std::min(statements.size(), at + kPipelineChunk);
    std::vector<Connection::Statement> chunk(
        std::make_move_iterator(statements.begin() + at),
        std::make_move_iterator(statements.begin() + end));
    auto rows = conn.Pipeline(chunk);
    if (!rows.ok()) return rows.error();
    if (at == 0 && !rows->empty()) first_affected = (*rows)[0].affected();
    if (affected) {
      for (const auto& r : *rows) affected->push_back(r.affected());
    }
  }
  return first_affected;
}

const std::string& InsertEventSql() {
  static const std::string sql = [] {
    std::string marks;
    for (int i = 0; i < 27 + 9; ++i) marks += i ? ", ?" : "?";
    return fmt::format(
        "INSERT INTO events ({}, duplicate, decoder, method, target, "
        "content_type, body, picture_at, picture_size, picture_type) VALUES "
        "({})",
        EventColumns(""), marks);
  }();
  return sql;
}

Params EventParams(const EventRecord& r) {
  Params p;
  rows::BindEvent(p, r.event);
  p.Bind(r.duplicate);
  if (r.decoder != 0) {
    p.Bind(r.decoder);
  } else {
    p.BindNull();
  }
  if (r.request) {
    p.Bind(r.request->method).Bind(r.request->target);
    p.Bind(r.request->content_type).BindBytes(r.request->body);
  } else {
    p.BindNull().BindNull().BindNull().BindNull();
  }
  if (r.request && r.request->picture) {
    const StoredPicture& picture = *r.request->picture;
    p.Bind(picture.offset).Bind(picture.size).Bind(picture.content_type);
  } else {
    p.BindNull().BindNull().BindNull();
  }
  return p;
}

}  // namespace

// A pooled reader connection, returned to the pool when destroyed (unless
// the server dropped it).
class PgStore::Lease {
 public:
  Lease(PgStore* store, std::unique_ptr<Connection> conn)
      : store_(store), conn_(std::move(conn)) {}
  Lease(Lease&&) noexcept = default;
  ~Lease() {
    if (!conn_ || conn_->broken()) return;
    std::lock_guard lock(store_->pool_mutex_);
    if (store_->idle_readers_.size() < kMaxIdleReaders) {
      store_->idle_readers_.push_back(std::move(conn_));
    }
  }
  Connection& operator*() { return *conn_; }
  Connection* operator->() { return conn_.get(); }

 private:
  PgStore* store_;
  std::unique_ptr<Connection> conn_;
};

PgStore::PgStore(std::string url, std::unique_ptr<Connection> writer,
                 std::unique_ptr<Connection> projector)
    : url_(std::move(url)),
      writer_(std::move(writer)),
      projector_(std::move(projector)) {}

PgStore::~PgStore() = default;

Result<std::unique_ptr<PgStore>> PgStore::Open(const std::string& url,
                                               const OpenOptions& options) {
  auto conn = Connection::Open(url);
  if (!conn.ok()) return conn.error();
  if (Status s = pg::Migrate(**conn); !s.ok()) return s.error();
  (void)options;  // several writers share a PostgreSQL database
  auto projector = Connection::Open(url);
  if (!projector.ok()) return projector.error();
  return std::unique_ptr<PgStore>(
      new PgStore(url, std::move(*conn), std::move(*projector)));
}

Result<PgStore::Lease> PgStore::Reader() {
  {
    std::lock_guard lock(pool_mutex_);
    if (!idle_readers_.empty()) {
      auto conn = std::move(idle_readers_.back());
      idle_readers_.pop_back();
      return Lease(this, std::move(conn));
    }
  }
  auto conn = Connection::Open(url_);
  if (!conn.ok()) return conn.error();
  // A reader's statements are planned for their parameters each time. A
  // prepared statement's generic plan is made once, for the table as it was
  // then: the printers looked up by name (FindDevices, FindDeviceStates)
  // kept a sequential scan planned while `devices` was nearly empty, and
  // took 4 ms a lookup once a new database held 30,000 printers (a
  // primary-key search each, planned afresh). Readers run few statements,
  // so planning each costs little.
  if (Status s = (*conn)->Script("SET plan_cache_mode = force_custom_plan");
      !s.ok()) {
    return s.error();
  }
  return Lease(this, std::move(*conn));
}

Status PgStore::Transaction(Connection& conn,
                            const std::function<Status()>& body) {
  if (Status s = conn.Script("BEGIN"); !s.ok()) return s;
  Status s = body();
  if (s.ok()) s = conn.Script("COMMIT");
  if (!s.ok()) (void)conn.Script("ROLLBACK");
  return s;
}

// --- LogStore ---

Result<int64_t> PgStore::LastEventId() {
  auto rows = writer_->Exec("SELECT last_id FROM log_head");
  if (!rows.ok()) return rows.error();
  return rows->row(0).Int();
}

// Run outside a transaction: returns once everything committed before it is
// on disk (a transactional logical message writes WAL, so its commit is
// flushed, and the WAL before it with it: a transaction that writes none,
// `SELECT pg_current_xact_id()` say, commits without a flush even with an
// id). See AppendPipelined.
const char* const kFlushSql =
    "SELECT pg_logical_emit_message(true, 'printmeter', '')";

// The query for a logged event `e` would duplicate (a row when there is).
Connection::Statement DuplicateQuery(const Event& e) {
  static const std::string kSql =
      Numbered("SELECT 1 FROM events WHERE device = ? AND time = ? AND "
               "kind = ? AND has_current_time AND file_path IS NOT DISTINCT "
               "FROM ? AND reported_time_s IS NOT DISTINCT FROM "
               "?::double precision LIMIT 1");
  Params p;
  p.Bind(e.device).Bind(e.time).Bind(sqlite::StoredKind(e.kind));
  p.Bind(e.file.path).Bind(e.reported_time_s);
  return {kSql, std::move(p)};
}

namespace {

// `select` (ending in a WHERE clause) narrowed to `column` IN `names`, up
// to 256 names a query. Each query's list of parameters is padded to 1, 4,
// 16, 64 or 256 (the last name repeated, which IN ignores), so there are
// five statements whatever the numbers of names: with a parameter per name
// every count was a statement of its own, prepared and kept on the server
// for the connection's life. Not one text[] parameter for all the names:
// the plan PostgreSQL kept for `= ANY($1)` made the projector's steps many
// times slower (a projection lag of 6 s instead of 0.3 s under the
// benchmark's load of new printers).
std::vector<Sql> NamesIn(const std::string& select, const char* column,
                         const std::vector<std::string>& names) {
  constexpr size_t kChunk = 256;
  std::vector<Sql> queries;
  for (size_t i = 0; i < names.size(); i += kChunk) {
    const size_t count = std::min(kChunk, names.size() - i);
    size_t padded = 1;
    while (padded < count) padded *= 4;
    Sql sql{fmt::format("{} AND {} IN (", select, column), {}};
    for (size_t j = 0; j < padded; ++j) {
      sql.text += j == 0 ? "?" : ", ?";
      sql.params.Bind(names[i + std::min(j, count - 1)]);
    }
    sql.text += ")";
    queries.push_back(std::move(sql));
  }
  return queries;
}

// A registration: keeps a secret stored first and answers what is stored.
const std::string& UpsertDeviceSql() {
  static const std::string sql = Numbered(
      "INSERT INTO devices (device, secret, first_seen, last_received) "
      "VALUES (?, ?, ?, ?) ON CONFLICT (device) DO UPDATE SET secret = "
      "coalesce(devices.secret, excluded.secret) RETURNING secret");
  return sql;
}

// The log row of `r` (numbered), and its picture's when it has the bytes (a
// picture the retention rule let go in a copied log has none).
void AddRowStatements(const EventRecord& r,
                      std::vector<Connection::Statement>& rows) {
  static const std::string kInsertEvent = Numbered(InsertEventSql());
  static const std::string kInsertPicture = Numbered(
      "INSERT INTO pictures (event_id, device, bytes) VALUES (?, ?, ?)");
  rows.push_back({kInsertEvent, EventParams(r)});
  if (r.request && r.request->picture && !r.request->picture->bytes.empty()) {
    Params p;
    p.Bind(r.event.id).Bind(r.event.device);
    p.BindBytes(r.request->picture->bytes);
    rows.push_back({kInsertPicture, std::move(p)});
  }
}

}  // namespace

Result<RegistrationTally> PgStore::Registrations(TimeMs since) {
  RegistrationTally tally;
  Sql all{"SELECT device FROM devices ORDER BY device", {}};
  if (Status s = Collect(
          *writer_, all, [](Rows::Row& q) { return q.Text(); }, tally.devices);
      !s.ok()) {
    return s.error();
  }
  Sql sql{"SELECT device, first_seen FROM devices WHERE first_seen > ?", {}};
  sql.params.Bind(since);
  Status s = Collect(
      *writer_, sql,
      [](Rows::Row& q) {
        std::string device = q.Text();
        return std::pair<std::string, TimeMs>(std::move(device), q.Int());
      },
      tally.since);
  if (!s.ok()) return s.error();
  return tally;
}

Result<bool> PgStore::HasDuplicateOn(Connection& conn, const Event& e) {
  if (!e.has_current_time) return false;
  Connection::Statement query = DuplicateQuery(e);
  auto rows = conn.Exec(query.sql, std::move(query.params));
  if (!rows.ok()) return rows.error();
  return rows->size() > 0;
}

Result<bool> PgStore::HasDuplicate(const Event& e) {
  return HasDuplicateOn(*writer_, e);
}

// The live writer's append in two round trips (libpq's pipeline mode): the
// transaction begun, the registrations, the log's head locked and moved on
// by every event of the batch, and the duplicate lookups (behind the head's
// lock, so that another instance's append of the same event is seen); then
// the rows and the commit. The head is held one round trip and the commit.
//
// The commit does not wait for the disk (synchronous_commit off for this
// transaction): it releases the head at once, so that the next append,
// this instance's or another's, numbers its events while this one's WAL
// is flushed, and the instances' flushes can be one. The flush is
// confirmed by a transaction that writes WAL (a logical message of no
// content, kFlushSql): it commits synchronously, and its flush covers
// every commit before it in the WAL. The writer's batches
// (LogBatch::flush_later) leave that to Flush(), on its flusher's thread
// and another connection, which confirms every append made meanwhile at
// once while the appender goes on; any other append runs it in its own
// second round trip. Until then the rows are visible but not yet durable:
// what is derived from them and committed (the projection, another
// instance's duplicate verdicts and registrations, forwarding positions)
// comes later in the same WAL, so a crash of the server loses it with them,
// never them alone; forwarding flushes before it delivers what it read
// (ReadRequests). Measured on 8 s runs of 32 connections of new printers,
// the binaries in turn: two instances 6.5-7.7 -> 7.7-8.0 k requests/s with
// the head freed before the flush; then with the flush apart, one instance
// 6.9-7.6 -> 8.0-9.0 k, two 5.8-7.7 -> 7.5-8.1 k, one connection 1.1-1.3
// -> 1.2-1.6 k.
//
// Optimistic about registrations: when one was lost to another instance's
// (its events are refused), nothing is kept and it returns false, for
// AppendStepByStep to number only the events kept, leaving no gap in ids.
Result<bool> PgStore::AppendPipelined(LogBatch& batch) {
  Connection& conn = *writer_;
  if (batch.flush_later) {
    Result<int64_t> session = FlushSession();
    if (!session.ok()) return session.error();
    batch.flush_session = *session;
  }
  std::vector<EventRecord> events = batch.events;  // kept when it fails
  std::vector<const DeviceRecord*> devices;
  for (const DeviceRecord& d : batch.devices) devices.push_back(&d);
  std::sort(devices.begin(), devices.end(),
            [](auto* a, auto* b) { return a->device < b->device; });
  int64_t unnumbered = 0;
  int64_t greatest_given = 0;
  for (const EventRecord& r : events) {
    if (r.event.id == 0) ++unnumbered;
    greatest_given = std::max(greatest_given, r.event.id);
  }
  // Every event is stored unless a registration is lost (then none is):
  // numbered provisionally (-1), so that the duplicate rule takes the
  // batch's earlier events for logged ones, as they will be.
  for (EventRecord& r : events) {
    if (r.event.id == 0) r.event.id = -1;
  }
  std::vector<size_t> looked_up;
  if (batch.decide_duplicates) {
    for (size_t i = 0; i < events.size(); ++i) {
      auto dup = append_rules::IsDuplicate(events, i, [&](const Event&) {
        looked_up.push_back(i);
        return Result<bool>(false);
      });
      if (!dup.ok()) return dup.error();
      events[i].duplicate = *dup;
    }
  }
  auto rollback = [&conn](const Error& e) -> Error {
    (void)conn.Script("ROLLBACK");
    return e;
  };

  std::vector<Connection::Statement> first;
  first.push_back({"BEGIN", Params()});
  // The commit does not wait for the disk (see above).
  first.push_back({"SET LOCAL synchronous_commit = off", Params()});
  const size_t devices_at = first.size();
  for (const DeviceRecord* d : devices) {
    Params p;
    p.Bind(d->device).Bind(d->secret).Bind(d->first_seen);
    p.Bind(d->last_received);
    first.push_back({UpsertDeviceSql(), std::move(p)});
  }
  first.push_back(
      {Numbered("UPDATE log_head SET last_id = greatest(last_id + ?, ?) "
                "RETURNING last_id - ?"),
       std::move(Params().Bind(unnumbered).Bind(greatest_given).Bind(
           unnumbered))});
  for (size_t i : looked_up) first.push_back(DuplicateQuery(events[i].event));
  auto answered = conn.Pipeline(first);
  if (!answered.ok()) return rollback(answered.error());
  for (size_t i = 0; i < devices.size(); ++i) {
    std::optional<std::string> secret =
        (*answered)[devices_at + i].row(0).OptText();
    if (devices[i]->secret && secret != devices[i]->secret) {
      (void)conn.Script("ROLLBACK");
      return false;
    }
  }
  const size_t head_at = devices_at + devices.size();
  int64_t next_id = (*answered)[head_at].row(0).Int() + 1;
  for (size_t k = 0; k < looked_up.size(); ++k) {
    if ((*answered)[head_at + 1 + k].size() > 0) {
      events[looked_up[k]].duplicate = true;
    }
  }
  for (EventRecord& r : events) {
    if (r.event.id == -1) r.event.id = next_id++;
  }

  std::vector<Connection::Statement> rows;
  for (const EventRecord& r : events) AddRowStatements(r, rows);
  rows.push_back({"COMMIT", Params()});
  if (!batch.flush_later) rows.push_back({kFlushSql, Params()});
  auto inserted = RunPipelined(conn, rows);
  if (!inserted.ok()) return rollback(inserted.error());
  batch.events = std::move(events);
  batch.durable = !batch.flush_later;
  return true;
}

Status PgStore::Append(LogBatch& batch) {
  batch.lost.clear();
  batch.durable = true;
  if (batch.empty()) return {};
  Result<bool> pipelined = AppendPipelined(batch);
  if (!pipelined.ok()) {
    return Unavailable(
        fmt::format("nothing was stored: {}", pipelined.error().message));
  }
  if (*pipelined) return {};
  return AppendStepByStep(batch);
}

// The append that numbers only the events of registrations that held: four
// round trips in the transaction (the registrations, the head, the
// duplicate lookups, the rows).
Status PgStore::AppendStepByStep(LogBatch& batch) {
  std::vector<EventRecord> events = batch.events;  // kept when it fails
  std::vector<DeviceRecord> lost;
  Connection& conn = *writer_;
  // Four round trips whatever the batch's size (libpq's pipeline mode):
  // the registrations, the log's head, the duplicate lookups, the rows.
  Status s = Transaction(conn, [&]() -> Status {
    lost.clear();
    // Registrations first, in one order on every instance (no deadlock):
    // each upsert keeps a secret stored first and answers what is stored.
    std::vector<const DeviceRecord*> devices;
    for (const DeviceRecord& d : batch.devices) devices.push_back(&d);
    std::sort(devices.begin(), devices.end(),
              [](auto* a, auto* b) { return a->device < b->device; });
    std::vector<Connection::Statement> upserts;
    for (const DeviceRecord* d : devices) {
      Params p;
      p.Bind(d->device).Bind(d->secret).Bind(d->first_seen);
      p.Bind(d->last_received);
      upserts.push_back({UpsertDeviceSql(), std::move(p)});
    }
    auto stored = conn.Pipeline(upserts);
    if (!stored.ok()) return stored.error();
    for (size_t i = 0; i < devices.size(); ++i) {
      const DeviceRecord* d = devices[i];
      std::optional<std::string> secret = (*stored)[i].row(0).OptText();
      if (d->secret && secret != d->secret) {
        DeviceRecord winner = *d;
        winner.secret = secret;
        lost.push_back(std::move(winner));
      }
    }
    // The log's head: locked to the commit, so appends commit in id order.
    int64_t unnumbered = 0;
    int64_t greatest_given = 0;
    for (const EventRecord& r : events) {
      if (append_rules::IsLost(lost, r.event.device)) continue;
      if (r.event.id == 0) ++unnumbered;
      greatest_given = std::max(greatest_given, r.event.id);
    }
    auto head = conn.Exec(
        Numbered("UPDATE log_head SET last_id = greatest(last_id + ?, ?) "
                 "RETURNING last_id - ?"),
        std::move(Params().Bind(unnumbered).Bind(greatest_given).Bind(
            unnumbered)));
    if (!head.ok()) return head.error();
    int64_t next_id = head->row(0).Int() + 1;
    std::vector<size_t> kept;  // the events of registrations that held
    for (size_t i = 0; i < events.size(); ++i) {
      if (append_rules::IsLost(lost, events[i].event.device)) continue;
      if (events[i].event.id == 0) events[i].event.id = next_id++;
      kept.push_back(i);
    }
    if (batch.decide_duplicates) {
      // Decided within the batch first; what is left is looked up in the
      // committed log, all lookups in one round trip.
      std::vector<size_t> looked_up;
      for (size_t i : kept) {
        auto dup = append_rules::IsDuplicate(events, i, [&](const Event&) {
          looked_up.push_back(i);
          return Result<bool>(false);
        });
        if (!dup.ok()) return dup.error();
        events[i].duplicate = *dup;
      }
      std::vector<Connection::Statement> lookups;
      for (size_t i : looked_up) {
        lookups.push_back(DuplicateQuery(events[i].event));
      }
      auto found = conn.Pipeline(lookups);
      if (!found.ok()) return found.error();
      for (size_t k = 0; k < looked_up.size(); ++k) {
        events[looked_up[k]].duplicate = (*found)[k].size() > 0;
      }
    }
    std::vector<Connection::Statement> rows;
    for (size_t i : kept) AddRowStatements(events[i], rows);
    auto inserted = RunPipelined(conn, rows);
    if (!inserted.ok()) return inserted.error();
    return {};
  });
  if (!s.ok()) {
    return Unavailable(
        fmt::format("nothing was stored: {}", s.error().message));
  }
  batch.events = std::move(events);
  batch.lost = std::move(lost);
  return {};
}

Result<int64_t> PgStore::FlushSession() {
  // The append's own connection broke: the server may have restarted, and
  // the flusher's session with it. Its session is made sure of first, or
  // every append until its next flush would be told it may be lost.
  const bool renew = writer_->broken();
  if (int64_t session = flush_session_.load(); session != 0 && !renew) {
    return session;
  }
  std::lock_guard lock(flush_mutex_);
  if (!flusher_) {
    auto conn = Connection::Open(url_);
    if (!conn.ok()) return conn.error();
    flusher_ = std::move(*conn);
  } else if (renew) {
    // A broken session fails its first statement and reconnects at the
    // next.
    if (!flusher_->Exec("SELECT 1").ok()) {
      if (auto again = flusher_->Exec("SELECT 1"); !again.ok()) {
        return again.error();
      }
    }
  }
  flush_session_ = flusher_->session();
  return flush_session_.load();
}

// A session that flushed was open before every append that took its number
// (FlushSession) and is still open: the server has not restarted between
// their commits and this flush, which covers them. Appends that took an
// earlier session's number may have been lost to a restart meanwhile.
Result<int64_t> PgStore::Flush() {
  std::lock_guard lock(flush_mutex_);
  if (!flusher_) return flush_session_.load();  // nothing appended apart
  if (auto flushed = flusher_->Exec(kFlushSql); !flushed.ok()) {
    return Unavailable(fmt::format(
        "the database did not confirm that the events are on disk: {}",
        flushed.error().message));
  }
  flush_session_ = flusher_->session();
  return flush_session_.load();
}

Result<int64_t> PgStore::AllocateEventIds(int64_t count) {
  if (count < 0) return Invalid("cannot allocate a negative number of ids");
  auto rows = writer_->Exec(
      Numbered("UPDATE log_head SET last_id = last_id + ? RETURNING "
               "last_id - ? + 1"),
      std::move(Params().Bind(count).Bind(count)));
  if (!rows.ok()) return rows.error();
  return rows->row(0).Int();
}

Status PgStore::SetSessionUser(int64_t id, const std::string& user) {
  Connection& conn = *projector_;
  std::optional<std::string> attributed;
  if (!user.empty()) attributed = user;
  return Transaction(conn, [&]() -> Status {
    auto exists = conn.Exec(Numbered("SELECT 1 FROM sessions WHERE id = ?"),
                            std::move(Params().Bind(id)));
    if (!exists.ok()) return exists.error();
    if (exists->size() == 0) {
      return NotFound(fmt::format("there is no session {}", id));
    }
    Status s =
        attributed
            ? Run(conn,
                  "INSERT INTO session_users (session_id, user_name) VALUES "
                  "(?, ?) ON CONFLICT (session_id) DO UPDATE SET user_name = "
                  "excluded.user_name",
                  std::move(Params().Bind(id).Bind(user)))
            : Run(conn, "DELETE FROM session_users WHERE session_id = ?",
                  std::move(Params().Bind(id)));
    if (!s.ok()) return s;
    return Run(conn, "UPDATE sessions SET attributed_user = ? WHERE id = ?",
               std::move(Params().Bind(attributed).Bind(id)));
  });
}

Status PgStore::ForEachEvent(
    const std::function<Status(const EventRecord&)>& fn) {
  return ForEachEventWhere("", {}, fn);
}

Status PgStore::ForEachEventToDecode(
    int64_t decoder, const std::function<Status(const EventRecord&)>& fn) {
  if (decoder == 0) return ForEachEventWhere("AND method IS NOT NULL", {}, fn);
  auto reader = Reader();
  if (!reader.ok()) return reader.error();
  auto checked = (*reader)->Exec(
      "SELECT coalesce(max(up_to), 0) FROM decoded WHERE decoder = $1",
      std::move(Params().Bind(decoder)));
  if (!checked.ok()) return checked.error();
  return ForEachEventWhere(
      "AND id > ? AND method IS NOT NULL AND decoder IS DISTINCT FROM ?",
      {checked->row(0).Int(), decoder}, fn);
}

Status PgStore::RecordDecoded(int64_t decoder, int64_t up_to) {
  auto done = writer_->Exec(
      "INSERT INTO decoded (id, decoder, up_to) VALUES (1, $1, $2) ON "
      "CONFLICT (id) DO UPDATE SET decoder = excluded.decoder, up_to = "
      "excluded.up_to",
      std::move(Params().Bind(decoder).Bind(up_to)));
  if (!done.ok()) return done.error();
  return {};
}

Status PgStore::ForEachEventWhere(
    const std::string& condition, const std::vector<int64_t>& params,
    const std::function<Status(const EventRecord&)>& fn) {
  const std::string sql_text = fmt::format(
      "SELECT {}, duplicate, decoder, method, target, content_type, body, "
      "picture_at, picture_size, picture_type FROM events WHERE id > ? {} "
      "ORDER BY id LIMIT {}",
      EventColumns(""), condition, kForEachChunk);
  auto read = [&, this](const EventRecord* last,
                        std::vector<EventRecord>& chunk) -> Status {
    auto reader = Reader();
    if (!reader.ok()) return reader.error();
    Sql sql{sql_text, {}};
    sql.params.Bind(last ? last->event.id
                         : std::numeric_limits<int64_t>::min());
    for (int64_t p : params) sql.params.Bind(p);
    return Collect(
        **reader, sql,
        [](Rows::Row& q) {
          EventRecord r;
          r.event = rows::ReadEvent(q);
          r.duplicate = q.Bool();
          r.decoder = q.OptInt().value_or(0);
          if (!q.IsNull()) {
            StoredRequest request;
            request.method = q.Text();
            request.target = q.OptText().value_or("");
            request.content_type = q.OptText().value_or("");
            request.body = q.OptBytes().value_or("");
            std::optional<int64_t> at = q.OptInt();
            std::optional<int64_t> size = q.OptInt();
            std::optional<std::string> type = q.OptText();
            if (at && size) {
              request.picture = StoredPicture{*at, *size, type.value_or("")};
            }
            r.request = std::move(request);
          }
          return r;
        },
        chunk);
  };
  return ForEachInChunks<EventRecord>(kForEachChunk, read, fn);
}

Status PgStore::ForEachEventByDevice(
    int64_t up_to_id, const std::function<Status(const LoggedEvent&)>& fn) {
  // Through events_device_time: the row comparison's (device, time) bounds
  // the index scan, the id orders within a time (an incremental sort).
  static const std::string kColumns =
      fmt::format("SELECT {}, {} FROM events WHERE id <= ?", EventColumns(""),
                  rows::kLoggedEventColumns);
  static const std::string kFirst = fmt::format(
      "{} ORDER BY device, time, id LIMIT {}", kColumns, kForEachChunk);
  static const std::string kNext = fmt::format(
      "{} AND (device, time, id) > (?, ?, ?) ORDER BY device, time, id "
      "LIMIT {}",
      kColumns, kForEachChunk);
  auto read = [this, up_to_id](const LoggedEvent* last,
                               std::vector<LoggedEvent>& chunk) -> Status {
    auto reader = Reader();
    if (!reader.ok()) return reader.error();
    Sql sql{last ? kNext : kFirst, {}};
    sql.params.Bind(up_to_id);
    if (last) {
      sql.params.Bind(last->event.device).Bind(last->event.time);
      sql.params.Bind(last->event.id);
    }
    return Collect(**reader, sql, rows::ReadLoggedEvent<Rows::Row>, chunk);
  };
  return ForEachInChunks<LoggedEvent>(kForEachChunk, read, fn);
}

namespace {

// Every Event column but the id, then duplicate, by id.
Connection::Statement UpdateEventStatement(const EventUpdate& u) {
  static const std::string kSql = [] {
    std::string set;
    for (const char* name : rows::kEventFields) {
      if (std::string_view(name) == "id") continue;
      set += fmt::format("{} = ?, ", Column(name));
    }
    return Numbered(
        fmt::format("UPDATE events SET {}duplicate = ? WHERE id = ?", set));
  }();
  Params p;
  rows::BindEvent(p, u.event, /*with_id=*/false);
  p.Bind(u.duplicate).Bind(u.event.id);
  return {kSql, std::move(p)};
}

}  // namespace

Status PgStore::RewriteEvents(const std::vector<EventUpdate>& updates) {
  if (updates.empty()) return {};
  Connection& conn = *writer_;
  return Transaction(conn, [&]() -> Status {
    for (const EventUpdate& u : updates) {
      Connection::Statement update = UpdateEventStatement(u);
      auto rows = conn.Exec(update.sql, std::move(update.params));
      if (!rows.ok()) return rows.error();
      if (rows->affected() == 0) {
        return NotFound(fmt::format(
            "cannot rewrite event {}: no such event is stored", u.event.id));
      }
    }
    return {};
  });
}

// --- ProjectionStore ---

Result<int64_t> PgStore::ProjectedPosition() {
  auto rows = projector_->Exec("SELECT position FROM projection");
  if (!rows.ok()) return rows.error();
  return rows->row(0).Int();
}

Result<std::vector<LoggedEvent>> PgStore::ReadLog(int64_t after_id,
                                                  int limit) {
  static const std::string kSql = fmt::format(
      "SELECT {}, {} FROM events WHERE id > ? ORDER BY id LIMIT ?",
      EventColumns(""), rows::kLoggedEventColumns);
  Sql sql{kSql, {}};
  sql.params.Bind(after_id).Bind(limit);
  std::vector<LoggedEvent> out;
  Status s =
      Collect(*projector_, sql, rows::ReadLoggedEvent<Rows::Row>, out);
  if (!s.ok()) return s.error();
  return out;
}

Result<std::vector<Event>> PgStore::FoldableEvents(
    const std::string& device, std::optional<EventKey> after,
    int64_t up_to_id) {
  Sql sql{fmt::format("SELECT {} FROM events WHERE device = ? AND id <= ? "
                      "AND NOT duplicate AND NOT test",
                      EventColumns("")),
          {}};
  sql.params.Bind(device).Bind(up_to_id);
  if (after) {
    sql.text += " AND (time, id) > (?, ?)";
    sql.params.Bind(after->time).Bind(after->id);
  }
  sql.text += " ORDER BY time, id";
  std::vector<Event> events;
  if (Status s = Collect(*projector_, sql, ReadEventRow, events); !s.ok()) {
    return s.error();
  }
  return events;
}

Result<std::map<std::string, int64_t, std::less<>>> PgStore::FoldedDevices(
    int64_t after_id, int64_t up_to_id) {
  Sql sql{"SELECT device, max(id) FROM events WHERE id > ? AND id <= ? AND "
          "NOT duplicate AND NOT test GROUP BY device",
          {}};
  sql.params.Bind(after_id).Bind(up_to_id);
  std::vector<std::pair<std::string, int64_t>> rows;
  Status s = Collect(
      *projector_, sql,
      [](Rows::Row& q) {
        std::string device = q.Text();
        return std::pair<std::string, int64_t>(std::move(device), q.Int());
      },
      rows);
  if (!s.ok()) return s.error();
  return std::map<std::string, int64_t, std::less<>>(rows.begin(), rows.end());
}

Result<std::map<int64_t, int64_t>> PgStore::StoredLinks(
    const std::string& device, std::optional<EventKey> after,
    int64_t up_to_id) {
  Sql sql{"SELECT l.event_id, l.session_id FROM events e JOIN event_sessions "
          "l ON l.event_id = e.id WHERE e.device = ? AND e.id <= ?",
          {}};
  sql.params.Bind(device).Bind(up_to_id);
  if (after) {
    sql.text += " AND (e.time, e.id) > (?, ?)";
    sql.params.Bind(after->time).Bind(after->id);
  }
  std::vector<std::pair<int64_t, int64_t>> rows;
  Status s = Collect(
      *projector_, sql,
      [](Rows::Row& q) {
        int64_t event = q.Int();
        return std::pair<int64_t, int64_t>(event, q.Int());
      },
      rows);
  if (!s.ok()) return s.error();
  return std::map<int64_t, int64_t>(rows.begin(), rows.end());
}

Result<std::optional<Session>> PgStore::LastIdleSessionBefore(
    const std::string& device, EventKey before) {
  Sql sql{fmt::format("SELECT {} FROM sessions s WHERE s.device = ? AND "
                      "s.idle_after AND (s.closed_by_time, s.closed_by_id) < "
                      "(?, ?) ORDER BY s.closed_by_time DESC, s.closed_by_id "
                      "DESC LIMIT 1",
                      kSessionSelect),
          {}};
  sql.params.Bind(device).Bind(before.time).Bind(before.id);
  std::vector<Session> found;
  if (Status s = Collect(*projector_, sql, ReadSessionRow, found); !s.ok()) {
    return s.error();
  }
  if (found.empty()) return std::optional<Session>();
  return std::optional<Session>(std::move(found.front()));
}

Result<std::vector<KeptPicture>> PgStore::KeptPictures(
    const std::string& device, const std::vector<int64_t>& sessions,
    int64_t up_to) {
  auto read = [](Rows::Row& q) {
    KeptPicture p;
    p.event_id = q.Int();
    p.session_id = q.OptInt();
    p.key = {q.Int(), p.event_id};
    return p;
  };
  std::vector<KeptPicture> latest;
  Sql last{"SELECT p.event_id, l.session_id, e.time FROM pictures p JOIN "
           "events e ON e.id = p.event_id LEFT JOIN event_sessions l ON "
           "l.event_id = p.event_id WHERE p.device = ? AND p.event_id <= ? "
           "ORDER BY p.event_id DESC LIMIT 1",
           {}};
  last.params.Bind(device).Bind(up_to);
  if (Status s = Collect(*projector_, last, read, latest); !s.ok()) {
    return s.error();
  }
  std::vector<int64_t> linked = sessions;
  if (!latest.empty() && latest.front().session_id) {
    linked.push_back(*latest.front().session_id);
  }
  std::sort(linked.begin(), linked.end());
  linked.erase(std::unique(linked.begin(), linked.end()), linked.end());
  std::vector<KeptPicture> out;
  for (int64_t session : linked) {
    Sql sql{"SELECT l.event_id, l.session_id, l.time FROM event_sessions l "
            "JOIN pictures p ON p.event_id = l.event_id WHERE l.session_id = "
            "? AND l.event_id <= ? AND p.device = ?",
            {}};
    sql.params.Bind(session).Bind(up_to).Bind(device);
    if (Status s = Collect(*projector_, sql, read, out); !s.ok()) {
      return s.error();
    }
  }
  if (!latest.empty() && !latest.front().session_id) {
    out.push_back(latest.front());
  }
  return out;
}

// The projection lead's session advisory lock ("pmprojct").
constexpr int64_t kProjectionLeadLock = 0x706d70726f6a6374;

Result<bool> PgStore::LeadProjection() {
  auto now = std::chrono::steady_clock::now();
  if (leading_ && now - lead_checked_ < std::chrono::seconds(1)) return true;
  lead_checked_ = now;
  if (leading_) {
    // The lock is ours while its connection lives; a server that dropped
    // the connection (a restart) let go of the lock with it.
    if (auto alive = lead_->Exec("SELECT 1"); alive.ok()) return true;
    leading_ = false;
    lead_.reset();
  }
  if (!lead_) {
    auto opened = pg::Connection::Open(url_);
    if (!opened.ok()) return opened.error();
    lead_ = std::move(*opened);
  }
  auto rows = lead_->Exec("SELECT pg_try_advisory_lock($1)",
                          std::move(Params().Bind(kProjectionLeadLock)));
  if (!rows.ok()) {
    lead_.reset();
    return rows.error();
  }
  leading_ = rows->row(0).Bool();
  return leading_;
}

Status PgStore::CommitProjection(const ProjectionBatch& batch) {
  Status s =
      Transaction(*projector_, [&] { return ProjectInTransaction(batch); });
  if (!s.ok() && s.error().code != ErrorCode::kConflict) {
    return Unavailable(fmt::format("the ledger could not be updated: {}",
                                   s.error().message));
  }
  return s;
}

namespace {

// Rows as one JSON array of arrays, a binder as Params is (BindSession and
// the like fill it): a step's sessions, links and states each go to the
// server as ONE parameter of ONE statement (jsonb_array_elements), not a
// statement per row. Values keep their exact text: integers as JSON
// numbers, reals as strings in their shortest exact form (as Params sends
// them, NaN and infinities included), booleans as JSON's. A text is cut at
// a NUL byte, as a text parameter is.
class JsonRows {
 public:
  void Row() {
    out_ += rows_++ ? ",[" : "[";
    first_ = true;
  }
  void EndRow() { out_ += ']'; }
  JsonRows& Bind(int64_t v) {
    Next();
    fmt::format_to(std::back_inserter(out_), "{}", v);
    return *this;
  }
  JsonRows& Bind(int v) { return Bind(static_cast<int64_t>(v)); }
  JsonRows& Bind(bool v) {
    Next();
    out_ += v ? "true" : "false";
    return *this;
  }
  JsonRows& Bind(double v) {
    Next();
    fmt::format_to(std::back_inserter(out_), "\"{}\"", v);
    return *this;
  }
  JsonRows& Bind(std::string_view v) {
    Next();
    v = v.substr(0, v.find('\0'));
    out_ += '"';
    for (char c : v) {
      const auto u = static_cast<unsigned char>(c);
      if (c == '"' || c == '\\') {
        out_ += '\\';
        out_ += c;
      } else if (u < 0x20) {
        fmt::format_to(std::back_inserter(out_), "\\u{:04x}", u);
      } else {
        out_ += c;
      }
    }
    out_ += '"';
    return *this;
  }
  JsonRows& Bind(const std::string& v) { return Bind(std::string_view(v)); }
  JsonRows& Bind(const char* v) { return Bind(std::string_view(v)); }
  template <typename T>
  JsonRows& Bind(const std::optional<T>& v) {
    return v ? Bind(*v) : BindNull();
  }
  JsonRows& BindNull() {
    Next();
    out_ += "null";
    return *this;
  }
  int rows() const { return rows_; }
  std::string Text() const { return "[" + out_ + "]"; }

 private:
  void Next() {
    if (!first_) out_ += ',';
    first_ = false;
  }
  std::string out_;
  int rows_ = 0;
  bool first_ = true;
};

// The positions of each key's last row among `n` rows (key_of(i) is row
// i's), in their order: the rows one statement each would have left.
template <typename KeyOf>
std::vector<size_t> LastOfEach(size_t n, KeyOf key_of) {
  using Key = std::decay_t<decltype(key_of(size_t{0}))>;
  std::unordered_map<Key, size_t> last;
  for (size_t i = 0; i < n; ++i) last[key_of(i)] = i;
  std::vector<size_t> kept;
  for (size_t i = 0; i < n; ++i) {
    if (last[key_of(i)] == i) kept.push_back(i);
  }
  return kept;
}

// `ids` as a PostgreSQL bigint[] parameter ("{1,2,3}"), for `= ANY($1)`.
std::string BigintArray(const std::vector<int64_t>& ids) {
  return fmt::format("{{{}}}", fmt::join(ids, ","));
}

// "(r->>0)::bigint, r->>1, ..." for columns of these types, in order.
std::string JsonColumns(const std::vector<const char*>& types) {
  std::string out;
  int i = 0;
  for (const char* type : types) {
    if (i) out += ", ";
    if (std::string_view(type) == "text") {
      out += fmt::format("r->>{}", i);
    } else {
      out += fmt::format("(r->>{})::{}", i, type);
    }
    ++i;
  }
  return out;
}

// The sessions' upsert, every row of a JSON array at once (BindSession's
// order). The attributed user is copied from session_users on every upsert,
// so that it survives a reset of the projection and a rebuild.
const std::string& UpsertSessionsSql() {
  static const std::string sql = [] {
    struct Column {
      const char* name;
      const char* type;
    };
    const Column columns[] = {
        {"id", "bigint"},             {"device", "text"},
        {"status", "text"},           {"started_at", "bigint"},
        {"ended_at", "bigint"},       {"last_event_at", "bigint"},
        {"pauses", "text"},           {"pause_started_at", "bigint"},
        {"file_name", "text"},        {"file_path", "text"},
        {"file_display", "text"},     {"file_origin", "text"},
        {"file_size", "bigint"},      {"user_name", "text"},
        {"progress_pct", "float8"},   {"reported_time_s", "float8"},
        {"estimated_s", "float8"},    {"job_filament_mm", "float8"},
        {"job_filament_cm3", "float8"}, {"error", "text"},
        {"start_inferred", "boolean"}, {"end_inferred", "boolean"},
        {"event_count", "bigint"},    {"snapshot", "boolean"},
        {"opened_by_time", "bigint"}, {"opened_by_id", "bigint"},
        {"closed_by_time", "bigint"}, {"closed_by_id", "bigint"},
        {"idle_after", "boolean"},    {"time_left_s", "float8"},
        {"time_left_at", "bigint"}};
    std::string names, set;
    std::vector<const char*> types;
    for (const Column& c : columns) {
      names += fmt::format("{}, ", c.name);
      if (types.size() > 0) set += fmt::format(", {0} = excluded.{0}", c.name);
      types.push_back(c.type);
    }
    return fmt::format(
        "INSERT INTO sessions ({}attributed_user) SELECT {}, (SELECT "
        "user_name FROM session_users WHERE session_id = (r->>0)::bigint) "
        "FROM jsonb_array_elements($1::jsonb) AS r ON CONFLICT (id) DO "
        "UPDATE SET attributed_user = excluded.attributed_user{}",
        names, JsonColumns(types), set);
  }();
  return sql;
}

// The upsert of `sessions` (pointers into the caller's rows), each id's
// last version: nullopt when there is none.
std::optional<Connection::Statement> UpsertSessionsStatement(
    const std::vector<const Session*>& sessions) {
  JsonRows json;
  for (size_t i : LastOfEach(sessions.size(),
                             [&](size_t k) { return sessions[k]->id; })) {
    json.Row();
    rows::BindSession(json, *sessions[i]);
    json.EndRow();
  }
  if (json.rows() == 0) return std::nullopt;
  return Connection::Statement{UpsertSessionsSql(),
                               std::move(Params().Bind(json.Text()))};
}

// The upsert of `states`, each printer's last: nullopt when there is none.
std::optional<Connection::Statement> UpsertDeviceStatesStatement(
    const std::vector<DeviceState>& states) {
  JsonRows json;
  for (size_t i : LastOfEach(states.size(), [&](size_t k) {
         return std::string_view(states[k].device);
       })) {
    json.Row();
    rows::BindDeviceState(json, states[i]);
    json.EndRow();
  }
  if (json.rows() == 0) return std::nullopt;
  static const std::string kStates = fmt::format(
      "INSERT INTO device_states (device, state, open_session_id, "
      "needs_attention, last_applied_time, last_applied_id, last_topic, "
      "last_error) SELECT {} FROM jsonb_array_elements($1::jsonb) AS r "
      "ON CONFLICT (device) DO UPDATE SET state = excluded.state, "
      "open_session_id = excluded.open_session_id, needs_attention = "
      "excluded.needs_attention, last_applied_time = "
      "excluded.last_applied_time, last_applied_id = "
      "excluded.last_applied_id, last_topic = excluded.last_topic, "
      "last_error = excluded.last_error",
      JsonColumns({"text", "text", "bigint", "boolean", "bigint", "bigint",
                   "text", "text"}));
  return Connection::Statement{kStates, std::move(Params().Bind(json.Text()))};
}

}  // namespace

// One step's writes: a statement per kind of row, each with all the step's
// rows of that kind as one JSON parameter, in one pipeline (it was a
// statement per row: four for each new printer). Measured on 10 s of 32
// connections of new printers, one instance: the server's CPU 8 -> 6-7 s,
// 6.6 -> 7.0-7.1 k requests/s; what is left is the rows' own work (~5 us a
// row looked up or written, ~16 us a session through its nine indexes).
// Where a step holds several versions of a row (a session updated twice, a
// link moved by a refold), the last one is written, as the statements one
// after another would have left it.
Status PgStore::ProjectInTransaction(const ProjectionBatch& batch) {
  Connection& conn = *projector_;
  std::vector<Connection::Statement> writes;
  // The position first: another instance's projector may have folded these
  // events meanwhile (the row lock then orders the two commits).
  const bool conditional = batch.from >= 0;
  if (conditional) {
    static const std::string kMove =
        Numbered("UPDATE projection SET position = ? WHERE position = ?");
    writes.push_back(
        {kMove, std::move(Params().Bind(batch.position).Bind(batch.from))});
  } else {
    static const std::string kSet = Numbered("UPDATE projection SET position = ?");
    writes.push_back({kSet, std::move(Params().Bind(batch.position))});
  }
  for (const ProjectionBatch::Refold& r : batch.refolds) {
    static const std::string kAfter = Numbered(
        "DELETE FROM sessions WHERE device = ? AND (opened_by_time, "
        "opened_by_id) > (?, ?)");
    static const std::string kAll = Numbered("DELETE FROM sessions WHERE device = ?");
    if (r.after) {
      writes.push_back({kAfter, std::move(Params().Bind(r.device).Bind(
                                    r.after->time).Bind(r.after->id))});
    } else {
      writes.push_back({kAll, std::move(Params().Bind(r.device))});
    }
  }
  // Sessions: each id's last version (the step's, then the states' open
  // ones).
  {
    std::vector<const Session*> all;
    for (const Session& session : batch.sessions) all.push_back(&session);
    for (const Session* open : OpenSessionsToWrite(batch)) all.push_back(open);
    if (auto upsert = UpsertSessionsStatement(all)) {
      writes.push_back(std::move(*upsert));
    }
  }
  // Links: each event's last.
  {
    const auto& all = batch.event_sessions;
    JsonRows links;
    std::vector<int64_t> unlinks;
    for (size_t i :
         LastOfEach(all.size(), [&](size_t k) { return all[k].first; })) {
      const auto& [event_id, session_id] = all[i];
      if (session_id) {
        links.Row();
        links.Bind(event_id).Bind(*session_id);
        links.EndRow();
      } else {
        unlinks.push_back(event_id);
      }
    }
    if (links.rows() > 0) {
      static const std::string kLinks =
          "INSERT INTO event_sessions (event_id, session_id, time) SELECT "
          "e.id, (r->>1)::bigint, e.time FROM jsonb_array_elements($1::jsonb) "
          "AS r JOIN events e ON e.id = (r->>0)::bigint ON CONFLICT "
          "(event_id) DO UPDATE SET session_id = excluded.session_id, time = "
          "excluded.time";
      writes.push_back({kLinks, std::move(Params().Bind(links.Text()))});
    }
    if (!unlinks.empty()) {
      static const std::string kUnlink =
          "DELETE FROM event_sessions WHERE event_id = ANY($1::bigint[])";
      writes.push_back({kUnlink, std::move(Params().Bind(BigintArray(unlinks)))});
    }
  }
  // Printer states: each printer's last.
  if (auto upsert = UpsertDeviceStatesStatement(batch.device_states)) {
    writes.push_back(std::move(*upsert));
  }
  // When each printer was last heard from: the latest of the step's, where
  // it moves on (a new printer's row was just inserted with it: no new row
  // version for the same value).
  {
    std::map<std::string_view, TimeMs> latest;
    for (const auto& [device, received] : batch.last_received) {
      auto [it, added] = latest.emplace(device, received);
      if (!added) it->second = std::max(it->second, received);
    }
    JsonRows json;
    for (const auto& [device, received] : latest) {
      json.Row();
      json.Bind(device).Bind(received);
      json.EndRow();
    }
    if (json.rows() > 0) {
      static const std::string kReceived =
          "UPDATE devices AS d SET last_received = (r->>1)::bigint FROM "
          "jsonb_array_elements($1::jsonb) AS r WHERE d.device = r->>0 AND "
          "d.last_received < (r->>1)::bigint";
      writes.push_back({kReceived, std::move(Params().Bind(json.Text()))});
    }
  }
  if (!batch.dropped_pictures.empty()) {
    static const std::string kDropPictures =
        "DELETE FROM pictures WHERE event_id = ANY($1::bigint[])";
    writes.push_back({kDropPictures, std::move(Params().Bind(
                                         BigintArray(batch.dropped_pictures)))});
  }
  auto moved = RunPipelined(conn, writes);
  if (!moved.ok()) return moved.error();
  if (conditional && *moved != 1) {
    return Error{ErrorCode::kConflict,
                 fmt::format("the ledger was projected past event {} by "
                             "another instance meanwhile",
                             batch.from)};
  }
  return {};
}

// rebuild's replacement of the ledger: one transaction on the projector's
// connection, the old ledger deleted first (readers and other instances see
// it until the commit), each part's rows sent in pipelines as it comes.
class PgStore::LedgerRewriter final : public LedgerRewrite {
 public:
  static Result<std::unique_ptr<LedgerRewrite>> Begin(Connection& conn) {
    std::unique_ptr<LedgerRewriter> rewrite(new LedgerRewriter(conn));
    if (Status s = conn.Script("BEGIN"); !s.ok()) return s.error();
    rewrite->open_ = true;
    Status s = conn.Script(
        "DELETE FROM sessions; DELETE FROM device_states; "
        "DELETE FROM event_sessions");
    if (!s.ok()) return rewrite->Fail(s).error();
    return std::unique_ptr<LedgerRewrite>(std::move(rewrite));
  }

  ~LedgerRewriter() override {
    if (open_) (void)conn_.Script("ROLLBACK");
  }

  Status RewriteEvents(const std::vector<EventUpdate>& updates) override {
    if (failure_) return *failure_;
    std::vector<Connection::Statement> writes;
    for (const EventUpdate& u : updates) {
      writes.push_back(UpdateEventStatement(u));
    }
    std::vector<int64_t> affected;
    if (auto done = RunPipelined(conn_, writes, &affected); !done.ok()) {
      return Fail(done.error());
    }
    for (size_t k = 0; k < affected.size(); ++k) {
      if (affected[k] == 0) {
        return Fail(NotFound(
            fmt::format("cannot rewrite event {}: no such event is stored",
                        updates[k].event.id)));
      }
    }
    return {};
  }

  Status Add(const LedgerPart& part) override {
    if (failure_) return *failure_;
    // As a projector step's: a statement per kind of row, the rows as one
    // JSON parameter (a rebuild of 55 k events, each a new printer: 3.2 ->
    // 2.3 s).
    std::vector<Connection::Statement> writes;
    if (auto upsert = UpsertSessionsStatement(SessionsToWrite(part))) {
      writes.push_back(std::move(*upsert));
    }
    JsonRows links;  // each event's last link
    for (size_t i : LastOfEach(part.links.size(), [&](size_t k) {
           return part.links[k].event_id;
         })) {
      const EventLink& l = part.links[i];
      links.Row();
      links.Bind(l.event_id).Bind(l.session_id).Bind(l.time);
      links.EndRow();
    }
    if (links.rows() > 0) {
      static const std::string kLinks =
          "INSERT INTO event_sessions (event_id, session_id, time) SELECT "
          "(r->>0)::bigint, (r->>1)::bigint, (r->>2)::bigint FROM "
          "jsonb_array_elements($1::jsonb) AS r ON CONFLICT (event_id) DO "
          "UPDATE SET session_id = excluded.session_id, time = excluded.time";
      writes.push_back({kLinks, std::move(Params().Bind(links.Text()))});
    }
    if (auto upsert = UpsertDeviceStatesStatement(part.device_states)) {
      writes.push_back(std::move(*upsert));
    }
    if (auto done = RunPipelined(conn_, writes); !done.ok()) {
      return Fail(done.error());
    }
    return {};
  }

  Status Commit(int64_t position) override {
    if (failure_) return *failure_;
    static const std::string kSet =
        Numbered("UPDATE projection SET position = ?");
    std::vector<Connection::Statement> last;
    last.push_back({kSet, std::move(Params().Bind(position))});
    if (auto done = RunPipelined(conn_, last); !done.ok()) {
      return Fail(done.error());
    }
    if (Status s = conn_.Script("COMMIT"); !s.ok()) return Fail(s);
    open_ = false;
    failure_ = Internal("the rebuilt ledger is committed already");
    return {};
  }

 private:
  explicit LedgerRewriter(Connection& conn) : conn_(conn) {}
  // Rolled back at the first failure; every later call says why.
  Status Fail(Status s) {
    if (open_) (void)conn_.Script("ROLLBACK");
    open_ = false;
    failure_ = s.error();
    return s;
  }

  Connection& conn_;
  bool open_ = false;
  std::optional<Error> failure_;
};

Result<std::unique_ptr<LedgerRewrite>> PgStore::RewriteLedger() {
  return LedgerRewriter::Begin(*projector_);
}

// --- LedgerReader ---

Status PgStore::Ping() {
  auto reader = Reader();
  if (!reader.ok()) return reader.error();
  auto rows = (*reader)->Exec("SELECT 1 FROM projection");
  if (!rows.ok()) return rows.error();
  return {};
}

Result<ProjectionLag> PgStore::Lag() {
  auto reader = Reader();
  if (!reader.ok()) return reader.error();
  auto rows = (*reader)->Exec(
      "SELECT (SELECT last_id FROM log_head), (SELECT position FROM "
      "projection), (SELECT received_at FROM events WHERE id > (SELECT "
      "position FROM projection) ORDER BY id LIMIT 1)");
  if (!rows.ok()) return rows.error();
  ProjectionLag lag;
  auto row = rows->row(0);
  lag.logged = row.Int();
  lag.projected = row.Int();
  lag.oldest_unprojected = row.OptInt();
  if (lag.logged <= lag.projected) lag.oldest_unprojected.reset();
  return lag;
}

Result<std::vector<DeviceState>> PgStore::FindDeviceStates(
    const DeviceStateFilter& filter) {
  auto reader = Reader();
  if (!reader.ok()) return reader.error();
  const std::string select = fmt::format(
      "SELECT d.device, d.state, d.needs_attention, d.last_applied_time, "
      "d.last_applied_id, d.last_topic, d.last_error, d.open_session_id, "
      "s.id IS NOT NULL, {} FROM device_states d LEFT JOIN sessions s ON "
      "s.id = d.open_session_id WHERE true",
      kSessionSelect);
  std::vector<Sql> queries;
  if (filter.devices) {
    queries = NamesIn(select, "d.device", *filter.devices);
  } else {
    queries.push_back(Sql{select, {}});
  }
  for (Sql& sql : queries) {
    if (filter.open_and_quiet_since) {
      sql.text +=
          " AND s.last_event_at <= ? AND coalesce((SELECT last_received FROM "
          "devices WHERE device = d.device), 0) <= ?";
      sql.params.Bind(*filter.open_and_quiet_since)
          .Bind(*filter.open_and_quiet_since);
    }
    // Byte order, as SQLite and std::string order names (the sort below
    // too), whatever the database's collation: under en_US or ICU,
    // "Printer-B" would come after "printer-a" here and before it there.
    sql.text += " ORDER BY d.device COLLATE \"C\"";
  }
  std::vector<DeviceState> states;
  std::optional<std::string> damaged;
  for (const Sql& sql : queries) {
    Status s = Collect(
        **reader, sql,
        [&damaged](Rows::Row& q) { return rows::ReadDeviceState(q, damaged); },
        states);
    if (!s.ok()) return s.error();
  }
  if (damaged) {
    return Internal(fmt::format(
        "the ledger is inconsistent: {}; run `printmeter rebuild`", *damaged));
  }
  if (queries.size() > 1) {
    std::sort(states.begin(), states.end(),
              [](const DeviceState& a, const DeviceState& b) {
                return a.device < b.device;
              });
  }
  return states;
}

Result<std::vector<DeviceRecord>> PgStore::LoadDevices() {
  auto reader = Reader();
  if (!reader.ok()) return reader.error();
  Sql sql{"SELECT device, secret, first_seen, last_received FROM devices "
          "ORDER BY device COLLATE \"C\"",  // byte order, as on SQLite
          {}};
  std::vector<DeviceRecord> devices;
  Status s = Collect(**reader, sql,
                     rows::ReadDeviceRecord<Rows::Row>, devices);
  if (!s.ok()) return s.error();
  return devices;
}

Result<std::vector<DeviceRecord>> PgStore::FindDevices(
    const std::vector<std::string>& devices) {
  auto reader = Reader();
  if (!reader.ok()) return reader.error();
  std::vector<DeviceRecord> found;
  for (const Sql& sql : NamesIn("SELECT device, secret, first_seen, "
                                "last_received FROM devices WHERE true",
                                "device", devices)) {
    Status s = Collect(**reader, sql, rows::ReadDeviceRecord<Rows::Row>, found);
    if (!s.ok()) return s.error();
  }
  std::sort(found.begin(), found.end(),
            [](const DeviceRecord& a, const DeviceRecord& b) {
              return a.device < b.device;
            });
  return found;
}

Result<int64_t> PgStore::CountDevices() {
  auto reader = Reader();
  if (!reader.ok()) return reader.error();
  auto rows = (*reader)->Exec("SELECT count(*) FROM devices", Params());
  if (!rows.ok()) return rows.error();
  return rows->row(0).Int();
}

Result<std::vector<Session>> PgStore::ListSessions(const SessionPageQuery& q) {
  if (q.limit <= 0) return std::vector<Session>();
  int limit = std::min(q.limit, kMaxPageLimit);
  auto reader = Reader();
  if (!reader.ok()) return reader.error();
  const SessionFilter& f = q.filter;
  std::vector<Session> out;
  if (!f.from) {
    Sql sql = SessionsWhere("true");
    if (f.to) {
      sql.text += " AND s.started_at < ?";
      sql.params.Bind(*f.to);
    }
    AddFilter(f, sql);
    AddPage(q, limit, sql);
    if (Status s = Collect(**reader, sql, ReadSessionRow, out); !s.ok()) {
      return s.error();
    }
    return out;
  }
  TimeMs from = *f.from;
  TimeMs to = f.to.value_or(std::numeric_limits<TimeMs>::max());
  TimeMs bound = SaturatingSub(from, sqlite::kLongSessionMs);
  if (Status s = (*reader)->Script(
          "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      !s.ok()) {
    return s.error();
  }
  struct End {
    Connection& c;
    ~End() { (void)c.Script("COMMIT"); }
  } end{**reader};
  Sql recent = SessionsWhere(kOverlapsRecent);
  recent.params.Bind(bound).Bind(to).Bind(from).Bind(from);
  AddFilter(f, recent);
  AddPage(q, limit, recent);
  if (Status s = Collect(**reader, recent, ReadSessionRow, out); !s.ok()) {
    return s.error();
  }
  if (static_cast<int>(out.size()) >= limit) return out;
  Sql old = SessionsWhere(kLongOrOpen);
  old.text += fmt::format(" AND {}", kOverlapsOld);
  old.params.Bind(std::min(bound, to)).Bind(from);
  AddFilter(f, old);
  AddPage(q, limit - static_cast<int>(out.size()), old);
  if (Status s = Collect(**reader, old, ReadSessionRow, out); !s.ok()) {
    return s.error();
  }
  return out;
}

Result<std::optional<Session>> PgStore::GetSession(int64_t id) {
  auto reader = Reader();
  if (!reader.ok()) return reader.error();
  Sql sql = SessionsWhere("s.id = ?");
  sql.params.Bind(id);
  std::vector<Session> found;
  if (Status s = Collect(**reader, sql, ReadSessionRow, found); !s.ok()) {
    return s.error();
  }
  if (found.empty()) return std::optional<Session>();
  return std::optional<Session>(std::move(found.front()));
}

Result<std::vector<EventView>> PgStore::SessionEvents(int64_t id) {
  auto reader = Reader();
  if (!reader.ok()) return reader.error();
  Sql sql{EventViewColumns() + kSessionEventsFrom +
              " ORDER BY l.time, l.event_id",
          {}};
  sql.params.Bind(id);
  std::vector<EventView> views;
  if (Status s = Collect(**reader, sql, ReadEventView, views); !s.ok()) {
    return s.error();
  }
  return views;
}

Result<std::vector<EventView>> PgStore::SessionEventsPage(
    const SessionEventsQuery& q) {
  if (q.limit <= 0) return std::vector<EventView>();
  auto reader = Reader();
  if (!reader.ok()) return reader.error();
  Sql sql{EventViewColumns() + kSessionEventsFrom, {}};
  sql.params.Bind(q.session_id);
  if (q.after) {
    sql.text += " AND (l.time, l.event_id) > (?, ?)";
    sql.params.Bind(q.after->first).Bind(q.after->second);
  }
  sql.text += " ORDER BY l.time, l.event_id LIMIT ?";
  sql.params.Bind(std::min(q.limit, kMaxPageLimit));
  std::vector<EventView> views;
  if (Status s = Collect(**reader, sql, ReadEventView, views); !s.ok()) {
    return s.error();
  }
  return views;
}

Result<std::vector<EventView>> PgStore::ListEvents(const EventPageQuery& q) {
  if (q.limit <= 0) return std::vector<EventView>();
  auto reader = Reader();
  if (!reader.ok()) return reader.error();
  Sql sql{EventViewColumns() +
              " FROM events e LEFT JOIN event_sessions l ON l.event_id = e.id "
              "WHERE true",
          {}};
  if (q.device) {
    sql.text += " AND e.device = ?";
    sql.params.Bind(*q.device);
  }
  if (q.before_id) {
    sql.text += " AND e.id < ?";
    sql.params.Bind(*q.before_id);
  }
  sql.text += " ORDER BY e.id DESC LIMIT ?";
  sql.params.Bind(std::min(q.limit, kMaxPageLimit));
  std::vector<EventView> views;
  if (Status s = Collect(**reader, sql, ReadEventView, views); !s.ok()) {
    return s.error();
  }
  return views;
}

Result<std::vector<Session>> PgStore::SessionsOverlapping(TimeMs from,
                                                          TimeMs to) {
  auto reader = Reader();
  if (!reader.ok()) return reader.error();
  if (Status s = (*reader)->Script(
          "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      !s.ok()) {
    return s.error();
  }
  struct End {
    Connection& c;
    ~End() { (void)c.Script("COMMIT"); }
  } end{**reader};
  TimeMs bound = SaturatingSub(from, sqlite::kLongSessionMs);
  Sql recent = SessionsWhere(kOverlapsRecent);
  recent.params.Bind(bound).Bind(to).Bind(from).Bind(from);
  Sql old = SessionsWhere(kLongOrOpen);
  old.text += fmt::format(" AND {}", kOverlapsOld);
  old.params.Bind(std::min(bound, to)).Bind(from);
  Sql later = SessionsWhere(kLongOrOpen);
  later.text += " AND s.ended_at IS NULL AND s.started_at >= ?";
  later.params.Bind(to);
  std::vector<Session> out;
  for (const Sql* sql : {&recent, &old, &later}) {
    if (Status s = Collect(**reader, *sql, ReadSessionRow, out); !s.ok()) {
      return s.error();
    }
  }
  return out;
}

// The picture stored apart; a picture inside a request (never cut out) is
// read out of it.
Result<std::optional<Snapshot>> PgStore::GetSnapshot(int64_t event_id) {
  auto reader = Reader();
  if (!reader.ok()) return reader.error();
  auto rows = (*reader)->Exec(
      Numbered("SELECT e.picture_size, coalesce(e.picture_type, ''), "
               "p.bytes, e.snapshot AND e.method IS NOT NULL, e.method, "
               "e.target, e.content_type, e.body, e.received_at FROM events "
               "e LEFT JOIN pictures p ON p.event_id = e.id WHERE e.id = ?"),
      std::move(Params().Bind(event_id)));
  if (!rows.ok()) return rows.error();
  if (rows->size() == 0) return std::optional<Snapshot>();
  auto row = rows->row(0);
  std::optional<int64_t> size = row.OptInt();
  std::string type = row.Text();
  std::optional<std::string> bytes = row.OptBytes();
  bool in_request = row.Bool();
  if (size) {
    if (!bytes) {
      return NotFound(fmt::format(
          "event {} came with a picture ({}, {} bytes) that was not kept "
          "under the retention rule (`pictures` in the configuration)",
          event_id, type, *size));
    }
    return std::optional<Snapshot>(Snapshot{std::move(type), std::move(*bytes)});
  }
  if (!in_request) return std::optional<Snapshot>();
  // The Request views these.
  std::string method = row.Text();
  std::string target = row.OptText().value_or("");
  std::string content_type = row.OptText().value_or("");
  std::string body = row.OptBytes().value_or("");
  Request request;
  request.method = method;
  request.target = target;
  request.content_type = content_type;
  request.body = body;
  request.received_at = row.Int();
  Result<Decoded> decoded = Decode(request, DecodeLimits{});
  if (!decoded.ok() || !decoded->snapshot) return std::optional<Snapshot>();
  return std::optional<Snapshot>(std::move(*decoded->snapshot));
}

Result<std::vector<std::pair<int64_t, std::string>>>
PgStore::LoadAttributions() {
  auto reader = Reader();
  if (!reader.ok()) return reader.error();
  Sql sql{"SELECT session_id, user_name FROM session_users ORDER BY "
          "session_id",
          {}};
  std::vector<std::pair<int64_t, std::string>> out;
  Status s = Collect(
      **reader, sql,
      [](Rows::Row& q) {
        int64_t id = q.Int();
        return std::make_pair(id, q.Text());
      },
      out);
  if (!s.ok()) return s.error();
  return out;
}

Result<RequestTally> PgStore::CountRequests(int64_t after_id) {
  auto reader = Reader();
  if (!reader.ok()) return reader.error();
  RequestTally tally;
  tally.last_id = after_id;
  auto last = (*reader)->Exec(
      Numbered("SELECT max(id) FROM events WHERE id > ?"),
      std::move(Params().Bind(after_id)));
  if (!last.ok()) return last.error();
  std::optional<int64_t> max_id = last->row(0).OptInt();
  if (!max_id) return tally;
  tally.last_id = *max_id;
  Sql counts{
      "SELECT device, count(*) FILTER (WHERE NOT test AND NOT duplicate), "
      "count(*) FILTER (WHERE NOT test AND duplicate), count(*) FILTER "
      "(WHERE test) FROM events WHERE id > ? AND id <= ? AND method IS NOT "
      "NULL GROUP BY device",
      {}};
  counts.params.Bind(after_id).Bind(tally.last_id);
  std::vector<std::pair<std::string, RequestCounts>> rows;
  Status s = Collect(
      **reader, counts,
      [](Rows::Row& q) {
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

Result<std::vector<RateChange>> PgStore::LoadRateChanges() {
  auto reader = Reader();
  if (!reader.ok()) return reader.error();
  Sql sql{"SELECT device, effective_from, rate_per_hour, rate_per_m, "
          "minimum_per_session FROM rate_history",
          {}};
  std::vector<RateChange> out;
  Status s = Collect(
      **reader, sql,
      [](Rows::Row& q) {
        RateChange c;
        c.device = q.Text();
        c.effective_from = q.Int();
        c.rates.rate_per_hour = q.Real();
        c.rates.rate_per_m = q.Real();
        c.rates.minimum_per_session = q.Real();
        return c;
      },
      out);
  if (!s.ok()) return s.error();
  return out;
}

Status PgStore::RecordRateChanges(const std::vector<RateChange>& changes) {
  if (changes.empty()) return {};
  auto reader = Reader();
  if (!reader.ok()) return reader.error();
  Connection& conn = **reader;
  return Transaction(conn, [&]() -> Status {
    for (const RateChange& c : changes) {
      Params p;
      p.Bind(c.device).Bind(c.effective_from).Bind(c.rates.rate_per_hour);
      p.Bind(c.rates.rate_per_m).Bind(c.rates.minimum_per_session);
      Status s = Run(
          conn,
          "INSERT INTO rate_history (device, effective_from, rate_per_hour, "
          "rate_per_m, minimum_per_session) VALUES (?, ?, ?, ?, ?) ON "
          "CONFLICT (device, effective_from) DO UPDATE SET rate_per_hour = "
          "excluded.rate_per_hour, rate_per_m = excluded.rate_per_m, "
          "minimum_per_session = excluded.minimum_per_session",
          std::move(p));
      if (!s.ok()) return s;
    }
    return {};
  });
}

Result<std::vector<MaintenanceMark>> PgStore::LoadMaintenanceMarks() {
  auto reader = Reader();
  if (!reader.ok()) return reader.error();
  Sql sql{"SELECT device, item, done_at, done_by FROM maintenance_marks", {}};
  std::vector<MaintenanceMark> out;
  Status s = Collect(
      **reader, sql,
      [](Rows::Row& q) {
        MaintenanceMark m;
        m.device = q.Text();
        m.item = q.Text();
        m.done_at = q.Int();
        m.by = q.Text();
        return m;
      },
      out);
  if (!s.ok()) return s.error();
  return out;
}

Status PgStore::RecordMaintenanceMark(const MaintenanceMark& mark) {
  auto reader = Reader();
  if (!reader.ok()) return reader.error();
  Params p;
  p.Bind(mark.device).Bind(mark.item).Bind(mark.done_at).Bind(mark.by);
  // One statement: its own transaction, beside the writer's.
  return Run(**reader,
             "INSERT INTO maintenance_marks (device, item, done_at, done_by) "
             "VALUES (?, ?, ?, ?) ON CONFLICT (device, item, done_at) DO "
             "UPDATE SET done_by = excluded.done_by",
             std::move(p));
}

// --- ForwardStore ---

Result<std::vector<EventRecord>> PgStore::ReadRequests(int64_t after_id,
                                                       int limit) {
  static const std::string kSql = fmt::format(
      "SELECT {}, e.duplicate, e.method, e.target, e.content_type, e.body, "
      "e.picture_at, e.picture_size, e.picture_type, p.bytes FROM events e "
      "LEFT JOIN pictures p ON p.event_id = e.id WHERE e.id > ? ORDER BY "
      "e.id LIMIT ?",
      EventColumns("e."));
  auto reader = Reader();
  if (!reader.ok()) return reader.error();
  Sql sql{kSql, {}};
  sql.params.Bind(after_id).Bind(limit);
  std::vector<EventRecord> out;
  Status s = Collect(
      **reader, sql,
      [](Rows::Row& q) {
        EventRecord r;
        r.event = rows::ReadEvent(q);
        r.duplicate = q.Bool();
        if (q.IsNull()) return r;  // a synthetic `swept`
        StoredRequest request;
        request.method = q.Text();
        request.target = q.OptText().value_or("");
        request.content_type = q.OptText().value_or("");
        request.body = q.OptBytes().value_or("");
        std::optional<int64_t> at = q.OptInt();
        std::optional<int64_t> size = q.OptInt();
        std::string type = q.OptText().value_or("");
        std::string bytes = q.OptBytes().value_or("");
        if (at && size) {
          request.picture =
              StoredPicture{*at, *size, std::move(type), std::move(bytes)};
        }
        r.request = std::move(request);
        return r;
      },
      out);
  if (!s.ok()) return s.error();
  // An append's rows are visible a moment before they are on disk
  // (AppendPipelined): what goes out of printmeter waits for them to be.
  if (!out.empty()) {
    if (auto flushed = (*reader)->Exec(kFlushSql); !flushed.ok()) {
      return flushed.error();
    }
  }
  return out;
}

Result<int64_t> PgStore::LogEnd() {
  auto reader = Reader();
  if (!reader.ok()) return reader.error();
  auto rows = (*reader)->Exec("SELECT last_id FROM log_head");
  if (!rows.ok()) return rows.error();
  return rows->row(0).Int();
}

Result<std::map<std::string, int64_t, std::less<>>>
PgStore::ForwardPositions() {
  auto reader = Reader();
  if (!reader.ok()) return reader.error();
  auto rows = (*reader)->Exec("SELECT target, position FROM forward_positions");
  if (!rows.ok()) return rows.error();
  std::map<std::string, int64_t, std::less<>> out;
  for (int i = 0; i < rows->size(); ++i) {
    Rows::Row row = rows->row(i);
    std::string target = row.Text();
    out[target] = row.Int();
  }
  return out;
}

Status PgStore::SaveForwardPosition(const std::string& target,
                                    std::optional<int64_t> from, int64_t to) {
  auto reader = Reader();
  if (!reader.ok()) return reader.error();
  Params p;
  std::string sql;
  if (from) {
    sql = "UPDATE forward_positions SET position = ? WHERE target = ? AND "
          "position = ?";
    p.Bind(to).Bind(target).Bind(*from);
  } else {
    sql = "INSERT INTO forward_positions (target, position) VALUES (?, ?) "
          "ON CONFLICT (target) DO NOTHING";
    p.Bind(target).Bind(to);
  }
  auto rows = (*reader)->Exec(Numbered(sql), std::move(p));
  if (!rows.ok()) return rows.error();
  if (rows->affected() == 0) {
    return Error{ErrorCode::kConflict,
                 fmt::format("the forwarding position of {} moved meanwhile",
                             target)};
  }
  return {};
}

Result<std::set<std::string>> PgStore::ForwardNotices(
    const std::string& target) {
  auto reader = Reader();
  if (!reader.ok()) return reader.error();
  Params p;
  p.Bind(target);
  auto rows = (*reader)->Exec(
      Numbered("SELECT notice FROM forward_notices WHERE target = ?"),
      std::move(p));
  if (!rows.ok()) return rows.error();
  std::set<std::string> out;
  for (int i = 0; i < rows->size(); ++i) out.insert(rows->row(i).Text());
  return out;
}

Status PgStore::SaveForwardNotice(const std::string& target,
                                  const std::string& key, TimeMs sent_at) {
  auto reader = Reader();
  if (!reader.ok()) return reader.error();
  Params p;
  p.Bind(target).Bind(key).Bind(sent_at);
  auto rows = (*reader)->Exec(
      Numbered("INSERT INTO forward_notices (target, notice, sent_at) VALUES "
               "(?, ?, ?) ON CONFLICT (target, notice) DO NOTHING"),
      std::move(p));
  if (!rows.ok()) return rows.error();
  return {};
}

}  // namespace pm

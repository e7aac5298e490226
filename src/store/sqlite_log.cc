// The log's side of SqliteStore: what the single writer appends before it
// answers, attributions, and rebuild's reading and rewriting of the log.
#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "store/append_rules.h"
#include "store/chunks.h"
#include "store/row_mapping.h"
#include "store/sqlite_rows.h"
#include "store/sqlite_store.h"
#include "store/stored_body.h"

namespace pm {

using sqlite::Connection;
using sqlite::Query;
using sqlite::Statement;

namespace {

constexpr int kForEachChunk = 512;

// The request's columns after the Event's, as InsertEvent and
// ForEachEvent use them.
constexpr const char* kRequestColumns =
    "duplicate, decoder, method, target, content_type, body, body_size, "
    "picture_at, picture_size, picture_type";

// `body`: r.request's body as CompressBody() stores it.
Status InsertEvent(Connection& conn, const EventRecord& r,
                   const CompressedBody& body) {
  static const std::string kSql = fmt::format(
      "INSERT INTO events ({}, {}) VALUES ({})", sqlite::EventColumns(""),
      kRequestColumns, sqlite::Placeholders(sqlite::kEventFieldCount + 10));
  Status s = sqlite::RunOn(conn, kSql, [&](Query& q) {
    sqlite::BindEvent(q, r.event);
    q.Bind(r.duplicate);
    if (r.decoder != 0) {
      q.Bind(r.decoder);
    } else {
      q.BindNull();
    }
    if (r.request) {
      q.Bind(r.request->method).Bind(r.request->target);
      q.Bind(r.request->content_type).BindBlob(body.bytes).Bind(body.size);
    } else {
      q.BindNull().BindNull().BindNull().BindNull().BindNull();
    }
    if (r.request && r.request->picture) {
      const StoredPicture& p = *r.request->picture;
      q.Bind(p.offset).Bind(p.size).Bind(p.content_type);
    } else {
      q.BindNull().BindNull().BindNull();
    }
  });
  // No bytes: a picture the retention rule let go (a copied log).
  if (!s.ok() || !r.request || !r.request->picture ||
      r.request->picture->bytes.empty()) {
    return s;
  }
  return sqlite::RunOn(
      conn, "INSERT INTO pictures (event_id, device, bytes) VALUES (?, ?, ?)",
      [&r](Query& q) {
        q.Bind(r.event.id).Bind(r.event.device);
        q.BindBlob(r.request->picture->bytes);
      });
}

StoredRequest ReadRequest(Query& q, sqlite::BodyReader& bodies) {
  StoredRequest r{q.Text(), q.Text(), q.Text(), bodies.Read(q)};
  std::optional<int64_t> at = q.OptInt();
  std::optional<int64_t> size = q.OptInt();
  std::optional<std::string> type = q.OptText();
  if (at && size) r.picture = StoredPicture{*at, *size, type.value_or("")};
  return r;
}

// sqlite::RegisterDevice.
Result<std::optional<std::string>> InsertDevice(Connection& conn,
                                                const DeviceRecord& d) {
  Status s = sqlite::RunOn(conn,
                           "INSERT INTO devices (device, secret, first_seen, "
                           "last_received) VALUES (?, ?, ?, ?) ON CONFLICT "
                           "(device) DO UPDATE SET secret = "
                           "coalesce(secret, excluded.secret)",
                           [&d](Query& q) {
                             q.Bind(d.device).Bind(d.secret).Bind(d.first_seen);
                             q.Bind(d.last_received);
                           });
  if (!s.ok()) {
    return Unavailable(fmt::format("cannot register device \"{}\": {}",
                                   d.device, s.error().message));
  }
  Result<Statement*> stmt =
      conn.Prepare("SELECT secret FROM devices WHERE device = ?");
  if (!stmt.ok()) return stmt.error();
  Query q(*stmt);
  q.Bind(d.device);
  Result<bool> row = q.Step();
  if (!row.ok()) return row.error();
  if (!*row) return std::optional<std::string>();
  return q.OptText();
}

}  // namespace

namespace sqlite {

// Every Event column but the id, then duplicate, by id.
Status UpdateEvent(Connection& conn, const EventUpdate& u) {
  static const std::string kSql = [] {
    std::string set;
    for (const char* name : kEventFields) {
      if (std::string_view(name) == "id") continue;
      set += fmt::format("{} = ?, ", name);
    }
    return fmt::format("UPDATE events SET {}duplicate = ? WHERE id = ?", set);
  }();
  Status s = sqlite::RunOn(conn, kSql, [&u](Query& q) {
    BindEvent(q, u.event, /*with_id=*/false);
    q.Bind(u.duplicate).Bind(u.event.id);
  });
  if (!s.ok()) return s;
  if (conn.Changes() == 0) {
    return NotFound(fmt::format(
        "cannot rewrite event {}: no such event is stored", u.event.id));
  }
  return {};
}

Status InsertLoggedEvent(Connection& conn, const EventRecord& r,
                         const CompressedBody& body) {
  return InsertEvent(conn, r, body);
}

Result<std::optional<std::string>> RegisterDevice(Connection& conn,
                                                  const DeviceRecord& d) {
  return InsertDevice(conn, d);
}

}  // namespace sqlite

Result<int64_t> SqliteStore::LastEventId() { return next_event_id_ - 1; }

void SqliteStore::Prepare(StoredRequest& request) const {
  request.compressed = CompressBody(request.body);
}

CompressedBody SqliteStore::StoredBodyOf(const StoredRequest& request) {
  if (request.compressed) return *request.compressed;
  return CompressBody(request.body);
}

// On the appender's connection (the writer's thread calls it), reading what
// is committed.
Result<RegistrationTally> SqliteStore::Registrations(TimeMs since) {
  RegistrationTally tally;
  sqlite::Sql all{"SELECT device FROM devices ORDER BY device", {}};
  if (Status s = sqlite::Collect(
          *writer_, all, [](Query& q) { return q.Text(); }, tally.devices);
      !s.ok()) {
    return s.error();
  }
  sqlite::Sql sql{"SELECT device, first_seen FROM devices WHERE first_seen > ?",
                  {since}};
  Status s = sqlite::Collect(
      *writer_, sql,
      [](Query& q) {
        std::string device = q.Text();
        return std::pair<std::string, TimeMs>(std::move(device), q.Int());
      },
      tally.since);
  if (!s.ok()) return s.error();
  return tally;
}

Result<int64_t> SqliteStore::AllocateEventIds(int64_t count) {
  if (count < 0) return Invalid("cannot allocate a negative number of ids");
  int64_t first = next_event_id_;
  next_event_id_ += count;
  return first;
}

Result<bool> SqliteStore::HasDuplicate(const Event& e) {
  if (!e.has_current_time) return false;
  Result<Statement*> stmt = writer_->Prepare(
      "SELECT 1 FROM events WHERE device = ? AND time = ? AND kind = ? AND "
      "has_current_time = 1 AND file_path IS ? AND reported_time_s IS ? "
      "LIMIT 1");
  if (!stmt.ok()) return stmt.error();
  Query q(*stmt);
  q.Bind(e.device).Bind(e.time).Bind(sqlite::StoredKind(e.kind));
  q.Bind(e.file.path).Bind(e.reported_time_s);
  return q.Step();
}

// The writer lock makes this the database's only writer: the ids it assigns
// are the log's next, and a registration loses only to a secret stored
// behind the writer's back.
Status SqliteStore::Append(LogBatch& batch) {
  batch.lost.clear();
  if (batch.empty()) return {};
  if (journal_) {
    bool taken = false;
    Status s = JournalAppend(batch, taken);
    if (taken) return s;
    // Into the database, after what the journal holds.
    if (Status moved = MovePending(*writer_); !moved.ok()) {
      return Unavailable(
          fmt::format("nothing was stored: {}", moved.error().message));
    }
  }
  int64_t next_id = next_event_id_;
  std::vector<EventRecord> events = batch.events;  // kept when it fails
  std::vector<DeviceRecord> lost;
  // Compressed before the write lock is taken: the projector may commit
  // meanwhile.
  std::vector<CompressedBody> bodies(events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    if (events[i].request) bodies[i] = StoredBodyOf(*events[i].request);
  }
  Status s = WriteTransaction(*writer_, /*durable=*/true, [&]() -> Status {
    lost.clear();
    for (const DeviceRecord& d : batch.devices) {
      auto stored = InsertDevice(*writer_, d);
      if (!stored.ok()) return stored.error();
      if (d.secret && *stored != d.secret) {
        DeviceRecord winner = d;
        winner.secret = *stored;
        lost.push_back(std::move(winner));
      }
    }
    for (size_t i = 0; i < events.size(); ++i) {
      EventRecord& r = events[i];
      if (append_rules::IsLost(lost, r.event.device)) continue;
      if (r.event.id == 0) r.event.id = next_id;
      if (r.event.id < 0) {
        return Internal(fmt::format("an event of device {} has id {}",
                                    r.event.device, r.event.id));
      }
      if (batch.decide_duplicates) {
        auto dup = append_rules::IsDuplicate(
            events, i, [this](const Event& e) { return HasDuplicate(e); });
        if (!dup.ok()) return dup.error();
        r.duplicate = *dup;
      }
      if (Status s = InsertEvent(*writer_, r, bodies[i]); !s.ok()) return s;
      next_id = std::max(next_id, r.event.id + 1);
    }
    return {};
  });
  if (!s.ok()) {
    return Unavailable(
        fmt::format("nothing was stored: {}", s.error().message));
  }
  batch.events = std::move(events);
  batch.lost = std::move(lost);
  next_event_id_ = next_id;
  return {};
}

Status SqliteStore::SetSessionUser(int64_t id, const std::string& user) {
  Connection& conn = *projector_;
  std::optional<std::string> attributed;
  if (!user.empty()) attributed = user;
  return WriteTransaction(conn, /*durable=*/true, [&]() -> Status {
    Result<bool> exists = sqlite::Single<bool>(
        conn, "SELECT 1 FROM sessions WHERE id = ?", id,
        [](Query&) { return true; }, false);
    if (!exists.ok()) return exists.error();
    if (!*exists) return NotFound(fmt::format("there is no session {}", id));
    Status s = attributed
                   ? sqlite::RunOn(conn,
                                   "INSERT OR REPLACE INTO session_users "
                                   "(session_id, user) VALUES (?, ?)",
                                   [&](Query& q) { q.Bind(id).Bind(user); })
                   : sqlite::RunOn(
                         conn, "DELETE FROM session_users WHERE session_id = ?",
                         [&](Query& q) { q.Bind(id); });
    if (!s.ok()) return s;
    return sqlite::RunOn(
        conn, "UPDATE sessions SET attributed_user = ? WHERE id = ?",
        [&](Query& q) { q.Bind(attributed).Bind(id); });
  });
}

Status SqliteStore::ForEachEvent(
    const std::function<Status(const EventRecord&)>& fn) {
  return ForEachEventWhere("", {}, std::numeric_limits<int64_t>::min(), fn);
}

Status SqliteStore::ForEachEventToDecode(
    int64_t decoder, const std::function<Status(const EventRecord&)>& fn) {
  if (decoder == 0) {
    return ForEachEventWhere("AND method IS NOT NULL", {},
                             std::numeric_limits<int64_t>::min(), fn);
  }
  Result<Lease> reader = Reader();
  if (!reader.ok()) return reader.error();
  Result<int64_t> checked = sqlite::Single<int64_t>(
      **reader,
      "SELECT coalesce(max(up_to), 0) FROM decoded WHERE decoder = ?",
      decoder, [](Query& q) { return q.Int(); }, int64_t{0});
  if (!checked.ok()) return checked.error();
  return ForEachEventWhere("AND method IS NOT NULL AND decoder IS NOT ?",
                           {decoder}, *checked, fn);
}

Status SqliteStore::RecordDecoded(int64_t decoder, int64_t up_to) {
  return WriteTransaction(*writer_, /*durable=*/true, [&]() -> Status {
    return sqlite::RunOn(
        *writer_,
        "INSERT OR REPLACE INTO decoded (id, decoder, up_to) VALUES (1, ?, ?)",
        [&](Query& q) { q.Bind(decoder).Bind(up_to); });
  });
}

// The rows after `after` that `condition` keeps, in id order, a chunk at a
// time. Their pages are read through a map of the file, not a read(2) and a
// copy each: a third of what reading the log cost `rebuild` on a log of one
// request per page. The map is dropped after each statement, so that the
// process never holds more of the file than one statement walked; a
// statement that passes rows over (a `condition`) walks one window of ids,
// for when it keeps few rows: through the whole file, every page of it
// stayed resident (296 MB on a log of 200,000 requests), and read(2) page
// by page instead took 45 % longer.
Status SqliteStore::ForEachEventWhere(
    const std::string& condition, const std::vector<int64_t>& params,
    int64_t after, const std::function<Status(const EventRecord&)>& fn) {
  constexpr int64_t kWindow = 8192;  // ids, ~2,700 pages of requests
  const bool windowed = !condition.empty();
  const std::string sql_text = fmt::format(
      "SELECT {}, {} FROM events WHERE id > ? {} {} ORDER BY id LIMIT ?",
      sqlite::EventColumns(""), kRequestColumns, condition,
      windowed ? "AND id <= ?" : "");
  // The windows span the log's ids: from before its first to its last.
  int64_t end = std::numeric_limits<int64_t>::max();
  if (windowed) {
    Result<Lease> reader = Reader();
    if (!reader.ok()) return reader.error();
    std::vector<std::pair<int64_t, int64_t>> span;
    Status s = sqlite::Collect(
        **reader,
        sqlite::Sql{"SELECT coalesce(min(id), 1) - 1, coalesce(max(id), 0) "
                    "FROM events",
                    {}},
        [](Query& q) {
          int64_t first = q.Int();
          return std::pair<int64_t, int64_t>(first, q.Int());
        },
        span);
    if (!s.ok()) return s;
    if (span.empty()) return {};
    after = std::max(after, span[0].first);
    end = span[0].second;
  }
  auto read = [&, this](const EventRecord* last,
                        std::vector<EventRecord>& chunk) -> Status {
    Result<Lease> reader = Reader();
    if (!reader.ok()) return reader.error();
    int64_t from = last ? std::max(last->event.id, after) : after;
    for (;;) {
      if (windowed && from >= end) return {};
      const int64_t to = from > end - kWindow ? end : from + kWindow;
      (void)(*reader)->Exec("PRAGMA mmap_size = 2147418112");
      struct Unmap {
        sqlite::Connection& conn;
        ~Unmap() { (void)conn.Exec("PRAGMA mmap_size = 0"); }
      } unmap{**reader};
      sqlite::Sql sql{sql_text, {from}};
      for (int64_t p : params) sql.params.emplace_back(p);
      if (windowed) sql.params.emplace_back(to);
      const size_t wanted = kForEachChunk - chunk.size();
      sql.params.emplace_back(static_cast<int64_t>(wanted));
      const size_t before = chunk.size();
      sqlite::BodyReader bodies;
      Status s = sqlite::Collect(
          **reader, sql,
          [&bodies](Query& q) {
            EventRecord r;
            r.event = sqlite::ReadEvent(q);
            r.duplicate = q.Bool();
            r.decoder = q.OptInt().value_or(0);
            if (!q.IsNull()) r.request = ReadRequest(q, bodies);
            return r;
          },
          chunk);
      if (!s.ok()) return s;
      if (!bodies.status.ok()) return bodies.status;
      // A full chunk (ForEachInChunks reads on after it) may end inside
      // the window; a short one only once the log has no more windows.
      if (!windowed || chunk.size() - before == wanted) return {};
      from = to;
    }
  };
  return ForEachInChunks<EventRecord>(kForEachChunk, read, fn);
}

Status SqliteStore::ForEachEventByDevice(
    int64_t up_to_id, const std::function<Status(const LoggedEvent&)>& fn) {
  // Through events_device_time, whose keys end in the rowid (the id): no
  // sort, and each chunk starts where the last one ended.
  static const std::string kColumns =
      fmt::format("SELECT {}, {} FROM events WHERE id <= ?",
                  sqlite::EventColumns(""), rows::kLoggedEventColumns);
  static const std::string kFirst = fmt::format(
      "{} ORDER BY device, time, id LIMIT {}", kColumns, kForEachChunk);
  static const std::string kNext = fmt::format(
      "{} AND (device, time, id) > (?, ?, ?) ORDER BY device, time, id "
      "LIMIT {}",
      kColumns, kForEachChunk);
  auto read = [this, up_to_id](const LoggedEvent* last,
                               std::vector<LoggedEvent>& chunk) -> Status {
    Result<Lease> reader = Reader();
    if (!reader.ok()) return reader.error();
    sqlite::Sql sql{last ? kNext : kFirst, {up_to_id}};
    if (last) {
      sql.params.emplace_back(last->event.device);
      sql.params.emplace_back(last->event.time);
      sql.params.emplace_back(last->event.id);
    }
    return sqlite::Collect(**reader, sql, rows::ReadLoggedEvent<Query>,
                           chunk);
  };
  return ForEachInChunks<LoggedEvent>(kForEachChunk, read, fn);
}

Status SqliteStore::RewriteEvents(const std::vector<EventUpdate>& updates) {
  if (updates.empty()) return {};
  return WriteTransaction(*writer_, /*durable=*/true, [&]() -> Status {
    for (const EventUpdate& u : updates) {
      if (Status s = sqlite::UpdateEvent(*writer_, u); !s.ok()) return s;
    }
    return {};
  });
}

}  // namespace pm

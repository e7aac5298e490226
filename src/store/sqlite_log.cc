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
    "duplicate, method, target, content_type, body, body_size, picture_at, "
    "picture_size, picture_type";

// `body`: r.request's body as CompressBody() stores it.
Status InsertEvent(Connection& conn, const EventRecord& r,
                   const CompressedBody& body) {
  static const std::string kSql = fmt::format(
      "INSERT INTO events ({}, {}) VALUES ({})", sqlite::EventColumns(""),
      kRequestColumns, sqlite::Placeholders(sqlite::kEventFieldCount + 9));
  Status s = sqlite::RunOn(conn, kSql, [&](Query& q) {
    sqlite::BindEvent(q, r.event);
    q.Bind(r.duplicate);
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

// Inserts a new printer, or sets the secret of one that has none; a secret
// stored first is kept. Returns the secret stored afterwards.
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

}  // namespace sqlite

Result<int64_t> SqliteStore::LastEventId() { return next_event_id_ - 1; }

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
  int64_t next_id = next_event_id_;
  std::vector<EventRecord> events = batch.events;  // kept when it fails
  std::vector<DeviceRecord> lost;
  // Compressed before the write lock is taken: the projector may commit
  // meanwhile.
  std::vector<CompressedBody> bodies(events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    if (events[i].request) bodies[i] = CompressBody(events[i].request->body);
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
  static const std::string kSql = fmt::format(
      "SELECT {}, {} FROM events WHERE id > ? ORDER BY id LIMIT {}",
      sqlite::EventColumns(""), kRequestColumns, kForEachChunk);
  auto read = [this](const EventRecord* last,
                     std::vector<EventRecord>& chunk) -> Status {
    Result<Lease> reader = Reader();
    if (!reader.ok()) return reader.error();
    // The chunk's pages read through a map of the file, not a read(2) and
    // a copy each: a third of what reading the log cost `rebuild` on a log
    // of one request per page. Unmapped after each chunk, so that the
    // process never holds more than a chunk's pages of the file.
    (void)(*reader)->Exec("PRAGMA mmap_size = 2147418112");
    struct Unmap {
      sqlite::Connection& conn;
      ~Unmap() { (void)conn.Exec("PRAGMA mmap_size = 0"); }
    } unmap{**reader};
    sqlite::Sql sql{kSql,
                    {last ? last->event.id
                          : std::numeric_limits<int64_t>::min()}};
    sqlite::BodyReader bodies;
    Status s = sqlite::Collect(
        **reader, sql,
        [&bodies](Query& q) {
          EventRecord r;
          r.event = sqlite::ReadEvent(q);
          r.duplicate = q.Bool();
          if (!q.IsNull()) r.request = ReadRequest(q, bodies);
          return r;
        },
        chunk);
    if (!s.ok()) return s;
    return bodies.status;
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

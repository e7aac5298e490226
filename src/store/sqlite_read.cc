// The readers' side of SqliteStore (LedgerReader): every read runs on a
// pooled connection of its own, so any number of threads read at once and
// none waits for the writer.
#include <boost/json/serialize.hpp>
#include <boost/json/value_from.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "decode/decode.h"
#include "store/row_mapping.h"
#include "store/sqlite_file.h"
#include "store/sqlite_rows.h"
#include "store/sqlite_store.h"

namespace pm {

using sqlite::Connection;
using sqlite::Query;
using sqlite::ReadEventView;
using sqlite::ReadSession;
using sqlite::ReadTransaction;
using sqlite::Sql;
using sqlite::kSessionSelect;
using sqlite::OptKey;

namespace {

constexpr int kMaxPageLimit = 10000;

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

// `select` (ending in a WHERE clause) narrowed to `column` IN `names`, the
// names bound as one parameter, a JSON array: the statement's text is the
// same whatever their number, so a connection prepares and keeps it once.
// (With one `?` per name, every count of names was a statement of its own,
// each kept: ~6 MiB on the projector's connection after ~100 k printers.)
Sql NamesIn(std::string select, const char* column,
            const std::vector<std::string>& names) {
  select += fmt::format(" AND {} IN (SELECT value FROM json_each(?))", column);
  return {std::move(select),
          {boost::json::serialize(boost::json::value_from(names))}};
}

}  // namespace

Result<std::vector<DeviceState>> SqliteStore::FindDeviceStates(
    const DeviceStateFilter& filter) {
  Result<Lease> reader = Reader();
  if (!reader.ok()) return reader.error();
  const std::string select = fmt::format(
      "SELECT d.device, d.state, d.needs_attention, d.last_applied_time, "
      "d.last_applied_id, d.last_topic, d.last_error, d.open_session_id, "
      "s.id IS NOT NULL, {} FROM device_states d LEFT JOIN sessions s ON "
      "s.id = d.open_session_id WHERE 1",
      kSessionSelect);
  Sql sql = filter.devices ? NamesIn(select, "d.device", *filter.devices)
                           : Sql{select, {}};
  if (filter.open_and_quiet_since) {
    sql.text +=
        " AND s.last_event_at <= ? AND coalesce((SELECT last_received FROM "
        "devices WHERE device = d.device), 0) <= ?";
    sql.params.emplace_back(*filter.open_and_quiet_since);
    sql.params.emplace_back(*filter.open_and_quiet_since);
  }
  sql.text += " ORDER BY d.device";
  std::vector<DeviceState> states;
  std::optional<std::string> damaged;
  Status s = sqlite::Collect(
      **reader, sql,
      [&damaged](Query& q) { return rows::ReadDeviceState(q, damaged); },
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
  Status s =
      sqlite::Collect(**reader, sql,
                      rows::ReadDeviceRecord<Query>, devices);
  if (!s.ok()) return s.error();
  return devices;
}

Result<std::vector<DeviceRecord>> SqliteStore::FindDevices(
    const std::vector<std::string>& devices) {
  // Registrations answered from the journal and not yet moved, looked at
  // before the database (sqlite_journal.cc: a move commits, then forgets).
  std::vector<DeviceRecord> pending;
  if (journal_) {
    for (const std::string& device : devices) {
      if (auto d = PendingDevice(device)) pending.push_back(std::move(*d));
    }
  }
  Result<Lease> reader = Reader();
  if (!reader.ok()) return reader.error();
  std::vector<DeviceRecord> found;
  Sql sql = NamesIn("SELECT device, secret, first_seen, last_received FROM "
                    "devices WHERE 1",
                    "device", devices);
  sql.text += " ORDER BY device";
  Status s = sqlite::Collect(**reader, sql, rows::ReadDeviceRecord<Query>,
                             found);
  if (!s.ok()) return s.error();
  if (pending.empty()) return found;
  for (DeviceRecord& p : pending) {
    auto it = std::find_if(found.begin(), found.end(), [&](const auto& d) {
      return d.device == p.device;
    });
    if (it == found.end()) {
      found.push_back(std::move(p));
    } else if (!it->secret) {
      it->secret = p.secret;
    }
  }
  std::sort(found.begin(), found.end(),
            [](const auto& a, const auto& b) { return a.device < b.device; });
  return found;
}

Result<int64_t> SqliteStore::CountDevices() {
  int64_t pending = 0;  // registered from the journal, not yet moved
  {
    std::lock_guard lock(pending_mutex_);
    for (const auto& p : pending_) {
      pending += static_cast<int64_t>(p->new_devices.size());
    }
  }
  Result<Lease> reader = Reader();
  if (!reader.ok()) return reader.error();
  return sqlite::Single<int64_t>(
      **reader, "SELECT count(*) + ? FROM devices", pending,
      [](Query& q) { return q.Int(); }, int64_t{0});
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
    if (Status s = sqlite::Collect(**reader, sql, ReadSession, out); !s.ok()) {
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
  if (Status s = sqlite::Collect(**reader, recent, ReadSession, out); !s.ok()) {
    return s.error();
  }
  if (static_cast<int>(out.size()) >= limit) return out;
  Sql old = SessionsWhere(kLongOrOpen);
  old.text += fmt::format(" AND {}", kOverlapsOld);
  old.params = {std::min(bound, to), from};
  AddFilter(f, old);
  AddPage(q, limit - static_cast<int>(out.size()), old);
  if (Status s = sqlite::Collect(**reader, old, ReadSession, out); !s.ok()) {
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
  if (Status s = sqlite::Collect(**reader, sql, ReadSession, found); !s.ok()) {
    return s.error();
  }
  if (found.empty()) return std::optional<Session>();
  return std::optional<Session>(std::move(found.front()));
}

namespace {

// A session's events, through their links (event_sessions_session).
constexpr const char* kSessionEventsFrom =
    " FROM event_sessions l JOIN events e ON e.id = l.event_id WHERE "
    "l.session_id = ?";

// An event with its session and request (ReadEventView's columns), from
// `events e` joined with its link `l`.
std::string EventViewColumns() {
  return fmt::format(
      "SELECT {}, e.duplicate, l.session_id, e.content_type, {}, e.method",
      sqlite::EventColumns("e."), sqlite::BodyColumns("e."));
}

// The views an EventViewColumns() query finds.
Result<std::vector<EventView>> CollectViews(sqlite::Connection& conn,
                                            const Sql& sql) {
  std::vector<EventView> views;
  sqlite::BodyReader bodies;
  Status s = sqlite::Collect(
      conn, sql, [&bodies](Query& q) { return ReadEventView(q, bodies); },
      views);
  if (!s.ok()) return s.error();
  if (!bodies.status.ok()) return bodies.status.error();
  return views;
}

}  // namespace

Result<std::vector<EventView>> SqliteStore::SessionEvents(int64_t id) {
  Result<Lease> reader = Reader();
  if (!reader.ok()) return reader.error();
  static const std::string kSql =
      EventViewColumns() + kSessionEventsFrom + " ORDER BY l.time, l.event_id";
  Sql sql{kSql, {id}};
  return CollectViews(**reader, sql);
}

Result<std::vector<EventView>> SqliteStore::SessionEventsPage(
    const SessionEventsQuery& q) {
  if (q.limit <= 0) return std::vector<EventView>();
  Result<Lease> reader = Reader();
  if (!reader.ok()) return reader.error();
  Sql sql{EventViewColumns() + kSessionEventsFrom, {q.session_id}};
  if (q.after) {
    sql.text += " AND (l.time, l.event_id) > (?, ?)";
    sql.params.emplace_back(q.after->first);
    sql.params.emplace_back(q.after->second);
  }
  sql.text += " ORDER BY l.time, l.event_id LIMIT ?";
  sql.params.emplace_back(int64_t{std::min(q.limit, kMaxPageLimit)});
  return CollectViews(**reader, sql);
}

Result<std::vector<EventView>> SqliteStore::ListEvents(
    const EventPageQuery& q) {
  if (q.limit <= 0) return std::vector<EventView>();
  Result<Lease> reader = Reader();
  if (!reader.ok()) return reader.error();
  Sql sql{EventViewColumns() +
              " FROM events e LEFT JOIN event_sessions l ON l.event_id = e.id "
              "WHERE 1",
          {}};
  if (q.device) {
    sql.text += " AND e.device = ?";
    sql.params.emplace_back(*q.device);
  }
  if (q.before_id) {
    sql.text += " AND e.id < ?";
    sql.params.emplace_back(*q.before_id);
  }
  sql.text += " ORDER BY e.id DESC LIMIT ?";
  sql.params.emplace_back(int64_t{std::min(q.limit, kMaxPageLimit)});
  return CollectViews(**reader, sql);
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
    if (Status s = sqlite::Collect(**reader, *sql, ReadSession, out); !s.ok()) {
      return s.error();
    }
  }
  return out;
}

namespace {

// An event's picture as the log and the pictures' table have it.
struct PictureRow {
  std::optional<int64_t> size;  // NULL: none was cut out of the request
  std::string type;
  std::optional<std::string> bytes;  // NULL: not kept
  bool in_request = false;  // a picture is said to be inside the request
};

// A picture of an event stored before pictures were kept apart (a schema-3
// database's that could not be cut out): read out of its stored request.
Result<std::optional<Snapshot>> ReadOutOfRequest(Connection& conn,
                                                 int64_t event_id) {
  Sql sql{"SELECT method, target, content_type, body, body_size, "
          "received_at FROM events WHERE id = ?",
          {event_id}};
  std::vector<std::pair<StoredRequest, TimeMs>> found;
  sqlite::BodyReader bodies;
  Status s = sqlite::Collect(
      conn, sql,
      [&bodies](Query& q) {
        StoredRequest r{q.Text(), q.Text(), q.Text(), bodies.Read(q)};
        return std::make_pair(std::move(r), q.Int());
      },
      found);
  if (!s.ok()) return s.error();
  if (!bodies.status.ok()) return bodies.status.error();
  if (found.empty()) return std::optional<Snapshot>();
  const StoredRequest& stored = found.front().first;
  Request request;
  request.method = stored.method;
  request.target = stored.target;
  request.content_type = stored.content_type;
  request.body = stored.body;
  request.received_at = found.front().second;
  Result<Decoded> decoded = Decode(request, DecodeLimits{});
  if (!decoded.ok() || !decoded->snapshot) return std::optional<Snapshot>();
  return std::optional<Snapshot>(std::move(*decoded->snapshot));
}

}  // namespace

Result<std::optional<Snapshot>> SqliteStore::GetSnapshot(int64_t event_id) {
  Result<Lease> reader = Reader();
  if (!reader.ok()) return reader.error();
  ReadTransaction txn(**reader);
  if (Status s = txn.Begin(); !s.ok()) return s.error();
  Sql sql{"SELECT e.picture_size, coalesce(e.picture_type, ''), p.bytes, "
          "e.snapshot = 1 AND e.method IS NOT NULL FROM events e LEFT JOIN "
          "pictures p ON p.event_id = e.id WHERE e.id = ?",
          {event_id}};
  std::vector<PictureRow> found;
  Status s = sqlite::Collect(
      **reader, sql,
      [](Query& q) {
        PictureRow row;
        row.size = q.OptInt();
        row.type = q.Text();
        row.bytes = q.OptText();
        row.in_request = q.Bool();
        return row;
      },
      found);
  if (!s.ok()) return s.error();
  if (found.empty()) return std::optional<Snapshot>();
  PictureRow& row = found.front();
  if (!row.size) {
    if (!row.in_request) return std::optional<Snapshot>();
    return ReadOutOfRequest(**reader, event_id);
  }
  if (!row.bytes) {
    return NotFound(fmt::format(
        "event {} came with a picture ({}, {} bytes) that was not kept under "
        "the retention rule (`pictures` in the configuration)",
        event_id, row.type, *row.size));
  }
  return std::optional<Snapshot>(
      Snapshot{std::move(row.type), std::move(*row.bytes)});
}

Result<ProjectionLag> SqliteStore::Lag() {
  // The appends answered from the journal and not yet moved (looked at
  // first: a move commits, then forgets them): their ids, and when each
  // was received.
  std::vector<std::pair<int64_t, TimeMs>> pending;
  if (journal_) {
    std::lock_guard lock(pending_mutex_);
    for (const auto& p : pending_) {
      pending.insert(pending.end(), p->events.begin(), p->events.end());
    }
  }
  Result<Lease> reader = Reader();
  if (!reader.ok()) return reader.error();
  ReadTransaction txn(**reader);
  if (Status s = txn.Begin(); !s.ok()) return s.error();
  ProjectionLag lag;
  std::vector<std::pair<int64_t, int64_t>> ends;
  Sql sql{"SELECT (SELECT coalesce(max(id), 0) FROM events), "
          "(SELECT coalesce(max(position), 0) FROM projection)",
          {}};
  Status s = sqlite::Collect(
      **reader, sql,
      [](Query& q) {
        int64_t logged = q.Int();
        return std::make_pair(logged, q.Int());
      },
      ends);
  if (!s.ok()) return s.error();
  if (ends.empty()) return lag;
  lag.logged = ends.front().first;
  lag.projected = ends.front().second;
  for (const auto& [id, received] : pending) {
    lag.logged = std::max(lag.logged, id);
    if (id > lag.projected &&
        (!lag.oldest_unprojected || received < *lag.oldest_unprojected)) {
      lag.oldest_unprojected = received;
    }
  }
  if (ends.front().first <= lag.projected) return lag;
  std::vector<int64_t> oldest;
  Sql first{"SELECT received_at FROM events WHERE id > ? ORDER BY id LIMIT 1",
            {lag.projected}};
  s = sqlite::Collect(
      **reader, first, [](Query& q) { return q.Int(); }, oldest);
  if (!s.ok()) return s.error();
  if (!oldest.empty()) lag.oldest_unprojected = oldest.front();
  return lag;
}

Result<std::vector<std::pair<int64_t, std::string>>>
SqliteStore::LoadAttributions() {
  Result<Lease> reader = Reader();
  if (!reader.ok()) return reader.error();
  Sql sql{"SELECT session_id, user FROM session_users ORDER BY session_id",
          {}};
  std::vector<std::pair<int64_t, std::string>> out;
  Status s = sqlite::Collect(
      **reader, sql,
      [](Query& q) {
        int64_t id = q.Int();
        return std::make_pair(id, q.Text());
      },
      out);
  if (!s.ok()) return s.error();
  return out;
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
  Status s = sqlite::Collect(
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
  s = sqlite::Collect(
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

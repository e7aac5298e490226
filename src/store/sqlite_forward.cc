// Forwarding's face of SqliteStore (store.h, ForwardStore): reading the log
// with its requests, and the forward_positions table of schema 6 and
// forward_notices of schema 7. Always on a pooled reader connection, never the
// single writer's.
#include <fmt/format.h>

#include "store/sqlite_rows.h"
#include "store/sqlite_store.h"

namespace pm {

using sqlite::Query;
using sqlite::Sql;

Result<std::vector<EventRecord>> SqliteStore::ReadRequests(int64_t after_id,
                                                           int limit) {
  static const std::string kSql = fmt::format(
      "SELECT {}, e.duplicate, e.method, e.target, e.content_type, {}, "
      "e.picture_at, e.picture_size, e.picture_type, p.bytes FROM events e "
      "LEFT JOIN pictures p ON p.event_id = e.id WHERE e.id > ? ORDER BY "
      "e.id LIMIT ?",
      sqlite::EventColumns("e."), sqlite::BodyColumns("e."));
  Result<Lease> reader = Reader();
  if (!reader.ok()) return reader.error();
  std::vector<EventRecord> out;
  Sql sql{kSql, {after_id, int64_t{limit}}};
  sqlite::BodyReader bodies;
  Status s = sqlite::Collect(
      **reader, sql,
      [&bodies](Query& q) {
        EventRecord r;
        r.event = sqlite::ReadEvent(q);
        r.duplicate = q.Bool();
        if (q.IsNull()) return r;  // a synthetic `swept`
        StoredRequest request{q.Text(), q.Text(), q.Text(), bodies.Read(q)};
        std::optional<int64_t> at = q.OptInt();
        std::optional<int64_t> size = q.OptInt();
        std::string type = q.Text();
        std::string bytes = q.Text();
        if (at && size) {
          request.picture =
              StoredPicture{*at, *size, std::move(type), std::move(bytes)};
        }
        r.request = std::move(request);
        return r;
      },
      out);
  if (!s.ok()) return s.error();
  if (!bodies.status.ok()) return bodies.status.error();
  return out;
}

Result<int64_t> SqliteStore::LogEnd() {
  Result<Lease> reader = Reader();
  if (!reader.ok()) return reader.error();
  std::vector<int64_t> out;
  Status s = sqlite::Collect(**reader,
                             Sql{"SELECT coalesce(max(id), 0) FROM events", {}},
                             [](Query& q) { return q.Int(); }, out);
  if (!s.ok()) return s.error();
  return out.empty() ? 0 : out.front();
}

Result<std::map<std::string, int64_t, std::less<>>>
SqliteStore::ForwardPositions() {
  Result<Lease> reader = Reader();
  if (!reader.ok()) return reader.error();
  std::vector<std::pair<std::string, int64_t>> rows;
  Status s = sqlite::Collect(
      **reader, Sql{"SELECT target, position FROM forward_positions", {}},
      [](Query& q) {
        std::string target = q.Text();
        return std::pair{std::move(target), q.Int()};
      },
      rows);
  if (!s.ok()) return s.error();
  return std::map<std::string, int64_t, std::less<>>(rows.begin(),
                                                      rows.end());
}

Status SqliteStore::SaveForwardPosition(const std::string& target,
                                        std::optional<int64_t> from,
                                        int64_t to) {
  Result<Lease> reader = Reader();
  if (!reader.ok()) return reader.error();
  sqlite::Connection& conn = **reader;
  int changed = 0;
  // Not fsynced: a position lost to a power cut only delivers again.
  Status s = WriteTransaction(conn, /*durable=*/false, [&]() -> Status {
    Status s =
        from ? sqlite::RunOn(conn,
                             "UPDATE forward_positions SET position = ? WHERE "
                             "target = ? AND position = ?",
                             [&](Query& q) {
                               q.Bind(to).Bind(target).Bind(*from);
                             })
             : sqlite::RunOn(conn,
                             "INSERT INTO forward_positions (target, position) "
                             "VALUES (?, ?) ON CONFLICT (target) DO NOTHING",
                             [&](Query& q) { q.Bind(target).Bind(to); });
    changed = conn.Changes();
    return s;
  });
  if (!s.ok()) return s;
  if (changed == 0) {
    return Error{ErrorCode::kConflict,
                 fmt::format("the forwarding position of {} moved meanwhile",
                             target)};
  }
  return {};
}

Result<std::set<std::string>> SqliteStore::ForwardNotices(
    const std::string& target) {
  Result<Lease> reader = Reader();
  if (!reader.ok()) return reader.error();
  std::vector<std::string> rows;
  Status s = sqlite::Collect(
      **reader,
      Sql{"SELECT notice FROM forward_notices WHERE target = ?", {target}},
      [](Query& q) { return q.Text(); }, rows);
  if (!s.ok()) return s.error();
  return std::set<std::string>(rows.begin(), rows.end());
}

// Fsynced: a notice recorded is one that is never sent again, even after a
// power cut.
Status SqliteStore::SaveForwardNotice(const std::string& target,
                                      const std::string& key, TimeMs sent_at) {
  Result<Lease> reader = Reader();
  if (!reader.ok()) return reader.error();
  sqlite::Connection& conn = **reader;
  return WriteTransaction(conn, /*durable=*/true, [&] {
    return sqlite::RunOn(
        conn,
        "INSERT INTO forward_notices (target, notice, sent_at) "
        "VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        [&](Query& q) { q.Bind(target).Bind(key).Bind(sent_at); });
  });
}

}  // namespace pm

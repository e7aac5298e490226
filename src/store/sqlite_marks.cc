// SqliteStore's maintenance marks (store.h): the maintenance_marks table of
// schema 5.
#include "store/sqlite_store.h"

namespace pm {

using sqlite::Connection;
using sqlite::Query;
using sqlite::Statement;

Result<std::vector<MaintenanceMark>> SqliteStore::LoadMaintenanceMarks() {
  Result<Lease> lease = Reader();
  if (!lease.ok()) return lease.error();
  Result<Statement*> stmt = (**lease).Prepare(
      "SELECT device, item, done_at, done_by FROM maintenance_marks");
  if (!stmt.ok()) return stmt.error();
  Query q(*stmt);
  std::vector<MaintenanceMark> out;
  for (;;) {
    Result<bool> row = q.Step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    MaintenanceMark m;
    m.device = q.Text();
    m.item = q.Text();
    m.done_at = q.Int();
    m.by = q.Text();
    out.push_back(std::move(m));
  }
  return out;
}

Status SqliteStore::RecordMaintenanceMark(const MaintenanceMark& mark) {
  // Its own connection, as RecordRateChanges: the writer's belongs to the
  // ingest thread, and a read-only store's connections cannot write.
  Result<std::unique_ptr<Connection>> conn = Connection::Open(path_, false);
  if (!conn.ok()) return conn.error();
  if (Status s = (*conn)->Exec("PRAGMA busy_timeout = 5000"); !s.ok()) {
    return s;
  }
  return WriteTransaction(**conn, /*durable=*/true, [&]() -> Status {
    Result<Statement*> stmt = (*conn)->Prepare(
        "INSERT OR REPLACE INTO maintenance_marks (device, item, done_at, "
        "done_by) VALUES (?, ?, ?, ?)");
    if (!stmt.ok()) return stmt.error();
    Query q(*stmt);
    q.Bind(mark.device).Bind(mark.item).Bind(mark.done_at).Bind(mark.by);
    return q.Run();
  });
}

}  // namespace pm

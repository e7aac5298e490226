// SqliteStore's rate history (store.h, "rate history"): the rate_history
// table of schema 3.
#include "store/sqlite_rates.h"

#include <fmt/format.h>

#include "store/sqlite_store.h"

namespace pm {

using sqlite::Connection;
using sqlite::Query;
using sqlite::Statement;

Result<std::vector<RateChange>> sqlite::ReadRateChanges(Connection& conn) {
  Result<Statement*> stmt = conn.Prepare(
      "SELECT device, effective_from, rate_per_hour, rate_per_m, "
      "minimum_per_session FROM rate_history");
  if (!stmt.ok()) return stmt.error();
  Query q(*stmt);
  std::vector<RateChange> out;
  for (;;) {
    Result<bool> row = q.Step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    RateChange c;
    c.device = q.Text();
    c.effective_from = q.Int();
    c.rates.rate_per_hour = q.Real();
    c.rates.rate_per_m = q.Real();
    c.rates.minimum_per_session = q.Real();
    out.push_back(std::move(c));
  }
  return out;
}

namespace {

Status InsertAll(Connection& conn, const std::vector<RateChange>& changes) {
  Result<Statement*> stmt = conn.Prepare(
      "INSERT OR REPLACE INTO rate_history (device, effective_from, "
      "rate_per_hour, rate_per_m, minimum_per_session) VALUES (?, ?, ?, ?, "
      "?)");
  if (!stmt.ok()) return stmt.error();
  for (const RateChange& c : changes) {
    Query q(*stmt);
    q.Bind(c.device)
        .Bind(c.effective_from)
        .Bind(c.rates.rate_per_hour)
        .Bind(c.rates.rate_per_m)
        .Bind(c.rates.minimum_per_session);
    if (Status s = q.Run(); !s.ok()) return s;
  }
  return {};
}

}  // namespace

Status SqliteStore::RecordRateChanges(const std::vector<RateChange>& changes) {
  if (changes.empty()) return {};
  // Its own connection: the writer's belongs to the ingest thread, and a
  // read-only store's connections cannot write.
  Result<std::unique_ptr<Connection>> conn = Connection::Open(path_, false);
  if (!conn.ok()) return conn.error();
  if (Status s = (*conn)->Exec("PRAGMA busy_timeout = 5000"); !s.ok()) {
    return s;
  }
  return WriteTransaction(**conn, /*durable=*/true,
                          [&] { return InsertAll(**conn, changes); });
}

}  // namespace pm

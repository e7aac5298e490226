// Rows <-> structs for the SQLite store, written once: each row type has
// one column list (kEventFields, kSessionSelect) that every statement uses,
// and one Bind/Read pair in that order. Plus the small helpers every
// statement of the store runs through (Collect, RunOn, Single).
//
// Internal to src/store/sqlite_*.cc.
#pragma once

#include <fmt/format.h>

#include <iterator>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "store/row_mapping.h"
#include "store/schema.h"
#include "store/sqlite_db.h"
#include "store/store.h"
#include "store/stored_body.h"

namespace pm::sqlite {

// Every Event field, in the order BindEvent() and ReadEvent() use.
using rows::kEventFields;
constexpr int kEventFieldCount = 27;

// kEventFields joined with ", ", each name behind `prefix` ("e.").
std::string EventColumns(std::string_view prefix);
// "?, ?, ..." n times.
std::string Placeholders(int n);

// Every Session field, in the order ReadSession() uses; `user` is the
// attributed user when there is one.
extern const char* const kSessionSelect;

// Binds every Event field in kEventFields order; without the id when
// `with_id` is false (an UPDATE ... WHERE id = ?).
void BindEvent(Query& q, const Event& e, bool with_id = true);
Event ReadEvent(Query& q);
void BindSession(Query& q, const Session& s);
Session ReadSession(Query& q);
// Rewrites a logged row's decoded columns and duplicate flag, by id
// (rebuild); kNotFound when no row has the id.
Status UpdateEvent(Connection& conn, const EventUpdate& u);

// Inserts a logged event (id and duplicate flag decided) with its body as
// CompressBody() stored it, and its picture's bytes apart (sqlite_log.cc).
Status InsertLoggedEvent(Connection& conn, const EventRecord& r,
                         const CompressedBody& body);

// Inserts a new printer, or sets the secret of one that has none; a secret
// stored first is kept. Returns the secret stored afterwards.
Result<std::optional<std::string>> RegisterDevice(Connection& conn,
                                                  const DeviceRecord& d);
// A stored request body: reads its two columns (body, body_size) and gives
// the body as received (store/stored_body.h). Collect's row readers cannot
// fail, so the first damaged body is kept in `status`, for the caller to
// return after Collect.
struct BodyReader {
  Status status;
  std::string Read(Query& q);
};

// The two columns BodyReader reads, behind `prefix` ("e.").
std::string BodyColumns(std::string_view prefix);

// Columns after the Event's for an EventView: duplicate, session_id,
// content_type, BodyColumns, method.
EventView ReadEventView(Query& q, BodyReader& bodies);
// Two columns (time, id), both NULL for none.
std::optional<EventKey> OptKey(Query& q);

// Closed pauses as compact JSON: [[begin,end],...] in epoch ms.
std::string EncodePauses(const std::vector<Interval>& pauses);
std::vector<Interval> DecodePauses(std::string_view text);

using Param = std::variant<int64_t, std::string>;

// SQL and its parameters, built from optional filters.
struct Sql {
  std::string text;
  std::vector<Param> params;
};

void BindAll(Query& q, const std::vector<Param>& params);

// Runs `sql` and appends read_row(q) for every row to `out`.
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

// The first row's read(q) for a query of one int parameter, or `missing`.
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

// A read transaction, so that several statements see one snapshot.
class ReadTransaction {
 public:
  explicit ReadTransaction(Connection& conn) : conn_(conn) {}
  Status Begin() { return conn_.Exec("BEGIN"); }
  ~ReadTransaction() { (void)conn_.Exec("COMMIT"); }

 private:
  Connection& conn_;
};

}  // namespace pm::sqlite

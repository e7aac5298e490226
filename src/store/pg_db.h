// A thin C++ layer over libpq for the PostgreSQL store (pg_store.h): one
// connection, statements prepared once per connection, parameters sent as
// text (bytes as binary), rows read left to right like sqlite::Query.
//
// Every failure is an Error whose message names the server and what it
// said. A connection the server dropped (restart, crash, network) is
// kUnavailable and marked broken; the next Exec reconnects first, so a
// caller retries by calling again. A unique or foreign key violation is
// kConflict.
//
// Not thread-safe: one thread uses a connection at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "store/libpq.h"

namespace pm::pg {

// Parameters of one statement, $1, $2, ... in Bind order.
class Params {
 public:
  Params& Bind(int64_t v);
  Params& Bind(int v) { return Bind(static_cast<int64_t>(v)); }
  Params& Bind(double v);
  Params& Bind(bool v);
  Params& Bind(std::string_view v);
  Params& Bind(const std::string& v) { return Bind(std::string_view(v)); }
  Params& Bind(const char* v) { return Bind(std::string_view(v)); }
  template <typename T>
  Params& Bind(const std::optional<T>& v) {
    return v ? Bind(*v) : BindNull();
  }
  Params& BindNull();
  Params& BindBytes(std::string_view bytes);  // a bytea, sent as binary

  int size() const { return static_cast<int>(values_.size()); }
  const char* const* values() const { return pointers_.data(); }
  const int* lengths() const { return lengths_.data(); }
  const int* formats() const { return formats_.data(); }
  void Seal();  // fills the pointer array (after the last Bind)

 private:
  std::vector<std::optional<std::string>> values_;
  std::vector<const char*> pointers_;
  std::vector<int> lengths_;
  std::vector<int> formats_;
};

// The rows a statement returned. Read a row with Row(i): its columns in
// order, like sqlite::Query.
class Rows {
 public:
  explicit Rows(PGresult* result) : result_(result, LibPq().PQclear) {}
  int size() const { return LibPq().PQntuples(result_.get()); }
  int64_t affected() const;  // rows an INSERT/UPDATE/DELETE touched

  class Row {
   public:
    Row(const PGresult* r, int row) : r_(r), row_(row) {}
    bool IsNull() const { return LibPq().PQgetisnull(r_, row_, col_); }
    int64_t Int();
    std::optional<int64_t> OptInt();
    double Real();
    std::optional<double> OptReal();
    bool Bool();
    std::optional<bool> OptBool();
    std::string Text();
    std::optional<std::string> OptText();
    std::string Bytes();  // a bytea column
    std::optional<std::string> OptBytes();

   private:
    std::string_view Raw() const;
    const PGresult* r_;
    int row_;
    int col_ = 0;
  };
  Row row(int i) const { return Row(result_.get(), i); }

 private:
  std::unique_ptr<PGresult, void (*)(PGresult*)> result_;
};

class Connection {
 public:
  // Connects to `url` (any libpq URI: postgresql:// or postgres://).
  static Result<std::unique_ptr<Connection>> Open(const std::string& url);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs one statement with `params` (prepared on first use).
  Result<Rows> Exec(const std::string& sql, Params params = {});
  // Runs `statements` in one round trip (libpq's pipeline mode), in order:
  // their rows, one per statement, or the first failure (the statements
  // after a failing one are not run). Each is prepared on first use, before
  // the pipeline. Inside a transaction a failure aborts it, as Exec's does.
  struct Statement {
    std::string sql;
    Params params;
  };
  Result<std::vector<Rows>> Pipeline(std::vector<Statement>& statements);
  // Runs statements without parameters, separated by `;` (migrations,
  // BEGIN/COMMIT).
  Status Script(const std::string& sql);
  // Whether the server dropped the connection (the next call reconnects).
  bool broken() const;
  // Which session this is: 1 when opened, one more at each reconnection. A
  // session outlives no restart of the server.
  int64_t session() const { return session_; }
  // "host:port/db" for messages, without the password.
  const std::string& where() const { return where_; }

 private:
  Connection(std::string url, std::string where, PGconn* conn);
  Status Reconnect();
  // The name of `sql`'s prepared statement, preparing it on first use.
  Result<std::string> Prepared(const std::string& sql);
  Error Failure(const PGresult* result, std::string_view sql) const;

  std::string url_;
  std::string where_;
  PGconn* conn_;
  std::unordered_map<std::string, std::string> prepared_;  // sql -> name
  int64_t statements_ = 0;  // names prepared statements s1, s2, ...
  int64_t session_ = 1;
};

// `url` without its password, for messages: "127.0.0.1:5432/printmeter".
std::string Where(const std::string& url);

}  // namespace pm::pg

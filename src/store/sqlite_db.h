// A thin layer over the SQLite C API: a connection that caches its prepared
// statements, and cursors that bind parameters and read columns in order.
//
// Not thread-safe: a Connection and its statements belong to one thread at a
// time (the writer, or a reader that leased it from the pool).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/result.h"

struct sqlite3;
struct sqlite3_stmt;

namespace pm::sqlite {

class Statement;

class Connection {
 public:
  // Opens `path`; `create` makes the file when it is missing. Errors name the
  // path and the operating system's reason (kUnavailable).
  static Result<std::unique_ptr<Connection>> Open(const std::string& path,
                                                  bool create);
  // Opens an existing `path` for reading only: nothing this connection does
  // can change the file (writes fail), so it works on a file the process may
  // not write. kNotFound when the file is missing.
  static Result<std::unique_ptr<Connection>> OpenReadOnly(
      const std::string& path);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs one or more statements that return no rows.
  Status Exec(std::string_view sql);
  // The prepared form of `sql`, prepared once per connection and then reused.
  Result<Statement*> Prepare(const std::string& sql);
  // A kUnavailable error "`what`: <sqlite's message>".
  Error Fail(std::string_view what) const;

  // Whether a transaction is open (one left open is rolled back by the
  // reader pool before the connection is reused).
  bool InTransaction() const;
  // Rows changed by the last INSERT, UPDATE or DELETE.
  int Changes() const;
  // Defines pm_row_digest(...) on this connection: RowDigest
  // (store/row_digest.h) of its arguments, as SQLite types them.
  Status DefineRowDigest();
  // Frames in the WAL after this connection's latest commit (0 before one).
  // Any thread may read it (the store's background checkpoints do).
  int64_t wal_frames() const {
    return wal_frames_.load(std::memory_order_relaxed);
  }

  const std::string& path() const { return path_; }

 private:
  Connection(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}

  sqlite3* db_;
  std::string path_;
  std::unordered_map<std::string, std::unique_ptr<Statement>> cache_;
  std::atomic<int64_t> wal_frames_{0};
};

// A prepared statement. Use it through a Query, which resets it when done.
class Statement {
 public:
  Statement(Connection* conn, sqlite3_stmt* stmt) : conn_(conn), stmt_(stmt) {}
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  sqlite3_stmt* raw() const { return stmt_; }
  Connection* connection() const { return conn_; }

 private:
  Connection* conn_;
  sqlite3_stmt* stmt_;
};

// One execution of a cached statement: bind parameters in order with Bind(),
// then Step() through rows, reading columns in order with the Column
// accessors. Resets the statement (and its bindings) when destroyed.
class Query {
 public:
  explicit Query(Statement* stmt) : stmt_(stmt) {}
  ~Query();
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;

  Query& Bind(int64_t v);
  Query& Bind(int v) { return Bind(static_cast<int64_t>(v)); }
  Query& Bind(bool v) { return Bind(static_cast<int64_t>(v ? 1 : 0)); }
  Query& Bind(double v);
  Query& Bind(std::string_view text);
  Query& Bind(const std::string& text) { return Bind(std::string_view(text)); }
  Query& Bind(const char* text) { return Bind(std::string_view(text)); }
  Query& BindBlob(std::string_view bytes);
  Query& BindNull();
  template <typename T>
  Query& Bind(const std::optional<T>& v) {
    return v ? Bind(*v) : BindNull();
  }

  // Advances to the next row: true on a row, false when done.
  Result<bool> Step();
  // Runs a statement that returns no rows.
  Status Run();

  // Column accessors, each reading the next column of the current row.
  int64_t Int();
  bool Bool() { return Int() != 0; }
  double Real();
  std::string Text();   // text or blob bytes; "" for NULL
  bool IsNull() const;  // whether the next column is NULL (does not advance)
  void Skip() { ++col_; }
  std::optional<int64_t> OptInt();
  std::optional<double> OptReal();
  std::optional<std::string> OptText();
  std::optional<bool> OptBool();

 private:
  Statement* stmt_;
  int param_ = 0;
  int col_ = 0;
};

}  // namespace pm::sqlite

#include "store/sqlite_db.h"

#include <fmt/format.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "store/row_digest.h"
#include "store/sqlite_file.h"

namespace pm::sqlite {
namespace {

// The operating system's reason for the last failure on `db`, if it has one.
std::string OsReason(sqlite3* db) {
  int err = db ? sqlite3_system_errno(db) : 0;
  return err ? std::strerror(err) : std::string();
}

Error OpenError(sqlite3* db, const std::string& path) {
  std::string reason = OsReason(db);
  std::string sqlite_msg = db ? sqlite3_errmsg(db) : "out of memory";
  if (reason.empty()) reason = sqlite_msg;
  return Unavailable(fmt::format(
      "cannot open database {}: {} (check that the directory exists and is "
      "writable)",
      path, reason));
}

}  // namespace

Result<std::unique_ptr<Connection>> Connection::Open(const std::string& path,
                                                     bool create) {
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
              (create ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    Error error = OpenError(db, path);
    sqlite3_close_v2(db);
    return error;
  }
  std::unique_ptr<Connection> conn(new Connection(db, path));
  // SQLite silently falls back to read-only when the file is not writable.
  if (sqlite3_db_readonly(db, "main") == 1) {
    errno = 0;
    std::string reason = access(path.c_str(), W_OK) != 0 && errno
                             ? std::strerror(errno)
                             : "opened read-only";
    return Unavailable(fmt::format(
        "database {} is not writable: {} (check the permissions of the file "
        "and of its directory)",
        path, reason));
  }
  sqlite3_extended_result_codes(db, 1);
  // Replaces SQLite's automatic checkpoints (SqliteStore checkpoints itself)
  // with a note of the WAL's size after each commit.
  sqlite3_wal_hook(
      db,
      [](void* self, sqlite3*, const char*, int frames) {
        static_cast<Connection*>(self)->wal_frames_.store(
            frames, std::memory_order_relaxed);
        return SQLITE_OK;
      },
      conn.get());
  NoteOpened(path);
  return conn;
}

Status Connection::DefineRowDigest() {
  auto digest = [](sqlite3_context* ctx, int argc, sqlite3_value** argv) {
    RowDigest d;
    for (int i = 0; i < argc; ++i) {
      sqlite3_value* v = argv[i];
      switch (sqlite3_value_type(v)) {
        case SQLITE_INTEGER:
          d.Bind(static_cast<int64_t>(sqlite3_value_int64(v)));
          break;
        case SQLITE_FLOAT:
          d.Bind(sqlite3_value_double(v));
          break;
        case SQLITE_NULL:
          d.BindNull();
          break;
        default: {  // text (a blob is read as its bytes: none is digested)
          const auto* text =
              reinterpret_cast<const char*>(sqlite3_value_text(v));
          d.Bind(std::string_view(
              text ? text : "", static_cast<size_t>(sqlite3_value_bytes(v))));
        }
      }
    }
    sqlite3_result_int64(ctx, static_cast<sqlite3_int64>(d.value()));
  };
  int rc = sqlite3_create_function_v2(
      db_, "pm_row_digest", -1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, nullptr,
      digest, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return Fail("define pm_row_digest");
  return {};
}

Result<std::unique_ptr<Connection>> Connection::OpenReadOnly(
    const std::string& path) {
  if (access(path.c_str(), F_OK) != 0) {
    return NotFound(fmt::format("no database at {}", path));
  }
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db,
                           SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    Error error = OpenError(db, path);
    sqlite3_close_v2(db);
    return error;
  }
  sqlite3_extended_result_codes(db, 1);
  return std::unique_ptr<Connection>(new Connection(db, path));
}

Connection::~Connection() {
  cache_.clear();  // statements must be finalized before the connection
  sqlite3_close_v2(db_);
}

Status Connection::Exec(std::string_view sql) {
  std::string text(sql);
  // A committed write transaction tells the health checks writes work.
  bool commits_writes =
      sql == "COMMIT" && sqlite3_txn_state(db_, nullptr) == SQLITE_TXN_WRITE;
  char* msg = nullptr;
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &msg);
  if (rc == SQLITE_OK) {
    if (commits_writes) NoteCommitted(path_);
    return {};
  }
  std::string message = msg ? msg : sqlite3_errstr(rc);
  sqlite3_free(msg);
  NoteFailure(path_, sqlite3_extended_errcode(db_), message);
  return Unavailable(fmt::format("database {}: {}", path_, message));
}

bool Connection::InTransaction() const {
  return sqlite3_get_autocommit(db_) == 0;
}

int Connection::Changes() const { return sqlite3_changes(db_); }

Result<Statement*> Connection::Prepare(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) return it->second.get();
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) return Fail("preparing a statement");
  auto owned = std::make_unique<Statement>(this, stmt);
  Statement* result = owned.get();
  cache_.emplace(sql, std::move(owned));
  return result;
}

Error Connection::Fail(std::string_view what) const {
  NoteFailure(path_, sqlite3_extended_errcode(db_), sqlite3_errmsg(db_));
  return Unavailable(
      fmt::format("database {}: {}: {}", path_, what, sqlite3_errmsg(db_)));
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Query::~Query() {
  sqlite3_reset(stmt_->raw());
  sqlite3_clear_bindings(stmt_->raw());
}

Query& Query::Bind(int64_t v) {
  sqlite3_bind_int64(stmt_->raw(), ++param_, v);
  return *this;
}

Query& Query::Bind(double v) {
  sqlite3_bind_double(stmt_->raw(), ++param_, v);
  return *this;
}

Query& Query::Bind(std::string_view text) {
  sqlite3_bind_text(stmt_->raw(), ++param_, text.data(),
                    static_cast<int>(text.size()), SQLITE_TRANSIENT);
  return *this;
}

Query& Query::BindBlob(std::string_view bytes) {
  // A zero-length blob, not NULL, for an empty body.
  sqlite3_bind_blob(stmt_->raw(), ++param_, bytes.empty() ? "" : bytes.data(),
                    static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
  return *this;
}

Query& Query::BindNull() {
  sqlite3_bind_null(stmt_->raw(), ++param_);
  return *this;
}

Result<bool> Query::Step() {
  col_ = 0;
  int rc = sqlite3_step(stmt_->raw());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return stmt_->connection()->Fail("running a statement");
}

Status Query::Run() {
  Result<bool> row = Step();
  if (!row.ok()) return row.error();
  return {};
}

int64_t Query::Int() { return sqlite3_column_int64(stmt_->raw(), col_++); }

double Query::Real() { return sqlite3_column_double(stmt_->raw(), col_++); }

std::string Query::Text() {
  sqlite3_stmt* s = stmt_->raw();
  const void* data = sqlite3_column_blob(s, col_);
  int size = sqlite3_column_bytes(s, col_);
  ++col_;
  if (!data) return {};
  return std::string(static_cast<const char*>(data), size);
}

bool Query::IsNull() const {
  return sqlite3_column_type(stmt_->raw(), col_) == SQLITE_NULL;
}

std::optional<int64_t> Query::OptInt() {
  if (IsNull()) {
    Skip();
    return std::nullopt;
  }
  return Int();
}

std::optional<double> Query::OptReal() {
  if (IsNull()) {
    Skip();
    return std::nullopt;
  }
  return Real();
}

std::optional<std::string> Query::OptText() {
  if (IsNull()) {
    Skip();
    return std::nullopt;
  }
  return Text();
}

std::optional<bool> Query::OptBool() {
  if (IsNull()) {
    Skip();
    return std::nullopt;
  }
  return Bool();
}

}  // namespace pm::sqlite

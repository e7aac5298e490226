#include "store/pg_db.h"

#include <fmt/format.h>

#include <charconv>
#include <cstdlib>

namespace pm::pg {

Params& Params::Bind(int64_t v) {
  values_.push_back(std::to_string(v));
  formats_.push_back(0);
  return *this;
}

Params& Params::Bind(double v) {
  values_.push_back(fmt::format("{}", v));  // shortest exact form
  formats_.push_back(0);
  return *this;
}

Params& Params::Bind(bool v) {
  values_.push_back(v ? "t" : "f");
  formats_.push_back(0);
  return *this;
}

Params& Params::Bind(std::string_view v) {
  values_.push_back(std::string(v));
  formats_.push_back(0);
  return *this;
}

Params& Params::BindNull() {
  values_.push_back(std::nullopt);
  formats_.push_back(0);
  return *this;
}

Params& Params::BindBytes(std::string_view bytes) {
  values_.push_back(std::string(bytes));
  formats_.push_back(1);
  return *this;
}

void Params::Seal() {
  pointers_.clear();
  lengths_.clear();
  for (const auto& v : values_) {
    pointers_.push_back(v ? v->data() : nullptr);
    lengths_.push_back(v ? static_cast<int>(v->size()) : 0);
  }
}

int64_t Rows::affected() const {
  const char* n = LibPq().PQcmdTuples(result_.get());
  return n && *n ? std::strtoll(n, nullptr, 10) : 0;
}

std::string_view Rows::Row::Raw() const {
  return {LibPq().PQgetvalue(r_, row_, col_),
          static_cast<size_t>(LibPq().PQgetlength(r_, row_, col_))};
}

int64_t Rows::Row::Int() {
  std::string_view raw = Raw();
  int64_t v = 0;
  std::from_chars(raw.data(), raw.data() + raw.size(), v);
  ++col_;
  return v;
}

std::optional<int64_t> Rows::Row::OptInt() {
  if (IsNull()) {
    ++col_;
    return std::nullopt;
  }
  return Int();
}

double Rows::Row::Real() {
  std::string v(Raw());
  ++col_;
  return std::strtod(v.c_str(), nullptr);
}

std::optional<double> Rows::Row::OptReal() {
  if (IsNull()) {
    ++col_;
    return std::nullopt;
  }
  return Real();
}

bool Rows::Row::Bool() {
  std::string_view raw = Raw();
  ++col_;
  return raw == "t" || raw == "true" || raw == "1";
}

std::optional<bool> Rows::Row::OptBool() {
  if (IsNull()) {
    ++col_;
    return std::nullopt;
  }
  return Bool();
}

std::string Rows::Row::Text() {
  std::string v(Raw());
  ++col_;
  return v;
}

std::optional<std::string> Rows::Row::OptText() {
  if (IsNull()) {
    ++col_;
    return std::nullopt;
  }
  return Text();
}

std::string Rows::Row::Bytes() {
  size_t length = 0;
  unsigned char* bytes =
      LibPq().PQunescapeBytea(reinterpret_cast<const unsigned char*>(
                                  LibPq().PQgetvalue(r_, row_, col_)),
                              &length);
  ++col_;
  if (!bytes) return {};
  std::string out(reinterpret_cast<char*>(bytes), length);
  LibPq().PQfreemem(bytes);
  return out;
}

std::optional<std::string> Rows::Row::OptBytes() {
  if (IsNull()) {
    ++col_;
    return std::nullopt;
  }
  return Bytes();
}

std::string Where(const std::string& url) {
  if (!LoadLibPq().ok()) return "PostgreSQL";
  PQconninfoOption* options = LibPq().PQconninfoParse(url.c_str(), nullptr);
  if (!options) return "PostgreSQL";
  std::string host = "localhost", port = "5432", db;
  for (PQconninfoOption* o = options; o->keyword; ++o) {
    if (!o->val) continue;
    std::string_view k = o->keyword;
    if (k == "host" || k == "hostaddr") host = o->val;
    if (k == "port") port = o->val;
    if (k == "dbname") db = o->val;
  }
  LibPq().PQconninfoFree(options);
  return fmt::format("{}:{}/{}", host, port, db);
}

Connection::Connection(std::string url, std::string where, PGconn* conn)
    : url_(std::move(url)), where_(std::move(where)), conn_(conn) {}

Connection::~Connection() { LibPq().PQfinish(conn_); }

Result<std::unique_ptr<Connection>> Connection::Open(const std::string& url) {
  if (Status loaded = LoadLibPq(); !loaded.ok()) return loaded.error();
  std::string where = Where(url);
  PGconn* conn = LibPq().PQconnectdb(url.c_str());
  if (LibPq().PQstatus(conn) != CONNECTION_OK) {
    std::string message = LibPq().PQerrorMessage(conn);
    LibPq().PQfinish(conn);
    while (!message.empty() && message.back() == '\n') message.pop_back();
    return Unavailable(fmt::format(
        "cannot reach PostgreSQL at {}: {}; check that the server runs and "
        "the URL's user, password and database",
        where, message));
  }
  // Messages in English whatever the server's locale; no notices on stderr.
  LibPq().PQsetNoticeProcessor(conn, [](void*, const char*) {}, nullptr);
  return std::unique_ptr<Connection>(
      new Connection(url, std::move(where), conn));
}

bool Connection::broken() const {
  return LibPq().PQstatus(conn_) != CONNECTION_OK;
}

Status Connection::Reconnect() {
  LibPq().PQreset(conn_);
  prepared_.clear();
  if (LibPq().PQstatus(conn_) != CONNECTION_OK) {
    std::string message = LibPq().PQerrorMessage(conn_);
    while (!message.empty() && message.back() == '\n') message.pop_back();
    return Unavailable(
        fmt::format("PostgreSQL at {} is unavailable: {}", where_, message));
  }
  ++session_;
  return {};
}

Error Connection::Failure(const PGresult* result, std::string_view sql) const {
  std::string message = LibPq().PQerrorMessage(conn_);
  while (!message.empty() && message.back() == '\n') message.pop_back();
  const char* state =
      result ? LibPq().PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  std::string_view code = state ? state : "";
  if (broken() || code.starts_with("08") || code.starts_with("57P")) {
    return Unavailable(
        fmt::format("PostgreSQL at {} is unavailable: {}", where_, message));
  }
  if (code == "23505" || code == "23503" || code == "40001" ||
      code == "40P01") {
    return {ErrorCode::kConflict, message};
  }
  return Unavailable(fmt::format("PostgreSQL at {}: {} (in: {:.80})", where_,
                                 message, sql));
}

Result<std::string> Connection::Prepared(const std::string& sql) {
  auto it = prepared_.find(sql);
  if (it == prepared_.end()) {
    std::string name = fmt::format("s{}", ++statements_);
    PGresult* prepared =
        LibPq().PQprepare(conn_, name.c_str(), sql.c_str(), 0, nullptr);
    if (LibPq().PQresultStatus(prepared) != PGRES_COMMAND_OK) {
      Error error = Failure(prepared, sql);
      LibPq().PQclear(prepared);
      return error;
    }
    LibPq().PQclear(prepared);
    it = prepared_.emplace(sql, name).first;
  }
  return it->second;
}

Result<std::vector<Rows>> Connection::Pipeline(
    std::vector<Statement>& statements) {
  std::vector<Rows> out;
  if (statements.empty()) return out;
  if (broken()) {
    if (Status s = Reconnect(); !s.ok()) return s.error();
  }
  std::vector<std::string> names;
  for (Statement& st : statements) {
    auto name = Prepared(st.sql);
    if (!name.ok()) return name.error();
    names.push_back(std::move(*name));
    st.params.Seal();
  }
  if (LibPq().PQenterPipelineMode(conn_) != 1) {
    return Failure(nullptr, "pipeline");
  }
  bool sent = true;
  for (size_t i = 0; i < statements.size() && sent; ++i) {
    const Params& p = statements[i].params;
    sent = LibPq().PQsendQueryPrepared(conn_, names[i].c_str(), p.size(),
                                       p.values(), p.lengths(), p.formats(),
                                       /*text*/ 0) == 1;
  }
  sent = sent && LibPq().PQpipelineSync(conn_) == 1;
  // Every statement's result, then the sync; after a failure the rest are
  // PGRES_PIPELINE_ABORTED. All of them are read, so the connection is
  // left ready for the next call.
  std::optional<Error> error;
  for (;;) {
    PGresult* result = LibPq().PQgetResult(conn_);
    if (!result) {
      if (broken() || !sent) break;
      continue;  // the end of one statement's results
    }
    ExecStatusType status = LibPq().PQresultStatus(result);
    if (status == PGRES_PIPELINE_SYNC) {
      LibPq().PQclear(result);
      break;
    }
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
      out.emplace_back(result);
      continue;
    }
    if (!error && status != PGRES_PIPELINE_ABORTED) {
      error = Failure(result, statements[std::min(out.size(),
                                                  statements.size() - 1)]
                                  .sql);
    }
    LibPq().PQclear(result);
  }
  if (LibPq().PQexitPipelineMode(conn_) != 1) {
    // Left mid-pipeline (a send failed, the server went away): the next
    // call starts on a fresh connection.
    if (!error) error = Failure(nullptr, "pipeline");
    (void)Reconnect();
  }
  if (error) return *error;
  if (!sent || out.size() != statements.size()) {
    return Failure(nullptr, "pipeline");
  }
  return out;
}

Result<Rows> Connection::Exec(const std::string& sql, Params params) {
  if (broken()) {
    if (Status s = Reconnect(); !s.ok()) return s.error();
  }
  auto name = Prepared(sql);
  if (!name.ok()) return name.error();
  auto it = prepared_.find(sql);
  params.Seal();
  PGresult* result = LibPq().PQexecPrepared(
      conn_, it->second.c_str(), params.size(), params.values(),
      params.lengths(), params.formats(), /*text*/ 0);
  ExecStatusType status = LibPq().PQresultStatus(result);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    Error error = Failure(result, sql);
    LibPq().PQclear(result);
    return error;
  }
  return Rows(result);
}

Status Connection::Script(const std::string& sql) {
  if (broken()) {
    if (Status s = Reconnect(); !s.ok()) return s;
  }
  PGresult* result = LibPq().PQexec(conn_, sql.c_str());
  ExecStatusType status = LibPq().PQresultStatus(result);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    Error error = Failure(result, sql);
    LibPq().PQclear(result);
    return error;
  }
  LibPq().PQclear(result);
  return {};
}

}  // namespace pm::pg

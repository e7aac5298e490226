#include "store/pg_test_cluster.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "store/libpq.h"

namespace pm::testing {
namespace {

namespace fs = std::filesystem;

// libpq, loaded as printmeter loads it (libpq.h); a machine that runs the
// tests has it (make test-deps installs it).
const pg::LibPqFunctions& LibPq() {
  if (Status loaded = pg::LoadLibPq(); !loaded.ok()) {
    std::fprintf(stderr, "%s\n", loaded.error().message.c_str());
    std::abort();
  }
  return pg::LibPq();
}

// The newest PostgreSQL server binaries Debian installed.
std::string FindBin() {
  std::string best;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    fs::path bin = entry.path() / "bin";
    if (fs::exists(bin / "initdb") && fs::exists(bin / "pg_ctl") &&
        (best.empty() || entry.path().filename().string() > best)) {
      best = bin.string();
    }
  }
  return best;
}

uint16_t FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

std::string Tail(const std::string& path, size_t bytes = 1500) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::string all = text.str();
  return all.size() > bytes ? all.substr(all.size() - bytes) : all;
}

}  // namespace

Result<std::unique_ptr<PgCluster>> PgCluster::Start() {
  char tmpl[] = "/tmp/printmeter-pg-XXXXXX";
  if (!::mkdtemp(tmpl)) {
    return Unavailable(fmt::format("cannot make a temporary folder: {}",
                                   std::strerror(errno)));
  }
  return StartIn(tmpl);
}

Result<std::unique_ptr<PgCluster>> PgCluster::StartIn(const std::string& dir) {
  std::unique_ptr<PgCluster> c(new PgCluster());
  c->bin_ = FindBin();
  if (c->bin_.empty()) {
    return Unavailable(
        "no PostgreSQL server under /usr/lib/postgresql; install Debian's "
        "`postgresql` package (`make test-deps` does)");
  }
  c->dir_ = dir;
  c->as_postgres_ = ::geteuid() == 0;
  if (c->as_postgres_) {
    passwd* pw = ::getpwnam("postgres");
    if (!pw || ::chown(c->dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      return Unavailable(
          "running as root, the test server runs as the `postgres` user, "
          "which is missing; install Debian's `postgresql` package");
    }
  }
  std::string log = c->dir_ + "/initdb.log";
  Status init = c->Run(fmt::format(
      "'{}/initdb' -D '{}/data' -U postgres --auth=trust -E UTF8 "
      "--locale=C.UTF-8 -N >'{}' 2>&1",
      c->bin_, c->dir_, log));
  if (!init.ok()) {
    return Unavailable(fmt::format("initdb failed: {}\n{}",
                                   init.error().message, Tail(log)));
  }
  for (int attempt = 0; attempt < 3; ++attempt) {
    c->port_ = FreePort();
    if (c->StartServer().ok()) return c;
  }
  return Unavailable(fmt::format("the test PostgreSQL server did not start:\n{}",
                                 Tail(c->dir_ + "/server.log")));
}

Status PgCluster::StartKept(const std::string& dir) {
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir, ec);
  if (ec) {
    return Unavailable(fmt::format("cannot make {}: {}", dir, ec.message()));
  }
  auto started = StartIn(fs::absolute(dir).string());
  if (!started.ok()) return started.error();
  std::ofstream(dir + "/url.new") << (*started)->Url("postgres");
  fs::rename(dir + "/url.new", dir + "/url", ec);
  (*started)->running_ = false;  // kept running
  (*started)->dir_.clear();      // and kept
  return {};
}

Status PgCluster::StopKept(const std::string& dir) {
  std::unique_ptr<PgCluster> c(new PgCluster());
  c->bin_ = FindBin();
  c->dir_ = fs::absolute(dir).string();
  c->as_postgres_ = ::geteuid() == 0;
  c->running_ = fs::exists(dir + "/data/postmaster.pid");
  return {};  // the destructor stops it and removes the folder
}

Result<std::unique_ptr<PgCluster>> PgCluster::Attach(const std::string& dir) {
  std::ifstream in(dir + "/url");
  std::string url;
  std::getline(in, url);
  size_t colon = url.rfind(':');
  if (url.empty() || colon == std::string::npos) {
    return Unavailable(fmt::format("no test server URL in {}/url", dir));
  }
  PGconn* probe = LibPq().PQconnectdb(url.c_str());
  bool answers = LibPq().PQstatus(probe) == CONNECTION_OK;
  LibPq().PQfinish(probe);
  if (!answers) {
    return Unavailable(
        fmt::format("the test server of {} is not running", dir));
  }
  std::unique_ptr<PgCluster> c(new PgCluster());
  c->port_ = static_cast<uint16_t>(std::atoi(url.c_str() + colon + 1));
  c->attached_ = true;
  return c;
}

PgCluster::~PgCluster() {
  for (const std::string& name : created_) {
    PGconn* conn = LibPq().PQconnectdb(Url("postgres").c_str());
    if (LibPq().PQstatus(conn) == CONNECTION_OK) {
      LibPq().PQclear(LibPq().PQexec(conn,
                     fmt::format("DROP DATABASE IF EXISTS {} WITH (FORCE)",
                                 name)
                         .c_str()));
    }
    LibPq().PQfinish(conn);
  }
  if (attached_) return;
  if (running_) {
    (void)Run(fmt::format("'{}/pg_ctl' -D '{}/data' -m fast -w stop "
                          ">/dev/null 2>&1",
                          bin_, dir_));
  }
  std::error_code ec;
  if (!dir_.empty()) fs::remove_all(dir_, ec);
}

Status PgCluster::Run(const std::string& command) const {
  std::string line = command;
  if (as_postgres_) {
    // runuser (util-linux) is in every Debian; the shell runs `command`.
    std::string quoted;
    for (char c : command) {
      if (c == '\'') {
        quoted += "'\\''";
      } else {
        quoted += c;
      }
    }
    line = fmt::format("runuser -u postgres -- sh -c '{}'", quoted);
  }
  int status = std::system(line.c_str());
  if (status != 0) {
    return Unavailable(fmt::format("`{}` exited with {}", command, status));
  }
  return {};
}

Status PgCluster::StartServer() {
  Status s = Run(fmt::format(
      "'{0}/pg_ctl' -D '{1}/data' -l '{1}/server.log' -w -t 30 -o "
      "\"-p {2} -k {1} -c listen_addresses=127.0.0.1 -c fsync=on "
      "-c max_connections=200\" start >/dev/null 2>&1",
      bin_, dir_, port_));
  running_ = s.ok();
  return s;
}

std::string PgCluster::Url(const std::string& database) const {
  return fmt::format("postgresql://postgres@127.0.0.1:{}/{}", port_,
                     database);
}

Result<std::string> PgCluster::NewDatabase(const std::string& options) {
  std::string name = fmt::format("pm_test_{}_{}", ::getpid(), ++databases_);
  PGconn* conn = LibPq().PQconnectdb(Url("postgres").c_str());
  std::string error;
  if (LibPq().PQstatus(conn) != CONNECTION_OK) {
    error = LibPq().PQerrorMessage(conn);
  } else {
    PGresult* r =
        LibPq().PQexec(conn, fmt::format("CREATE DATABASE {} {}", name,
                                         options).c_str());
    if (LibPq().PQresultStatus(r) != PGRES_COMMAND_OK)
      error = LibPq().PQerrorMessage(conn);
    LibPq().PQclear(r);
  }
  LibPq().PQfinish(conn);
  if (!error.empty()) {
    return Unavailable(fmt::format("cannot create database {}: {}", name,
                                   error));
  }
  if (attached_) created_.push_back(name);
  return Url(name);
}

Status PgCluster::Crash() {
  if (attached_) return Invalid("a shared test server is not crashed");
  Status s = Run(fmt::format(
      "'{}/pg_ctl' -D '{}/data' -m immediate -w stop >/dev/null 2>&1", bin_,
      dir_));
  if (s.ok()) running_ = false;
  return s;
}

Status PgCluster::Restart() {
  if (attached_) return Invalid("a shared test server is not restarted");
  return StartServer();
}

PgCluster* SharedPgCluster() {
  static std::once_flag once;
  static std::unique_ptr<PgCluster> cluster;
  std::call_once(once, [] {
    const char* env = std::getenv("PRINTMETER_TEST_PG_DIR");
#ifdef PM_TEST_PG_DIR
    std::string dir = env && *env ? env : PM_TEST_PG_DIR;
#else
    std::string dir = env ? env : "";
#endif
    Result<std::unique_ptr<PgCluster>> started =
        Unavailable("no shared test server");
    if (!dir.empty()) started = PgCluster::Attach(dir);
    if (!started.ok()) started = PgCluster::Start();
    if (!started.ok()) {
      std::fprintf(stderr, "PostgreSQL for the tests: %s\n",
                   started.error().message.c_str());
      return;
    }
    cluster = std::move(*started);
    // Stopped at exit (static destruction), also when a test fails.
  });
  return cluster.get();
}

bool TestStoreIsPostgresql() {
  const char* store = std::getenv("PRINTMETER_TEST_STORE");
  return store && std::string(store) == "postgresql";
}

std::string TestStoreUrl(const std::string& sqlite_file) {
  if (!TestStoreIsPostgresql()) return "sqlite:" + sqlite_file;
  PgCluster* cluster = SharedPgCluster();
  if (!cluster) return "";
  Result<std::string> url = cluster->NewDatabase();
  if (!url.ok()) {
    std::fprintf(stderr, "PostgreSQL for the tests: %s\n",
                 url.error().message.c_str());
    return "";
  }
  return *url;
}

Result<std::unique_ptr<WalWatch>> WalWatch::Start() {
  std::unique_ptr<WalWatch> watch(new WalWatch());
  auto cluster = PgCluster::Start();
  if (!cluster.ok()) return cluster.error();
  watch->cluster_ = std::move(*cluster);
  auto url = watch->cluster_->NewDatabase();
  if (!url.ok()) return url.error();
  watch->url_ = *url;
  watch->conn_ = LibPq().PQconnectdb(watch->url_.c_str());
  if (LibPq().PQstatus(watch->conn_) != CONNECTION_OK) {
    return Unavailable(fmt::format("cannot connect to {}: {}", watch->url_,
                                   LibPq().PQerrorMessage(watch->conn_)));
  }
  for (const char* sql : {"ALTER SYSTEM SET wal_writer_delay = '10s'",
                          "SELECT pg_reload_conf()",
                          "SET synchronous_commit = off"}) {
    if (auto done = watch->Query(sql); !done.ok()) return done.error();
  }
  // The WAL writer takes the setting when it next wakes (every 200 ms
  // before).
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  return watch;
}

WalWatch::~WalWatch() {
  if (conn_) LibPq().PQfinish(conn_);
}

bool WalWatch::OnDisk() {
  auto on_disk = Query(
      "SELECT pg_current_wal_flush_lsn() >= pg_current_wal_insert_lsn()");
  if (!on_disk.ok()) {
    std::fprintf(stderr, "%s\n", on_disk.error().message.c_str());
    return false;
  }
  return *on_disk == "t";
}

Status WalWatch::WriteUnflushed() {
  auto done = Query(
      "CREATE TABLE IF NOT EXISTS wal_watch (i int); "
      "INSERT INTO wal_watch VALUES (1)");
  if (!done.ok()) return done.error();
  return {};
}

Result<std::string> WalWatch::Query(const std::string& sql) {
  PGresult* r = LibPq().PQexec(conn_, sql.c_str());
  ExecStatusType status = LibPq().PQresultStatus(r);
  std::string value;
  if (status == PGRES_TUPLES_OK && LibPq().PQntuples(r) > 0) {
    value = LibPq().PQgetvalue(r, 0, 0);
  }
  LibPq().PQclear(r);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    return Unavailable(fmt::format("{}: {}", sql,
                                   LibPq().PQerrorMessage(conn_)));
  }
  return value;
}

}  // namespace pm::testing

// PgCluster: a PostgreSQL server of the tests' own, for the store's suites
// on PostgreSQL (issue: several instances on one database).
//
// Start() runs Debian's initdb (PostgreSQL 15, /usr/lib/postgresql/N/bin) in
// a new temporary folder and starts the server with pg_ctl on a free
// loopback port, its socket in that folder, trust authentication for the
// superuser `postgres`. Run as root, it runs them as the `postgres` user
// (initdb refuses root). The destructor stops the server (fast) and removes
// the folder. Each test takes a fresh database (NewDatabase) so that tests
// never see each other's rows.
//
// Failures are errors a person can act on: the server package missing
// (`make test-deps` installs it), initdb or pg_ctl failing (their log's
// tail is in the message).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"

struct pg_conn;  // libpq's PGconn

namespace pm::testing {

class PgCluster {
 public:
  static Result<std::unique_ptr<PgCluster>> Start();
  // Starts one in `dir` that outlives this program (`pg_test_server`,
  // which CTest runs once before the tests that use PostgreSQL): the URL of
  // its `postgres` database is written to dir/url.
  static Status StartKept(const std::string& dir);
  // Stops the one in `dir` and removes the folder.
  static Status StopKept(const std::string& dir);
  // Uses the server whose URL is in dir/url: databases it creates are
  // dropped when this object goes; Crash and Restart are refused.
  static Result<std::unique_ptr<PgCluster>> Attach(const std::string& dir);
  ~PgCluster();
  PgCluster(const PgCluster&) = delete;
  PgCluster& operator=(const PgCluster&) = delete;

  uint16_t port() const { return port_; }
  // postgresql://postgres@127.0.0.1:PORT/NAME
  std::string Url(const std::string& database) const;
  // Creates a new, empty database and returns its URL. `options` follow
  // CREATE DATABASE's name, e.g. "TEMPLATE template0 LOCALE_PROVIDER icu
  // ICU_LOCALE 'en-US'" for a collation other than the cluster's C.UTF-8.
  Result<std::string> NewDatabase(const std::string& options = "");

  // `pg_ctl stop -m immediate`: the server dies as in a crash (its clients
  // see their connections break; committed work survives).
  Status Crash();
  // Starts the stopped server again on the same port and folder.
  Status Restart();

 private:
  PgCluster() = default;
  static Result<std::unique_ptr<PgCluster>> StartIn(const std::string& dir);
  Status Run(const std::string& command) const;  // as the cluster's owner
  Status StartServer();

  std::string bin_;  // /usr/lib/postgresql/N/bin
  std::string dir_;  // the temporary folder (data in dir_/data)
  uint16_t port_ = 0;
  bool as_postgres_ = false;  // root: commands run as `postgres`
  bool running_ = false;
  bool attached_ = false;  // another program's server (Attach)
  int databases_ = 0;
  std::vector<std::string> created_;  // attached: dropped at the end
};

// A server of the test's own (PgCluster::Start) with one database, whose
// WAL writer is made to wait 10 s: nothing puts the WAL on disk meanwhile
// but a flush someone asks for (an asynchronous commit stays in memory), so
// a test can see whether what it was told is stored is on disk.
class WalWatch {
 public:
  static Result<std::unique_ptr<WalWatch>> Start();
  ~WalWatch();
  WalWatch(const WalWatch&) = delete;
  WalWatch& operator=(const WalWatch&) = delete;

  const std::string& url() const { return url_; }  // the database's
  // Whether all the WAL written so far is on disk (false, said on stderr,
  // when it cannot be asked).
  bool OnDisk();
  // Writes WAL that is not flushed: an asynchronous commit of a row to a
  // table of its own (made on first use).
  Status WriteUnflushed();

 private:
  WalWatch() = default;
  // The first column of the first row `sql` returned ("" for none).
  Result<std::string> Query(const std::string& sql);
  std::unique_ptr<PgCluster> cluster_;
  std::string url_;
  pg_conn* conn_ = nullptr;  // libpq's PGconn
};

// The one cluster of this test program: the one CTest started when the
// environment names its folder (PRINTMETER_TEST_PG_DIR), else one started on
// first use and stopped when the program exits. nullptr (with the reason
// printed once) when none can be had.
PgCluster* SharedPgCluster();

// The store a test's harness opens: `sqlite:SQLITE_FILE`, or, when the
// environment says PRINTMETER_TEST_STORE=postgresql (CTest runs the API and
// receiver suites a second time so), a fresh database on SharedPgCluster().
// "" (with the reason printed) when no PostgreSQL server can be had.
std::string TestStoreUrl(const std::string& sqlite_file);
// Whether this run's harnesses open PostgreSQL (see TestStoreUrl).
bool TestStoreIsPostgresql();

}  // namespace pm::testing

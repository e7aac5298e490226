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

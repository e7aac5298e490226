// pg_test_server start|stop DIR: the PostgreSQL server the test programs
// share during one CTest run (pg_test_cluster.h, PgCluster::StartKept). CTest
// runs `start` before the first test that needs PostgreSQL and `stop` after
// the last (FIXTURES_SETUP / FIXTURES_CLEANUP, src/store/CMakeLists.txt), so
// that each test program does not initdb a server of its own.
#include <cstdio>
#include <string>

#include "store/pg_test_cluster.h"

int main(int argc, char** argv) {
  std::string verb = argc == 3 ? argv[1] : "";
  if (verb != "start" && verb != "stop") {
    std::fprintf(stderr, "usage: pg_test_server start|stop DIR\n");
    return 2;
  }
  pm::Status s = verb == "start" ? pm::testing::PgCluster::StartKept(argv[2])
                                 : pm::testing::PgCluster::StopKept(argv[2]);
  if (!s.ok()) {
    std::fprintf(stderr, "pg_test_server %s: %s\n", verb.c_str(),
                 s.error().message.c_str());
    return 1;
  }
  return 0;
}

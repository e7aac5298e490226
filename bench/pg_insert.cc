// pg_insert: the ceiling of a PostgreSQL database on this machine for
// printmeter's kind of write, the peer `make bench` measures printmeter on
// PostgreSQL against. Each of N connections (one thread each) loops a bare
// libpq INSERT of one row into a table shaped like printmeter's log (a
// bigserial key, a device, a time, the body as bytea), each its own
// committed transaction (synchronous_commit as the server has it: on by
// default, so every INSERT waits for its WAL flush), for `--seconds`.
//
// The body is `--body FILE` (a JSON webhook) with its own deviceIdentifier
// and currentTime in every row, as bench/ingest.lua gives each request to
// printmeter: the same bytes, compressed by PostgreSQL as printmeter's are.
// Without it, `--row-bytes` random letters (they do not compress either; a
// run of one letter would be stored in a few dozen bytes).
//
//   pg_insert --url postgresql://... --connections 32 --seconds 10
//             --body webhook.json
//
// Prints one line in the same form as bench/ingest.lua's:
//   BENCH requests=N seconds=S rps=R errors=E non2xx=0 p50_ms=… p99_ms=…
//         p999_ms=… max_ms=…
// Creates (and drops first) the table `pg_insert_bench` in that database.
#include <libpq-fe.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_line.h"

namespace {

struct Args {
  std::string url;
  int connections = 1;
  double seconds = 10;
  size_t row_bytes = 1800;
  std::string body_file;
};

bool Parse(int argc, char** argv, Args& a) {
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    const char* value = argv[i + 1];
    if (flag == "--url") {
      a.url = value;
    } else if (flag == "--connections") {
      a.connections = std::atoi(value);
    } else if (flag == "--seconds") {
      a.seconds = std::atof(value);
    } else if (flag == "--row-bytes") {
      a.row_bytes = static_cast<size_t>(std::atol(value));
    } else if (flag == "--body") {
      a.body_file = value;
    } else {
      return false;
    }
  }
  return argc % 2 == 1 && !a.url.empty() && a.connections > 0 &&
         a.seconds > 0;
}

PGconn* Connect(const std::string& url) {
  PGconn* conn = PQconnectdb(url.c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    std::fprintf(stderr, "pg_insert: cannot connect: %s",
                 PQerrorMessage(conn));
    PQfinish(conn);
    return nullptr;
  }
  return conn;
}

bool Exec(PGconn* conn, const char* sql) {
  PGresult* r = PQexec(conn, sql);
  bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  if (!ok) std::fprintf(stderr, "pg_insert: %s", PQerrorMessage(conn));
  PQclear(r);
  return ok;
}

// A JSON body cut where the printer and the time go: head, device, middle,
// time, tail.
struct Template {
  std::string head, middle, tail;
  std::string Make(const std::string& device, int64_t time) const {
    return head + device + middle + std::to_string(time) + tail;
  }
};

bool ReadTemplate(const std::string& path, Template& t) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::stringstream text;
  text << in.rdbuf();
  const std::string body = text.str();
  std::smatch dev, time;
  static const std::regex kDevice(R"("deviceIdentifier"\s*:\s*")");
  static const std::regex kTime(R"("currentTime"\s*:\s*)");
  if (!std::regex_search(body, dev, kDevice) ||
      !std::regex_search(body, time, kTime)) {
    return false;
  }
  size_t dev_at = static_cast<size_t>(dev.position(0) + dev.length(0));
  size_t dev_end = body.find('"', dev_at);
  size_t time_at = static_cast<size_t>(time.position(0) + time.length(0));
  size_t time_end = body.find_first_not_of("0123456789.", time_at);
  if (dev_end == std::string::npos || time_end == std::string::npos ||
      dev_end > time_at) {
    return false;
  }
  t.head = body.substr(0, dev_at);
  t.middle = body.substr(dev_end, time_at - dev_end);
  t.tail = body.substr(time_end);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  if (!Parse(argc, argv, a)) {
    std::fprintf(stderr,
                 "usage: pg_insert --url URL [--connections N] [--seconds S] "
                 "[--body FILE | --row-bytes B]\n");
    return 2;
  }
  PGconn* setup = Connect(a.url);
  if (!setup ||
      !Exec(setup, "DROP TABLE IF EXISTS pg_insert_bench") ||
      !Exec(setup,
            "CREATE TABLE pg_insert_bench (id bigserial PRIMARY KEY, "
            "device text NOT NULL, received_at bigint NOT NULL, "
            "body bytea NOT NULL)")) {
    return 1;
  }
  PQfinish(setup);

  Template json;
  if (!a.body_file.empty() && !ReadTemplate(a.body_file, json)) {
    std::fprintf(stderr,
                 "pg_insert: %s is not a JSON webhook with a deviceIdentifier "
                 "before a currentTime\n",
                 a.body_file.c_str());
    return 2;
  }
  std::mutex mu;
  std::vector<double> latencies_ms;  // guarded by mu
  std::atomic<int> errors{0};
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const auto end =
      start + std::chrono::duration_cast<Clock::duration>(
                  std::chrono::duration<double>(a.seconds));
  std::vector<std::thread> threads;
  for (int c = 0; c < a.connections; ++c) {
    threads.emplace_back([&, c] {
      PGconn* conn = Connect(a.url);
      if (!conn) {
        ++errors;
        return;
      }
      std::vector<double> mine;
      std::mt19937_64 random(static_cast<uint64_t>(c) + 1);
      std::string letters(a.row_bytes, 'x');
      for (int64_t n = 0; Clock::now() < end; ++n) {
        // Every row its own printer, as every request is printmeter's.
        std::string device =
            "p" + std::to_string(c) + "-" + std::to_string(n);
        std::string at = std::to_string(1722000000000 + n);
        std::string body;
        if (a.body_file.empty()) {
          for (char& ch : letters) ch = static_cast<char>('a' + random() % 26);
          body = letters;
        } else {
          body = json.Make(device, 1722565567 + n);
        }
        const char* params[] = {device.c_str(), at.c_str(), body.data()};
        const int lengths[] = {0, 0, static_cast<int>(body.size())};
        const int formats[] = {0, 0, 1};  // the body as bytes
        auto t0 = Clock::now();
        PGresult* r = PQexecParams(
            conn,
            "INSERT INTO pg_insert_bench (device, received_at, body) "
            "VALUES ($1, $2, $3)",
            3, nullptr, params, lengths, formats, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) ++errors;
        PQclear(r);
        mine.push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - t0)
                .count());
      }
      PQfinish(conn);
      std::lock_guard lock(mu);
      latencies_ms.insert(latencies_ms.end(), mine.begin(), mine.end());
    });
  }
  for (auto& t : threads) t.join();
  double seconds =
      std::chrono::duration<double>(Clock::now() - start).count();
  bench::PrintBenchLine(latencies_ms, seconds, errors.load());
  return errors.load() == 0 ? 0 : 1;
}

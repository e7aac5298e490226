// http_load: a small load generator for printmeter's receiver, loopback only.
//
//   http_load --port 8080 [--clients 32] [--requests 20000] [--seconds 20]
//
// Each client is one printer (device "load-<run>-<client>") on one kept-alive
// connection, sending a realistic print (started, progress, paused, resumed,
// done) over and over as JSON bodies, each waiting for its answer as the
// plugin does. Stops after --requests in total or --seconds, whichever comes
// first. Prints requests/s and the latency percentiles.
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "http/test_client.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  int port = 8080;
  int clients = 1;
  int64_t requests = 10000;
  double seconds = 20;
};

Args Parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--port") a.port = std::atoi(argv[i + 1]);
    else if (flag == "--clients") a.clients = std::atoi(argv[i + 1]);
    else if (flag == "--requests") a.requests = std::atoll(argv[i + 1]);
    else if (flag == "--seconds") a.seconds = std::atof(argv[i + 1]);
    else {
      fmt::print(stderr, "unknown flag {}\n", flag);
      std::exit(2);
    }
  }
  return a;
}

std::string Body(const std::string& device, int step, int64_t t) {
  static const char* kTopics[] = {"Print Started", "Print Progress",
                                  "Print Paused", "Print Resumed",
                                  "Print Progress", "Print Done"};
  return fmt::format(
      R"({{"deviceIdentifier":"{}","apiSecret":"","topic":"{}",)"
      R"("extra":{{"name":"part.gcode","path":"load/part.gcode","origin":"local",)"
      R"("size":123456,"user":"bench","progress":50,"time":1800}},)"
      R"("job":{{"estimatedPrintTime":1800,"filament":{{"tool0":{{"length":1234.5,"volume":3.2}}}}}},)"
      R"("progress":{{"completion":50,"printTime":900}},"currentTime":{}}})",
      device, kTopics[step % 6], t);
}

}  // namespace

int main(int argc, char** argv) {
  Args args = Parse(argc, argv);
  std::atomic<int64_t> budget{args.requests};
  std::atomic<int64_t> errors{0};
  std::vector<std::vector<double>> latencies(args.clients);
  auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>(args.seconds));
  int64_t run = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < args.clients; ++c) {
    threads.emplace_back([&, c] {
      pm::TestClient client(static_cast<uint16_t>(args.port));
      std::string device = fmt::format("load-{}-{}", run, c);
      int64_t t = 1'700'000'000;
      for (int step = 0; budget.fetch_sub(1) > 0 && Clock::now() < deadline;
           ++step) {
        t += 10;
        std::string request = pm::BuildRequest(
            "POST", "/webhook", "application/json", Body(device, step, t));
        auto sent = Clock::now();
        auto reply = client.SendRaw(request);
        std::chrono::duration<double, std::milli> ms = Clock::now() - sent;
        if (!reply.ok() || reply->status != 200) {
          ++errors;
          continue;
        }
        latencies[c].push_back(ms.count());
      }
    });
  }
  for (auto& t : threads) t.join();
  std::chrono::duration<double> elapsed = Clock::now() - start;
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) {
    return all.empty() ? 0.0 : all[std::min(all.size() - 1,
                                            static_cast<size_t>(p * all.size()))];
  };
  fmt::print("clients {}  requests {}  errors {}  {:.1f} s  {:.0f} req/s  "
             "p50 {:.2f} ms  p99 {:.2f} ms  max {:.2f} ms\n",
             args.clients, all.size(), errors.load(), elapsed.count(),
             all.size() / elapsed.count(), pct(0.50), pct(0.99),
             all.empty() ? 0.0 : all.back());
  return errors > 0 ? 1 : 0;
}

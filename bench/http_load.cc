// http_load: a small load generator for printmeter's receiver, loopback only.
//
//   http_load --port 8080 [--clients 32] [--requests 20000] [--seconds 20]
//
// Each client is one printer (device "load-<run>-<client>") on one kept-alive
// connection, sending a realistic print (started, progress, paused, resumed,
// done) over and over as JSON bodies, each waiting for its answer as the
// plugin does. Stops after --requests in total or --seconds, whichever comes
// first. Prints requests/s and the latency percentiles.
//
//   http_load --port 8080 --order late|in-order --clients 32 --requests 8000
//             --rate 20 --tag TAG [--seconds 300]
//
// Late events (issue 10): printer "printer-a-TAG" opens one long print, then
// --clients connections send --requests progress events of that print, each
// with a printer time earlier than every event sent before it (`late`), or
// later (`in-order`, the baseline). Meanwhile printer "printer-b-TAG" sends
// an in-order print at --rate requests/s on a connection of its own, and its
// answer latencies are recorded from the moment each request was due (a slow
// answer delays the next request, and that wait counts). With --clients 0,
// printer B alone runs for --seconds. Prints one line "LATE key=value ...".
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
using Ms = std::chrono::duration<double, std::milli>;

constexpr int64_t kPrintStart = 1'700'000'000;  // printer time, seconds

struct Args {
  int port = 8080;
  int clients = 1;
  int64_t requests = 10000;
  double seconds = 20;
  std::string order;  // "" (the print cycle), "late" or "in-order"
  double rate = 20;   // printer B's requests/s with --order
  std::string tag;
};

Args Parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--port") a.port = std::atoi(argv[i + 1]);
    else if (flag == "--clients") a.clients = std::atoi(argv[i + 1]);
    else if (flag == "--requests") a.requests = std::atoll(argv[i + 1]);
    else if (flag == "--seconds") a.seconds = std::atof(argv[i + 1]);
    else if (flag == "--order") a.order = argv[i + 1];
    else if (flag == "--rate") a.rate = std::atof(argv[i + 1]);
    else if (flag == "--tag") a.tag = argv[i + 1];
    else {
      fmt::print(stderr, "unknown flag {}\n", flag);
      std::exit(2);
    }
  }
  if (!a.order.empty() && a.order != "late" && a.order != "in-order") {
    fmt::print(stderr, "--order is late or in-order, not {}\n", a.order);
    std::exit(2);
  }
  return a;
}

const char* CycleTopic(int64_t step) {
  static const char* kTopics[] = {"Print Started", "Print Progress",
                                  "Print Paused", "Print Resumed",
                                  "Print Progress", "Print Done"};
  return kTopics[step % 6];
}

std::string Body(const std::string& device, const char* topic, int64_t t) {
  return fmt::format(
      R"({{"deviceIdentifier":"{}","apiSecret":"","topic":"{}",)"
      R"("extra":{{"name":"part.gcode","path":"load/part.gcode","origin":"local",)"
      R"("size":123456,"user":"bench","progress":50,"time":1800}},)"
      R"("job":{{"estimatedPrintTime":1800,"filament":{{"tool0":{{"length":1234.5,"volume":3.2}}}}}},)"
      R"("progress":{{"completion":50,"printTime":900}},"currentTime":{}}})",
      device, topic, t);
}

// Posts one webhook; true when it was answered 200.
bool Post(pm::TestClient& client, const std::string& device, const char* topic,
          int64_t t) {
  auto reply = client.SendRaw(pm::BuildRequest(
      "POST", "/webhook", "application/json", Body(device, topic, t)));
  return reply.ok() && reply->status == 200;
}

struct Latencies {
  std::vector<double> ms;  // sorted by Summarize()
  int64_t errors = 0;

  void Summarize() { std::sort(ms.begin(), ms.end()); }
  double Pct(double p) const {
    return ms.empty() ? 0.0
                      : ms[std::min(ms.size() - 1,
                                    static_cast<size_t>(p * ms.size()))];
  }
  double Max() const { return ms.empty() ? 0.0 : ms.back(); }
};

Clock::time_point Deadline(double seconds) {
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(
                            std::chrono::duration<double>(seconds));
}

int RunCycle(const Args& args) {
  std::atomic<int64_t> budget{args.requests};
  std::vector<Latencies> latencies(args.clients);
  auto deadline = Deadline(args.seconds);
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
        auto sent = Clock::now();
        bool ok = Post(client, device, CycleTopic(step), t);
        if (!ok) {
          ++latencies[c].errors;
          continue;
        }
        latencies[c].ms.push_back(Ms(Clock::now() - sent).count());
      }
    });
  }
  for (auto& t : threads) t.join();
  std::chrono::duration<double> elapsed = Clock::now() - start;
  Latencies all;
  for (auto& l : latencies) {
    all.ms.insert(all.ms.end(), l.ms.begin(), l.ms.end());
    all.errors += l.errors;
  }
  all.Summarize();
  fmt::print("clients {}  requests {}  errors {}  {:.1f} s  {:.0f} req/s  "
             "p50 {:.2f} ms  p99 {:.2f} ms  max {:.2f} ms\n",
             args.clients, all.ms.size(), all.errors, elapsed.count(),
             all.ms.size() / elapsed.count(), all.Pct(0.50), all.Pct(0.99),
             all.Max());
  return all.errors > 0 ? 1 : 0;
}

// Printer A's share of a late-event run: one print opened, then
// `args.requests` progress events from `args.clients` connections. Late:
// the i-th event sent is at kPrintStart + span - 1 - i, below a progress
// event at kPrintStart + span sent first; in order: at kPrintStart + 1 + i.
struct PrinterA {
  std::string device;
  std::atomic<int64_t> next{0};  // index of the next event to send
  std::atomic<int64_t> acknowledged{0};
  std::atomic<int64_t> errors{0};
  std::atomic<bool> done{false};
  double seconds = 0;
};

void RunPrinterA(const Args& args, PrinterA& a) {
  const bool late = args.order == "late";
  const int64_t span = args.requests + 1000;
  pm::TestClient opener(static_cast<uint16_t>(args.port));
  bool opened = Post(opener, a.device, "Print Started", kPrintStart) &&
                (!late ||
                 Post(opener, a.device, "Print Progress", kPrintStart + span));
  if (!opened) {
    ++a.errors;
    a.done = true;
    return;
  }
  auto deadline = Deadline(args.seconds);
  auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < args.clients; ++c) {
    threads.emplace_back([&] {
      pm::TestClient client(static_cast<uint16_t>(args.port));
      for (int64_t i = a.next++; i < args.requests && Clock::now() < deadline;
           i = a.next++) {
        int64_t t = late ? kPrintStart + span - 1 - i : kPrintStart + 1 + i;
        if (Post(client, a.device, "Print Progress", t)) {
          ++a.acknowledged;
        } else {
          ++a.errors;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  a.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  a.done = true;
}

// Printer B: an in-order print at `args.rate` requests/s until A is done
// (or for args.seconds when A has no clients). Latency counts from the
// moment a request was due.
Latencies RunPrinterB(const Args& args, const std::string& device,
                      const PrinterA& a) {
  Latencies b;
  pm::TestClient client(static_cast<uint16_t>(args.port));
  auto every = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(1.0 / args.rate));
  auto deadline = Deadline(args.seconds);
  auto due = Clock::now();
  int64_t t = kPrintStart;
  for (int64_t step = 0; !a.done && Clock::now() < deadline; ++step) {
    std::this_thread::sleep_until(due);
    t += 10;
    if (Post(client, device, CycleTopic(step), t)) {
      b.ms.push_back(Ms(Clock::now() - due).count());
    } else {
      ++b.errors;
    }
    due += every;
  }
  b.Summarize();
  return b;
}

int RunLate(const Args& args) {
  PrinterA a;
  a.device = fmt::format("printer-a-{}", args.tag);
  std::string b_device = fmt::format("printer-b-{}", args.tag);
  std::thread a_thread;
  if (args.clients > 0) {
    a_thread = std::thread([&] { RunPrinterA(args, a); });
  }
  Latencies b = RunPrinterB(args, b_device, a);
  if (a_thread.joinable()) a_thread.join();
  fmt::print(
      "LATE order={} clients={} a_device={} a_sent={} a_acknowledged={} "
      "a_errors={} a_seconds={:.3f} a_per_s={:.1f} b_device={} b_requests={} "
      "b_errors={} b_p50_ms={:.3f} b_p99_ms={:.3f} b_max_ms={:.3f}\n",
      args.order, args.clients, a.device,
      a.acknowledged.load() + a.errors.load(), a.acknowledged.load(),
      a.errors.load(), a.seconds,
      a.seconds > 0 ? a.acknowledged / a.seconds : 0.0, b_device, b.ms.size(),
      b.errors, b.Pct(0.50), b.Pct(0.99), b.Max());
  return a.errors > 0 || b.errors > 0 ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args args = Parse(argc, argv);
  return args.order.empty() ? RunCycle(args) : RunLate(args);
}

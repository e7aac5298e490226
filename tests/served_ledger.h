// For end-to-end tests of the built binary under faults: printers' clients
// that record what was sent and what was answered, the ledger as a running
// server serves it, and the check that every acknowledged request is in the
// log once. Shared by the SQLite kill tests (faults_binary_test.cc) and the
// print farm on PostgreSQL (farm_binary_test.cc).
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "binary_harness.h"
#include "http/test_client.h"
#include "http/test_harness.h"
#include "printer_sim.h"

namespace pm::testing {

// What one client sent and what was answered. Each client thread owns its
// own, so nothing is shared while the load runs.
struct ClientLog {
  struct Answer {
    int64_t id;
    std::string body;
    bool duplicate;
  };
  std::vector<Answer> acked;
  std::map<std::string, int> sent;  // body -> times sent, answered or not
  int rejected = 0;                 // answers other than 200
  std::map<int, int> rejected_by_status;
  std::string first_rejection;
  int unanswered = 0;  // through a proxy: requests with no answer at all
};

// A client drives two printers, in an order of its own, until the server
// dies or `stop`. Like the plugin it never retries: a request the server
// did not answer is gone.
struct PrinterClient {
  std::vector<testing::PrinterSim> printers;
  std::mt19937_64 rng;
  ClientLog log;

  // `port` is one server: a request it does not answer ends the run (the
  // server is gone). With `through_proxy`, `port` is a reverse proxy in
  // front of several: an unanswered request is lost and the client goes on.
  void Run(uint16_t port, const std::atomic<bool>& stop,
           bool through_proxy = false) {
    TestClient c(port);
    c.SetTimeout(through_proxy ? 15000 : 0);
    while (!stop) {
      auto& printer = printers[rng() % printers.size()];
      testing::SimRequest request = printer.Next();
      ++log.sent[request.body];
      auto r = c.Send("POST", "/webhook", request.content_type, request.body);
      if (!r.ok() && through_proxy) {
        ++log.unanswered;
        continue;
      }
      if (!r.ok()) return;  // the server is gone
      if (r->status != 200) {
        ++log.rejected_by_status[r->status];
        if (log.rejected++ == 0) {
          log.first_rejection = fmt::format("{} {}", r->status, r->body);
        }
        continue;
      }
      auto answer = boost::json::parse(r->body).as_object();
      log.acked.push_back({answer.at("event").as_int64(),
                           std::move(request.body),
                           answer.at("duplicate").as_bool()});
    }
  }
};

// GET `target` on `port`; its JSON body, or null (and a failure).
boost::json::value GetJson(uint16_t port, const std::string& target) {
  TestClient c(port);
  auto r = c.Send("GET", target, "", "");
  EXPECT_TRUE(r.ok()) << target;
  if (!r.ok()) return nullptr;
  EXPECT_EQ(r->status, 200) << target << ": " << r->body;
  if (r->status != 200) return nullptr;
  return boost::json::parse(r->body);
}

// The ledger as a server serves it: each session as JSON text (for an
// open session without the figures that grow with the clock), and each
// logged event's session and duplicate verdict.
struct LedgerView {
  std::map<int64_t, std::string> sessions;
  std::map<int64_t, std::string> events;
};

LedgerView ReadLedger(uint16_t port) {
  LedgerView view;
  std::string cursor;
  for (;;) {
    auto page = GetJson(port, "/api/v1/sessions?limit=1000" + cursor);
    if (page.is_null()) break;
    for (auto& row : page.at("sessions").as_array()) {
      auto& s = row.as_object();
      if (s.at("ended_at").is_null()) {
        for (const char* now_dependent :
             {"duration_s", "paused_s", "print_s", "cost"}) {
          s.erase(now_dependent);
        }
      }
      view.sessions[s.at("id").as_int64()] = boost::json::serialize(s);
    }
    const auto& next = page.at("next_cursor");
    if (next.is_null()) break;
    cursor = "&cursor=" + std::string(next.as_string());
  }
  cursor.clear();
  for (;;) {
    auto page = GetJson(port, "/api/v1/events?limit=1000" + cursor);
    if (page.is_null()) break;
    for (const auto& row : page.at("events").as_array()) {
      const auto& e = row.as_object();
      view.events[e.at("id").as_int64()] = fmt::format(
          "session {} duplicate {}", boost::json::serialize(e.at("session")),
          e.at("duplicate").as_bool());
    }
    const auto& next = page.at("next_cursor");
    if (next.is_null()) break;
    cursor = "&cursor=" + std::string(next.as_string());
  }
  return view;
}

// Where two readings of the ledger differ (at most a few of each kind).
std::string Differences(const std::map<int64_t, std::string>& served,
                        const std::map<int64_t, std::string>& rebuilt) {
  std::string out;
  int shown = 0;
  for (const auto& [id, text] : served) {
    auto it = rebuilt.find(id);
    if (it != rebuilt.end() && it->second == text) continue;
    if (++shown > 5) break;
    out += fmt::format("\n  {}: served {}\n  {}: rebuilt {}", id, text, id,
                       it == rebuilt.end() ? "(none)" : it->second);
  }
  for (const auto& [id, text] : rebuilt) {
    if (served.count(id) || ++shown > 10) continue;
    out += fmt::format("\n  {}: served (none)\n  {}: rebuilt {}", id, id, text);
  }
  return out;
}

// Starts the server on `db`, waits until its ledger has folded the whole
// log, reads the ledger and stops the server (SIGTERM, a clean exit).
LedgerView ServedLedger(const std::string& db) {
  Child server;
  uint16_t port = StartServe(server, db);
  EXPECT_NE(port, 0) << server.log;
  if (port == 0) return {};
  EXPECT_TRUE(WaitForLedger(port)) << "the ledger did not catch up the log";
  LedgerView view = ReadLedger(port);
  EXPECT_EQ(kill(server.pid, SIGTERM), 0);
  EXPECT_EQ(server.Wait(), 0) << server.log;
  return view;
}

// Four clients of two printers each; every third printer sends forms, the
// others JSON. Their clocks start a month back, so that however far the
// simulated prints go in a run they stay in the past.
std::vector<PrinterClient> MakeClients(std::mt19937_64& rng) {
  constexpr int kClients = 4;
  const int64_t start_time =
      std::chrono::duration_cast<std::chrono::seconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count() -
      30 * 86400;
  std::vector<PrinterClient> clients(kClients);
  for (int c = 0; c < kClients; ++c) {
    clients[c].rng.seed(rng());
    for (int p = 2 * c; p < 2 * c + 2; ++p) {
      clients[c].printers.emplace_back(
          fmt::format("printer-{}", p),
          p % 3 == 2 ? testing::PrinterSim::Encoding::kForm
                     : testing::PrinterSim::Encoding::kJson,
          rng(), start_time);
    }
  }
  return clients;
}

struct LogTally {
  size_t sent = 0;
  size_t acked = 0;
  int duplicates_answered = 0;
  int rejected = 0;
  int64_t late = 0;  // logged after a later event of their printer
};

// Every acknowledged request is in the log once, under the id it was
// answered with and with the duplicate verdict it was answered with;
// nothing is in the log that was not sent, nor more often than it was sent.
//
// Through a reverse proxy that passes a request on to another instance when
// the first died with it (`proxied`), a request may be logged again, as a
// duplicate of itself; it is still logged once as what it is. Where the
// database went away (`unavailable_allowed`), answers may be 503.
struct LogCheck {
  bool proxied = false;
  bool unavailable_allowed = false;
};

LogTally ExpectEachAcknowledgedLoggedOnce(
    const std::string& db, const std::vector<PrinterClient>& clients,
    LogCheck check = {}) {
  LogTally tally;
  std::map<std::string, int> sent, acked_bodies;
  std::map<int64_t, const ClientLog::Answer*> acked;
  for (const auto& client : clients) {
    for (const auto& [body, n] : client.log.sent) {
      sent[body] += n;
      tally.sent += static_cast<size_t>(n);
    }
    for (const auto& answer : client.log.acked) {
      EXPECT_TRUE(acked.emplace(answer.id, &answer).second)
          << "event id " << answer.id << " was answered twice";
      ++acked_bodies[answer.body];
      tally.duplicates_answered += answer.duplicate;
    }
    tally.acked += client.log.acked.size();
    tally.rejected += client.log.rejected;
    int unavailable = 0;
    if (check.unavailable_allowed) {
      auto it = client.log.rejected_by_status.find(503);
      if (it != client.log.rejected_by_status.end()) unavailable = it->second;
    }
    std::string statuses;
    for (const auto& [status, n] : client.log.rejected_by_status) {
      statuses += fmt::format(" {}: {}", status, n);
    }
    EXPECT_EQ(client.log.rejected - unavailable, 0)
        << "answers by status:" << statuses
        << "; the first: " << client.log.first_rejection;
  }
  std::map<std::string, int> logged, logged_first;
  std::map<std::string, TimeMs> latest;  // device -> latest time logged
  auto store = testing::MustOpenAfterServe(db);
  if (!store) return tally;
  for (const EventRecord& r : testing::AllEvents(*store)) {
    if (!r.request) continue;  // a stale sweep
    ++logged[r.request->body];
    if (!r.duplicate) ++logged_first[r.request->body];
    auto answer = acked.find(r.event.id);
    if (answer != acked.end()) {
      EXPECT_EQ(r.request->body, answer->second->body)
          << "event " << r.event.id << " is not the request answered so";
      EXPECT_EQ(r.duplicate, answer->second->duplicate)
          << "event " << r.event.id;
      acked.erase(answer);
    }
    TimeMs& last = latest[r.event.device];
    if (!r.duplicate && r.event.time < last) ++tally.late;
    last = std::max(last, r.event.time);
  }
  EXPECT_TRUE(acked.empty()) << acked.size()
                             << " acknowledged events are not in the log, "
                                "the first: "
                             << (acked.empty() ? 0 : acked.begin()->first);
  int64_t lost = 0, doubled = 0, unknown = 0;
  for (const auto& [body, n] : acked_bodies) {
    lost += std::max(0, n - logged[body]);
  }
  for (const auto& [body, n] : logged) {
    auto it = sent.find(body);
    if (it == sent.end()) {
      ++unknown;
    } else if (check.proxied) {
      doubled += std::max(0, logged_first[body] - 1);
    } else {
      doubled += std::max(0, n - it->second);
    }
  }
  EXPECT_EQ(lost, 0) << "acknowledged requests missing from the log";
  EXPECT_EQ(doubled, 0) << "requests logged more often than they were sent";
  EXPECT_EQ(unknown, 0) << "requests in the log that nobody sent";
  return tally;
}

}  // namespace pm::testing

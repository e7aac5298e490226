// Test helpers of the read side: a real SQLite store in a temporary file,
// sessions built by hand, events folded by the real ledger, and an Api over
// them with a fake clock.
#pragma once

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "api/api.h"
#include "api/options.h"
#include "ledger/cost.h"
#include "ledger/fold.h"
#include "store/store.h"

namespace pm::testing {

// 2024-08-01T00:00:00Z, a Thursday.
constexpr TimeMs kAug1 = 1722470400000;

// A temporary directory removed at the end of the test.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  std::string Path(const std::string& name) const;

 private:
  std::filesystem::path dir_;
};

// A closed session on `device` from `start` lasting `minutes`.
Session ClosedSession(int64_t id, const std::string& device, TimeMs start,
                      int64_t minutes,
                      SessionStatus status = SessionStatus::kCompleted);

// Commits sessions (and nothing else) as one batch; fails the test on error.
void CommitSessions(Store& store, const std::vector<Session>& sessions);

// An event of `kind` on `device` at `time` (currentTime), as decoded.
Event MakeEvent(const std::string& device, Kind kind, TimeMs time);

// Feeds events through the real fold, as the ingest writer does: ids from
// the store, Apply per device, one batch per event with the stored request.
class Ingester {
 public:
  explicit Ingester(Store& store) : store_(store) {}
  // Returns the stored event id.
  int64_t Ingest(Event e, std::string body = "{}");
  // The same for a multipart request that carried `snapshot`.
  int64_t IngestWithSnapshot(Event e, Snapshot snapshot);

 private:
  int64_t Record(Event e, StoredRequest request,
                 std::optional<Snapshot> snapshot);

  Store& store_;
  LedgerConfig ledger_;
  std::map<std::string, DeviceState> states_;
};

// A store, the API's options and an Api over them. `rates`, the configured
// rates, enter the store's rate history first, as `serve` does when it
// starts.
struct ApiFixture {
  explicit ApiFixture(ApiOptions options = {}, RatesByDevice rates = {});

  // GET `target` from a loopback client with `token` (none when "").
  ApiResponse Get(const std::string& target, const std::string& token = "",
                  bool loopback = true);
  ApiResponse Send(const std::string& method, const std::string& target,
                   const std::string& body, const std::string& token = "",
                   bool loopback = true);
  // The body as JSON; fails the test when it is not.
  static boost::json::value Json(const ApiResponse& r);

  TempDir dir;
  std::unique_ptr<Store> store;
  ApiOptions options;
  RatesByDevice rates;
  FakeClock clock{kAug1 + 20 * kDayMs};
  std::unique_ptr<Api> api;
};

// RFC 4180 parse of `text` (CRLF or LF records), for tests that check CSV.
std::vector<std::vector<std::string>> ParseCsv(const std::string& text);

}  // namespace pm::testing

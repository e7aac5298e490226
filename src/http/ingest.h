// IngestWriter: the single writer between decoded requests and the store.
//
// One thread owns everything that changes per printer: the fold's
// DeviceState map, the DeviceRecords (first/last heard) and the auth registry
// (tofu secrets). Nothing else touches them, so nothing is locked around a
// printer's state. Callers (HTTP handlers, `printmeter import`) decode on
// their own threads and Submit() the result; the writer takes everything
// waiting (group commit), authenticates, assigns ids, finds duplicates, folds
// (Apply in order, RefoldPoint + Refold for late events), commits ONE
// WriteBatch, and only then reports each verdict. A failed commit fails every
// request of the batch (503) and reloads the writer's state from the store:
// nothing acknowledged is lost, nothing rejected is half-stored.
//
// The writer also runs the stale sweep (ledger.md section 5) at start and
// every `sweep_interval`, ingesting the `swept` events through the same path.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cli/config.h"
#include "common/result.h"
#include "common/time.h"
#include "decode/decode.h"
#include "http/registration_limit.h"
#include "ledger/fold.h"
#include "store/store.h"

namespace pm {

struct IngestOptions {
  AuthMode auth = AuthMode::kTofu;
  // Devices from the config file: id -> secret (nullopt: none configured).
  // Configured secrets win over registered (tofu) ones; in strict mode only
  // these devices are accepted.
  std::map<std::string, std::optional<std::string>, std::less<>> devices;
  LedgerConfig ledger;
  TimeMs sweep_interval = kMinuteMs;  // 0: only Sweep() sweeps
  size_t max_batch = 1024;            // requests per commit at most
  // New devices in tofu and open mode (configured ones are never limited).
  RegistrationLimits registrations;
};

// Builds the writer's options from the configuration.
IngestOptions IngestOptionsFrom(const Config& config);

// One request for the writer: the decoded event and the request as received
// (stored so the ledger can be rebuilt from it).
struct IngestItem {
  Decoded decoded;  // event.received_at set; event.id 0
  std::optional<StoredRequest> request;
};

// What happened to an accepted request.
struct Verdict {
  int64_t event_id = 0;
  bool duplicate = false;
  bool test = false;
};

using IngestCallback = std::function<void(Result<Verdict>)>;

struct IngestStats {
  int64_t commits = 0;         // successful Store::Commit calls
  int64_t events = 0;          // events committed (requests and sweeps)
  int64_t failed_commits = 0;  // commits (or store reads) that failed
  int64_t refolds = 0;         // late events re-folded
};

class IngestWriter {
 public:
  // `store` and `clock` must outlive the writer.
  IngestWriter(Store& store, IngestOptions options, const Clock& clock);
  ~IngestWriter();  // Stop()
  IngestWriter(const IngestWriter&) = delete;
  IngestWriter& operator=(const IngestWriter&) = delete;

  // Loads the device states and records from the store, sweeps once, and
  // starts the writer thread. An error when the store cannot be read.
  Status Start();

  // Queues `item`; `done` is called exactly once, on the writer thread,
  // after the commit that stored it (or with the error that rejected it:
  // kUnauthorized, kForbidden, kUnavailable). Thread-safe. After Stop(),
  // `done` is called at once with kUnavailable.
  void Submit(IngestItem item, IngestCallback done);

  // Submit() and wait for the verdict (for `printmeter import` and tests).
  Result<Verdict> Ingest(IngestItem item);

  // Runs the stale sweep now (on the writer thread) and waits for it;
  // returns how many sessions it closed.
  Result<int> Sweep();

  // Finishes everything queued (committing it), then stops the thread.
  // Idempotent.
  void Stop();

  IngestStats stats() const;

 private:
  struct Pending {
    IngestItem item;
    IngestCallback done;
  };
  class Batch;

  void Run();
  void ProcessBatch(std::vector<Pending>& pending);
  Status Authenticate(const Decoded& decoded);
  Status AdmitNewDevice(const std::string& device);
  Result<int> SweepOnWriter();
  Status ReloadState();

  Store& store_;
  const IngestOptions options_;
  const Clock& clock_;

  // Owned by the writer thread (and by Start() before the thread exists).
  std::map<std::string, DeviceState, std::less<>> states_;
  std::map<std::string, DeviceRecord, std::less<>> records_;
  std::chrono::steady_clock::time_point next_sweep_;
  RegistrationLimiter registrations_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Pending> queue_;                     // guarded by mu_
  std::deque<std::function<void()>> tasks_;       // guarded by mu_
  bool stopping_ = false;                         // guarded by mu_
  IngestStats stats_;                             // guarded by mu_
  std::thread thread_;
};

}  // namespace pm

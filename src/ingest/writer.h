// IngestWriter: the single writer between decoded requests and the store.
//
// The answer to a webhook waits for one thing: the durable append of the
// request to the log (ledger.md section 2). One thread owns everything that
// decides a verdict: the device records with their tofu secrets and the
// registration limiter; nothing else touches them, so nothing is locked
// around them. Callers (HTTP handlers, `printmeter import`) decode on their
// own threads and Submit() the result; the writer takes everything waiting
// (group commit), authenticates, assigns ids, finds duplicates, appends ONE
// LogBatch (fsynced), and only then reports each verdict. A failed append
// fails every request of the batch (503) and reloads the writer's state
// from the store: nothing acknowledged is lost, nothing rejected is stored.
//
// The same thread then folds the log into the ledger with its Projector
// (projector.h), behind the answers: after `projection_delay` of trailing,
// or `projection_backlog` events, whichever comes first, so that one
// projection commit serves many requests and never delays one for long.
// Reads of the ledger may therefore trail a `2xx` by about that delay.
//
// The writer also runs the stale sweep (ledger.md section 5) every
// `sweep_interval` once the projection has caught up, appending the `swept`
// events to the log through the same path as requests.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/result.h"
#include "common/time.h"
#include "decode/decode.h"
#include "ingest/options.h"
#include "ingest/projector.h"
#include "ingest/registration_limit.h"
#include "ledger/fold.h"
#include "store/store.h"

namespace pm {

// One request for the writer: the decoded event and the request as received
// (stored so the ledger can be rebuilt from it).
struct IngestItem {
  Decoded decoded;  // event.received_at set; event.id 0
  std::optional<StoredRequest> request;  // nullopt: a synthetic `swept`
};

// What happened to an accepted request.
struct Verdict {
  int64_t event_id = 0;
  bool duplicate = false;
  bool test = false;
};

using IngestCallback = std::function<void(Result<Verdict>)>;

struct IngestStats {
  int64_t commits = 0;         // successful appends to the log
  int64_t events = 0;          // events appended (requests and sweeps)
  int64_t failed_commits = 0;  // appends (or store reads) that failed
  int64_t refolds = 0;         // devices re-folded for late events
  int64_t logged = 0;          // the last event id appended
  int64_t projected = 0;       // the projection's position
  int64_t folded = 0;          // events this instance folded (with several
                               // instances, the one that leads folds)
};

// The store's faces the writer uses (a test may fail one of them).
struct IngestStores {
  LogStore& log;
  ProjectionStore& projection;
  LedgerReader& reader;
};

class IngestWriter {
 public:
  // The stores and `clock` must outlive the writer.
  IngestWriter(IngestStores stores, IngestOptions options, const Clock& clock);
  IngestWriter(Store& store, IngestOptions options, const Clock& clock)
      : IngestWriter(IngestStores{store, store, store}, std::move(options),
                     clock) {}
  ~IngestWriter();  // Stop()
  IngestWriter(const IngestWriter&) = delete;
  IngestWriter& operator=(const IngestWriter&) = delete;

  // Loads the device records and the projection's state from the store and
  // starts the writer thread, which folds whatever the log holds beyond the
  // projection (a crash's leftovers) and sweeps once caught up. An error
  // when the store cannot be read.
  Status Start();

  // Queues `item`; `done` is called exactly once, on the writer thread,
  // after the append that stored it (or with the error that rejected it:
  // kUnauthorized, kForbidden, kTooManyRequests, kUnavailable).
  // Thread-safe. After Stop(), `done` is called at once with kUnavailable.
  void Submit(IngestItem item, IngestCallback done);

  // Submit() and wait for the verdict (for `printmeter import` and tests).
  Result<Verdict> Ingest(IngestItem item);

  // Folds everything appended so far into the ledger and waits for it: the
  // ledger then reflects every verdict given before the call.
  Status Settle();

  // Runs the stale sweep now (on the writer thread, after settling) and
  // waits for it, its `swept` events folded; returns how many it appended.
  Result<int> Sweep();

  // Attributes a session to a person (an empty `user` removes it), on the
  // writer thread: the single writer makes every write. kNotFound for an
  // unknown session.
  Status Attribute(int64_t session_id, const std::string& user);

  // Appends everything queued, folds it, then stops the thread. Idempotent.
  void Stop();

  IngestStats stats() const;

  // Called on the writer thread after each projection commit with the
  // devices whose ledger changed (device -> its latest event folded): what
  // the live dashboards (http/event_hub.h) and other followers of the
  // ledger are told. A listener must not block: it runs where appends wait.
  // Thread-safe; RemoveProjectionListener returns only once no call of that
  // listener is running.
  using ProjectionListener =
      std::function<void(const std::map<std::string, int64_t, std::less<>>&)>;
  using ListenerId = int;
  ListenerId AddProjectionListener(ProjectionListener listener);
  void RemoveProjectionListener(ListenerId id);

 private:
  struct Pending {
    IngestItem item;
    IngestCallback done;
  };

  void Run();
  void ProcessBatch(std::vector<Pending>& pending);
  Status Authenticate(const Decoded& decoded);
  Status AdmitNewDevice(const std::string& device);
  void Register(const Event& e);
  Status ReloadRecords();
  // Looks for events other instances appended (options_.follow_interval).
  void Follow();
  // Projection steps until the ledger is at the end of the log.
  Status CatchUp();
  Status ProjectStep();
  // ProjectStep of an instance that does not lead the projection: takes
  // the leader's ledger as it is.
  Status FollowStep();
  // A projection step failed: retried a second later.
  void ProjectionFailed(const Error& error);
  Result<int> SweepOnWriter();
  template <typename T>
  Result<T> RunOnWriter(std::function<Result<T>()> task);

  LogStore& log_;
  LedgerReader& reader_;
  ProjectionStore& projection_;  // LeadProjection; the projector folds
  const IngestOptions options_;
  const Clock& clock_;

  // Owned by the writer thread (and by Start() before the thread exists).
  std::map<std::string, DeviceRecord, std::less<>> records_;
  std::set<std::string, std::less<>> dirty_records_;  // to store with a batch
  RegistrationLimiter registrations_;
  Projector projector_;
  int64_t logged_ = 0;  // the last event id appended
  // Since when the ledger trails the log (nullopt: it does not).
  std::optional<std::chrono::steady_clock::time_point> trailing_since_;
  bool projection_failing_ = false;
  bool following_ = false;  // another instance leads the projection
  // Since when, following, the ledger trails what this writer appended.
  std::optional<std::chrono::steady_clock::time_point> behind_since_;
  std::chrono::steady_clock::time_point next_sweep_;
  std::chrono::steady_clock::time_point next_follow_{};  // Follow() next

  void TellListeners(const std::map<std::string, int64_t, std::less<>>& changed);

  std::mutex listener_mu_;
  std::map<ListenerId, ProjectionListener> listeners_;  // guarded by listener_mu_
  ListenerId next_listener_ = 1;                        // guarded by listener_mu_

  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Pending> queue_;                // guarded by mu_
  std::deque<std::function<void()>> tasks_;  // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  IngestStats stats_;                        // guarded by mu_
  std::thread thread_;
};

}  // namespace pm

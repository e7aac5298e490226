// IngestWriter: the single writer between decoded requests and the store.
//
// The answer to a webhook waits for one thing: the durable append of the
// request to the log (ledger.md section 2). One thread, the appender, owns
// everything that decides a verdict: the device records with their tofu
// secrets and the registration limiter; nothing else touches them, so
// nothing is locked around them. Callers (HTTP handlers, `printmeter
// import`) decode on their own threads and Submit() the result; the
// appender takes everything waiting (group commit), authenticates, assigns
// ids, finds duplicates, appends ONE LogBatch (fsynced), and only then
// reports each verdict. A failed append fails every request of the batch
// (503) and reloads the appender's state from the store: nothing
// acknowledged is lost, nothing rejected is stored. On a store whose
// appends reach the disk apart (PostgreSQL: committed, then flushed), a
// third thread, the flusher, started by the first such append, waits for
// the disk (LogStore::Flush) and then reports the verdicts, one flush for
// every append made meanwhile, while the appender goes on with the next;
// a failed flush answers 503 and the appender reloads its state.
//
// A second thread, the projector's, folds the log into the ledger with its
// Projector (projector.h), behind the answers: after `projection_delay` of
// trailing, or `projection_backlog` events, whichever comes first, so that
// one projection commit serves many requests. It reads and folds on a
// connection of its own (store.h: the log's and the projection's faces may
// be used at once), so a long fold (a printer's late events re-folding its
// print) never holds up an append: on SQLite served with its append
// journal (store/append_journal.h) an append never waits for the projector
// (only when the projector falls a whole journal segment behind), without
// it at most for a projection commit's write; on PostgreSQL not at all. Reads of the ledger
// may therefore trail a `2xx` by about the delay.
//
// The projector's thread also runs the stale sweep (ledger.md section 5)
// every `sweep_interval` once the projection has caught up, appending the
// `swept` events through the appender like requests, and makes the
// attributions (SetSessionUser), which are writes to the ledger.
#pragma once

#include <atomic>
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
  int64_t logged = 0;          // the last event id known to be in the log
                               // (never below `projected`)
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
  // starts the appender and the projector's thread, which folds whatever
  // the log holds beyond the projection (a crash's leftovers) and sweeps
  // once caught up. An error when the store cannot be read.
  Status Start();

  // Queues `item`; `done` is called exactly once, on the appender's thread
  // (or the flusher's), once the append that stored it is on disk (or with
  // the error that rejected it: kUnauthorized, kForbidden,
  // kTooManyRequests, kUnavailable).
  // Thread-safe. After Stop(), `done` is called at once with kUnavailable.
  void Submit(IngestItem item, IngestCallback done);

  // Submit() and wait for the verdict (for `printmeter import` and tests).
  Result<Verdict> Ingest(IngestItem item);

  // Folds everything appended so far into the ledger and waits for it: the
  // ledger then reflects every verdict given before the call.
  Status Settle();

  // Runs the stale sweep now (on the projector's thread, after settling)
  // and waits for it, its `swept` events folded; returns how many it
  // appended.
  Result<int> Sweep();

  // Attributes a session to a person (an empty `user` removes it), on the
  // projector's thread once the ledger has caught up: the projection's one
  // writer makes every write to the ledger. kNotFound for an unknown
  // session.
  Status Attribute(int64_t session_id, const std::string& user);

  // Appends everything queued, folds it, then stops both threads.
  // Idempotent.
  void Stop();

  IngestStats stats() const;

  // Called on the projector's thread after each projection commit with the
  // devices whose ledger changed (device -> its latest event folded): what
  // the live dashboards (http/event_hub.h) and other followers of the
  // ledger are told. A listener must not block: it runs where the ledger
  // waits.
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
  using Steady = std::chrono::steady_clock;

  // --- The appender's thread ---
  void RunAppends();
  void ProcessBatch(std::vector<Pending>& pending);
  Status Authenticate(const Decoded& decoded);
  Status AdmitNewDevice(const std::string& device);
  void Register(const Event& e);
  // Forgets the records in memory and counts the registered printers again
  // (at the start, after a failed append).
  Status ResetRecords();
  // Reads the records of the batch's printers that are not in memory.
  Status CacheRecords(const std::vector<Pending>& pending);
  // Forgets the least recently heard from when there are more than
  // options_.cached_devices (down to 7/8 of it).
  void EvictRecords();
  // Looks for events other instances appended (options_.follow_interval).
  void Follow();
  // Tells the projector's thread the log reaches `logged`, unfolded since
  // `since`.
  void Publish(int64_t logged, Steady::time_point since);
  // Waits until the appender has taken up what was queued before the call.
  Status AppendBarrier();

  // --- The flusher's thread (started by the first append that needs it) ---
  // A verdict for its caller, and the flush session that may confirm it
  // (LogBatch::flush_session).
  struct Answer {
    IngestCallback done;
    Result<Verdict> verdict;
    int64_t session = 0;
  };
  // Gives `answers` once what was appended before the call is on disk, by a
  // flush of their session; 503 when the store cannot confirm it.
  void AnswerOnceFlushed(std::vector<Answer> answers);
  void RunFlushes();

  // --- The projector's thread ---
  void RunProjection();
  // Takes what the appender published (under projection_mu_).
  void AbsorbLocked();
  // Projection steps until the ledger is at the end of the log as it was
  // published when the call began.
  Status CatchUp();
  Status ProjectStep();
  // ProjectStep of an instance that does not lead the projection: takes
  // the leader's ledger as it is.
  Status FollowStep();
  // A projection step failed: retried a second later.
  void ProjectionFailed(const Error& error);
  Result<int> SweepOnProjector();
  template <typename T>
  Result<T> RunOnProjector(std::function<Result<T>()> task);
  void TellListeners(const std::map<std::string, int64_t, std::less<>>& changed);

  LogStore& log_;
  LedgerReader& reader_;
  ProjectionStore& projection_;  // LeadProjection; the projector folds
  const IngestOptions options_;
  const Clock& clock_;

  // Owned by the appender (and by Start() before the threads exist).
  struct Known {
    DeviceRecord record;
    int64_t used = 0;  // the batch that last heard from it
  };
  // The registrations of the printers heard from last (a cache of the
  // database's), and how many printers are registered in all.
  std::map<std::string, Known, std::less<>> records_;
  size_t known_devices_ = 0;
  int64_t batches_ = 0;
  std::set<std::string, std::less<>> dirty_records_;  // to store with a batch
  RegistrationLimiter registrations_;
  int64_t logged_ = 0;  // the last event id appended
  Steady::time_point next_follow_{};  // Follow() next
  // On a shared database: the devices it knew when last counted, and when
  // to count again (AdmitNewDevice).
  std::set<std::string, std::less<>> shared_devices_;
  size_t records_at_tally_ = 0;  // known_devices_ then
  Steady::time_point next_tally_{};

  // Owned by the projector's thread (and by Start()).
  Projector projector_;
  int64_t known_logged_ = 0;  // the log's end, as published to this thread
  // Since when the ledger trails the log (nullopt: it does not).
  std::optional<Steady::time_point> trailing_since_;
  bool projection_failing_ = false;
  bool following_ = false;  // another instance leads the projection
  // Since when, following, the ledger trails what this writer appended.
  std::optional<Steady::time_point> behind_since_;
  Steady::time_point next_sweep_;

  std::mutex listener_mu_;
  std::map<ListenerId, ProjectionListener> listeners_;  // guarded by listener_mu_
  ListenerId next_listener_ = 1;                        // guarded by listener_mu_

  // The appender's queue.
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Pending> queue_;                // guarded by mu_
  std::deque<std::function<void()>> tasks_;  // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  IngestStats stats_;                        // guarded by mu_
  std::thread appender_;

  // The answers waiting for the disk (LogBatch::flush_later: PostgreSQL).
  std::mutex flush_mu_;
  std::condition_variable flush_wake_;
  std::vector<Answer> to_flush_;  // guarded by flush_mu_
  bool flush_stopping_ = false;  // guarded by flush_mu_
  std::thread flusher_;          // started under flush_mu_
  std::atomic<bool> flush_failed_{false};  // the appender reloads its state

  // What the projector's thread is told.
  std::mutex projection_mu_;
  std::condition_variable projection_wake_;
  int64_t published_ = 0;  // guarded: the log's end the appender saw
  // guarded: the earliest unfolded append not yet absorbed
  std::optional<Steady::time_point> published_since_;
  std::deque<std::function<void()>> projection_tasks_;  // guarded
  bool projection_stopping_ = false;                    // guarded
  std::thread projector_thread_;
};

}  // namespace pm

// Forwarder: delivers the log's events to the configured targets (HTTP
// POSTs), an outbox derived from the log like the ledger (STYLE.md 14).
//
// Each target has a position, the last event id it was given (or that it
// did not ask for), stored in the database (ForwardStore). A thread per
// target reads the log in id order from its position, a page at a time,
// POSTs each matching event, and stores the position after the page (or
// each second, and when stopped): delivery is at-least-once (a crash
// delivers again, with the same X-Printmeter-Event, what was delivered
// since the position was last stored: at most a page), in id order, hence
// in order per printer. One thread per target so that a target that stalls
// holds up no other; none of them is ever on the path of a webhook's answer.
//
// A target added to the configuration starts at the log's end as it is
// then (it is not sent the history); a removed one is left alone (its
// position stays stored and is resumed if it comes back under its name).
//
// Failures (no answer within the target's timeout, or any answer but 2xx)
// are retried with the same event after first_retry, doubling up to
// max_retry; after failing for pause_after the target is `paused` and
// tried every paused_retry, and it resumes by itself with the first
// success.
//
// Each target keeps one connection alive between deliveries
// (TargetConnection), opened again when the server closes it or an attempt
// fails. For https it verifies the server's certificate and host name
// against the system's CAs or the target's ca_file; a failed verification
// is a failed delivery, its reason the target's last error.
//
// A target whose `events` names maintenance_due (or is empty) is also sent a
// notice when a printer's maintenance item is due or overdue, once per
// crossing (notice.h), checked every maintenance_interval and within
// maintenance_after_fold of a projection commit: between the printer's
// events, not in their order.
//
// Several instances on one PostgreSQL database each run a Forwarder: the
// position moves by compare-and-set, so an instance whose save loses takes
// the other's position and goes on from there. Both may have delivered the
// same events meanwhile; the receiver drops the repeats by their id.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "common/result.h"
#include "common/time.h"
#include "forward/delivery.h"
#include "forward/options.h"
#include "forward/status.h"
#include "store/store.h"

namespace pm {

class Forwarder {
 public:
  // `store`, `reader` (the session of an event, for body = "printmeter")
  // and `clock` must outlive the forwarder.
  Forwarder(ForwardStore& store, LedgerReader& reader, ForwardOptions options,
            const Clock& clock);
  ~Forwarder();  // Stop()
  Forwarder(const Forwarder&) = delete;
  Forwarder& operator=(const Forwarder&) = delete;

  // Checks the targets (kInvalid naming the one that is wrong), reads their
  // positions (a new target's is the log's end now) and starts a thread per
  // target. The database may be away: the threads wait for it.
  Status Start();
  // Tells the threads the log has grown. Never blocks for long: safe on the
  // ingest writer's thread (a projection listener). Thread-safe.
  void Wake();
  // Stops the threads, cancelling the POSTs in flight (their events are
  // delivered again after a restart). Idempotent.
  void Stop();
  // Every target's status, in configuration order. Thread-safe.
  std::vector<ForwardTargetStatus> Targets() const;

 private:
  struct Worker;
  void Run(Worker& w);
  // One pass over what is waiting: true to go on at once (a full page was
  // delivered), false to wait.
  bool Pass(Worker& w);
  Status LoadPosition(Worker& w);
  // Moves the position; stores it when `now`, or when a second has passed
  // since it was last stored (one write per page or second, not per
  // delivery: the log's writer shares the database).
  void SavePosition(Worker& w, int64_t position, bool now);
  // The delivery of `record` as the target wants it; nullopt: none.
  Result<std::optional<Delivery>> Build(const Worker& w,
                                        const EventRecord& record);
  // The last event id the target may be given now (the log's end, or the
  // projection's for printmeter's JSON); nullopt when the store fails.
  std::optional<int64_t> Limit(Worker& w);
  // POSTs `d` once: true when answered 2xx (the position moved past it,
  // for an event of the log).
  bool Attempt(Worker& w, const Delivery& d);
  // Sends the target the maintenance_due notices it has not had
  // (notice.h), recording each it answered 2xx; stops at the first failure
  // (Failed: the backoff holds the events too).
  void SendNotices(Worker& w);
  // Records a failed attempt and when to try again (the backoff).
  void Failed(Worker& w, const std::string& error);
  // Shows `error` as the target's last error; returns false.
  bool Report(Worker& w, const Error& error);
  bool Stopping() const;
  // Waits up to `d` or until woken or stopped.
  void Wait(std::chrono::milliseconds d, uint64_t& seen);
  void Update(Worker& w, const std::function<void(ForwardTargetStatus&)>& f);

  ForwardStore& store_;
  LedgerReader& reader_;
  const ForwardOptions options_;
  const Clock& clock_;
  std::vector<std::unique_ptr<Worker>> workers_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  uint64_t wakes_ = 0;     // guarded by mu_
  bool stopping_ = false;  // guarded by mu_
};

}  // namespace pm

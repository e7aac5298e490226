#include "ingest/writer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <future>
#include <memory>
#include <utility>

#include "common/thread_name.h"

namespace pm {

namespace {

// Compares two secrets in time that depends only on their lengths.
bool SecretEquals(std::string_view a, std::string_view b) {
  unsigned diff = a.size() != b.size() ? 1u : 0u;
  size_t n = std::max(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned>(x ^ y);
  }
  return diff == 0;
}

Error Unauthorized(const std::string& device, const char* registered_how) {
  return {ErrorCode::kUnauthorized,
          fmt::format("wrong or missing API secret for device \"{}\" (its "
                      "secret was {}); set the same API secret in the "
                      "plugin's settings, or set a new one with `printmeter "
                      "devices add {} --secret NEW` and use it in the plugin",
                      device, registered_how, device)};
}

Error Forbidden(const std::string& device) {
  return {ErrorCode::kForbidden,
          fmt::format("device \"{}\" is not configured and printmeter runs "
                      "with --auth strict; add it with `printmeter devices "
                      "add {}` (or run with --auth tofu)",
                      device, device)};
}

}  // namespace

IngestWriter::IngestWriter(IngestStores stores, IngestOptions options,
                           const Clock& clock)
    : log_(stores.log),
      reader_(stores.reader),
      projection_(stores.projection),
      options_(std::move(options)),
      clock_(clock),
      registrations_(options_.registrations),
      projector_(stores.projection, stores.reader, options_.ledger,
                 options_.pictures) {}

IngestWriter::~IngestWriter() { Stop(); }

Status IngestWriter::ResetRecords() {
  records_.clear();
  dirty_records_.clear();
  auto count = reader_.CountDevices();
  if (!count) return count.error();
  known_devices_ = static_cast<size_t>(*count);
  return {};
}

Status IngestWriter::CacheRecords(const std::vector<Pending>& pending) {
  ++batches_;
  std::vector<std::string> missing;
  for (const Pending& p : pending) {
    if (!p.item.request) continue;
    const std::string& device = p.item.decoded.event.device;
    if (auto it = records_.find(device); it != records_.end()) {
      it->second.used = batches_;
    } else if (missing.empty() || missing.back() != device) {
      missing.push_back(device);
    }
  }
  if (missing.empty()) return {};
  std::sort(missing.begin(), missing.end());
  missing.erase(std::unique(missing.begin(), missing.end()), missing.end());
  auto found = reader_.FindDevices(missing);
  if (!found) return found.error();
  for (DeviceRecord& r : *found) {
    std::string device = r.device;
    records_.insert_or_assign(std::move(device), Known{std::move(r), batches_});
  }
  return {};
}

// Over the bound, it forgets down to 7/8 of it: finding the least recently
// heard from walks every record, so a flood of new printers (each batch
// bringing a few) pays for one walk per cached_devices / 8 of them, not one
// per batch (the walk was a tenth of the appender's time under 32
// connections of new printers).
void IngestWriter::EvictRecords() {
  const size_t bound = options_.cached_devices;
  if (records_.size() <= bound) return;
  const size_t keep = bound - bound / 8;
  std::vector<std::pair<int64_t, std::string_view>> by_use;
  by_use.reserve(records_.size());
  for (const auto& [device, known] : records_) {
    if (!dirty_records_.contains(device)) by_use.emplace_back(known.used, device);
  }
  size_t excess = std::min(records_.size() - keep, by_use.size());
  auto cut = by_use.begin() + static_cast<std::ptrdiff_t>(excess);
  std::nth_element(by_use.begin(), cut, by_use.end());
  std::vector<std::string> gone;
  gone.reserve(excess);
  for (auto it = by_use.begin(); it != cut; ++it) gone.emplace_back(it->second);
  for (const std::string& device : gone) records_.erase(device);
}

Status IngestWriter::Start() {
  if (auto s = ResetRecords(); !s) return s;
  if (auto s = projector_.Load(); !s) return s;
  auto last = log_.LastEventId();
  if (!last) return last.error();
  logged_ = *last;
  known_logged_ = *last;
  published_ = *last;
  if (projector_.position() < logged_) trailing_since_ = Steady::now();
  next_sweep_ = Steady::now();  // once caught up
  {
    std::lock_guard lock(mu_);
    stats_.logged = logged_;
    stats_.projected = projector_.position();
  }
  appender_ = std::thread([this] {
    NameThisThread("pm-append");
    RunAppends();
  });
  projector_thread_ = std::thread([this] {
    NameThisThread("pm-project");
    RunProjection();
  });
  return {};
}

void IngestWriter::Submit(IngestItem item, IngestCallback done) {
  // What needs no state of the appender's is done here, on the caller's
  // thread (an HTTP thread), so that the one appender does less for each
  // request: the picture set apart from its request (ledger.md s. 2: stored
  // once) and the body made as the store keeps it (SQLite: compressed, which
  // was half of the appender's time under 32 connections).
  if (item.request) {
    if (item.decoded.snapshot) {
      SetPictureApart(*item.request, std::move(*item.decoded.snapshot));
      item.decoded.snapshot.reset();
    }
    log_.Prepare(*item.request);
  }
  {
    std::lock_guard lock(mu_);
    if (!stopping_ && appender_.joinable()) {
      queue_.push_back({std::move(item), std::move(done)});
      wake_.notify_one();
      return;
    }
  }
  done(Unavailable("printmeter is shutting down; the event was not stored"));
}

Result<Verdict> IngestWriter::Ingest(IngestItem item) {
  std::promise<Result<Verdict>> promise;
  auto future = promise.get_future();
  Submit(std::move(item),
         [&promise](Result<Verdict> v) { promise.set_value(std::move(v)); });
  return future.get();
}

Status IngestWriter::AppendBarrier() {
  std::promise<void> promise;
  auto future = promise.get_future();
  {
    std::lock_guard lock(mu_);
    if (stopping_ || !appender_.joinable()) {
      return Unavailable("the ingest writer is not running");
    }
    tasks_.push_back([&promise] { promise.set_value(); });
    wake_.notify_one();
  }
  future.get();
  return {};
}

template <typename T>
Result<T> IngestWriter::RunOnProjector(std::function<Result<T>()> task) {
  std::promise<Result<T>> promise;
  auto future = promise.get_future();
  {
    std::lock_guard lock(projection_mu_);
    if (projection_stopping_ || !projector_thread_.joinable()) {
      return Unavailable("the ingest writer is not running");
    }
    projection_tasks_.push_back([&] { promise.set_value(task()); });
    projection_wake_.notify_one();
  }
  return future.get();
}

Status IngestWriter::Settle() {
  // What was queued before the call is appended first (its verdicts are
  // published before they are given), then folded.
  if (Status s = AppendBarrier(); !s) return s;
  Result<bool> done = RunOnProjector<bool>([this]() -> Result<bool> {
    if (Status s = CatchUp(); !s) return s.error();
    return true;
  });
  if (!done) return done.error();
  return {};
}

Result<int> IngestWriter::Sweep() {
  return RunOnProjector<int>([this] { return SweepOnProjector(); });
}

Status IngestWriter::Attribute(int64_t session_id, const std::string& user) {
  Result<bool> done = RunOnProjector<bool>([&]() -> Result<bool> {
    // The session must be in the ledger as of every answer given so far.
    if (Status s = CatchUp(); !s) return s.error();
    if (Status s = projection_.SetSessionUser(session_id, user); !s) {
      return s.error();
    }
    return true;
  });
  if (!done) return done.error();
  return {};
}

void IngestWriter::Stop() {
  // The appender first: what it lets in before stopping is appended and
  // published; then the projector folds it all and stops.
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    wake_.notify_one();
  }
  if (appender_.joinable()) appender_.join();
  {
    // Everything appended is answered once it is on disk.
    std::lock_guard lock(flush_mu_);
    flush_stopping_ = true;
    flush_wake_.notify_one();
  }
  if (flusher_.joinable()) flusher_.join();
  {
    std::lock_guard lock(projection_mu_);
    projection_stopping_ = true;
    projection_wake_.notify_one();
  }
  if (projector_thread_.joinable()) projector_thread_.join();
}

IngestWriter::ListenerId IngestWriter::AddProjectionListener(
    ProjectionListener listener) {
  std::lock_guard lock(listener_mu_);
  ListenerId id = next_listener_++;
  listeners_.emplace(id, std::move(listener));
  return id;
}

void IngestWriter::RemoveProjectionListener(ListenerId id) {
  std::lock_guard lock(listener_mu_);
  listeners_.erase(id);
}

void IngestWriter::TellListeners(
    const std::map<std::string, int64_t, std::less<>>& changed) {
  std::lock_guard lock(listener_mu_);
  for (auto& [id, listener] : listeners_) listener(changed);
}

IngestStats IngestWriter::stats() const {
  std::lock_guard lock(mu_);
  IngestStats stats = stats_;
  // What is projected is in the log: a follower may learn of another
  // instance's fold before its own look at the log's end.
  stats.logged = std::max(stats.logged, stats.projected);
  return stats;
}

// --- The appender's thread
// ---------------------------------------------------------

void IngestWriter::Publish(int64_t logged, Steady::time_point since) {
  std::lock_guard lock(projection_mu_);
  published_ = std::max(published_, logged);
  if (!published_since_ || since < *published_since_) published_since_ = since;
  projection_wake_.notify_one();
}

// Events other instances appended to the shared log: the projector folds
// them now (or, when another instance's projector already did, takes its
// ledger as it is).
void IngestWriter::Follow() {
  auto last = log_.LastEventId();
  if (!last) return;  // the next append or step says why
  if (*last > logged_) {
    logged_ = *last;
    {
      std::lock_guard lock(mu_);
      stats_.logged = logged_;
    }
    Publish(logged_, Steady::now() - std::chrono::milliseconds(
                                         options_.projection_delay));
  }
}

void IngestWriter::RunAppends() {
  for (;;) {
    std::vector<Pending> pending;
    std::deque<std::function<void()>> tasks;
    bool stopping = false;
    {
      std::unique_lock lock(mu_);
      auto ready = [&] {
        return stopping_ || !queue_.empty() || !tasks_.empty();
      };
      if (options_.follow_interval > 0) {
        wake_.wait_until(lock, next_follow_, ready);
      } else {
        wake_.wait(lock, ready);
      }
      stopping = stopping_;
      tasks.swap(tasks_);
      size_t n = std::min(queue_.size(), options_.max_batch);
      pending.reserve(n);
      for (size_t i = 0; i < n; ++i) {
        pending.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      stopping = stopping && queue_.empty();
    }
    if (flush_failed_.exchange(false)) {
      // What was committed but not flushed may be gone with the database:
      // the registrations it held too.
      if (auto s = ResetRecords(); !s) {
        spdlog::error("counting the registered printers failed: {}",
                      s.error().message);
      }
    }
    if (!pending.empty()) ProcessBatch(pending);
    for (auto& task : tasks) task();
    if (options_.follow_interval > 0 && Steady::now() >= next_follow_) {
      Follow();
      next_follow_ = Steady::now() +
                     std::chrono::milliseconds(options_.follow_interval);
    }
    if (stopping) {
      // Whatever Submit() let in before stopping_ was set is in the log.
      std::lock_guard lock(mu_);
      if (queue_.empty() && tasks_.empty()) break;
    }
  }
}

// --- The projector's thread
// --------------------------------------------------------

void IngestWriter::AbsorbLocked() {
  known_logged_ = std::max(known_logged_, published_);
  if (published_since_) {
    if (!trailing_since_ && projector_.position() < known_logged_) {
      trailing_since_ = *published_since_;
    }
    published_since_.reset();
  }
}

void IngestWriter::RunProjection() {
  const auto delay = std::chrono::milliseconds(options_.projection_delay);
  for (;;) {
    std::deque<std::function<void()>> tasks;
    bool stopping = false;
    {
      std::unique_lock lock(projection_mu_);
      auto ready = [&] {
        if (projection_stopping_ || !projection_tasks_.empty()) return true;
        if (!published_since_) return false;
        // New appends: they start the trailing delay, or make the backlog
        // reach its bound.
        return !trailing_since_ || published_ - projector_.position() >=
                                       options_.projection_backlog;
      };
      std::optional<Steady::time_point> until;
      if (trailing_since_) until = *trailing_since_ + delay;
      if (options_.sweep_interval > 0 && !trailing_since_) until = next_sweep_;
      if (until) {
        projection_wake_.wait_until(lock, *until, ready);
      } else {
        projection_wake_.wait(lock, ready);
      }
      AbsorbLocked();
      stopping = projection_stopping_;
      tasks.swap(projection_tasks_);
    }
    for (auto& task : tasks) task();
    if (trailing_since_ &&
        (Steady::now() - *trailing_since_ >= delay ||
         known_logged_ - projector_.position() >=
             options_.projection_backlog)) {
      (void)ProjectStep();
    }
    if (options_.sweep_interval > 0 && !trailing_since_ &&
        Steady::now() >= next_sweep_) {
      auto swept = SweepOnProjector();
      if (!swept) {
        spdlog::error("stale sweep failed: {}", swept.error().message);
      } else if (*swept > 0) {
        spdlog::info("stale sweep closed {} session(s)", *swept);
      }
      next_sweep_ = Steady::now() +
                    std::chrono::milliseconds(options_.sweep_interval);
    }
    if (stopping) {
      // The appender has stopped: leave the ledger complete too.
      if (Status s = CatchUp(); !s) {
        spdlog::error("the ledger trails the log at exit; it catches up at "
                      "the next start: {}",
                      s.error().message);
      }
      std::lock_guard lock(projection_mu_);
      if (projection_tasks_.empty()) break;
    }
  }
}

Status IngestWriter::ProjectStep() {
  // With several instances on one database, one folds; the others follow.
  Result<bool> lead = projection_.LeadProjection();
  following_ = lead.ok() && !*lead;
  // A follower that has waited long for the leader to fold what it
  // appended (a leader that has not seen it yet, or is stuck) folds it
  // itself: a step from a stale position is refused, so nothing doubles.
  const auto patience = std::chrono::milliseconds(
      std::max<TimeMs>(1000, 4 * options_.projection_delay));
  if (following_ && behind_since_ &&
      Steady::now() - *behind_since_ > patience) {
    following_ = false;
  }
  if (following_) return FollowStep();
  behind_since_.reset();
  Result<int64_t> folded = projector_.Step(options_.projection_step);
  {
    std::lock_guard lock(mu_);
    stats_.projected = projector_.position();
    stats_.refolds = projector_.stats().refolds;
    stats_.folded = projector_.stats().events;
  }
  if (!folded && folded.error().code == ErrorCode::kConflict) {
    // Another instance on the same database folded these events first: the
    // projector reloaded its state from theirs (changed() names the printers
    // whose state that changed, for the live dashboards); go on from there.
    if (!projector_.changed().empty()) {
      TellListeners(projector_.changed());
    }
    if (projector_.position() >= known_logged_) trailing_since_.reset();
    return {};
  }
  if (!folded) {
    ProjectionFailed(folded.error());
    return folded.error();
  }
  if (projection_failing_) {
    spdlog::info("the ledger is being folded from the log again");
    projection_failing_ = false;
  }
  if (*folded > 0 && !projector_.changed().empty()) {
    TellListeners(projector_.changed());
  }
  // Caught up; or nothing more to fold below the log's end (ids allocated
  // to an append that failed).
  if (projector_.position() >= known_logged_ || *folded == 0) {
    trailing_since_.reset();
  }
  return {};
}

Status IngestWriter::FollowStep() {
  Result<int64_t> moved = projector_.Follow();
  if (!moved) {
    ProjectionFailed(moved.error());
    return moved.error();
  }
  {
    std::lock_guard lock(mu_);
    stats_.projected = projector_.position();
  }
  projection_failing_ = false;
  if (!projector_.changed().empty()) TellListeners(projector_.changed());
  if (projector_.position() >= known_logged_) {
    trailing_since_.reset();
    behind_since_.reset();
  } else {
    // The leader has not folded our latest yet: look again after the
    // projection delay.
    trailing_since_ = Steady::now();
    if (!behind_since_) behind_since_ = trailing_since_;
  }
  return {};
}

void IngestWriter::ProjectionFailed(const Error& error) {
  // Retried a second later (the requests are stored: only the ledger
  // waits), logged once per failing spell.
  if (!projection_failing_) {
    spdlog::error(
        "folding the log into the ledger failed (the webhooks are stored; "
        "retrying every second): {}",
        error.message);
  }
  projection_failing_ = true;
  trailing_since_ = Steady::now() + std::chrono::seconds(1) -
                    std::chrono::milliseconds(options_.projection_delay);
}

Status IngestWriter::CatchUp() {
  {
    std::lock_guard lock(projection_mu_);
    AbsorbLocked();
  }
  if (projector_.position() < known_logged_ && !trailing_since_) {
    trailing_since_ = Steady::now();
  }
  while (trailing_since_) {
    if (Status s = ProjectStep(); !s) return s;
    if (trailing_since_ && following_) {
      // Another instance folds the projection: this one waits for it.
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  return {};
}

// A device neither configured nor heard from before registers through the
// limiter; a refusal is logged and stores nothing.
Status IngestWriter::AdmitNewDevice(const std::string& device) {
  if (options_.devices.count(device) || records_.count(device)) return {};
  size_t known = known_devices_;
  const RegistrationLimits& limits = options_.registrations;
  const bool limited = limits.max_devices > 0 || limits.max_per_window > 0;
  if (options_.follow_interval > 0 && limited) {
    // Other instances on the same database register printers too: count
    // theirs, as the database has them (looked at once per follow interval;
    // every printer's name, so not when no limit needs them).
    auto now = Steady::now();
    if (now >= next_tally_) {
      next_tally_ = now + std::chrono::milliseconds(options_.follow_interval);
      auto tally = log_.Registrations(clock_.Now() - options_.registrations.window);
      if (tally) {
        std::erase_if(tally->since, [this](const auto& registered) {
          return options_.devices.count(registered.first) > 0;
        });
        registrations_.Observe(tally->since);
        shared_devices_ = std::set<std::string, std::less<>>(
            tally->devices.begin(), tally->devices.end());
        records_at_tally_ = known_devices_;
      }
      // Unread (the database away): this instance's own count decides, and
      // the append that follows fails anyway.
    }
    // A printer another instance registered is no new one (its stored
    // secret decides, in the append).
    if (shared_devices_.count(device)) return {};
    // What the database knew, plus what this instance registered since.
    if (known_devices_ >= records_at_tally_) {
      known = std::max(known, shared_devices_.size() + known_devices_ -
                                  records_at_tally_);
    }
  }
  Status admitted = registrations_.Admit(device, known, clock_.Now());
  if (!admitted) {
    spdlog::warn("refused to register a new device: {}",
                 admitted.error().message);
  }
  return admitted;
}

Status IngestWriter::Authenticate(const Decoded& decoded) {
  const std::string& device = decoded.event.device;
  if (options_.auth == AuthMode::kOpen) return AdmitNewDevice(device);
  // A missing secret is the empty one: a device that never sends a secret
  // registers with "" and keeps being accepted without one, while a device
  // registered with a real secret gets 401 when it sends none.
  std::string_view presented = decoded.secret
                                   ? std::string_view(*decoded.secret)
                                   : std::string_view();
  auto configured = options_.devices.find(device);
  if (options_.auth == AuthMode::kStrict) {
    if (configured == options_.devices.end()) return Forbidden(device);
    if (configured->second && !SecretEquals(*configured->second, presented)) {
      return Unauthorized(device, "set in the config file");
    }
    return {};
  }
  // tofu: a configured secret wins over a registered one.
  if (configured != options_.devices.end() && configured->second) {
    if (SecretEquals(*configured->second, presented)) return {};
    return Unauthorized(device, "set in the config file");
  }
  auto it = records_.find(device);
  if (it != records_.end() && it->second.record.secret) {
    if (SecretEquals(*it->second.record.secret, presented)) return {};
    return Unauthorized(device, "registered on its first request");
  }
  // First contact (or a device heard before in open mode): trust it.
  if (Status s = AdmitNewDevice(device); !s) return s;
  Known& known = records_[device];
  known.used = batches_;
  DeviceRecord& record = known.record;
  if (record.device.empty()) {  // never heard from: counted at once
    record.device = device;
    record.first_seen = decoded.event.received_at;
    record.last_received = decoded.event.received_at;
    ++known_devices_;
  }
  record.secret = std::string(presented);
  dirty_records_.insert(device);
  spdlog::info("registered device \"{}\" on first contact ({})", device,
               presented.empty() ? "no secret" : "with its secret");
  return {};
}

// Remembers the first request of a device never heard from (its record
// is stored with the batch).
void IngestWriter::Register(const Event& e) {
  Known& known = records_[e.device];
  known.used = batches_;
  DeviceRecord& r = known.record;
  if (r.device.empty()) {
    r.device = e.device;
    r.first_seen = e.received_at;
    r.last_received = e.received_at;
    dirty_records_.insert(e.device);
    ++known_devices_;
  }
}

void IngestWriter::ProcessBatch(std::vector<Pending>& pending) {
  if (Status s = CacheRecords(pending); !s) {
    Error answer = Unavailable(fmt::format(
        "storage unavailable, the event was not stored: {}",
        s.error().message));
    for (Pending& p : pending) {
      if (p.done) p.done(answer);
    }
    return;
  }
  // Authenticate first: rejections are answered at once, store nothing.
  std::vector<Pending> accepted;
  accepted.reserve(pending.size());
  for (Pending& p : pending) {
    bool synthetic = !p.item.request;
    Status auth = synthetic ? Status() : Authenticate(p.item.decoded);
    if (!auth) {
      if (p.done) p.done(auth.error());
      continue;
    }
    accepted.push_back(std::move(p));
  }
  if (accepted.empty()) return;

  auto fail = [&](const Error& error) {
    spdlog::error("storing events failed: {}", error.message);
    Error answer = Unavailable(fmt::format(
        "storage unavailable, the event was not stored: {}", error.message));
    for (Pending& p : accepted) {
      if (p.done) p.done(answer);
    }
    {
      std::lock_guard lock(mu_);
      ++stats_.failed_commits;
    }
    if (auto s = ResetRecords(); !s) {
      spdlog::error("counting the registered printers failed: {}",
                    s.error().message);
    }
  };

  // The store assigns the ids and decides duplicates and registrations as
  // the log stands at the commit (with several instances, another may have
  // appended or registered since).
  LogBatch batch;
  batch.decide_duplicates = true;
  batch.flush_later = true;  // the flusher's thread waits for the disk
  batch.events.reserve(accepted.size());
  for (Pending& p : accepted) {
    EventRecord record;
    record.event = std::move(p.item.decoded.event);
    record.event.id = 0;
    record.request = std::move(p.item.request);
    if (record.request) record.decoder = p.item.decoded.decoder;
    if (record.request) Register(record.event);
    batch.events.push_back(std::move(record));
  }
  for (const std::string& device : dirty_records_) {
    batch.devices.push_back(records_.at(device).record);
  }
  if (Status s = log_.Append(batch); !s) return fail(s.error());
  dirty_records_.clear();
  for (DeviceRecord& winner : batch.lost) {
    spdlog::warn(
        "device \"{}\" was registered with another secret first (by another "
        "printmeter on this database); its requests with this one are refused",
        winner.device);
    records_[winner.device].record = std::move(winner);
  }
  int64_t stored = 0;
  for (const EventRecord& r : batch.events) {
    if (r.event.id != 0) {
      logged_ = std::max(logged_, r.event.id);
      ++stored;
    }
  }
  {
    std::lock_guard lock(mu_);
    ++stats_.commits;
    stats_.events += stored;
    stats_.logged = logged_;
  }
  // The projector hears of the appends before anyone hears a verdict, so a
  // Settle() after a verdict folds its event.
  if (stored) Publish(logged_, Steady::now());
  std::vector<Answer> answers;
  for (size_t i = 0; i < accepted.size(); ++i) {
    if (!accepted[i].done) continue;
    const EventRecord& r = batch.events[i];
    Result<Verdict> verdict =
        r.event.id == 0 ? Result<Verdict>(Unauthorized(
                              r.event.device, "registered on its first request"))
                        : Verdict{r.event.id, r.duplicate, r.event.test};
    answers.push_back(
        {std::move(accepted[i].done), std::move(verdict), batch.flush_session});
  }
  if (batch.durable) {
    for (Answer& a : answers) a.done(std::move(a.verdict));
  } else {
    AnswerOnceFlushed(std::move(answers));
  }
  EvictRecords();  // after the answers: they do not wait for it
}

// --- The flusher's thread
// ---------------------------------------------------------

void IngestWriter::AnswerOnceFlushed(std::vector<Answer> answers) {
  std::lock_guard lock(flush_mu_);
  if (!flusher_.joinable()) {
    flusher_ = std::thread([this] {
      NameThisThread("pm-flush");
      RunFlushes();
    });
  }
  for (Answer& a : answers) to_flush_.push_back(std::move(a));
  flush_wake_.notify_one();
}

void IngestWriter::RunFlushes() {
  for (;;) {
    std::vector<Answer> answers;
    {
      std::unique_lock lock(flush_mu_);
      flush_wake_.wait(lock,
                       [&] { return flush_stopping_ || !to_flush_.empty(); });
      if (to_flush_.empty()) return;  // stopping, everything answered
      answers.swap(to_flush_);
    }
    // Every one of these was appended before this flush began: one flush
    // answers them all (and whatever the appender commits meanwhile waits
    // for the next).
    Result<int64_t> flushed = log_.Flush();
    bool lost = !flushed;
    for (const Answer& a : answers) lost = lost || a.session != *flushed;
    if (lost) {
      // What the database may have lost may have held registrations too.
      flush_failed_ = true;  // the appender reloads its state
      std::lock_guard lock(mu_);
      ++stats_.failed_commits;
    }
    const std::string why =
        flushed ? "the database restarted before it was on disk"
                : flushed.error().message;
    if (lost) spdlog::error("storing events failed: {}", why);
    for (Answer& a : answers) {
      if (flushed && a.session == *flushed) {
        a.done(std::move(a.verdict));
      } else {
        a.done(Unavailable(fmt::format(
            "storage unavailable, the event may not be stored: {}", why)));
      }
    }
  }
}

Result<int> IngestWriter::SweepOnProjector() {
  if (options_.ledger.stale_after <= 0) return 0;
  // The instance that folds the projection sweeps it.
  if (Result<bool> lead = projection_.LeadProjection(); lead.ok() && !*lead) {
    return 0;
  }
  if (Status s = CatchUp(); !s) return s.error();
  Result<std::vector<Event>> stale = projector_.StaleSweeps(clock_.Now());
  if (!stale) return stale.error();
  std::vector<Event>& swept = *stale;
  if (swept.empty()) return 0;
  // Appended by the appender like requests; this thread waits for the
  // verdicts, then marks (the projector is this thread's alone).
  std::vector<std::pair<std::string, std::future<Result<Verdict>>>> waiting;
  for (Event& e : swept) {
    IngestItem item;
    item.decoded.event = std::move(e);
    std::string device = item.decoded.event.device;
    auto promise = std::make_shared<std::promise<Result<Verdict>>>();
    waiting.emplace_back(device, promise->get_future());
    Submit(std::move(item), [promise](Result<Verdict> v) {
      promise->set_value(std::move(v));
    });
  }
  std::optional<Error> error;
  for (auto& [device, future] : waiting) {
    Result<Verdict> v = future.get();
    if (!v) {
      if (!error) error = v.error();
      continue;
    }
    projector_.MarkSweepLogged(device, v->event_id);
  }
  if (error) return *error;
  if (Status s = CatchUp(); !s) return s.error();
  return static_cast<int>(waiting.size());
}

}  // namespace pm

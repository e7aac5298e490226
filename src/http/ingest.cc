#include "http/ingest.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <future>
#include <set>
#include <utility>

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

IngestOptions IngestOptionsFrom(const Config& config) {
  IngestOptions options;
  options.auth = config.auth;
  options.ledger.stale_after = config.stale_after;
  options.registrations.max_devices = config.max_devices;
  options.registrations.max_per_window = config.registrations_per_hour;
  for (const auto& [id, device] : config.devices) {
    options.devices.emplace(id, device.secret);
  }
  return options;
}

// What one group commit collects: the WriteBatch and who waits for it.
class IngestWriter::Batch {
 public:
  WriteBatch& write() { return write_; }

  bool Touches(const std::string& device) const {
    return devices_.count(device) > 0;
  }
  void Touch(const std::string& device) { devices_.insert(device); }
  const std::set<std::string, std::less<>>& devices() const { return devices_; }

  // Whether an event of this batch is an earlier duplicate of `e`.
  bool HasDuplicate(const Event& e) const {
    for (const EventRecord& r : write_.events) {
      if (r.event.device == e.device && IsDuplicateOf(e, r.event)) return true;
    }
    return false;
  }

  // Upserts `s`, replacing an earlier version from this batch.
  void PutSession(Session s) {
    auto [it, added] = session_index_.emplace(s.id, write_.sessions.size());
    if (added) {
      write_.sessions.push_back(std::move(s));
    } else {
      write_.sessions[it->second] = std::move(s);
    }
  }

  void Acknowledge(IngestCallback done, Verdict verdict) {
    acks_.emplace_back(std::move(done), verdict);
  }

  bool empty() const { return write_.empty() && acks_.empty(); }
  size_t event_count() const { return write_.events.size(); }

  // Answers everyone who waited for this batch, then forgets it.
  void Complete() {
    for (auto& [done, verdict] : acks_) {
      if (done) done(verdict);
    }
    Clear();
  }
  void Fail(const Error& error) {
    for (auto& [done, verdict] : acks_) {
      if (done) done(error);
    }
    Clear();
  }

 private:
  void Clear() {
    write_ = WriteBatch();
    devices_.clear();
    session_index_.clear();
    acks_.clear();
  }

  WriteBatch write_;
  std::set<std::string, std::less<>> devices_;  // with changes in write_
  std::map<int64_t, size_t> session_index_;     // id -> write_.sessions
  std::vector<std::pair<IngestCallback, Verdict>> acks_;
};

IngestWriter::IngestWriter(Store& store, IngestOptions options,
                           const Clock& clock)
    : store_(store),
      options_(std::move(options)),
      clock_(clock),
      registrations_(options_.registrations) {}

IngestWriter::~IngestWriter() { Stop(); }

Status IngestWriter::ReloadState() {
  auto states = store_.LoadDeviceStates();
  if (!states) return states.error();
  auto records = store_.LoadDevices();
  if (!records) return records.error();
  states_.clear();
  records_.clear();
  for (DeviceState& s : *states) {
    std::string device = s.device;
    states_.emplace(std::move(device), std::move(s));
  }
  for (DeviceRecord& r : *records) {
    std::string device = r.device;
    records_.emplace(std::move(device), std::move(r));
  }
  return {};
}

Status IngestWriter::Start() {
  if (auto s = ReloadState(); !s) return s;
  auto swept = SweepOnWriter();
  if (!swept) return swept.error();
  if (*swept > 0) {
    spdlog::info("stale sweep at start closed {} session(s)", *swept);
  }
  next_sweep_ = std::chrono::steady_clock::now() +
                std::chrono::milliseconds(options_.sweep_interval);
  thread_ = std::thread([this] { Run(); });
  return {};
}

void IngestWriter::Submit(IngestItem item, IngestCallback done) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_ && thread_.joinable()) {
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

Result<int> IngestWriter::Sweep() {
  std::promise<Result<int>> promise;
  auto future = promise.get_future();
  {
    std::lock_guard lock(mu_);
    if (stopping_ || !thread_.joinable()) {
      return Unavailable("the ingest writer is not running");
    }
    tasks_.push_back([&] { promise.set_value(SweepOnWriter()); });
    wake_.notify_one();
  }
  return future.get();
}

void IngestWriter::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    wake_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
}

IngestStats IngestWriter::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

void IngestWriter::Run() {
  for (;;) {
    std::vector<Pending> pending;
    std::deque<std::function<void()>> tasks;
    {
      std::unique_lock lock(mu_);
      auto ready = [&] { return stopping_ || !queue_.empty() || !tasks_.empty(); };
      if (options_.sweep_interval > 0) {
        wake_.wait_until(lock, next_sweep_, ready);
      } else {
        wake_.wait(lock, ready);
      }
      if (stopping_ && queue_.empty() && tasks_.empty()) break;
      tasks.swap(tasks_);
      size_t n = std::min(queue_.size(), options_.max_batch);
      pending.reserve(n);
      for (size_t i = 0; i < n; ++i) {
        pending.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    if (!pending.empty()) ProcessBatch(pending);
    for (auto& task : tasks) task();
    if (options_.sweep_interval > 0 &&
        std::chrono::steady_clock::now() >= next_sweep_) {
      auto swept = SweepOnWriter();
      if (!swept) {
        spdlog::error("stale sweep failed: {}", swept.error().message);
      } else if (*swept > 0) {
        spdlog::info("stale sweep closed {} session(s)", *swept);
      }
      next_sweep_ = std::chrono::steady_clock::now() +
                    std::chrono::milliseconds(options_.sweep_interval);
    }
  }
}

// A device neither configured nor heard from before registers through the
// limiter; a refusal is logged and stores nothing.
Status IngestWriter::AdmitNewDevice(const std::string& device) {
  if (options_.devices.count(device) || records_.count(device)) return {};
  Status admitted = registrations_.Admit(device, records_.size(), clock_.Now());
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
  if (it != records_.end() && it->second.secret) {
    if (SecretEquals(*it->second.secret, presented)) return {};
    return Unauthorized(device, "registered on its first request");
  }
  // First contact (or a device heard before in open mode): trust it.
  if (Status s = AdmitNewDevice(device); !s) return s;
  DeviceRecord& record = records_[device];
  record.secret = std::string(presented);
  spdlog::info("registered device \"{}\" on first contact ({})", device,
               presented.empty() ? "no secret" : "with its secret");
  return {};
}

namespace {

// The writer's per-batch work on one accepted event, split out of
// ProcessBatch to keep each step small.
struct Step {
  Store& store;
  const LedgerConfig& ledger;
  DeviceState& state;
};

// Folds a late event: re-fold the device from its last idle point.
Status FoldLate(const Step& step, EventRecord& record, WriteBatch& write,
                std::vector<Session>& sessions) {
  const Event& e = record.event;
  EventKey key = KeyOf(e);
  auto idle = step.store.LastIdleSessionBefore(e.device, key);
  if (!idle) return idle.error();
  std::vector<Session> known;
  if (*idle) known.push_back(**idle);
  std::optional<EventKey> point = RefoldPoint(known, key);
  auto events = step.store.FoldableEvents(e.device, point);
  if (!events) return events.error();
  auto at = std::upper_bound(
      events->begin(), events->end(), key,
      [](const EventKey& k, const Event& x) { return k < KeyOf(x); });
  events->insert(at, e);
  Refolded refolded = Refold(step.ledger, e.device, *events);
  write.refolds.push_back({e.device, point});
  for (auto& [event_id, session_id] : refolded.event_sessions) {
    if (event_id == e.id) {
      record.session_id = session_id;
    } else {
      write.event_sessions.emplace_back(event_id, session_id);
    }
  }
  sessions = std::move(refolded.sessions);
  step.state = std::move(refolded.state);
  return {};
}

}  // namespace

void IngestWriter::ProcessBatch(std::vector<Pending>& pending) {
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

  Batch batch;
  std::set<std::string, std::less<>> dirty_records;
  auto fail = [&](const Error& error, size_t from) {
    spdlog::error("storing events failed: {}", error.message);
    Error answer = Unavailable(fmt::format(
        "storage unavailable, the event was not stored: {}", error.message));
    batch.Fail(answer);
    for (size_t i = from; i < accepted.size(); ++i) {
      if (accepted[i].done) accepted[i].done(answer);
    }
    {
      std::lock_guard lock(mu_);
      ++stats_.failed_commits;
    }
    if (auto s = ReloadState(); !s) {
      spdlog::error("reloading the ledger state failed: {}", s.error().message);
    }
  };
  // Commits what the batch holds and answers its requests.
  auto commit = [&]() -> Status {
    if (batch.empty()) return {};
    WriteBatch& write = batch.write();
    for (const std::string& device : dirty_records) {
      write.devices.push_back(records_.at(device));
    }
    dirty_records.clear();
    // Device states last: each folded device once, as it now is.
    for (const std::string& device : batch.devices()) {
      write.device_states.push_back(states_.at(device));
    }
    size_t events = batch.event_count();
    if (auto s = store_.Commit(write); !s) return s;
    {
      std::lock_guard lock(mu_);
      ++stats_.commits;
      stats_.events += static_cast<int64_t>(events);
    }
    batch.Complete();
    return {};
  };

  auto first_id = store_.AllocateEventIds(static_cast<int64_t>(accepted.size()));
  if (!first_id) return fail(first_id.error(), 0);

  for (size_t i = 0; i < accepted.size(); ++i) {
    IngestItem& item = accepted[i].item;
    EventRecord record;
    record.event = std::move(item.decoded.event);
    record.event.id = *first_id + static_cast<int64_t>(i);
    record.request = std::move(item.request);
    record.snapshot = std::move(item.decoded.snapshot);
    Event& e = record.event;
    const bool synthetic = !record.request;

    if (!synthetic && e.has_current_time) {
      bool dup = batch.HasDuplicate(e);
      if (!dup) {
        auto stored = store_.HasDuplicate(e);
        if (!stored) return fail(stored.error(), i);
        dup = *stored;
      }
      record.duplicate = dup;
    }

    if (!record.duplicate && !e.test) {
      DeviceState& state = states_[e.device];
      if (state.device.empty()) state.device = e.device;
      bool late = state.last_applied && KeyOf(e) < *state.last_applied;
      if (late) {
        // The store must see this device's earlier events of the batch.
        if (batch.Touches(e.device)) {
          if (auto s = commit(); !s) return fail(s.error(), i);
        }
        std::vector<Session> sessions;
        Step step{store_, options_.ledger, state};
        if (auto s = FoldLate(step, record, batch.write(), sessions); !s) {
          return fail(s.error(), i);
        }
        for (Session& s : sessions) batch.PutSession(std::move(s));
        std::lock_guard lock(mu_);
        ++stats_.refolds;
      } else {
        Applied applied = Apply(options_.ledger, state, e);
        record.session_id = applied.session_id;
        for (Session& s : applied.touched) batch.PutSession(std::move(s));
      }
      batch.Touch(e.device);
    }

    if (!synthetic) {
      DeviceRecord& r = records_[e.device];
      if (r.device.empty()) r.device = e.device;
      if (r.first_seen == 0) r.first_seen = e.received_at;
      r.last_received = std::max(r.last_received, e.received_at);
      dirty_records.insert(e.device);
    }
    Verdict verdict{e.id, record.duplicate, e.test};
    batch.write().events.push_back(std::move(record));
    batch.Acknowledge(std::move(accepted[i].done), verdict);
  }
  if (auto s = commit(); !s) return fail(s.error(), accepted.size());
}

Result<int> IngestWriter::SweepOnWriter() {
  if (options_.ledger.stale_after <= 0) return 0;
  TimeMs now = clock_.Now();
  std::vector<Pending> sweeps;
  for (const auto& [device, state] : states_) {
    if (!state.open) continue;
    auto record = records_.find(device);
    TimeMs last_received =
        record == records_.end() ? 0 : record->second.last_received;
    auto swept = SweepEvent(options_.ledger, state, last_received, now);
    if (!swept) continue;
    IngestItem item;
    item.decoded.event = std::move(*swept);
    sweeps.push_back({std::move(item), nullptr});
  }
  if (sweeps.empty()) return 0;
  int count = static_cast<int>(sweeps.size());
  std::optional<Error> error;
  for (Pending& p : sweeps) {
    p.done = [&error](Result<Verdict> v) {
      if (!v && !error) error = v.error();
    };
  }
  ProcessBatch(sweeps);
  if (error) return *error;
  return count;
}

}  // namespace pm

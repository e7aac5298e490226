#include "forward/forwarder.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <set>

#include "api/render.h"
#include "common/thread_name.h"
#include "forward/notice.h"
#include "maintenance/fleet.h"

namespace pm {

struct Forwarder::Worker {
  ForwardTarget target;
  std::unique_ptr<TargetConnection> connection;
  PostCanceller canceller;
  std::thread thread;

  // Owned by the worker's thread.
  bool loaded = false;            // the position is read (or set)
  std::optional<int64_t> stored;  // the position as last stored
  int64_t position = 0;
  int failures = 0;  // in a row
  TimeMs next_attempt = 0;
  std::optional<TimeMs> failing_since;
  std::chrono::steady_clock::time_point saved_at{};  // position last stored
  // maintenance_due notices: the keys delivered (read from the store once),
  // and when to look at what is due next (an interval, on the steady clock;
  // sooner once the ledger changed since the last look).
  std::optional<std::set<std::string>> notices_sent;
  std::chrono::steady_clock::time_point next_notice_check{};
  std::chrono::steady_clock::time_point last_notice_check{};
  uint64_t notice_wakes = 0;  // the forwarder's wakes at the last look

  ForwardTargetStatus status;  // guarded by Forwarder::mu_
};

namespace {

using std::chrono::milliseconds;

bool Listed(const std::vector<std::string>& list, std::string_view value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

// A kind ("done"), the topic as sent ("Print Done"), or OctoPrint's name of
// the event ("PrintDone").
bool Matches(const ForwardTarget& t, const Event& e) {
  if (!t.devices.empty() && !Listed(t.devices, e.device)) return false;
  if (t.events.empty()) return true;
  std::string joined = e.topic;
  std::erase(joined, ' ');
  return Listed(t.events, KindName(e.kind)) || Listed(t.events, e.topic) ||
         Listed(t.events, joined);
}

boost::json::value SessionSummary(const std::optional<Session>& s) {
  if (!s) return nullptr;
  boost::json::object o;
  o["id"] = s->id;
  o["status"] = StatusName(s->status);
  o["file"] = s->file.name ? boost::json::value(*s->file.name) : nullptr;
  o["user"] = s->user ? boost::json::value(*s->user) : nullptr;
  return o;
}

}  // namespace

Forwarder::Forwarder(ForwardStore& store, LedgerReader& reader,
                     ForwardOptions options, const Clock& clock)
    : store_(store), reader_(reader), options_(std::move(options)),
      clock_(clock) {}

Forwarder::~Forwarder() { Stop(); }

Status Forwarder::Start() {
  std::vector<std::string> names;
  for (const ForwardTarget& t : options_.targets) {
    if (t.name.empty()) return Invalid("a forward target needs a `name`");
    if (Listed(names, t.name)) {
      return Invalid(fmt::format("two forward targets are named `{}`; give "
                                 "each its own name",
                                 t.name));
    }
    names.push_back(t.name);
    Result<HttpUrl> url = ParseHttpUrl(t.url);
    if (!url.ok()) {
      return Invalid(fmt::format("forward target `{}`: {}", t.name,
                                 url.error().message));
    }
    if (!url->tls && !t.ca_file.empty()) {
      return Invalid(
          fmt::format("forward target `{}`: ca_file is for "
                      "https:// URLs; its URL is http://",
                      t.name));
    }
    auto w = std::make_unique<Worker>();
    w->target = t;
    w->connection = std::make_unique<TargetConnection>(*url, t.ca_file);
    if (Status s = w->connection->Init(); !s.ok()) {
      return Invalid(
          fmt::format("forward target `{}`: {}", t.name, s.error().message));
    }
    w->status.name = t.name;
    w->status.url = UrlWithoutCredentials(t.url);
    workers_.push_back(std::move(w));
  }
  for (auto& w : workers_) {
    // A new target's position is the log's end now, when the store
    // answers; else its thread sets it once the store is back.
    if (LoadPosition(*w).ok()) w->status.position = w->position;
    Worker* worker = w.get();
    w->thread = std::thread([this, worker] {
      NameThisThread("pm-forward");
      Run(*worker);
    });
  }
  return {};
}

void Forwarder::Wake() {
  {
    std::lock_guard lock(mu_);
    ++wakes_;
  }
  wake_.notify_all();
}

void Forwarder::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& w : workers_) w->canceller.Cancel();
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
}

std::vector<ForwardTargetStatus> Forwarder::Targets() const {
  std::lock_guard lock(mu_);
  std::vector<ForwardTargetStatus> out;
  for (const auto& w : workers_) out.push_back(w->status);
  return out;
}

void Forwarder::Update(Worker& w,
                       const std::function<void(ForwardTargetStatus&)>& f) {
  std::lock_guard lock(mu_);
  f(w.status);
}

void Forwarder::Wait(milliseconds d, uint64_t& seen) {
  std::unique_lock lock(mu_);
  wake_.wait_for(lock, d, [&] { return stopping_ || wakes_ != seen; });
  seen = wakes_;
}

void Forwarder::Run(Worker& w) {
  uint64_t seen = 0;
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) break;
    }
    TimeMs now = clock_.Now();
    if (now < w.next_attempt) {
      Wait(std::min(milliseconds(w.next_attempt - now),
                    options_.poll_interval),
           seen);
      continue;
    }
    auto steady = std::chrono::steady_clock::now();
    // A fold (a print's event) may have crossed an item: looked at soon.
    const bool folded = seen != w.notice_wakes &&
                        steady >= w.last_notice_check +
                                      options_.maintenance_after_fold;
    if (WantsMaintenanceNotices(w.target) && !options_.maintenance.empty() &&
        (steady >= w.next_notice_check || folded)) {
      w.notice_wakes = seen;
      w.last_notice_check = steady;
      w.next_notice_check = steady + options_.maintenance_interval;
      SendNotices(w);
      if (clock_.Now() < w.next_attempt) continue;  // the target failed
    }
    if (!Pass(w)) Wait(options_.poll_interval, seen);
  }
  // What was delivered since the position was last stored.
  if (w.loaded) SavePosition(w, w.position, true);
}

Status Forwarder::LoadPosition(Worker& w) {
  auto positions = store_.ForwardPositions();
  if (!positions.ok()) return positions.error();
  auto found = positions->find(w.target.name);
  if (found != positions->end()) {
    w.stored = w.position = found->second;
    w.loaded = true;
    return {};
  }
  // New: from the log's end, not its history.
  Result<int64_t> end = store_.LogEnd();
  if (!end.ok()) return end.error();
  Status s = store_.SaveForwardPosition(w.target.name, std::nullopt, *end);
  if (!s.ok()) return s;  // another instance set it first: read it next time
  w.stored = w.position = *end;
  w.loaded = true;
  spdlog::info("forwarding to {} starts after event {}", w.target.name, *end);
  return {};
}

void Forwarder::SavePosition(Worker& w, int64_t position, bool now) {
  w.position = position;
  Update(w, [&](ForwardTargetStatus& s) { s.position = position; });
  if (w.stored == position) return;
  auto steady = std::chrono::steady_clock::now();
  if (!now && steady - w.saved_at < std::chrono::seconds(1)) return;
  w.saved_at = steady;
  Status s = store_.SaveForwardPosition(w.target.name, w.stored, position);
  if (s.ok()) {
    w.stored = position;
    return;
  }
  if (s.error().code == ErrorCode::kConflict) {
    // Another instance moved it: go on from there (repeats are possible).
    w.loaded = false;
    return;
  }
  // Kept in memory; saved with the next one.
  spdlog::warn("forwarding to {}: cannot save its position: {}",
               w.target.name, s.error().message);
}

Result<std::optional<Delivery>> Forwarder::Build(const Worker& w,
                                                 const EventRecord& r) {
  if (w.target.body == ForwardBody::kOriginal) {
    std::string unsent;
    auto d = OriginalDelivery(r, &unsent);
    if (!d && !unsent.empty()) {
      spdlog::warn("forward {}: event {} not sent: {}", w.target.name,
                   r.event.id, unsent);
    }
    return d;
  }
  EventPageQuery q;
  q.device = r.event.device;
  q.before_id = r.event.id + 1;
  q.limit = 1;
  auto views = reader_.ListEvents(q);
  if (!views.ok()) return views.error();
  EventView view;
  if (!views->empty() && views->front().event.id == r.event.id) {
    view = std::move(views->front());
  } else {
    view.event = r.event;
    view.duplicate = r.duplicate;
  }
  std::optional<Session> session;
  if (view.session_id) {
    auto got = reader_.GetSession(*view.session_id);
    if (!got.ok()) return got.error();
    session = *got;
  }
  boost::json::object body;
  body["event"] = EventJson(view);
  body["session"] = SessionSummary(session);
  return std::optional<Delivery>(Delivery{r.event.id, r.event.device,
                                          "application/json",
                                          boost::json::serialize(body), ""});
}

void Forwarder::Failed(Worker& w, const std::string& error) {
  TimeMs now = clock_.Now();
  if (!w.failing_since) w.failing_since = now;
  ++w.failures;
  bool paused = now - *w.failing_since >= w.target.pause_after.count();
  milliseconds delay = options_.paused_retry;
  if (!paused) {
    delay = options_.first_retry;
    for (int i = 1; i < w.failures && delay < options_.max_retry; ++i) {
      delay *= 2;
    }
    delay = std::min(delay, options_.max_retry);
  }
  w.next_attempt = now + delay.count();
  if (w.failures == 1 || paused) {
    spdlog::warn("forwarding to {} failed: {}; retrying in {} ms",
                 w.target.name, error, delay.count());
  }
  Update(w, [&](ForwardTargetStatus& s) {
    ++s.failed;
    s.last_error = error;
    s.state = paused ? ForwardState::kPaused : ForwardState::kRetrying;
    s.failing_since = w.failing_since;
    s.next_attempt = w.next_attempt;
  });
}

bool Forwarder::Stopping() const {
  std::lock_guard lock(mu_);
  return stopping_;
}

bool Forwarder::Report(Worker& w, const Error& error) {
  Update(w, [&](ForwardTargetStatus& s) { s.last_error = error.message; });
  return false;
}

std::optional<int64_t> Forwarder::Limit(Worker& w) {
  Result<int64_t> end = store_.LogEnd();
  if (!end.ok()) {
    Report(w, end.error());
    return std::nullopt;
  }
  int64_t limit = *end;
  // printmeter's JSON names the event's session: only what is projected.
  if (w.target.body == ForwardBody::kPrintmeter) {
    Result<ProjectionLag> lag = reader_.Lag();
    if (!lag.ok()) {
      Report(w, lag.error());
      return std::nullopt;
    }
    limit = std::min(limit, lag->projected);
  }
  Update(w, [&](ForwardTargetStatus& s) {
    s.log_end = *end;
    if (w.position >= limit && !w.failing_since) s.state = ForwardState::kIdle;
  });
  return limit;
}

bool Forwarder::Attempt(Worker& w, const Delivery& d) {
  if (!w.failing_since) {
    Update(w, [](ForwardTargetStatus& s) {
      s.state = ForwardState::kDelivering;
    });
  }
  int64_t timestamp = FloorSeconds(clock_.Now());
  Result<int> answer =
      w.connection->Post(DeliveryHeaders(d, w.target.secret, timestamp), d.body,
                         w.target.timeout, &w.canceller);
  if (answer.ok() && *answer >= 200 && *answer < 300) {
    w.failures = 0;
    w.failing_since.reset();
    w.next_attempt = 0;
    Update(w, [](ForwardTargetStatus& s) {
      ++s.delivered;
      s.state = ForwardState::kDelivering;
      s.failing_since.reset();
      s.next_attempt.reset();
    });
    if (d.key.empty()) SavePosition(w, d.event_id, false);
    return true;
  }
  if (!Stopping()) {  // a POST cancelled by Stop() is no failure
    Failed(w, answer.ok() ? fmt::format("answered HTTP {}", *answer)
                          : answer.error().message);
  }
  return false;
}

bool Forwarder::Pass(Worker& w) {
  if (!w.loaded) {
    if (Status s = LoadPosition(w); !s.ok()) return Report(w, s.error());
    Update(w, [&](ForwardTargetStatus& s) { s.position = w.position; });
  }
  std::optional<int64_t> limit = Limit(w);
  if (!limit || w.position >= *limit) return false;
  auto page = store_.ReadRequests(w.position, options_.page_size);
  if (!page.ok()) return Report(w, page.error());
  int64_t reached = w.position;  // delivered, or not wanted
  bool failed = false;
  for (const EventRecord& r : *page) {
    if (r.event.id > *limit) break;
    if (Matches(w.target, r.event)) {
      auto delivery = Build(w, r);
      if (!delivery.ok()) Failed(w, delivery.error().message);
      failed = !delivery.ok() || (*delivery && !Attempt(w, **delivery));
      if (failed) break;
      if (!w.loaded) return true;  // another instance moved the position
    }
    reached = r.event.id;
  }
  SavePosition(w, std::max(reached, w.position), true);
  if (failed) return false;
  if (w.position >= *limit) {
    Update(w, [](ForwardTargetStatus& s) { s.state = ForwardState::kIdle; });
  }
  return static_cast<int>(page->size()) == options_.page_size;
}

void Forwarder::SendNotices(Worker& w) {
  if (!w.notices_sent) {
    auto sent = store_.ForwardNotices(w.target.name);
    if (!sent.ok()) {
      Report(w, sent.error());
      return;
    }
    w.notices_sent = std::move(*sent);
  }
  auto fleet =
      LoadFleetMaintenance(reader_, options_.maintenance, clock_.Now());
  if (!fleet.ok()) {
    Report(w, fleet.error());
    return;
  }
  std::vector<MaintenanceDue> due = DueItems(*fleet);
  for (const MaintenanceDue& d :
       NoticesToSend(due, *w.notices_sent, w.target)) {
    Delivery notice = NoticeDelivery(d);
    if (!Attempt(w, notice)) return;  // retried after the backoff
    w.notices_sent->insert(notice.key);
    Status s =
        store_.SaveForwardNotice(w.target.name, notice.key, clock_.Now());
    if (!s.ok()) {  // sent again after a restart: at least once
      spdlog::warn("forwarding to {}: cannot record notice {}: {}",
                   w.target.name, notice.key, s.error().message);
    }
    spdlog::info("forwarded {} to {}", notice.key, w.target.name);
  }
}

}  // namespace pm

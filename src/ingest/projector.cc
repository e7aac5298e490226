#include "ingest/projector.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

namespace pm {

Projector::Projector(ProjectionStore& store, LedgerReader& reader,
                     LedgerConfig config, PictureRetention pictures,
                     size_t cached_states)
    : store_(store),
      reader_(reader),
      config_(config),
      pictures_(pictures),
      cached_states_(std::max<size_t>(cached_states, 1)) {}

Status Projector::Load() {
  Result<int64_t> position = store_.ProjectedPosition();
  if (!position) return position.error();
  position_ = *position;
  states_.clear();
  return {};
}

Result<int64_t> Projector::Step(int max_events) {
  auto events = store_.ReadLog(position_, max_events);
  if (!events) return events.error();
  if (events->empty()) return 0;
  ++clock_;
  ProjectionBatch batch;
  batch.position = events->back().event.id;
  batch.from = position_;
  changed_.clear();
  Status folded = Fold(*events, batch.position, batch);
  if (folded) folded = DropPictures(*events, batch);
  if (folded) folded = store_.CommitProjection(batch);
  if (!folded) {
    // Nothing of the step is stored: what it changed in memory is
    // forgotten, and read again from the projection when needed.
    states_.clear();
    changed_.clear();
    if (folded.error().code == ErrorCode::kConflict) {
      // Another instance folded these events: the printers it folded are
      // what this step changed.
      Result<int64_t> stored = store_.ProjectedPosition();
      Status taken = stored ? TakeStoredPosition(*stored) : stored.error();
      if (!taken) {
        spdlog::error("reading the ledger's position failed: {}",
                      taken.error().message);
      }
    }
    return folded.error();
  }
  position_ = batch.position;
  std::erase_if(sweeps_in_log_,
                [this](const auto& entry) { return entry.second <= position_; });
  Evict();
  ++stats_.steps;
  stats_.events += static_cast<int64_t>(events->size());
  return static_cast<int64_t>(events->size());
}

Result<int64_t> Projector::Follow() {
  Result<int64_t> stored = store_.ProjectedPosition();
  if (!stored) return stored.error();
  changed_.clear();
  if (*stored == position_) return 0;
  const int64_t from = position_;
  if (Status s = TakeStoredPosition(*stored); !s) return s.error();
  return position_ - from;
}

Status Projector::TakeStoredPosition(int64_t stored) {
  auto folded = store_.FoldedDevices(std::min(position_, stored),
                                     std::max(position_, stored));
  if (!folded) return folded.error();
  if (stored < position_) states_.clear();  // the projection was reset
  for (const auto& [device, id] : *folded) {
    states_.erase(device);
  }
  changed_ = std::move(*folded);
  position_ = stored;
  return {};
}

Status Projector::Cache(const std::vector<std::string>& devices) {
  if (devices.empty()) return {};
  auto stored = reader_.FindDeviceStates({.devices = devices});
  if (!stored) return stored.error();
  for (DeviceState& state : *stored) {
    std::string device = state.device;
    states_.insert_or_assign(std::move(device),
                             Cached{std::move(state), clock_});
  }
  for (const std::string& device : devices) {
    if (states_.contains(device)) continue;
    Cached fresh;  // no state stored: a new printer, idle
    fresh.state.device = device;
    fresh.used = clock_;
    states_.emplace(device, std::move(fresh));
  }
  return {};
}

void Projector::Evict() {
  if (states_.size() <= cached_states_) return;
  std::vector<std::pair<int64_t, std::string_view>> by_use;
  by_use.reserve(states_.size());
  for (const auto& [device, cached] : states_) {
    by_use.emplace_back(cached.used, device);
  }
  auto cut = by_use.begin() +
             static_cast<std::ptrdiff_t>(states_.size() - cached_states_);
  std::nth_element(by_use.begin(), cut, by_use.end());
  std::vector<std::string> gone;
  gone.reserve(static_cast<size_t>(cut - by_use.begin()));
  for (auto it = by_use.begin(); it != cut; ++it) gone.emplace_back(it->second);
  for (const std::string& device : gone) states_.erase(device);
}

// One step over `events` (id order): each device's foldable events are
// applied in key order when none is late, or the device is re-folded once
// from before its earliest late event. Either way the device ends as the
// in-order fold of its log up to `up_to` (ledger.md section 4).
Status Projector::Fold(const std::vector<LoggedEvent>& events, int64_t up_to,
                       ProjectionBatch& batch) {
  std::map<std::string, std::vector<const Event*>, std::less<>> by_device;
  std::map<std::string, TimeMs, std::less<>> received;
  for (const LoggedEvent& logged : events) {
    const Event& e = logged.event;
    if (logged.request) {
      TimeMs& last = received[e.device];
      last = std::max(last, e.received_at);
    }
    if (logged.duplicate || e.test) continue;
    by_device[e.device].push_back(&e);
    changed_[e.device] = e.id;
  }
  std::vector<std::string> missing;
  for (const auto& [device, device_events] : by_device) {
    if (!states_.contains(device)) missing.push_back(device);
  }
  if (Status s = Cache(missing); !s) return s;
  std::map<int64_t, Session> sessions;  // upserts, the latest version by id
  for (auto& [device, device_events] : by_device) {
    Cached& cached = states_.find(device)->second;
    cached.used = clock_;
    DeviceState& state = cached.state;
    std::optional<EventKey> earliest_late;
    for (const Event* e : device_events) {
      EventKey key = KeyOf(*e);
      if (state.last_applied && key < *state.last_applied &&
          (!earliest_late || key < *earliest_late)) {
        earliest_late = key;
      }
    }
    if (earliest_late) {
      if (Status s = RefoldDevice(device, *earliest_late, up_to, batch,
                                  sessions);
          !s) {
        return s;
      }
    } else {
      std::stable_sort(device_events.begin(), device_events.end(),
                       [](const Event* a, const Event* b) {
                         return KeyOf(*a) < KeyOf(*b);
                       });
      for (const Event* e : device_events) {
        Applied applied = Apply(config_, state, *e);
        if (applied.session_id) {
          batch.event_sessions.emplace_back(e->id, applied.session_id);
        }
        for (Session& s : applied.touched) sessions[s.id] = std::move(s);
      }
    }
    batch.device_states.push_back(states_.find(device)->second.state);
  }
  for (auto& [id, session] : sessions) batch.sessions.push_back(std::move(session));
  for (auto& [device, time] : received) batch.last_received.emplace_back(device, time);
  return {};
}

// The step's new pictures, with the kept ones they may make redundant, go
// through the retention rule; each picture's session is the one the step
// links it to, else the stored one.
Status Projector::DropPictures(const std::vector<LoggedEvent>& events,
                               ProjectionBatch& batch) {
  if (pictures_ == PictureRetention::kAll) return {};
  std::map<std::string, std::vector<KeptPicture>, std::less<>> fresh;
  for (const LoggedEvent& logged : events) {
    if (!logged.picture) continue;
    const Event& e = logged.event;
    fresh[e.device].push_back({e.id, std::nullopt, KeyOf(e)});
  }
  if (fresh.empty()) return {};
  std::map<int64_t, std::optional<int64_t>> links;
  for (const auto& [event_id, session_id] : batch.event_sessions) {
    links[event_id] = session_id;  // the last link wins, as in the commit
  }
  for (auto& [device, pictures] : fresh) {
    std::vector<int64_t> sessions;
    for (const Session& s : batch.sessions) {
      if (s.device == device) sessions.push_back(s.id);
    }
    auto kept = store_.KeptPictures(device, sessions, position_);
    if (!kept) return kept.error();
    pictures.insert(pictures.end(), kept->begin(), kept->end());
    for (KeptPicture& p : pictures) {
      if (auto link = links.find(p.event_id); link != links.end()) {
        p.session_id = link->second;
      }
    }
    for (int64_t id : PicturesToDrop(pictures_, pictures)) {
      batch.dropped_pictures.push_back(id);
    }
  }
  return {};
}

Status Projector::RefoldDevice(const std::string& device,
                               EventKey earliest_late, int64_t up_to,
                               ProjectionBatch& batch,
                               std::map<int64_t, Session>& sessions) {
  auto idle = store_.LastIdleSessionBefore(device, earliest_late);
  if (!idle) return idle.error();
  std::vector<Session> known;
  if (*idle) known.push_back(**idle);
  std::optional<EventKey> point = RefoldPoint(known, earliest_late);
  auto events = store_.FoldableEvents(device, point, up_to);
  if (!events) return events.error();
  auto stored = store_.StoredLinks(device, point, up_to);
  if (!stored) return stored.error();
  Refolded refolded = Refold(config_, device, *events);
  batch.refolds.push_back({device, point});
  for (Session& s : refolded.sessions) sessions[s.id] = std::move(s);
  // Only the links the re-fold changed are written: a late event in a long
  // print moves few events to another session, and rewriting them all made
  // the commit (which holds the database's one write lock on SQLite) grow
  // with the print.
  for (auto& [event_id, session_id] : refolded.event_sessions) {
    auto was = stored->find(event_id);
    bool same = session_id ? (was != stored->end() && was->second == *session_id)
                           : was == stored->end();
    if (!same) batch.event_sessions.emplace_back(event_id, session_id);
  }
  states_.insert_or_assign(device, Cached{std::move(refolded.state), clock_});
  ++stats_.refolds;
  return {};
}

Result<std::vector<Event>> Projector::StaleSweeps(TimeMs now) {
  std::vector<Event> sweeps;
  if (config_.stale_after <= 0) return sweeps;
  // The projection stores what is in memory (each step commits all it
  // folds): it picks the open prints that went quiet.
  const TimeMs quiet_since = now - config_.stale_after;
  auto quiet = reader_.FindDeviceStates({.open_and_quiet_since = quiet_since});
  if (!quiet) return quiet.error();
  for (const DeviceState& state : *quiet) {
    if (sweeps_in_log_.contains(state.device)) continue;
    // Its latest request came at quiet_since or before (the query's rule).
    if (auto swept = SweepEvent(config_, state, quiet_since, now)) {
      sweeps.push_back(std::move(*swept));
    }
  }
  return sweeps;
}

void Projector::MarkSweepLogged(const std::string& device, int64_t event_id) {
  sweeps_in_log_[device] = event_id;
}

}  // namespace pm

#include "ingest/projector.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

namespace pm {

Projector::Projector(ProjectionStore& store, LedgerReader& reader,
                     LedgerConfig config, PictureRetention pictures)
    : store_(store), reader_(reader), config_(config), pictures_(pictures) {}

Status Projector::Load() {
  Result<int64_t> position = store_.ProjectedPosition();
  if (!position) return position.error();
  auto states = reader_.LoadDeviceStates();
  if (!states) return states.error();
  auto devices = reader_.LoadDevices();
  if (!devices) return devices.error();
  position_ = *position;
  states_.clear();
  last_received_.clear();
  for (DeviceState& s : *states) {
    std::string device = s.device;
    states_.emplace(std::move(device), std::move(s));
  }
  for (const DeviceRecord& d : *devices) {
    last_received_[d.device] = d.last_received;
  }
  return {};
}

Result<int64_t> Projector::Step(int max_events) {
  auto events = store_.ReadLog(position_, max_events);
  if (!events) return events.error();
  if (events->empty()) return 0;
  ProjectionBatch batch;
  batch.position = events->back().event.id;
  batch.from = position_;
  changed_.clear();
  // The states this step changes, as they were (nullopt: a new printer), so
  // that a failed step can tell what another instance changed without a
  // copy of every printer's state per step.
  Undo undo;
  Status folded = Fold(*events, batch.position, batch, undo);
  if (folded) folded = DropPictures(*events, batch);
  if (folded) folded = store_.CommitProjection(batch);
  if (!folded) {
    for (auto& [device, old] : undo) {
      if (old) {
        states_[device] = std::move(*old);
      } else {
        states_.erase(device);
      }
    }
    auto before = std::move(states_);
    states_.clear();
    // Nothing of the step is stored: start again from what is.
    if (Status s = Load(); !s) {
      states_ = std::move(before);
      spdlog::error("reloading the ledger's state failed: {}",
                    s.error().message);
    } else if (folded.error().code == ErrorCode::kConflict) {
      // Another instance folded these events: the printers whose state it
      // changed are what this step changed.
      ChangedSince(before);
    }
    return folded.error();
  }
  position_ = batch.position;
  std::erase_if(sweeps_in_log_,
                [this](const auto& entry) { return entry.second <= position_; });
  ++stats_.steps;
  stats_.events += static_cast<int64_t>(events->size());
  return static_cast<int64_t>(events->size());
}

Result<int64_t> Projector::Follow() {
  Result<int64_t> stored = store_.ProjectedPosition();
  if (!stored) return stored.error();
  if (*stored == position_) {
    changed_.clear();
    return 0;
  }
  auto before = std::move(states_);
  states_.clear();
  const int64_t from = position_;
  if (Status s = Load(); !s) {
    states_ = std::move(before);
    return s.error();
  }
  ChangedSince(before);
  return position_ - from;
}

void Projector::ChangedSince(
    const std::map<std::string, DeviceState, std::less<>>& before) {
  changed_.clear();
  for (const auto& [device, state] : states_) {
    auto old = before.find(device);
    if (old == before.end() || !(old->second == state)) {
      changed_[device] = state.last_applied ? state.last_applied->id : 0;
    }
  }
}

// One step over `events` (id order): each device's foldable events are
// applied in key order when none is late, or the device is re-folded once
// from before its earliest late event. Either way the device ends as the
// in-order fold of its log up to `up_to` (ledger.md section 4).
Status Projector::Fold(const std::vector<LoggedEvent>& events, int64_t up_to,
                       ProjectionBatch& batch, Undo& undo) {
  std::map<std::string, std::vector<const Event*>, std::less<>> by_device;
  std::map<std::string, TimeMs, std::less<>> received;
  for (const LoggedEvent& logged : events) {
    const Event& e = logged.event;
    if (logged.request) {
      TimeMs& last = last_received_[e.device];
      last = std::max(last, e.received_at);
      received[e.device] = last;
    }
    if (logged.duplicate || e.test) continue;
    by_device[e.device].push_back(&e);
    changed_[e.device] = e.id;
  }
  std::map<int64_t, Session> sessions;  // upserts, the latest version by id
  for (auto& [device, device_events] : by_device) {
    if (auto it = states_.find(device); it != states_.end()) {
      undo.emplace(device, it->second);
    } else {
      undo.emplace(device, std::nullopt);
    }
    DeviceState& state = states_[device];
    if (state.device.empty()) state.device = device;
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
    batch.device_states.push_back(state);
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
  states_[device] = std::move(refolded.state);
  ++stats_.refolds;
  return {};
}

std::vector<Event> Projector::StaleSweeps(TimeMs now) {
  std::vector<Event> sweeps;
  for (const auto& [device, state] : states_) {
    if (!state.open || sweeps_in_log_.count(device)) continue;
    auto received = last_received_.find(device);
    TimeMs last = received == last_received_.end() ? 0 : received->second;
    if (auto swept = SweepEvent(config_, state, last, now)) {
      sweeps.push_back(std::move(*swept));
    }
  }
  return sweeps;
}

void Projector::MarkSweepLogged(const std::string& device, int64_t event_id) {
  sweeps_in_log_[device] = event_id;
}

}  // namespace pm

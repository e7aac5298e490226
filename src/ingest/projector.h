// Projector: folds the request log into the ledger (sessions, device states,
// event -> session links), behind the log (ledger.md section 2: the log is
// the truth; the ledger is a projection of it).
//
// Each Step() reads the events logged after the stored position, folds them
// and commits what changed together with the new position, in one
// transaction: a crash at any point leaves the projection at a position it
// reached, and the next Step() resumes exactly there. Events of a device
// that arrive late (a key below what the device already folded) are folded
// in batches: one re-fold per device per step, from the device's last idle
// point before the earliest late event (ledger/fold.h, RefoldPoint), over
// the device's events up to the step's last id.
//
// It keeps in memory the states of the printers it folded most recently,
// up to `cached_states` of them (a farm's every printer, or a makerspace's,
// but not every printer a database ever saw); another printer's state is
// read from the projection when its next events come, and the stale sweep
// asks the projection which open prints went quiet. What is in memory is
// always what the projection stores: a step that fails forgets them all.
//
// Not thread-safe: the ingest writer's projector thread owns it (writer.h).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "ingest/retention.h"
#include "ledger/fold.h"
#include "store/store.h"

namespace pm {

struct ProjectorStats {
  int64_t steps = 0;    // projection commits
  int64_t events = 0;   // log events folded (duplicates and tests included)
  int64_t refolds = 0;  // devices re-folded for late events
};

class Projector {
 public:
  // `store` (the projection's face; device states and records are read
  // through `reader`) must outlive the projector. Each step lets go of the
  // pictures `pictures` does not keep (retention.h), in its commit.
  static constexpr size_t kCachedStates = 1024;
  Projector(ProjectionStore& store, LedgerReader& reader, LedgerConfig config,
            PictureRetention pictures = PictureRetention::kPrints,
            size_t cached_states = kCachedStates);

  // Reads the stored position (the device states are read as needed).
  Status Load();

  // Folds up to `max_events` logged events after the position and commits
  // them with the new position. Returns how many events it folded (0: the
  // projection is at the end of the log). On an error nothing of the step
  // is kept (the in-memory state is reloaded from the store).
  Result<int64_t> Step(int max_events);

  // For an instance that does not lead the projection (another instance on
  // the same database folds it, ProjectionStore::LeadProjection): takes the
  // stored position and returns how many log ids the stored projection
  // moved on since; changed() then names the devices with events folded
  // meanwhile (their states are read again when needed).
  Result<int64_t> Follow();

  // The synthetic `swept` events (ledger.md section 5) for devices whose
  // open session has gone stale by `now`, as the projection stands. Each is
  // asked for once: a device is not swept again until the projection has
  // passed the sweep's id (MarkSweepLogged).
  Result<std::vector<Event>> StaleSweeps(TimeMs now);
  void MarkSweepLogged(const std::string& device, int64_t event_id);

  int64_t position() const { return position_; }
  const ProjectorStats& stats() const { return stats_; }
  // The devices whose ledger the last successful Step() changed, each with
  // the id of its latest event folded then; after a Step() that found the
  // events folded by another instance (kConflict), the devices with events
  // that instance folded.
  const std::map<std::string, int64_t, std::less<>>& changed() const {
    return changed_;
  }
  // How many printers' states are in memory now (at most cached_states
  // after a step, more during one that folds more printers).
  size_t cached_states() const { return states_.size(); }

 private:
  struct Cached {
    DeviceState state;
    int64_t used = 0;  // the step that last folded it
  };
  Status Fold(const std::vector<LoggedEvent>& events, int64_t up_to,
              ProjectionBatch& batch);
  // Reads the states of `devices` not in memory from the projection (a
  // printer it has none of starts idle).
  Status Cache(const std::vector<std::string>& devices);
  // Takes the stored position after another instance folded up to it:
  // changed_ names the printers it folded, whose states are forgotten.
  Status TakeStoredPosition(int64_t stored);
  // Forgets the least recently folded states beyond cached_states_.
  void Evict();
  Status DropPictures(const std::vector<LoggedEvent>& events,
                      ProjectionBatch& batch);
  Status RefoldDevice(const std::string& device, EventKey earliest_late,
                      int64_t up_to, ProjectionBatch& batch,
                      std::map<int64_t, Session>& sessions);

  ProjectionStore& store_;
  LedgerReader& reader_;
  const LedgerConfig config_;
  const PictureRetention pictures_;
  const size_t cached_states_;
  int64_t position_ = 0;
  int64_t clock_ = 0;  // counts steps, for the least recently folded
  std::map<std::string, Cached, std::less<>> states_;
  std::map<std::string, int64_t, std::less<>> sweeps_in_log_;  // device -> id
  ProjectorStats stats_;
  std::map<std::string, int64_t, std::less<>> changed_;  // by the last Step
};

}  // namespace pm

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
// Not thread-safe: the ingest writer's thread owns it (writer.h), so that
// folding never competes with a request for the database's one writer.
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
  Projector(ProjectionStore& store, LedgerReader& reader, LedgerConfig config,
            PictureRetention pictures = PictureRetention::kPrints);

  // Reads the stored position, device states and last receive times.
  Status Load();

  // Folds up to `max_events` logged events after the position and commits
  // them with the new position. Returns how many events it folded (0: the
  // projection is at the end of the log). On an error nothing of the step
  // is kept (the in-memory state is reloaded from the store).
  Result<int64_t> Step(int max_events);

  // For an instance that does not lead the projection (another instance on
  // the same database folds it, ProjectionStore::LeadProjection): reloads
  // the stored position and device states and returns how many log ids the
  // stored projection moved on since; changed() then names the devices
  // whose state changed.
  Result<int64_t> Follow();

  // The synthetic `swept` events (ledger.md section 5) for devices whose
  // open session has gone stale by `now`, as the projection stands. Each is
  // asked for once: a device is not swept again until the projection has
  // passed the sweep's id (MarkSweepLogged).
  std::vector<Event> StaleSweeps(TimeMs now);
  void MarkSweepLogged(const std::string& device, int64_t event_id);

  int64_t position() const { return position_; }
  const ProjectorStats& stats() const { return stats_; }
  // The devices whose ledger the last successful Step() changed, each with
  // the id of its latest event folded then; after a Step() that found the
  // events folded by another instance (kConflict), the devices whose state
  // that changed.
  const std::map<std::string, int64_t, std::less<>>& changed() const {
    return changed_;
  }

 private:
  // Each printer's state before the step changed it (nullopt: new).
  using Undo =
      std::map<std::string, std::optional<DeviceState>, std::less<>>;
  Status Fold(const std::vector<LoggedEvent>& events, int64_t up_to,
              ProjectionBatch& batch, Undo& undo);
  // Sets changed_ to the devices whose state differs from `before`.
  void ChangedSince(
      const std::map<std::string, DeviceState, std::less<>>& before);
  Status DropPictures(const std::vector<LoggedEvent>& events,
                      ProjectionBatch& batch);
  Status RefoldDevice(const std::string& device, EventKey earliest_late,
                      int64_t up_to, ProjectionBatch& batch,
                      std::map<int64_t, Session>& sessions);

  ProjectionStore& store_;
  LedgerReader& reader_;
  const LedgerConfig config_;
  const PictureRetention pictures_;
  int64_t position_ = 0;
  std::map<std::string, DeviceState, std::less<>> states_;
  std::map<std::string, TimeMs, std::less<>> last_received_;
  std::map<std::string, int64_t, std::less<>> sweeps_in_log_;  // device -> id
  ProjectorStats stats_;
  std::map<std::string, int64_t, std::less<>> changed_;  // by the last Step
};

}  // namespace pm

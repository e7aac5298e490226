// The ingest writer's options (writer.h), owned here and filled in by the
// shell (cli/) from the configuration, as leveldb's Options are by its
// caller.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "common/time.h"
#include "ingest/registration_limit.h"
#include "ingest/retention.h"
#include "ledger/fold.h"

namespace pm {

// Who may send webhooks (README "Authentication").
enum class AuthMode {
  kOpen,    // any printer, any secret
  kTofu,    // a new printer on first contact, then only its first secret
  kStrict,  // only configured printers, with their secret
};

// The writer's options; the shell (cli/) fills them from the configuration.
struct IngestOptions {
  AuthMode auth = AuthMode::kTofu;
  // Devices from the config file: id -> secret (nullopt: none configured).
  // Configured secrets win over registered (tofu) ones; in strict mode only
  // these devices are accepted.
  std::map<std::string, std::optional<std::string>, std::less<>> devices;
  LedgerConfig ledger;
  TimeMs sweep_interval = kMinuteMs;  // 0: only Sweep() sweeps
  size_t max_batch = 1024;            // requests per append at most
  // New devices in tofu and open mode (configured ones are never limited).
  RegistrationLimits registrations;
  // How long the ledger may trail the log before the writer folds, even
  // while requests keep coming; and how many events may wait at most. On
  // SQLite the events waiting are also held in memory until the projector
  // moves them from the append journal: 2,048 took the peak under 32
  // connections of new printers (13 k requests/s) to 33 MB, 1,024 to 29 MB
  // at the same rate.
  TimeMs projection_delay = 100;
  int64_t projection_backlog = 1024;
  int projection_step = 4096;  // events folded per projection commit
  // How many printers' registrations (secret, first contact) the writer
  // keeps in memory, the most recently heard from; the others' are read
  // from the database when they are heard from again.
  size_t cached_devices = 4096;
  // With other instances appending to the same database (PostgreSQL), how
  // often an idle writer looks for their events, so that its ledger and its
  // live dashboards follow the shared log (0: never; one SQLite writer is
  // alone).
  TimeMs follow_interval = 0;
  // Which pictures are kept as the projection folds (README "Pictures").
  PictureRetention pictures = PictureRetention::kPrints;
};

}  // namespace pm

// What forwarding needs to know: the targets and its intervals. Owned here,
// filled in by the shell (cli/options.cc) from `[[forward]]` tables.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "maintenance/maintenance.h"

namespace pm {

// What a target receives as the body of each delivery.
enum class ForwardBody {
  kOriginal,    // the request as received, with its Content-Type
  kPrintmeter,  // printmeter's JSON of the event and its session
};

struct ForwardTarget {
  std::string name;  // unique; names the stored position
  std::string url;   // http[s]://host[:port]/path
  // For https: a PEM file of the CAs to trust in place of the system's
  // (a receiver with its own CA or a self-signed certificate); "": none.
  std::string ca_file;
  // Events to deliver: a kind ("done"), a topic as sent ("Print Done"),
  // OctoPrint's event name ("PrintDone") or "maintenance_due" (notice.h).
  // Empty: every event, maintenance_due included.
  std::vector<std::string> events;
  std::vector<std::string> devices;  // empty: every printer
  ForwardBody body = ForwardBody::kOriginal;
  std::string secret;  // HMAC-SHA256 key; empty: deliveries are not signed
  std::chrono::milliseconds timeout{10'000};        // per delivery
  std::chrono::milliseconds pause_after{3'600'000};  // failing this long
};

struct ForwardOptions {
  std::vector<ForwardTarget> targets;
  // Backoff after a failure: `first_retry`, doubling up to `max_retry`; a
  // paused target is tried every `paused_retry`.
  std::chrono::milliseconds first_retry{1'000};
  std::chrono::milliseconds max_retry{300'000};
  std::chrono::milliseconds paused_retry{300'000};
  // How often the log's end is looked at when nothing woke the forwarder.
  std::chrono::milliseconds poll_interval{1'000};
  int page_size = 64;  // events read from the log at a time
  // The configured maintenance items, for maintenance_due notices; how
  // often a target that wants them looks at what is due, and how soon
  // after the last look once the ledger changed (the projector's commits
  // wake the forwarder).
  MaintenanceOptions maintenance;
  std::chrono::milliseconds maintenance_interval{10'000};
  std::chrono::milliseconds maintenance_after_fold{1'000};
};

}  // namespace pm

// The fold: a device's events, in order, -> its sessions (ledger.md s. 3-5).
//
// Pure: no I/O, no clock. The caller (the ingest writer) owns one DeviceState
// per device, feeds it events in (time, id) order with Apply(), and persists
// what Apply reports as touched. A late event (key below the last applied)
// is handled by re-folding from RefoldPoint(): see Refold().
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "decode/event.h"
#include "ledger/session.h"

namespace pm {

struct LedgerConfig {
  TimeMs stale_after = 48 * kHourMs;  // 0 = never sweep
  TimeMs start_spam_window = 120 * kSecondMs;
};

// Everything the fold remembers about one printer.
struct DeviceState {
  std::string device;
  PrinterState state = PrinterState::kIdle;
  std::optional<Session> open;           // present iff state != kIdle
  bool needs_attention = false;          // an `attention` was its last event
  std::optional<EventKey> last_applied;  // key of the latest applied event
  std::string last_topic;                // topic of that event
  // The error text (extra.error) its latest event carried, e.g. an `error`
  // or a `failed` with reason error; cleared by the next event without one.
  // Like last_topic and needs_attention it depends on the latest event only,
  // so a re-fold from an idle point reproduces it exactly. The synthetic
  // `swept` leaves last_topic and last_error as they were (the printer did
  // not say it) but ends needs_attention.
  std::optional<std::string> last_error;

  bool operator==(const DeviceState&) const = default;
};

// What applying one event did.
struct Applied {
  // Sessions whose stored form changed, as they now are (a closed one and the
  // newly opened one, for a restart).
  std::vector<Session> touched;
  // The session the event belongs to, if any (for a restart: the new one).
  std::optional<int64_t> session_id;
};

// Applies `e` (not a duplicate, not a test; KeyOf(e) > state.last_applied)
// per the fold table. O(1) in the device's history. Where the spec is
// silent (each has a test in fold_test.cc):
// - an ignored start spam still counts as an event of the open session:
//   it sets last_event_at (evidence the print runs), event_count, fills
//   missing fields, and is assigned to the session;
// - a session keeps the first error text it hears of (the cause);
// - a `swept` that closes a session is assigned to it and counted in its
//   event_count, but does not set last_event_at (it is no evidence);
// - "flags say printing and not paused" resumes a paused session for
//   progress, attention, error and other events (started, done, failed and
//   swept have their own rows; a `paused` event stays paused).
Applied Apply(const LedgerConfig& config, DeviceState& state, const Event& e);

// True when e is a duplicate of `earlier` (ledger.md section 3, literally):
// both carry currentTime, same device, kind, time, file.path (or both none)
// and reported_time_s (or both none). Whether either is a test event does
// not matter, as in the store's HasDuplicate.
bool IsDuplicateOf(const Event& e, const Event& earlier);
// What the rule compares besides the device and the time (`rebuild` keeps
// these for every event instead of the whole event): two events with
// currentTime, of one device and time, are duplicates when these are equal.
struct DuplicateFields {
  Kind kind = Kind::kOther;
  std::optional<std::string> file_path;
  std::optional<double> reported_time_s;
  bool operator==(const DuplicateFields&) const = default;
};
DuplicateFields DuplicateFieldsOf(const Event& e);

// For a late event with key `late`: the key after which the device was last
// idle before `late` (the closing event of the latest session with
// idle_after and closed_by < late), or nullopt to re-fold from the device's
// first event. `sessions` are the device's sessions in any order.
std::optional<EventKey> RefoldPoint(std::span<const Session> sessions,
                                    EventKey late);

// Re-folds a device from idle over `events` (its foldable events with key
// after the refold point, sorted by key, the late one included). Returns the
// sessions those events produce and, per event, the session it belongs to.
struct Refolded {
  DeviceState state;
  std::vector<Session> sessions;  // every session opened by these events
  std::vector<std::pair<int64_t, std::optional<int64_t>>> event_sessions;
};
Refolded Refold(const LedgerConfig& config, const std::string& device,
                std::span<const Event> events);

// The synthetic `swept` event for a device whose open session went stale, or
// nullopt when it has not: its open session's last event is at least
// stale_after before `now` and no request came from the device in that span
// (`last_received` is the receive time of its latest request, any request:
// test events and duplicates included). stale_after 0 = never.
std::optional<Event> SweepEvent(const LedgerConfig& config,
                                const DeviceState& state, TimeMs last_received,
                                TimeMs now);

}  // namespace pm

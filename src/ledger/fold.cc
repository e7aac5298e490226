// The fold table of ledger.md section 5, one row per entry of kRows below.
//
// Each event is matched against kRows in order: the first row whose state,
// kind and guard match runs its effect. Effects are small functions named
// after the spec's rows; they share a few verbs (Open, Touch, Close, ...).
#include "ledger/fold.h"

#include <strings.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace pm {
namespace {

// Longer than any print (about 31 years): a larger duration is treated as
// unknown rather than letting it push a time out of range.
constexpr double kMaxSeconds = 1e9;

// A duration the plugin reported in seconds, as milliseconds; nullopt when
// missing or not a sane duration (negative, NaN, absurdly large).
std::optional<TimeMs> SecondsMs(std::optional<double> seconds) {
  if (!seconds || !std::isfinite(*seconds) || *seconds < 0 ||
      *seconds > kMaxSeconds) {
    return std::nullopt;
  }
  return std::llround(*seconds * 1000.0);
}

std::optional<double> Finite(std::optional<double> v) {
  if (v && std::isfinite(*v)) return v;
  return std::nullopt;
}

template <typename T>
void Fill(std::optional<T>& field, const std::optional<T>& value) {
  if (!field && value) field = value;
}

TimeMs ClosedPausesMs(const Session& s) {
  TimeMs sum = 0;
  for (const Interval& p : s.pauses) sum += p.end - p.begin;
  return sum;
}

// One event being applied to one device, and what it did.
struct Step {
  Step(const LedgerConfig& c, DeviceState& s, const Event& ev)
      : config(c), state(s), e(ev) {}

  const LedgerConfig& config;
  DeviceState& state;
  const Event& e;
  std::optional<Session> closed;      // the session this event closed, if any
  bool open_touched = false;          // the open session changed (or opened)
  std::optional<int64_t> session_id;  // the session the event belongs to
};

// ---- The verbs the rows are made of ----

// Opens a session (bare: the event is applied to it by Touch or a row).
// Its id and opened_by are the opening event's, even for an inferred start.
void Open(Step& step, TimeMs started_at, bool start_inferred) {
  Session s;
  s.id = step.e.id;
  s.device = step.state.device;
  s.status = SessionStatus::kPrinting;
  s.started_at = started_at;
  s.last_event_at = started_at;
  s.start_inferred = start_inferred;
  s.opened_by = KeyOf(step.e);
  step.state.open = std::move(s);
  step.state.state = PrinterState::kPrinting;
  step.open_touched = true;
  step.session_id = step.e.id;
}

// "Every event applied to an open session sets its last_event_at, replaces
// progress_pct and reported_time_s when it has them, and fills fields the
// session does not have yet (file fields, user, estimate, filament)."
// The error text is filled the same way: the first error a session hears of
// is kept (it is the cause; later ones are usually its consequences).
void Touch(Step& step) {
  Session& s = *step.state.open;
  const Event& e = step.e;
  s.last_event_at = e.time;
  if (auto p = Finite(e.progress_pct)) s.progress_pct = p;
  if (auto r = Finite(e.reported_time_s)) s.reported_time_s = r;
  if (auto left = Finite(e.print_time_left_s); left && *left >= 0) {
    s.time_left_s = left;
    s.time_left_at = e.time;
  }
  Fill(s.file.name, e.file.name);
  Fill(s.file.path, e.file.path);
  Fill(s.file.display, e.file.display);
  Fill(s.file.origin, e.file.origin);
  Fill(s.file.size, e.file.size);
  Fill(s.user, e.user);
  Fill(s.estimated_s, Finite(e.estimated_s));
  Fill(s.job_filament_mm, Finite(e.filament_mm));
  Fill(s.job_filament_cm3, Finite(e.filament_cm3));
  Fill(s.error, e.error);
  s.event_count++;
  s.snapshot = e.snapshot;
  step.open_touched = true;
  step.session_id = s.id;
}

// Closes the open session; a pause still going on ends with it.
void Close(Step& step, SessionStatus status, TimeMs ended_at, bool end_inferred,
           bool idle_after) {
  Session& s = *step.state.open;
  if (s.pause_started_at) {
    s.pauses.push_back(
        {*s.pause_started_at, std::max(ended_at, *s.pause_started_at)});
    s.pause_started_at.reset();
  }
  s.status = status;
  s.ended_at = ended_at;
  s.end_inferred = end_inferred;
  s.closed_by = KeyOf(step.e);
  s.idle_after = idle_after;
  step.closed = std::move(s);
  step.state.open.reset();
  step.state.state = PrinterState::kIdle;
  step.open_touched = false;
}

// Rule I: ended_at = max(last_event_at, min(t_next, started_at + estimated_s
// + paused_s)), or last_event_at without an estimate. paused_s is the pauses
// closed so far: a pause still going on ends at ended_at (Close adds it), so
// none of the estimated remainder is counted as print time.
TimeMs RuleIEnd(const Session& s, TimeMs t_next) {
  std::optional<TimeMs> estimate = SecondsMs(s.estimated_s);
  if (!estimate) return s.last_event_at;
  TimeMs expected = s.started_at + *estimate + ClosedPausesMs(s);
  return std::max(s.last_event_at, std::min(t_next, expected));
}

void CloseInterrupted(Step& step, TimeMs t_next, bool idle_after) {
  TimeMs ended_at = RuleIEnd(*step.state.open, t_next);
  Close(step, SessionStatus::kInterrupted, ended_at, /*end_inferred=*/true,
        idle_after);
}

void EndPause(Step& step) {
  Session& s = *step.state.open;
  if (s.pause_started_at) {
    s.pauses.push_back({*s.pause_started_at, step.e.time});
    s.pause_started_at.reset();
  }
  s.status = SessionStatus::kPrinting;
  step.state.state = PrinterState::kPrinting;
}

void Dispatch(Step& step);

// ---- Guards ----

// "started for the open session's file.path or file.name, within 120 s
// (inclusive) of its started_at".
bool IsStartSpam(const Step& step) {
  const Session& s = *step.state.open;
  const FileInfo& f = step.e.file;
  bool same_file = (f.path && s.file.path && *f.path == *s.file.path) ||
                   (f.name && s.file.name && *f.name == *s.file.name);
  return same_file &&
         step.e.time - s.started_at <= step.config.start_spam_window;
}

// "any event whose flags say printing and not paused".
bool FlagsSayPrinting(const Step& step) {
  return step.e.printing == true && step.e.paused != true;
}

// The swept row's condition: last_event_at <= t - stale_after.
bool IsStale(const Step& step) {
  return step.state.open->last_event_at <=
         step.e.time - step.config.stale_after;
}

// ---- The rows ----

// idle | started: open a session at t.
void IdleStartedOpensSession(Step& step) {
  Open(step, step.e.time, /*start_inferred=*/false);
  Touch(step);
}

// idle | done, failed: the start was missed; started_at = t -
// reported_time_s (t when unknown), then close it as below.
void IdleEndOpensInferredSession(Step& step) {
  TimeMs printed = SecondsMs(step.e.reported_time_s).value_or(0);
  Open(step, step.e.time - printed, /*start_inferred=*/true);
  Dispatch(step);  // now printing: the done / failed row closes it
}

// idle | paused, resumed, progress: the start was missed; open at t -
// print_time_s (t when unknown), then apply the event.
void IdleProgressOpensInferredSession(Step& step) {
  TimeMs printed = SecondsMs(step.e.print_time_s).value_or(0);
  Open(step, step.e.time - printed, /*start_inferred=*/true);
  Dispatch(step);  // now printing: the event's own row applies it
}

// idle | attention, error, other (and a swept that found nothing open).
void NoSession(Step&) {}

// printing | started, same file within 120 s: the plugin's start spam. It
// opens nothing, but it is evidence the print is running, so it counts as
// an event of the open session (last_event_at, event_count, its fields).
void IgnoreStartSpam(Step& step) { Touch(step); }

// printing | any other started: close as interrupted (rule I, t_next = t),
// open a new session at t.
void InterruptAndOpen(Step& step) {
  CloseInterrupted(step, step.e.time, /*idle_after=*/false);
  IdleStartedOpensSession(step);
}

// paused | started: close as restarted at t (end observed), open a new one.
void RestartAndOpen(Step& step) {
  Close(step, SessionStatus::kRestarted, step.e.time, /*end_inferred=*/false,
        /*idle_after=*/false);
  IdleStartedOpensSession(step);
}

// printing, paused | done: completed at t.
void CloseCompleted(Step& step) {
  Touch(step);
  Close(step, SessionStatus::kCompleted, step.e.time, false, true);
}

// printing, paused | failed: cancelled (reason cancelled) or failed at t,
// keeping the error text (Touch).
void CloseFailedOrCancelled(Step& step) {
  Touch(step);
  const auto& reason = step.e.reason;
  bool cancelled = reason && strcasecmp(reason->c_str(), "cancelled") == 0;
  Close(step, cancelled ? SessionStatus::kCancelled : SessionStatus::kFailed,
        step.e.time, false, true);
}

// printing | paused: paused from t.
void Pause(Step& step) {
  Touch(step);
  Session& s = *step.state.open;
  s.status = SessionStatus::kPaused;
  s.pause_started_at = step.e.time;
  step.state.state = PrinterState::kPaused;
}

// paused | resumed: printing again; the pause [pause_started_at, t) closes.
void Resume(Step& step) {
  EndPause(step);
  Touch(step);
}

// paused | an event whose flags say printing and not paused: resume at t,
// then the event's own row (printing) applies it.
void ResumeByFlagsThenApply(Step& step) {
  EndPause(step);
  Dispatch(step);
}

// printing, paused | error: keep the error text (Touch); it stays open.
// printing, paused | progress, attention, other (and resumed while printing,
// paused while paused): the general rule only.
void UpdateOpenSession(Step& step) { Touch(step); }

// printing, paused | swept, stale: close by rule I with t_next = t. The
// sweep is assigned to the session it closed and counted in event_count, but
// is no evidence of printing, so last_event_at stays.
void SweepCloses(Step& step) {
  step.state.open->event_count++;
  step.session_id = step.state.open->id;
  CloseInterrupted(step, step.e.time, /*idle_after=*/true);
}

// printing, paused | swept, not stale (a late event came in before it):
// nothing.
void SweepFindsActivity(Step&) {}

// ---- The table ----

constexpr unsigned In(PrinterState s) { return 1u << static_cast<int>(s); }
constexpr unsigned On(Kind k) { return 1u << static_cast<int>(k); }

constexpr unsigned kIdle = In(PrinterState::kIdle);
constexpr unsigned kPrinting = In(PrinterState::kPrinting);
constexpr unsigned kPaused = In(PrinterState::kPaused);
constexpr unsigned kOpen = kPrinting | kPaused;
constexpr unsigned kAnyKind = ~0u;

struct Row {
  unsigned states;
  unsigned kinds;
  bool (*guard)(const Step&);  // nullptr: always
  void (*effect)(Step&);
};

// ledger.md section 5, in the spec's order; the first matching row wins.
constexpr Row kRows[] = {
    {kIdle, On(Kind::kStarted), nullptr, IdleStartedOpensSession},
    {kIdle, On(Kind::kDone) | On(Kind::kFailed), nullptr,
     IdleEndOpensInferredSession},
    {kIdle, On(Kind::kPaused) | On(Kind::kResumed) | On(Kind::kProgress),
     nullptr, IdleProgressOpensInferredSession},
    {kIdle, kAnyKind, nullptr, NoSession},
    {kPrinting, On(Kind::kStarted), IsStartSpam, IgnoreStartSpam},
    {kPrinting, On(Kind::kStarted), nullptr, InterruptAndOpen},
    {kPaused, On(Kind::kStarted), nullptr, RestartAndOpen},
    {kOpen, On(Kind::kDone), nullptr, CloseCompleted},
    {kOpen, On(Kind::kFailed), nullptr, CloseFailedOrCancelled},
    {kPrinting, On(Kind::kPaused), nullptr, Pause},
    {kPaused, On(Kind::kResumed), nullptr, Resume},
    {kOpen, On(Kind::kSwept), IsStale, SweepCloses},
    {kOpen, On(Kind::kSwept), nullptr, SweepFindsActivity},
    {kPaused, kAnyKind & ~On(Kind::kPaused), FlagsSayPrinting,
     ResumeByFlagsThenApply},
    {kOpen, kAnyKind, nullptr, UpdateOpenSession},
};

void Dispatch(Step& step) {
  unsigned state = In(step.state.state);
  unsigned kind = On(step.e.kind);
  for (const Row& row : kRows) {
    if ((row.states & state) && (row.kinds & kind) &&
        (row.guard == nullptr || row.guard(step))) {
      row.effect(step);
      return;
    }
  }
}

// What the device remembers apart from sessions. Each of these is decided by
// the device's latest event alone, so a re-fold from an idle point gets them
// right without knowing what came before it. The sweep is not something the
// printer said: it leaves last_topic and last_error as they were, but like
// any next event it ends a request for attention.
void NoteDevice(DeviceState& state, const Event& e) {
  state.last_applied = KeyOf(e);
  state.needs_attention = e.kind == Kind::kAttention;
  if (e.kind == Kind::kSwept) return;
  state.last_topic = e.topic;
  state.last_error = e.error;
}

// Applies one event; `closed` receives a session it closed.
Step ApplyStep(const LedgerConfig& config, DeviceState& state, const Event& e) {
  if (state.device.empty()) state.device = e.device;
  Step step{config, state, e};
  Dispatch(step);
  NoteDevice(state, e);
  return step;
}

}  // namespace

Applied Apply(const LedgerConfig& config, DeviceState& state, const Event& e) {
  Step step = ApplyStep(config, state, e);
  Applied applied;
  if (step.closed) applied.touched.push_back(std::move(*step.closed));
  if (step.open_touched && state.open) applied.touched.push_back(*state.open);
  applied.session_id = step.session_id;
  return applied;
}

DuplicateFields DuplicateFieldsOf(const Event& e) {
  return {e.kind, e.file.path, e.reported_time_s};
}

bool IsDuplicateOf(const Event& e, const Event& earlier) {
  return e.has_current_time && earlier.has_current_time &&
         e.device == earlier.device && e.time == earlier.time &&
         DuplicateFieldsOf(e) == DuplicateFieldsOf(earlier);
}

std::optional<EventKey> RefoldPoint(std::span<const Session> sessions,
                                    EventKey late) {
  std::optional<EventKey> point;
  for (const Session& s : sessions) {
    if (s.idle_after && s.closed_by && *s.closed_by < late &&
        (!point || *point < *s.closed_by)) {
      point = s.closed_by;
    }
  }
  return point;
}

Refolded Refold(const LedgerConfig& config, const std::string& device,
                std::span<const Event> events) {
  Refolded out;
  out.state.device = device;
  out.event_sessions.reserve(events.size());
  for (const Event& e : events) {
    if (e.test) {  // never touches the ledger
      out.event_sessions.emplace_back(e.id, std::nullopt);
      continue;
    }
    Step step = ApplyStep(config, out.state, e);
    if (step.closed) out.sessions.push_back(std::move(*step.closed));
    out.event_sessions.emplace_back(e.id, step.session_id);
  }
  if (out.state.open) out.sessions.push_back(*out.state.open);
  return out;
}

std::optional<Event> SweepEvent(const LedgerConfig& config,
                                const DeviceState& state, TimeMs last_received,
                                TimeMs now) {
  if (config.stale_after <= 0 || !state.open) return std::nullopt;
  TimeMs due = state.open->last_event_at + config.stale_after;
  if (due > now || last_received > now - config.stale_after) {
    return std::nullopt;
  }
  Event e;
  e.kind = Kind::kSwept;
  e.device = state.device;
  // Never before the latest applied event, so the sweep is never late.
  e.time = std::max(due, state.last_applied ? state.last_applied->time : due);
  e.received_at = now;
  return e;
}

}  // namespace pm

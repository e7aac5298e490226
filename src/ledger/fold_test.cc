// One test (at least) per row of the fold table in ledger.md section 5,
// named after the row, plus rule I, the sweep, duplicates and re-folding.
#include "ledger/fold.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace pm {
namespace {

constexpr TimeMs kT0 = 1722565567000;  // 2024-08-02T02:26:07Z

class FoldTest : public ::testing::Test {
 protected:
  FoldTest() { state_.device = "delta"; }

  Event Make(Kind kind, TimeMs t, std::string topic) {
    Event e;
    e.id = ++next_id_;
    e.device = "delta";
    e.topic = std::move(topic);
    e.kind = kind;
    e.time = t;
    e.has_current_time = true;
    e.received_at = t;
    return e;
  }
  Event Started(TimeMs t, std::string path = "box.gcode") {
    Event e = Make(Kind::kStarted, t, "Print Started");
    e.file.name = path;
    e.file.path = path;
    e.printing = true;
    e.paused = false;
    return e;
  }
  Event Done(TimeMs t, std::optional<double> reported_s = std::nullopt) {
    Event e = Make(Kind::kDone, t, "Print Done");
    e.reported_time_s = reported_s;
    return e;
  }
  Event Failed(TimeMs t, std::string reason,
               std::optional<double> reported_s = std::nullopt) {
    Event e = Make(Kind::kFailed, t, "Print Failed");
    e.reason = std::move(reason);
    e.reported_time_s = reported_s;
    return e;
  }
  Event Paused(TimeMs t) {
    Event e = Make(Kind::kPaused, t, "Print Paused");
    e.printing = false;
    e.paused = true;
    return e;
  }
  Event Resumed(TimeMs t) { return Make(Kind::kResumed, t, "Print Resumed"); }
  Event Progress(TimeMs t, std::optional<double> pct,
                 std::optional<double> print_time_s = std::nullopt) {
    Event e = Make(Kind::kProgress, t, "Print Progress");
    e.progress_pct = pct;
    e.print_time_s = print_time_s;
    return e;
  }
  Event Attention(TimeMs t) {
    return Make(Kind::kAttention, t, "User Action Needed");
  }
  Event Error(TimeMs t, std::string text) {
    Event e = Make(Kind::kError, t, "Error");
    e.error = std::move(text);
    return e;
  }
  Event Other(TimeMs t) { return Make(Kind::kOther, t, "Custom Event"); }
  Event Swept(TimeMs t) {
    Event e = Make(Kind::kSwept, t, "");
    e.has_current_time = false;
    return e;
  }

  // Applies `e`, remembering every touched session by id.
  Applied Feed(const Event& e) {
    Applied a = Apply(config_, state_, e);
    for (const Session& s : a.touched) sessions_[s.id] = s;
    return a;
  }
  const Session& S(int64_t id) { return sessions_.at(id); }
  int64_t Open() { return state_.open ? state_.open->id : -1; }

  LedgerConfig config_;
  DeviceState state_;
  std::map<int64_t, Session> sessions_;
  int64_t next_id_ = 100;
};

// ---- idle ----

TEST_F(FoldTest, IdleStartedOpensSession) {
  Event e = Started(kT0);
  e.user = "mike";
  Applied a = Feed(e);
  ASSERT_EQ(a.touched.size(), 1u);
  EXPECT_EQ(a.session_id, e.id);
  EXPECT_EQ(state_.state, PrinterState::kPrinting);
  const Session& s = S(e.id);
  EXPECT_EQ(s.id, e.id);
  EXPECT_EQ(s.device, "delta");
  EXPECT_EQ(s.status, SessionStatus::kPrinting);
  EXPECT_EQ(s.started_at, kT0);
  EXPECT_EQ(s.last_event_at, kT0);
  EXPECT_FALSE(s.ended_at);
  EXPECT_FALSE(s.start_inferred);
  EXPECT_EQ(s.user, "mike");
  EXPECT_EQ(s.file.path, "box.gcode");
  EXPECT_EQ(s.event_count, 1);
  EXPECT_EQ(s.opened_by, KeyOf(e));
  EXPECT_FALSE(s.closed_by);
  EXPECT_EQ(*state_.open, s);
}

// OctoPrint's own estimate of the time left is kept with the time it was
// said, replaced by each later event that carries one, and kept through
// events that do not (the ETA counts it down, api/render.h).
TEST_F(FoldTest, TheReportedTimeLeftIsKeptWithTheTimeItWasSaid) {
  Event start = Started(kT0);
  start.print_time_left_s = 3000;
  Feed(start);
  EXPECT_EQ(S(start.id).time_left_s, 3000);
  EXPECT_EQ(S(start.id).time_left_at, kT0);
  Event progress = Progress(kT0 + 10 * kMinuteMs, 20);
  progress.print_time_left_s = 2000;
  Feed(progress);
  EXPECT_EQ(S(start.id).time_left_s, 2000);
  EXPECT_EQ(S(start.id).time_left_at, kT0 + 10 * kMinuteMs);
  Feed(Attention(kT0 + 11 * kMinuteMs));  // carries none: kept
  EXPECT_EQ(S(start.id).time_left_s, 2000);
  EXPECT_EQ(S(start.id).time_left_at, kT0 + 10 * kMinuteMs);
  Event nonsense = Progress(kT0 + 12 * kMinuteMs, 25);
  nonsense.print_time_left_s = -5;  // not believed
  Feed(nonsense);
  EXPECT_EQ(S(start.id).time_left_s, 2000);
}

TEST_F(FoldTest, IdleDoneMissedStartInfersStartFromReportedTime) {
  Event e = Done(kT0, 312.78);
  Applied a = Feed(e);
  EXPECT_EQ(a.session_id, e.id);
  EXPECT_EQ(state_.state, PrinterState::kIdle);
  EXPECT_FALSE(state_.open);
  const Session& s = S(e.id);
  EXPECT_EQ(s.status, SessionStatus::kCompleted);
  EXPECT_EQ(s.started_at, kT0 - 312780);
  EXPECT_EQ(s.ended_at, kT0);
  EXPECT_TRUE(s.start_inferred);
  EXPECT_FALSE(s.end_inferred);
  EXPECT_EQ(s.event_count, 1);
  EXPECT_EQ(s.opened_by, KeyOf(e));
  EXPECT_EQ(s.closed_by, KeyOf(e));
  EXPECT_TRUE(s.idle_after);
  EXPECT_EQ(s.reported_time_s, 312.78);
}

TEST_F(FoldTest, IdleDoneWithoutReportedTimeStartsAtT) {
  Event e = Done(kT0);
  Feed(e);
  EXPECT_EQ(S(e.id).started_at, kT0);
  EXPECT_EQ(S(e.id).ended_at, kT0);
  EXPECT_TRUE(S(e.id).start_inferred);
}

TEST_F(FoldTest, IdleDoneWithNonsenseReportedTimeStartsAtT) {
  Event e = Done(kT0, -5);
  Feed(e);
  EXPECT_EQ(S(e.id).started_at, kT0);
  Event f = Done(kT0 + 1, 1e300);
  Feed(f);
  EXPECT_EQ(S(f.id).started_at, kT0 + 1);
}

TEST_F(FoldTest, IdleFailedCancelledMissedStartIsCancelled) {
  Event e = Failed(kT0, "cancelled", 287.36758312408347);
  e.progress_pct = 34;
  Feed(e);
  const Session& s = S(e.id);
  EXPECT_EQ(s.status, SessionStatus::kCancelled);
  EXPECT_EQ(s.started_at, kT0 - 287368);
  EXPECT_EQ(s.ended_at, kT0);
  EXPECT_TRUE(s.start_inferred);
  EXPECT_EQ(s.progress_pct, 34);
}

TEST_F(FoldTest, IdleFailedErrorMissedStartIsFailedWithError) {
  Event e = Failed(kT0, "error", 100);
  e.error = "Thermal Runaway";
  Feed(e);
  EXPECT_EQ(S(e.id).status, SessionStatus::kFailed);
  EXPECT_EQ(S(e.id).error, "Thermal Runaway");
  EXPECT_EQ(state_.last_error, "Thermal Runaway");
}

TEST_F(FoldTest, IdleProgressOpensSessionAtTMinusPrintTime) {
  Event e = Progress(kT0, 50, 1398);
  Applied a = Feed(e);
  EXPECT_EQ(a.session_id, e.id);
  EXPECT_EQ(state_.state, PrinterState::kPrinting);
  const Session& s = S(e.id);
  EXPECT_EQ(s.started_at, kT0 - 1398000);
  EXPECT_EQ(s.last_event_at, kT0);
  EXPECT_TRUE(s.start_inferred);
  EXPECT_EQ(s.progress_pct, 50);
  EXPECT_EQ(s.event_count, 1);
}

TEST_F(FoldTest, IdleProgressWithoutPrintTimeOpensAtT) {
  Event e = Progress(kT0, 50);
  Feed(e);
  EXPECT_EQ(S(e.id).started_at, kT0);
  EXPECT_TRUE(S(e.id).start_inferred);
}

TEST_F(FoldTest, IdlePausedOpensInferredSessionThenPauses) {
  Event e = Paused(kT0);
  e.print_time_s = 600;
  Feed(e);
  EXPECT_EQ(state_.state, PrinterState::kPaused);
  const Session& s = S(e.id);
  EXPECT_EQ(s.status, SessionStatus::kPaused);
  EXPECT_EQ(s.started_at, kT0 - 600000);
  EXPECT_EQ(s.pause_started_at, kT0);
  EXPECT_TRUE(s.start_inferred);
}

TEST_F(FoldTest, IdleResumedOpensInferredSessionPrinting) {
  Event e = Resumed(kT0);
  e.print_time_s = 60;
  Feed(e);
  EXPECT_EQ(state_.state, PrinterState::kPrinting);
  EXPECT_EQ(S(e.id).started_at, kT0 - 60000);
  EXPECT_TRUE(S(e.id).pauses.empty());
  EXPECT_TRUE(S(e.id).start_inferred);
}

TEST_F(FoldTest, IdleAttentionErrorOtherOpenNoSession) {
  for (Event e : {Attention(kT0), Error(kT0 + 1, "boom"), Other(kT0 + 2)}) {
    Applied a = Feed(e);
    EXPECT_TRUE(a.touched.empty());
    EXPECT_FALSE(a.session_id);
    EXPECT_EQ(state_.state, PrinterState::kIdle);
    EXPECT_EQ(state_.last_applied, KeyOf(e));
    EXPECT_EQ(state_.last_topic, e.topic);
  }
  EXPECT_TRUE(sessions_.empty());
}

TEST_F(FoldTest, IdleSweptDoesNothing) {
  Applied a = Feed(Swept(kT0));
  EXPECT_TRUE(a.touched.empty());
  EXPECT_EQ(state_.state, PrinterState::kIdle);
}

// ---- printing | started ----

TEST_F(FoldTest, PrintingStartedSameFileWithin120sIsSpam) {
  Event first = Started(kT0);
  Feed(first);
  Event spam = Started(kT0 + 2000);
  spam.user = "mike";  // a field the session lacked is filled
  Applied a = Feed(spam);
  EXPECT_EQ(a.session_id, first.id);
  EXPECT_EQ(Open(), first.id);
  const Session& s = S(first.id);
  EXPECT_EQ(s.started_at, kT0);
  EXPECT_EQ(s.event_count, 2);             // it is an event of the session
  EXPECT_EQ(s.last_event_at, kT0 + 2000);  // and evidence it runs
  EXPECT_EQ(s.user, "mike");
  EXPECT_EQ(sessions_.size(), 1u);
}

TEST_F(FoldTest, PrintingStartedSameFileExactly120sIsSpam) {
  Event first = Started(kT0);
  Feed(first);
  Feed(Started(kT0 + 120 * kSecondMs));
  EXPECT_EQ(Open(), first.id);
  EXPECT_EQ(sessions_.size(), 1u);
}

TEST_F(FoldTest, PrintingStartedSameFileJustOver120sInterrupts) {
  Event first = Started(kT0);
  Feed(first);
  Event second = Started(kT0 + 120 * kSecondMs + 1);
  Feed(second);
  EXPECT_EQ(Open(), second.id);
  EXPECT_EQ(S(first.id).status, SessionStatus::kInterrupted);
}

TEST_F(FoldTest, PrintingStartedSameNameOtherPathIsSpam) {
  Event first = Started(kT0, "a/box.gcode");
  first.file.name = "box.gcode";
  Feed(first);
  Event spam = Started(kT0 + 1000, "b/box.gcode");
  spam.file.name = "box.gcode";
  Feed(spam);
  EXPECT_EQ(Open(), first.id);
}

TEST_F(FoldTest, PrintingStartedSpamWindowCountsFromStartedAt) {
  // Spam keeps coming every 60 s: it is spam only within 120 s of the start.
  Event first = Started(kT0);
  Feed(first);
  Feed(Started(kT0 + 60 * kSecondMs));
  Feed(Started(kT0 + 120 * kSecondMs));
  EXPECT_EQ(Open(), first.id);
  Event late = Started(kT0 + 180 * kSecondMs);
  Feed(late);
  EXPECT_EQ(Open(), late.id);
  // Rule I without an estimate: ended at its last event, the spam at 120 s.
  EXPECT_EQ(S(first.id).ended_at, kT0 + 120 * kSecondMs);
}

TEST_F(FoldTest, PrintingStartedOtherFileInterruptsAndOpens) {
  Event first = Started(kT0, "a.gcode");
  Feed(first);
  Event p = Progress(kT0 + 10 * kMinuteMs, 40);
  Feed(p);
  Event second = Started(kT0 + 11 * kMinuteMs, "b.gcode");
  Applied a = Feed(second);
  ASSERT_EQ(a.touched.size(), 2u);
  EXPECT_EQ(a.touched[0].id, first.id);
  EXPECT_EQ(a.touched[1].id, second.id);
  EXPECT_EQ(a.session_id, second.id);
  const Session& old = S(first.id);
  EXPECT_EQ(old.status, SessionStatus::kInterrupted);
  EXPECT_TRUE(old.end_inferred);
  EXPECT_EQ(old.ended_at, kT0 + 10 * kMinuteMs);  // no estimate: last event
  EXPECT_EQ(old.closed_by, KeyOf(second));
  EXPECT_FALSE(old.idle_after);
  EXPECT_EQ(old.event_count, 2);
  EXPECT_EQ(S(second.id).started_at, kT0 + 11 * kMinuteMs);
  EXPECT_EQ(state_.state, PrinterState::kPrinting);
}

TEST_F(FoldTest, PrintingStartedWithoutFileIsNotSpam) {
  Event first = Make(Kind::kStarted, kT0, "Print Started");
  Feed(first);
  Event second = Make(Kind::kStarted, kT0 + 1000, "Print Started");
  Feed(second);
  EXPECT_EQ(Open(), second.id);
}

// ---- paused | started ----

TEST_F(FoldTest, PausedStartedRestartsAndOpens) {
  Event first = Started(kT0);
  Feed(first);
  Feed(Paused(kT0 + 10 * kMinuteMs));
  Event again = Started(kT0 + 15 * kMinuteMs);  // same file, any time
  Applied a = Feed(again);
  ASSERT_EQ(a.touched.size(), 2u);
  const Session& old = S(first.id);
  EXPECT_EQ(old.status, SessionStatus::kRestarted);
  EXPECT_EQ(old.ended_at, kT0 + 15 * kMinuteMs);
  EXPECT_FALSE(old.end_inferred);
  EXPECT_FALSE(old.pause_started_at);
  ASSERT_EQ(old.pauses.size(), 1u);
  EXPECT_EQ(old.pauses[0],
            (Interval{kT0 + 10 * kMinuteMs, kT0 + 15 * kMinuteMs}));
  EXPECT_EQ(PausedMs(old, 0), 5 * kMinuteMs);
  EXPECT_EQ(PrintMs(old, 0), 10 * kMinuteMs);
  EXPECT_EQ(old.closed_by, KeyOf(again));
  EXPECT_FALSE(old.idle_after);
  EXPECT_EQ(Open(), again.id);
  EXPECT_EQ(state_.state, PrinterState::kPrinting);
  EXPECT_FALSE(S(again.id).start_inferred);
}

// ---- printing, paused | done, failed ----

TEST_F(FoldTest, PrintingDoneCompletes) {
  Event start = Started(kT0);
  Feed(start);
  Event done = Done(kT0 + 1150 * kSecondMs, 1150.52);
  done.file.name = "shape~10.gco";  // a changed name never replaces
  Applied a = Feed(done);
  EXPECT_EQ(a.session_id, start.id);
  const Session& s = S(start.id);
  EXPECT_EQ(s.status, SessionStatus::kCompleted);
  EXPECT_EQ(s.ended_at, kT0 + 1150 * kSecondMs);
  EXPECT_FALSE(s.end_inferred);
  EXPECT_EQ(s.reported_time_s, 1150.52);
  EXPECT_EQ(s.file.name, "box.gcode");
  EXPECT_EQ(s.closed_by, KeyOf(done));
  EXPECT_TRUE(s.idle_after);
  EXPECT_EQ(s.event_count, 2);
  EXPECT_EQ(state_.state, PrinterState::kIdle);
  EXPECT_FALSE(state_.open);
}

TEST_F(FoldTest, PausedDoneCompletesAndEndsThePause) {
  Event start = Started(kT0);
  Feed(start);
  Feed(Paused(kT0 + kMinuteMs));
  Feed(Done(kT0 + 3 * kMinuteMs));
  const Session& s = S(start.id);
  EXPECT_EQ(s.status, SessionStatus::kCompleted);
  ASSERT_EQ(s.pauses.size(), 1u);
  EXPECT_EQ(s.pauses[0], (Interval{kT0 + kMinuteMs, kT0 + 3 * kMinuteMs}));
  EXPECT_FALSE(s.pause_started_at);
}

TEST_F(FoldTest, PrintingFailedCancelledIsCancelled) {
  Event start = Started(kT0);
  Feed(start);
  Feed(Failed(kT0 + kMinuteMs, "cancelled"));
  EXPECT_EQ(S(start.id).status, SessionStatus::kCancelled);
  EXPECT_EQ(S(start.id).ended_at, kT0 + kMinuteMs);
  EXPECT_EQ(state_.state, PrinterState::kIdle);
}

TEST_F(FoldTest, PrintingFailedErrorIsFailedAndKeepsError) {
  Event start = Started(kT0);
  Feed(start);
  Event f = Failed(kT0 + kMinuteMs, "error");
  f.error = "Thermal Runaway";
  Feed(f);
  EXPECT_EQ(S(start.id).status, SessionStatus::kFailed);
  EXPECT_EQ(S(start.id).error, "Thermal Runaway");
}

TEST_F(FoldTest, PrintingFailedWithoutReasonIsFailed) {
  Event start = Started(kT0);
  Feed(start);
  Event f = Make(Kind::kFailed, kT0 + 1, "Print Failed");
  Feed(f);
  EXPECT_EQ(S(start.id).status, SessionStatus::kFailed);
}

TEST_F(FoldTest, PausedFailedCancelledEndsThePause) {
  Event start = Started(kT0);
  Feed(start);
  Feed(Paused(kT0 + kMinuteMs));
  Feed(Failed(kT0 + 2 * kMinuteMs, "cancelled"));
  const Session& s = S(start.id);
  EXPECT_EQ(s.status, SessionStatus::kCancelled);
  EXPECT_EQ(PausedMs(s, 0), kMinuteMs);
  EXPECT_EQ(PrintMs(s, 0), kMinuteMs);
}

// ---- printing | paused; paused | resumed ----

TEST_F(FoldTest, PrintingPausedPauses) {
  Event start = Started(kT0);
  Feed(start);
  Feed(Paused(kT0 + kMinuteMs));
  EXPECT_EQ(state_.state, PrinterState::kPaused);
  EXPECT_EQ(S(start.id).status, SessionStatus::kPaused);
  EXPECT_EQ(S(start.id).pause_started_at, kT0 + kMinuteMs);
  // While paused, paused time includes the ongoing pause up to now.
  EXPECT_EQ(PausedMs(S(start.id), kT0 + 4 * kMinuteMs), 3 * kMinuteMs);
}

TEST_F(FoldTest, PausedPausedAgainKeepsTheFirstPauseStart) {
  Event start = Started(kT0);
  Feed(start);
  Feed(Paused(kT0 + kMinuteMs));
  Feed(Paused(kT0 + 2 * kMinuteMs));
  EXPECT_EQ(S(start.id).pause_started_at, kT0 + kMinuteMs);
  EXPECT_EQ(S(start.id).event_count, 3);
}

TEST_F(FoldTest, PausedResumedResumes) {
  Event start = Started(kT0);
  Feed(start);
  Feed(Paused(kT0 + kMinuteMs));
  Feed(Resumed(kT0 + 3 * kMinuteMs));
  EXPECT_EQ(state_.state, PrinterState::kPrinting);
  const Session& s = S(start.id);
  EXPECT_EQ(s.status, SessionStatus::kPrinting);
  EXPECT_FALSE(s.pause_started_at);
  ASSERT_EQ(s.pauses.size(), 1u);
  EXPECT_EQ(s.pauses[0], (Interval{kT0 + kMinuteMs, kT0 + 3 * kMinuteMs}));
  EXPECT_EQ(PausedMs(s, kT0 + 10 * kMinuteMs), 2 * kMinuteMs);
}

TEST_F(FoldTest, PausedEventWithPrintingFlagsResumes) {
  Event start = Started(kT0);
  Feed(start);
  Feed(Paused(kT0 + kMinuteMs));
  Event p = Progress(kT0 + 2 * kMinuteMs, 60);
  p.printing = true;
  p.paused = false;
  Feed(p);
  EXPECT_EQ(state_.state, PrinterState::kPrinting);
  EXPECT_EQ(S(start.id).pauses.size(), 1u);
  EXPECT_EQ(S(start.id).progress_pct, 60);  // and the event still applies
}

TEST_F(FoldTest, PausedEventWithPausedFlagsStaysPaused) {
  Event start = Started(kT0);
  Feed(start);
  Feed(Paused(kT0 + kMinuteMs));
  Event a = Attention(kT0 + 2 * kMinuteMs);
  a.printing = false;
  a.paused = true;
  Feed(a);
  Event o = Other(kT0 + 3 * kMinuteMs);  // no flags at all
  Feed(o);
  EXPECT_EQ(state_.state, PrinterState::kPaused);
  EXPECT_EQ(S(start.id).pause_started_at, kT0 + kMinuteMs);
}

TEST_F(FoldTest, PrintingResumedChangesNothingButTheGeneralRule) {
  Event start = Started(kT0);
  Feed(start);
  Feed(Resumed(kT0 + kMinuteMs));
  EXPECT_EQ(state_.state, PrinterState::kPrinting);
  EXPECT_TRUE(S(start.id).pauses.empty());
  EXPECT_EQ(S(start.id).last_event_at, kT0 + kMinuteMs);
}

TEST_F(FoldTest, SeveralPausesAreIntervals) {
  Event start = Started(kT0);
  Feed(start);
  Feed(Paused(kT0 + 1 * kMinuteMs));
  Feed(Resumed(kT0 + 2 * kMinuteMs));
  Feed(Paused(kT0 + 5 * kMinuteMs));
  Feed(Resumed(kT0 + 8 * kMinuteMs));
  Feed(Done(kT0 + 10 * kMinuteMs));
  const Session& s = S(start.id);
  ASSERT_EQ(s.pauses.size(), 2u);
  EXPECT_EQ(PausedMs(s, 0), 4 * kMinuteMs);
  EXPECT_EQ(PrintMs(s, 0), 6 * kMinuteMs);
  EXPECT_EQ(DurationMs(s, 0), 10 * kMinuteMs);
}

// ---- printing, paused | progress, error; any | attention ----

TEST_F(FoldTest, PrintingProgressUpdatesProgress) {
  Event start = Started(kT0);
  Feed(start);
  Feed(Progress(kT0 + kMinuteMs, 25));
  EXPECT_EQ(S(start.id).progress_pct, 25);
  Feed(Progress(kT0 + 2 * kMinuteMs, 50));
  EXPECT_EQ(S(start.id).progress_pct, 50);
  Feed(Progress(kT0 + 3 * kMinuteMs, std::nullopt));  // none: kept
  EXPECT_EQ(S(start.id).progress_pct, 50);
  EXPECT_EQ(S(start.id).last_event_at, kT0 + 3 * kMinuteMs);
}

TEST_F(FoldTest, PausedProgressUpdatesProgressAndStaysPaused) {
  Event start = Started(kT0);
  Feed(start);
  Feed(Paused(kT0 + kMinuteMs));
  Feed(Progress(kT0 + 2 * kMinuteMs, 75));
  EXPECT_EQ(S(start.id).progress_pct, 75);
  EXPECT_EQ(state_.state, PrinterState::kPaused);
}

TEST_F(FoldTest, PrintingErrorKeepsErrorTextAndStaysOpen) {
  Event start = Started(kT0);
  Feed(start);
  Feed(Error(kT0 + kMinuteMs, "Thermal Runaway"));
  EXPECT_EQ(state_.state, PrinterState::kPrinting);
  EXPECT_EQ(S(start.id).error, "Thermal Runaway");
  EXPECT_EQ(state_.last_error, "Thermal Runaway");
  // The first error is the cause and is kept; the device shows the latest.
  Feed(Error(kT0 + 2 * kMinuteMs, "Printer halted"));
  EXPECT_EQ(S(start.id).error, "Thermal Runaway");
  EXPECT_EQ(state_.last_error, "Printer halted");
  EXPECT_EQ(S(start.id).event_count, 3);
}

TEST_F(FoldTest, PausedErrorKeepsErrorText) {
  Event start = Started(kT0);
  Feed(start);
  Feed(Paused(kT0 + kMinuteMs));
  Feed(Error(kT0 + 2 * kMinuteMs, "MINTEMP"));
  EXPECT_EQ(S(start.id).error, "MINTEMP");
  EXPECT_EQ(state_.state, PrinterState::kPaused);
}

TEST_F(FoldTest, AttentionNeedsAttentionUntilTheNextEvent) {
  Feed(Attention(kT0));  // idle
  EXPECT_TRUE(state_.needs_attention);
  Event start = Started(kT0 + 1000);
  Feed(start);
  EXPECT_FALSE(state_.needs_attention);
  Feed(Attention(kT0 + 2000));  // printing: an event of the session
  EXPECT_TRUE(state_.needs_attention);
  EXPECT_EQ(S(start.id).last_event_at, kT0 + 2000);
  EXPECT_EQ(S(start.id).event_count, 2);
  Feed(Attention(kT0 + 4000));  // the plugin repeats it every ~2 s
  EXPECT_TRUE(state_.needs_attention);
  Feed(Progress(kT0 + 6000, 10));
  EXPECT_FALSE(state_.needs_attention);
}

TEST_F(FoldTest, OtherEventIsAnEventOfTheOpenSession) {
  Event start = Started(kT0);
  Feed(start);
  Event o = Other(kT0 + 5000);
  o.snapshot = true;
  Applied a = Feed(o);
  EXPECT_EQ(a.session_id, start.id);
  EXPECT_EQ(S(start.id).last_event_at, kT0 + 5000);
  EXPECT_TRUE(S(start.id).snapshot);
  Feed(Progress(kT0 + 6000, 1));
  EXPECT_FALSE(S(start.id).snapshot);  // whether its *last* event had one
}

TEST_F(FoldTest, EveryEventFillsMissingFieldsAndReplacesProgress) {
  Event start = Started(kT0);  // an SD start: name and path only
  start.file.origin = "sdcard";
  Feed(start);
  Event p = Progress(kT0 + 1000, 30);
  p.file.name = "other.gcode";
  p.file.display = "Box";
  p.file.size = 36162;
  p.file.origin = "local";
  p.user = "mike";
  p.estimated_s = 600;
  p.filament_mm = 1853.3;
  p.filament_cm3 = 4.46;
  p.reported_time_s = 10;
  Feed(p);
  const Session& s = S(start.id);
  EXPECT_EQ(s.file.name, "box.gcode");  // had one: kept
  EXPECT_EQ(s.file.origin, "sdcard");
  EXPECT_EQ(s.file.display, "Box");  // lacked it: filled
  EXPECT_EQ(s.file.size, 36162);
  EXPECT_EQ(s.user, "mike");
  EXPECT_EQ(s.estimated_s, 600);
  EXPECT_EQ(s.job_filament_mm, 1853.3);
  EXPECT_EQ(s.job_filament_cm3, 4.46);
  EXPECT_EQ(s.reported_time_s, 10);
  Event q = Progress(kT0 + 2000, 31);
  q.user = "anna";
  q.estimated_s = 900;
  q.reported_time_s = 20;
  Feed(q);
  EXPECT_EQ(S(start.id).user, "mike");
  EXPECT_EQ(S(start.id).estimated_s, 600);
  EXPECT_EQ(S(start.id).reported_time_s, 20);
  EXPECT_EQ(S(start.id).progress_pct, 31);
}

// ---- Rule I ----

TEST_F(FoldTest, RuleIWithEstimateEndsAtStartPlusEstimate) {
  Event start = Started(kT0);
  start.estimated_s = 600;  // expected end: kT0 + 10 min
  Feed(start);
  Feed(Progress(kT0 + 2 * kMinuteMs, 20));
  Feed(Started(kT0 + 30 * kMinuteMs, "next.gcode"));
  EXPECT_EQ(S(start.id).ended_at, kT0 + 10 * kMinuteMs);
  EXPECT_TRUE(S(start.id).end_inferred);
}

TEST_F(FoldTest, RuleIWithEstimateNeverPastTheNextEvent) {
  Event start = Started(kT0);
  start.estimated_s = 3600;
  Feed(start);
  Feed(Progress(kT0 + 2 * kMinuteMs, 20));
  Feed(Started(kT0 + 5 * kMinuteMs, "next.gcode"));
  EXPECT_EQ(S(start.id).ended_at, kT0 + 5 * kMinuteMs);  // min(t_next, ...)
}

TEST_F(FoldTest, RuleIWithEstimateNeverBeforeTheLastEvent) {
  Event start = Started(kT0);
  start.estimated_s = 60;
  Feed(start);
  Feed(Progress(kT0 + 5 * kMinuteMs, 20));
  Feed(Started(kT0 + 9 * kMinuteMs, "next.gcode"));
  EXPECT_EQ(S(start.id).ended_at, kT0 + 5 * kMinuteMs);  // max(last, ...)
}

TEST_F(FoldTest, RuleIEstimateIsExtendedByClosedPauses) {
  Event start = Started(kT0);
  start.estimated_s = 600;
  Feed(start);
  Feed(Paused(kT0 + 1 * kMinuteMs));
  Feed(Resumed(kT0 + 4 * kMinuteMs));  // 3 min paused
  Feed(Started(kT0 + 60 * kMinuteMs, "next.gcode"));
  EXPECT_EQ(S(start.id).ended_at, kT0 + 13 * kMinuteMs);
  EXPECT_EQ(PrintMs(S(start.id), 0), 10 * kMinuteMs);
}

TEST_F(FoldTest, RuleIWithoutEstimateEndsAtTheLastEvent) {
  Event start = Started(kT0);
  Feed(start);
  Feed(Progress(kT0 + 7 * kMinuteMs, 70));
  Feed(Started(kT0 + 60 * kMinuteMs, "next.gcode"));
  EXPECT_EQ(S(start.id).ended_at, kT0 + 7 * kMinuteMs);
  EXPECT_TRUE(S(start.id).end_inferred);
}

// ---- swept ----

TEST_F(FoldTest, SweptStaleClosesByRuleIWithTNextT) {
  Event start = Started(kT0);
  start.estimated_s = 600;
  Feed(start);
  Event sweep = Swept(kT0 + config_.stale_after);
  Applied a = Feed(sweep);
  EXPECT_EQ(a.session_id, start.id);
  const Session& s = S(start.id);
  EXPECT_EQ(s.status, SessionStatus::kInterrupted);
  EXPECT_TRUE(s.end_inferred);
  EXPECT_EQ(s.ended_at, kT0 + 10 * kMinuteMs);
  EXPECT_EQ(s.last_event_at, kT0);  // the sweep is no evidence of printing
  EXPECT_EQ(s.event_count, 2);
  EXPECT_EQ(s.closed_by, KeyOf(sweep));
  EXPECT_TRUE(s.idle_after);
  EXPECT_EQ(state_.state, PrinterState::kIdle);
  EXPECT_EQ(state_.last_topic, "Print Started");  // not the sweep's ""
}

TEST_F(FoldTest, SweptStaleWithoutEstimateEndsAtLastEvent) {
  Event start = Started(kT0);
  Feed(start);
  Feed(Progress(kT0 + kHourMs, 50));
  Feed(Swept(kT0 + kHourMs + config_.stale_after));
  EXPECT_EQ(S(start.id).ended_at, kT0 + kHourMs);
}

TEST_F(FoldTest, SweptNotStaleDoesNothing) {
  Event start = Started(kT0);
  Feed(start);
  Feed(Progress(kT0 + kHourMs, 50));  // came in before the sweep
  Applied a = Feed(Swept(kT0 + config_.stale_after));
  EXPECT_TRUE(a.touched.empty());
  EXPECT_FALSE(a.session_id);
  EXPECT_EQ(Open(), start.id);
  EXPECT_EQ(S(start.id).event_count, 2);
}

TEST_F(FoldTest, SweptPausedSessionEndsThePauseWithIt) {
  Event start = Started(kT0);
  start.estimated_s = 3600;
  Feed(start);
  Feed(Paused(kT0 + 10 * kMinuteMs));
  Feed(Swept(kT0 + 10 * kMinuteMs + config_.stale_after));
  const Session& s = S(start.id);
  EXPECT_EQ(s.status, SessionStatus::kInterrupted);
  EXPECT_EQ(s.ended_at, kT0 + kHourMs);
  EXPECT_EQ(PrintMs(s, 0), 10 * kMinuteMs);  // no print time is invented
  EXPECT_FALSE(s.pause_started_at);
}

TEST_F(FoldTest, SweptClearsAttention) {
  Event start = Started(kT0);
  Feed(start);
  Feed(Attention(kT0 + 1000));
  Feed(Swept(kT0 + 1000 + config_.stale_after));
  EXPECT_FALSE(state_.needs_attention);
  EXPECT_EQ(state_.last_topic, "User Action Needed");
}

// ---- SweepEvent ----

TEST_F(FoldTest, SweepEventWhenStaleByEventAndReceiveTime) {
  Event start = Started(kT0);
  Feed(start);
  TimeMs now = kT0 + config_.stale_after + kHourMs;
  std::optional<Event> e = SweepEvent(config_, state_, kT0, now);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, Kind::kSwept);
  EXPECT_EQ(e->topic, "");
  EXPECT_EQ(e->device, "delta");
  EXPECT_EQ(e->time, kT0 + config_.stale_after);
  EXPECT_EQ(e->received_at, now);
  EXPECT_EQ(e->id, 0);
  EXPECT_FALSE(e->has_current_time);
}

TEST_F(FoldTest, SweepEventExactlyAtStaleAfter) {
  Feed(Started(kT0));
  EXPECT_TRUE(SweepEvent(config_, state_, kT0, kT0 + config_.stale_after));
  EXPECT_FALSE(SweepEvent(config_, state_, kT0, kT0 + config_.stale_after - 1));
}

TEST_F(FoldTest, NoSweepWhileRequestsStillArrive) {
  Feed(Started(kT0));
  TimeMs now = kT0 + 3 * config_.stale_after;
  // Its events carry old times (a clock behind), but it still talks to us.
  EXPECT_FALSE(SweepEvent(config_, state_, now - kHourMs, now));
  EXPECT_TRUE(SweepEvent(config_, state_, now - config_.stale_after, now));
}

TEST_F(FoldTest, NoSweepWhenIdleOrDisabled) {
  EXPECT_FALSE(SweepEvent(config_, state_, 0, kT0 + 100 * kDayMs));
  Feed(Started(kT0));
  LedgerConfig never{.stale_after = 0};
  EXPECT_FALSE(SweepEvent(never, state_, kT0, kT0 + 100 * kDayMs));
}

// ---- bookkeeping ----

TEST_F(FoldTest, LastAppliedAndTopicFollowEveryEvent) {
  Event a = Attention(kT0);
  Feed(a);
  EXPECT_EQ(state_.last_applied, KeyOf(a));
  EXPECT_EQ(state_.last_topic, "User Action Needed");
  Event s = Started(kT0 + 1);
  Feed(s);
  EXPECT_EQ(state_.last_applied, KeyOf(s));
  EXPECT_EQ(state_.last_topic, "Print Started");
  EXPECT_FALSE(state_.last_error);
}

TEST_F(FoldTest, DeviceNameComesFromTheEventWhenStateHasNone) {
  DeviceState fresh;
  Event e = Started(kT0);
  Applied a = Apply(config_, fresh, e);
  EXPECT_EQ(fresh.device, "delta");
  EXPECT_EQ(a.touched.at(0).device, "delta");
}

// ---- duplicates ----

TEST_F(FoldTest, DuplicateNeedsSameKindTimePathAndReportedTime) {
  Event a = Done(kT0, 312.78);
  a.file.path = "box.gcode";
  Event b = a;
  b.id = a.id + 1;
  b.received_at = a.received_at + 5000;  // a resend, later
  EXPECT_TRUE(IsDuplicateOf(b, a));
  Event other = b;
  other.time += 1000;
  EXPECT_FALSE(IsDuplicateOf(other, a));
  other = b;
  other.kind = Kind::kFailed;
  EXPECT_FALSE(IsDuplicateOf(other, a));
  other = b;
  other.file.path = "shape~10.gco";
  EXPECT_FALSE(IsDuplicateOf(other, a));
  other = b;
  other.file.path.reset();
  EXPECT_FALSE(IsDuplicateOf(other, a));
  other = b;
  other.reported_time_s = 312.79;
  EXPECT_FALSE(IsDuplicateOf(other, a));
  other = b;
  other.reported_time_s.reset();
  EXPECT_FALSE(IsDuplicateOf(other, a));
  other = b;
  other.device = "other";
  EXPECT_FALSE(IsDuplicateOf(other, a));
}

TEST_F(FoldTest, DuplicateWhenBothLackPathAndReportedTime) {
  Event a = Attention(kT0);
  Event b = a;
  b.id++;
  EXPECT_TRUE(IsDuplicateOf(b, a));
}

TEST_F(FoldTest, EventsWithoutCurrentTimeAreNeverDuplicates) {
  Event a = Attention(kT0);
  a.has_current_time = false;
  Event b = a;
  b.id++;
  EXPECT_FALSE(IsDuplicateOf(b, a));
  Event c = Attention(kT0);
  EXPECT_FALSE(IsDuplicateOf(c, a));  // the earlier one had none
  EXPECT_FALSE(IsDuplicateOf(a, c));
}

// Section 3 literally: a test event is an earlier-stored event like any
// other (the store's HasDuplicate does the same).
TEST_F(FoldTest, DuplicateIgnoresTheTestFlag) {
  Event t = Started(kT0, "example.gcode");
  t.test = true;
  Event real = t;
  real.id++;
  real.test = false;
  EXPECT_TRUE(IsDuplicateOf(real, t));
  EXPECT_TRUE(IsDuplicateOf(t, real));
}

// ---- re-folding ----

TEST_F(FoldTest, RefoldPointIsTheLatestIdleCloseBeforeTheLateEvent) {
  std::vector<Event> events = {Started(kT0), Done(kT0 + kMinuteMs),
                               Started(kT0 + 2 * kMinuteMs, "b.gcode"),
                               Started(kT0 + 3 * kMinuteMs, "c.gcode"),
                               Done(kT0 + 4 * kMinuteMs)};
  for (const Event& e : events) Feed(e);
  std::vector<Session> all;
  for (const auto& [id, s] : sessions_) all.push_back(s);
  ASSERT_EQ(all.size(), 3u);
  // Before the first close: from the device's first event.
  EXPECT_FALSE(RefoldPoint(all, {kT0 + 30 * kSecondMs, 1}));
  // Exactly at the first close's key: still from the beginning.
  EXPECT_FALSE(RefoldPoint(all, KeyOf(events[1])));
  // After it: from the done. The interrupt (b -> c) is no idle point.
  EXPECT_EQ(RefoldPoint(all, {kT0 + 3 * kMinuteMs + 1, 1}), KeyOf(events[1]));
  EXPECT_EQ(RefoldPoint(all, {kT0 + 5 * kMinuteMs, 1}), KeyOf(events[4]));
}

TEST_F(FoldTest, RefoldFromIdleEqualsApplyingInOrder) {
  std::vector<Event> events = {Attention(kT0 - 1000),
                               Started(kT0),
                               Paused(kT0 + kMinuteMs),
                               Started(kT0 + 2 * kMinuteMs, "b.gcode"),
                               Progress(kT0 + 3 * kMinuteMs, 50),
                               Failed(kT0 + 4 * kMinuteMs, "error"),
                               Progress(kT0 + 5 * kMinuteMs, 10, 30),
                               Error(kT0 + 6 * kMinuteMs, "x")};
  for (const Event& e : events) Feed(e);
  Refolded r = Refold(config_, "delta", events);
  EXPECT_EQ(r.state, state_);
  ASSERT_EQ(r.sessions.size(), sessions_.size());
  for (const Session& s : r.sessions) EXPECT_EQ(s, S(s.id));
  ASSERT_EQ(r.event_sessions.size(), events.size());
  EXPECT_EQ(r.event_sessions[0].second, std::nullopt);
  EXPECT_EQ(r.event_sessions[2], (std::pair<int64_t, std::optional<int64_t>>{
                                     events[2].id, events[1].id}));
  EXPECT_EQ(r.event_sessions[3].second, events[3].id);
  EXPECT_EQ(r.event_sessions[5].second, events[3].id);
  EXPECT_EQ(r.event_sessions[7].second, events[6].id);
}

TEST_F(FoldTest, RefoldSkipsTestEvents) {
  Event t = Started(kT0, "example.gcode");
  t.test = true;
  std::vector<Event> events = {t};
  Refolded r = Refold(config_, "delta", events);
  EXPECT_TRUE(r.sessions.empty());
  EXPECT_EQ(r.state.state, PrinterState::kIdle);
  EXPECT_EQ(r.event_sessions.size(), 1u);
}

}  // namespace
}  // namespace pm

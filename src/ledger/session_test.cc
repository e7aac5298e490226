#include "ledger/session.h"

#include <gtest/gtest.h>

namespace pm {
namespace {

constexpr TimeMs kT0 = 1722565567000;

Session Closed(SessionStatus status, TimeMs duration) {
  Session s;
  s.status = status;
  s.started_at = kT0;
  s.ended_at = kT0 + duration;
  return s;
}

TEST(SessionTest, StatusNamesRoundTrip) {
  for (SessionStatus s : {SessionStatus::kPrinting, SessionStatus::kPaused,
                          SessionStatus::kCompleted, SessionStatus::kCancelled,
                          SessionStatus::kFailed, SessionStatus::kInterrupted,
                          SessionStatus::kRestarted}) {
    EXPECT_EQ(StatusFromName(StatusName(s)), s) << StatusName(s);
  }
  EXPECT_EQ(StatusName(SessionStatus::kCancelled), "cancelled");
  EXPECT_EQ(StatusName(SessionStatus::kInterrupted), "interrupted");
  EXPECT_FALSE(StatusFromName("Completed"));
  EXPECT_FALSE(StatusFromName(""));
}

TEST(SessionTest, PrinterStateNames) {
  EXPECT_EQ(PrinterStateName(PrinterState::kIdle), "idle");
  EXPECT_EQ(PrinterStateName(PrinterState::kPrinting), "printing");
  EXPECT_EQ(PrinterStateName(PrinterState::kPaused), "paused");
}

TEST(SessionTest, IsOpenOnlyWhilePrintingOrPaused) {
  EXPECT_TRUE(IsOpen(SessionStatus::kPrinting));
  EXPECT_TRUE(IsOpen(SessionStatus::kPaused));
  EXPECT_FALSE(IsOpen(SessionStatus::kCompleted));
  EXPECT_FALSE(IsOpen(SessionStatus::kRestarted));
}

TEST(SessionTest, DurationOfAClosedSessionIgnoresNow) {
  Session s = Closed(SessionStatus::kCompleted, 1150 * kSecondMs);
  EXPECT_EQ(DurationMs(s, kT0 + kDayMs), 1150 * kSecondMs);
  EXPECT_EQ(PrintMs(s, 0), 1150 * kSecondMs);
}

TEST(SessionTest, DurationOfAnOpenSessionRunsToNow) {
  Session s;
  s.started_at = kT0;
  EXPECT_EQ(DurationMs(s, kT0 + kMinuteMs), kMinuteMs);
  EXPECT_EQ(DurationMs(s, kT0 - kMinuteMs), 0);  // a clock behind: not < 0
}

TEST(SessionTest, PausedIncludesTheOngoingPauseUpToNow) {
  Session s;
  s.status = SessionStatus::kPaused;
  s.started_at = kT0;
  s.pauses = {{kT0 + 1 * kMinuteMs, kT0 + 2 * kMinuteMs}};
  s.pause_started_at = kT0 + 5 * kMinuteMs;
  EXPECT_EQ(PausedMs(s, kT0 + 9 * kMinuteMs), 5 * kMinuteMs);
  EXPECT_EQ(PrintMs(s, kT0 + 9 * kMinuteMs), 4 * kMinuteMs);
}

TEST(SessionTest, FilamentOfACompletedPrintIsTheJobTotal) {
  Session s = Closed(SessionStatus::kCompleted, kMinuteMs);
  s.job_filament_mm = 1853.3;
  s.job_filament_cm3 = 4.46;
  s.progress_pct = 12;  // a stale progress does not scale a completed print
  EXPECT_EQ(FilamentMm(s), 1853.3);
  EXPECT_EQ(FilamentCm3(s), 4.46);
}

TEST(SessionTest, FilamentOfAnyOtherIsScaledByProgress) {
  Session s = Closed(SessionStatus::kCancelled, kMinuteMs);
  s.job_filament_mm = 2000;
  s.job_filament_cm3 = 5;
  s.progress_pct = 34;
  EXPECT_DOUBLE_EQ(*FilamentMm(s), 680);
  EXPECT_DOUBLE_EQ(*FilamentCm3(s), 1.7);
  s.status = SessionStatus::kPrinting;
  s.ended_at.reset();
  s.progress_pct = 150;  // never more than the job
  EXPECT_DOUBLE_EQ(*FilamentMm(s), 2000);
}

TEST(SessionTest, FilamentIsUnknownWithoutProgressOrTotal) {
  Session s = Closed(SessionStatus::kInterrupted, kMinuteMs);
  s.job_filament_mm = 2000;
  EXPECT_FALSE(FilamentMm(s));  // progress unknown: null, not a guess
  Session t = Closed(SessionStatus::kCompleted, kMinuteMs);
  EXPECT_FALSE(FilamentMm(t));
  EXPECT_FALSE(FilamentCm3(t));
}

}  // namespace
}  // namespace pm

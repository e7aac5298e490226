// Time in printmeter: epoch milliseconds in an int64_t, UTC.
//
// Event times come from OctoPrint's `currentTime` (seconds, maybe fractional)
// or from the receive clock; both are kept to the millisecond. Output rounds
// down to whole seconds (ledger.md section 6).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pm {

using TimeMs = int64_t;  // milliseconds since 1970-01-01T00:00:00Z

constexpr TimeMs kSecondMs = 1000;
constexpr TimeMs kMinuteMs = 60 * kSecondMs;
constexpr TimeMs kHourMs = 60 * kMinuteMs;
constexpr TimeMs kDayMs = 24 * kHourMs;

// Whole seconds, rounded down (toward minus infinity).
inline int64_t FloorSeconds(TimeMs t) {
  return t >= 0 ? t / 1000 : -((-t + 999) / 1000);
}

// "2024-08-02T02:26:07Z" (whole seconds, rounded down).
std::string FormatIso(TimeMs t);

// Parses what a person types for a time: an ISO 8601 date ("2024-08-02",
// midnight UTC), a date-time with or without seconds, with `Z`, an offset, or
// none (UTC), or epoch seconds ("1722565567"). nullopt when it is none of these.
std::optional<TimeMs> ParseTime(std::string_view text);

// The clock, behind an interface so tests run with a fake one.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimeMs Now() const = 0;
};

// The system's real-time clock.
class SystemClock final : public Clock {
 public:
  TimeMs Now() const override;
};

// A clock that tests set by hand.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(TimeMs now = 0) : now_(now) {}
  TimeMs Now() const override { return now_; }
  void Set(TimeMs now) { now_ = now; }
  void Advance(TimeMs d) { now_ += d; }

 private:
  TimeMs now_;
};

}  // namespace pm

#include "common/time.h"

// date::from_stream's `long double S` reads as maybe uninitialized to g++ 12
// once inlined here (a false positive inside the library; clang, which
// builds the fuzzers, has no such warning).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <date/date.h>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#include <charconv>
#include <chrono>
#include <sstream>

namespace pm {

std::string FormatIso(TimeMs t) {
  using namespace std::chrono;
  sys_seconds s{seconds{FloorSeconds(t)}};
  return date::format("%Y-%m-%dT%H:%M:%SZ", s);
}

namespace {

std::optional<TimeMs> ParseEpoch(std::string_view text) {
  if (text.empty()) return std::nullopt;
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  if (!(v > -1e13 && v < 1e13)) return std::nullopt;
  return static_cast<TimeMs>(v * 1000.0);
}

std::optional<TimeMs> TryFormat(std::string_view text, const char* fmt,
                                bool with_offset) {
  using namespace std::chrono;
  std::istringstream in{std::string(text)};
  date::sys_time<std::chrono::milliseconds> tp;
  if (with_offset) {
    minutes offset{0};
    in >> date::parse(fmt, tp, offset);
    if (in.fail()) return std::nullopt;
    // date::parse already converted to UTC using the offset.
  } else {
    in >> date::parse(fmt, tp);
    if (in.fail()) return std::nullopt;
  }
  if (in.peek() != std::char_traits<char>::eof()) return std::nullopt;
  return duration_cast<milliseconds>(tp.time_since_epoch()).count();
}

}  // namespace

std::optional<TimeMs> ParseTime(std::string_view text) {
  using namespace std::chrono;
  if (text.empty()) return std::nullopt;
  if (text.find_first_not_of("0123456789.") == std::string_view::npos) {
    return ParseEpoch(text);
  }
  if (text.size() == 10) return TryFormat(text, "%Y-%m-%d", false);
  std::string s(text);
  if (!s.empty() && (s.back() == 'Z' || s.back() == 'z')) {
    s.pop_back();
    for (const char* f : {"%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"}) {
      if (auto t = TryFormat(s, f, false)) return t;
    }
    return std::nullopt;
  }
  for (const char* f : {"%Y-%m-%dT%H:%M:%S%Ez", "%Y-%m-%dT%H:%M%Ez"}) {
    if (auto t = TryFormat(s, f, true)) return t;
  }
  for (const char* f : {"%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S",
                        "%Y-%m-%d %H:%M"}) {
    if (auto t = TryFormat(s, f, false)) return t;
  }
  return std::nullopt;
}

TimeMs SystemClock::Now() const {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch())
      .count();
}

}  // namespace pm

#include "decode/loose.h"

#include <charconv>
#include <cmath>
#include <limits>

#include "decode/text.h"

namespace pm {
namespace json = boost::json;
namespace {

// The spellings of "nothing" (the plugin's str(None), JSON's null, and "").
constexpr std::string_view kAbsentSpellings[] = {"", "None", "null"};

constexpr std::pair<std::string_view, bool> kBoolSpellings[] = {
    {"True", true}, {"true", true}, {"False", false}, {"false", false}};

std::optional<double> ParseNumber(std::string_view text) {
  text = TrimSpace(text);
  double value = 0;
  const auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() ||
      !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

std::optional<int64_t> CountFromDouble(double d) {
  // 2^63 is exactly representable; anything below it converts safely.
  constexpr double kLimit = 9223372036854775808.0;
  if (!std::isfinite(d) || d < 0 || d >= kLimit || std::trunc(d) != d) {
    return std::nullopt;
  }
  return static_cast<int64_t>(d);
}

// `text` with each NUL ("\u0000" in JSON, %00 in a form) replaced by U+FFFD:
// SQLite and PostgreSQL text cannot hold a NUL.
std::string WithoutNul(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\0') {
      out += "\xEF\xBF\xBD";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

bool IsAbsent(const json::value* v) {
  if (v == nullptr || v->is_null()) return true;
  if (!v->is_string()) return false;
  const std::string_view s = v->get_string();
  for (std::string_view spelling : kAbsentSpellings) {
    if (s == spelling) return true;
  }
  return false;
}

std::optional<bool> LooseBool(const json::value* v) {
  if (v == nullptr) return std::nullopt;
  if (v->is_bool()) return v->get_bool();
  if (!v->is_string()) return std::nullopt;
  const std::string_view s = v->get_string();
  for (const auto& [spelling, value] : kBoolSpellings) {
    if (s == spelling) return value;
  }
  return std::nullopt;
}

std::optional<double> LooseNumber(const json::value* v) {
  if (v == nullptr) return std::nullopt;
  switch (v->kind()) {
    case json::kind::int64:
      return static_cast<double>(v->get_int64());
    case json::kind::uint64:
      return static_cast<double>(v->get_uint64());
    case json::kind::double_: {
      const double d = v->get_double();
      return std::isfinite(d) ? std::optional<double>(d) : std::nullopt;
    }
    case json::kind::string:
      return ParseNumber(v->get_string());
    default:
      return std::nullopt;
  }
}

std::optional<int64_t> LooseCount(const json::value* v) {
  if (v == nullptr) return std::nullopt;
  switch (v->kind()) {
    case json::kind::int64: {
      const int64_t n = v->get_int64();
      return n >= 0 ? std::optional<int64_t>(n) : std::nullopt;
    }
    case json::kind::uint64: {
      const uint64_t n = v->get_uint64();
      if (n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return std::nullopt;
      }
      return static_cast<int64_t>(n);
    }
    case json::kind::double_:
      return CountFromDouble(v->get_double());
    case json::kind::string: {
      const std::string_view s = TrimSpace(v->get_string());
      int64_t n = 0;
      const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
      if (ec == std::errc() && end == s.data() + s.size()) {
        return n >= 0 ? std::optional<int64_t>(n) : std::nullopt;
      }
      const auto d = ParseNumber(s);
      return d ? CountFromDouble(*d) : std::nullopt;
    }
    default:
      return std::nullopt;
  }
}

std::optional<std::string> LooseString(const json::value* v) {
  if (IsAbsent(v)) return std::nullopt;
  switch (v->kind()) {
    case json::kind::string:
      return WithoutNul(v->get_string());
    case json::kind::int64:
      return std::to_string(v->get_int64());
    case json::kind::uint64:
      return std::to_string(v->get_uint64());
    default:
      return std::nullopt;
  }
}

}  // namespace pm

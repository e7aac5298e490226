#include "api/params.h"

#include <date/date.h>
#include <date/tz.h>
#include <fmt/format.h>

#include <boost/url/params_view.hpp>
#include <boost/url/parse_query.hpp>
#include <charconv>
#include <chrono>

#include "api/text.h"

namespace pm {

Result<Params> Params::FromQuery(std::string_view query) {
  // Boost.URL 1.81's params_view reads a value up to the buffer's NUL, past
  // the end of the view (a request target is a view into the header block),
  // so it gets a copy of its own.
  const std::string text(query);
  auto parsed = boost::urls::parse_query(text);
  if (!parsed) {
    return Invalid(
        "the query string is malformed (bad percent-encoding); encode "
        "parameter values with %XX escapes");
  }
  Params params;
  // Validated above, so this does not throw; '+' decodes to a space.
  for (auto p : boost::urls::params_view(text)) {
    params.values_.emplace_back(std::move(p.key), std::move(p.value));
  }
  return params;
}

std::optional<std::string_view> Params::Get(std::string_view name) const {
  for (const auto& [k, v] : values_) {
    if (k == name) {
      if (v.empty()) return std::nullopt;
      return std::string_view(v);
    }
  }
  return std::nullopt;
}

void Params::Set(std::string name, std::string value) {
  if (value.empty()) return;
  values_.emplace_back(std::move(name), std::move(value));
}

namespace {

bool IsBareDate(std::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return true;
}

TimeMs LocalMidnight(date::local_days day, const date::time_zone* tz) {
  using namespace std::chrono;
  sys_seconds t = tz ? tz->to_sys(date::local_seconds(day.time_since_epoch()),
                                  date::choose::earliest)
                     : sys_seconds(day.time_since_epoch());
  return duration_cast<milliseconds>(t.time_since_epoch()).count();
}

std::optional<TimeMs> ParseTimeIn(std::string_view text,
                                  const date::time_zone* tz) {
  if (!IsBareDate(text)) return ParseTime(text);
  auto utc = ParseTime(text);  // validates the calendar date
  if (!utc) return std::nullopt;
  date::sys_days day{
      std::chrono::floor<date::days>(std::chrono::milliseconds(*utc))};
  return LocalMidnight(date::local_days(day.time_since_epoch()), tz);
}

}  // namespace

Result<std::optional<TimeMs>> TimeParam(const Params& params,
                                        std::string_view name,
                                        const date::time_zone* tz) {
  auto text = params.Get(name);
  if (!text) return std::optional<TimeMs>();
  auto t = ParseTimeIn(*text, tz);
  if (!t) {
    return Invalid(
        fmt::format("{} must be an ISO 8601 date (2024-08-01), a date-time "
                    "(2024-08-01T14:30:00Z) or epoch seconds; got {}",
                    name, QuoteForMessage(*text)));
  }
  return std::optional<TimeMs>(*t);
}

Result<int> IntParam(const Params& params, std::string_view name, int fallback,
                     int min, int max) {
  auto text = params.Get(name);
  if (!text) return fallback;
  int value = 0;
  auto [end, ec] =
      std::from_chars(text->data(), text->data() + text->size(), value);
  if (ec != std::errc() || end != text->data() + text->size() || value < min ||
      value > max) {
    return Invalid(fmt::format("{} must be a whole number {}..{}; got {}", name,
                               min, max, QuoteForMessage(*text)));
  }
  return value;
}

namespace {

constexpr std::string_view kBase64Url =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string Base64Url(std::string_view in) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : in) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kBase64Url[(acc >> bits) & 63];
    }
  }
  if (bits > 0) out += kBase64Url[(acc << (6 - bits)) & 63];
  return out;
}

std::optional<std::string> FromBase64Url(std::string_view in) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    size_t v = kBase64Url.find(c);
    if (v == std::string_view::npos) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

template <typename T>
bool ParseWhole(std::string_view s, T& out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size() && !s.empty();
}

}  // namespace

// Cursor text: "s1.<started_at ms>.<id>" and "e1.<id>", base64url-encoded.
// The version prefix lets a later printmeter refuse an old cursor politely.
std::string EncodeCursor(TimeMs started_at, int64_t id) {
  return Base64Url(fmt::format("s1.{}.{}", started_at, id));
}

std::optional<std::pair<TimeMs, int64_t>> DecodeCursor(std::string_view text) {
  auto raw = FromBase64Url(text);
  if (!raw || raw->rfind("s1.", 0) != 0) return std::nullopt;
  std::string_view rest = std::string_view(*raw).substr(3);
  size_t dot = rest.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  TimeMs started_at = 0;
  int64_t id = 0;
  if (!ParseWhole(rest.substr(0, dot), started_at) ||
      !ParseWhole(rest.substr(dot + 1), id)) {
    return std::nullopt;
  }
  return std::make_pair(started_at, id);
}

std::string EncodeEventCursor(int64_t id) {
  return Base64Url(fmt::format("e1.{}", id));
}

std::optional<int64_t> DecodeEventCursor(std::string_view text) {
  auto raw = FromBase64Url(text);
  if (!raw || raw->rfind("e1.", 0) != 0) return std::nullopt;
  int64_t id = 0;
  if (!ParseWhole(std::string_view(*raw).substr(3), id)) return std::nullopt;
  return id;
}

namespace {

std::string StatusNames() {
  std::string names;
  for (auto s : {SessionStatus::kPrinting, SessionStatus::kPaused,
                 SessionStatus::kCompleted, SessionStatus::kCancelled,
                 SessionStatus::kFailed, SessionStatus::kInterrupted,
                 SessionStatus::kRestarted}) {
    if (!names.empty()) names += ", ";
    names += StatusName(s);
  }
  return names;
}

Status CheckWindow(std::optional<TimeMs> from, std::optional<TimeMs> to) {
  if (from && to && *from >= *to) {
    return Invalid(fmt::format("from ({}) must be before to ({})",
                               FormatIso(*from), FormatIso(*to)));
  }
  return {};
}

}  // namespace

Result<SessionPageQuery> ParseSessionQuery(const Params& params,
                                           const date::time_zone* tz,
                                           int default_limit, int max_limit) {
  SessionPageQuery q;
  if (auto v = params.Get("device")) q.filter.device = std::string(*v);
  if (auto v = params.Get("user")) q.filter.user = std::string(*v);
  if (auto v = params.Get("status")) {
    q.filter.status = StatusFromName(*v);
    if (!q.filter.status) {
      return Invalid(fmt::format("status must be one of {}; got {}",
                                 StatusNames(), QuoteForMessage(*v)));
    }
  }
  auto from = TimeParam(params, "from", tz);
  if (!from) return from.error();
  auto to = TimeParam(params, "to", tz);
  if (!to) return to.error();
  if (auto s = CheckWindow(*from, *to); !s) return s.error();
  q.filter.from = *from;
  q.filter.to = *to;
  auto limit = IntParam(params, "limit", default_limit, 1, max_limit);
  if (!limit) return limit.error();
  q.limit = *limit;
  if (auto v = params.Get("cursor")) {
    q.after = DecodeCursor(*v);
    if (!q.after) {
      return Invalid(
          "cursor is not one this server issued; use the next_cursor of the "
          "previous page, or leave cursor out to start from the newest");
    }
  }
  return q;
}

Result<const date::time_zone*> ZoneParam(std::string_view param,
                                         std::string_view name) {
  auto zone = FindZone(name);
  if (!zone) {
    return Invalid(fmt::format(
        "{} must be an IANA time zone such as UTC or Europe/Berlin; got {}",
        param, QuoteForMessage(name)));
  }
  return *zone;
}

namespace {

// Midnight on the first of the month that contains `now`, in `tz`.
TimeMs StartOfMonth(TimeMs now, const date::time_zone* tz) {
  using namespace std::chrono;
  sys_seconds t{duration_cast<seconds>(milliseconds(now))};
  auto local = tz->to_local(t);
  date::year_month_day ymd{floor<date::days>(local)};
  return LocalMidnight(date::local_days{ymd.year() / ymd.month() / 1}, tz);
}

// A usage window longer than this is refused: it would load every session
// of the period into memory at once.
constexpr TimeMs kMaxUsageWindow = 3700 * kDayMs;  // about 10 years

}  // namespace

Result<UsageQuery> ParseUsageQuery(const Params& params,
                                   const ApiOptions& options, TimeMs now) {
  UsageQuery q;
  auto tz_name = params.Get("tz");
  auto zone = ZoneParam(tz_name ? "tz" : "timezone (config)",
                        tz_name ? *tz_name : options.timezone);
  if (!zone) return zone.error();
  q.tz = *zone;
  auto from = TimeParam(params, "from", q.tz);
  if (!from) return from.error();
  auto to = TimeParam(params, "to", q.tz);
  if (!to) return to.error();
  q.now = now;
  q.to = to->value_or(now);
  // Without `from`: the month that contains the end of the window (this
  // month when `to` is absent too).
  q.from = from->has_value()
               ? **from
               : StartOfMonth(to->has_value() ? q.to - 1 : now, q.tz);
  if (auto s = CheckWindow(q.from, q.to); !s) return s.error();
  if (q.to - q.from > kMaxUsageWindow) {
    return Invalid(
        "from..to spans more than 10 years; ask for a shorter "
        "window");
  }
  auto group_by = ParseGroupBy(params.Get("group_by").value_or("device"));
  if (!group_by) {
    return Invalid("group_by: " + group_by.error().message);
  }
  q.group_by = std::move(*group_by);
  return q;
}

}  // namespace pm

// Request parameters for the read side: the query string of an API request,
// or the flags of `printmeter report` / `printmeter sessions`, validated into
// store and usage queries. One parser for both, so the terminal and the API
// accept the same values and answer with the same messages.
#pragma once

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/options.h"
#include "common/result.h"
#include "common/time.h"
#include "ledger/usage.h"
#include "store/store.h"

namespace date {
class time_zone;
}

namespace pm {

// Named parameter values. The first of a repeated name wins; an empty value
// counts as absent (what an HTML form sends for a field left blank).
class Params {
 public:
  Params() = default;
  Params(std::initializer_list<std::pair<std::string, std::string>> values)
      : values_(values) {}

  // Decodes a query string ("a=1&b=x%20y"; '+' is a space). kInvalid for
  // malformed percent-encoding.
  static Result<Params> FromQuery(std::string_view query);

  std::optional<std::string_view> Get(std::string_view name) const;
  // Adds a value unless `value` is empty (for the CLI's optional flags).
  void Set(std::string name, std::string value);

 private:
  std::vector<std::pair<std::string, std::string>> values_;
};

// A time parameter: ISO 8601 date or date-time, or epoch seconds. A bare date
// ("2024-08-01") means midnight in `tz` (UTC when nullptr), since a manager
// asking for "August" means August where the printers are; date-times
// without an offset are UTC (ParseTime). The error names the parameter.
Result<std::optional<TimeMs>> TimeParam(const Params& params,
                                        std::string_view name,
                                        const date::time_zone* tz);

// An integer parameter in [min, max]; `fallback` when absent.
Result<int> IntParam(const Params& params, std::string_view name, int fallback,
                     int min, int max);

// The opaque continuation token of a session page: (started_at, id) of the
// last row served. Keyset paging, so rows inserted meanwhile neither repeat
// nor shift the pages that follow.
std::string EncodeCursor(TimeMs started_at, int64_t id);
std::optional<std::pair<TimeMs, int64_t>> DecodeCursor(std::string_view text);
// The same for event pages (the id of the last event served).
std::string EncodeEventCursor(int64_t id);
std::optional<int64_t> DecodeEventCursor(std::string_view text);

constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;

// device=, user=, status=, from=, to=, limit=, cursor= -> a page query.
// `tz` reads bare dates (see TimeParam); limit is 1..max_limit.
Result<SessionPageQuery> ParseSessionQuery(const Params& params,
                                           const date::time_zone* tz,
                                           int default_limit,
                                           int max_limit = kMaxPageSize);

// from=, to=, group_by= (default "device"), tz= (default options.timezone)
// -> a usage query without rates (the caller sets q.rates from the
// store's rate history). `from` defaults to the start of the current month
// in the zone, `to` to now.
Result<UsageQuery> ParseUsageQuery(const Params& params,
                                   const ApiOptions& options, TimeMs now);

// The zone named `name`, or the error naming the parameter `param`.
Result<const date::time_zone*> ZoneParam(std::string_view param,
                                         std::string_view name);

}  // namespace pm

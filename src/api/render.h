// Rendering of the read side's objects, shared by the API and the terminal
// commands: one function per object and format, so `printmeter sessions
// --format json` prints exactly what GET /api/v1/sessions serves.
//
// JSON (ledger.md s. 6, api.md "HTTP"): times are ISO 8601 UTC strings with a
// Z, rounded down to the second; durations whole seconds, rounded down;
// null where unknown. Strings that are not valid UTF-8 (a form-encoded file
// name, say) have their bad bytes replaced by U+FFFD.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <span>
#include <string>
#include <string_view>

#include "common/time.h"
#include "ledger/session.h"
#include "ledger/usage.h"
#include "store/store.h"

namespace date {
class time_zone;
}

namespace pm {

// SESSION: id, device, status, started_at, ended_at, duration_s, paused_s,
// print_s, reported_time_s, file {name, path, display, origin, size}, user,
// progress_pct, estimated_s, filament_mm, filament_cm3, error,
// start_inferred, end_inferred, event_count, snapshot, cost. `now` ends an
// open session's duration. `cost` (to the cent) uses the rates in force when
// the session started (SessionCost, ledger/cost.h); 0 without rates.
boost::json::object SessionJson(const Session& s, TimeMs now,
                                const RateHistory& rates);

// {"sessions":[SESSION...],"next_cursor","currency"}: the cursor continues
// after the last row when the page is full (`limit` rows), else null; the
// currency is the configured one, null when none is.
boost::json::object SessionPageJson(std::span<const Session> sessions,
                                    int limit, TimeMs now,
                                    const RateHistory& rates,
                                    std::string_view currency);

// The configured currency as JSON: the text, or null when none is set.
boost::json::value CurrencyJson(std::string_view currency);

// EVENT: id, device, topic, kind, time, received_at, duplicate, test,
// session, content_type, body. The body has the printer's secret masked
// (decode/mask.h) unless `reveal_secrets`; it is omitted when it is not
// UTF-8 or cannot be masked for certain.
boost::json::object EventJson(const EventView& e, bool reveal_secrets = false);

// {"from","to","tz","group_by":[...],"rows":[{"key":{...},FIGURES}],
// "totals":{FIGURES},"currency"}; FIGURES: sessions, completed, cancelled,
// failed, interrupted, restarted, busy_s, paused_s, print_s, utilization,
// filament_mm, cost. The currency as in SessionPageJson.
boost::json::object UsageJson(const UsageQuery& q, const UsageReport& r,
                              std::string_view currency);

// RFC 4180 CSV of sessions (CRLF line ends; fields with a comma, quote, CR
// or LF are quoted, quotes doubled), columns as SESSION with `file` spread
// into file_name, file_path, ...; null is an empty field. `header` starts
// the text with the header line.
void AppendSessionsCsv(std::string& out, std::span<const Session> sessions,
                       TimeMs now, bool header, const RateHistory& rates);

// RFC 4180 CSV of a usage report: one column per group_by key, then the
// figures; a last row "TOTAL" holds the totals.
std::string UsageCsv(const UsageQuery& q, const UsageReport& r);

// One CSV field, quoted when it must be.
std::string CsvField(std::string_view text);

// JSON text, pretty when `pretty` (the terminal), compact otherwise.
std::string JsonText(const boost::json::value& v, bool pretty);

// Terminal tables: times in `tz` (UTC when nullptr), durations as "1h 23m",
// utilization as %, costs with two decimals (the currency, when one is
// configured, in the line below the table), a null user as "unattributed".
std::string SessionsTable(std::span<const Session> sessions, TimeMs now,
                          const date::time_zone* tz, const RateHistory& rates,
                          std::string_view currency);
std::string UsageTable(const UsageQuery& q, const UsageReport& r,
                       std::string_view currency);

// The ETA rule of the printers endpoint (see render.cc).
struct Eta {
  std::optional<int64_t> remaining_s;
  std::optional<TimeMs> eta;
};
Eta EstimateEta(const Session& open, TimeMs now);

}  // namespace pm

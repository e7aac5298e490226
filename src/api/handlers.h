// The endpoints of the read side, one function each; api.cc routes to them
// and checks access first. Each returns the response, or an Error whose code
// becomes the status and whose message becomes {"error": ...}.
#pragma once

#include <boost/json/array.hpp>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "api/api.h"
#include "api/metrics.h"
#include "api/params.h"
#include "common/result.h"

namespace date {
class time_zone;
}

namespace pm {

// What every endpoint may use. Outlives the calls.
struct ApiContext {
  Store& store;
  const ApiOptions& options;
  const Clock& clock;
  const date::time_zone* zone;  // options.timezone; nullptr = UTC
  WebhookMetrics& webhooks;
  LedgerTotals& totals;
  // Attributions go to the single writer (api.h, MakeApi).
  std::function<Status(int64_t, const std::string&)> attribute;
};

// One request as an endpoint sees it.
struct ApiCall {
  Params params;                      // the query string
  std::vector<std::string_view> ids;  // the {id} segments of the path
  std::string_view body;
};

// Rows GET /api/v1/sessions.csv serves at most (the newest ones); beyond,
// the X-Printmeter-Truncated header says so.
constexpr int kMaxCsvRows = 200000;

Result<ApiResponse> GetPrinters(ApiContext& ctx, const ApiCall& call);
Result<ApiResponse> ListSessions(ApiContext& ctx, const ApiCall& call);
Result<ApiResponse> SessionsCsv(ApiContext& ctx, const ApiCall& call);
Result<ApiResponse> GetSession(ApiContext& ctx, const ApiCall& call);
Result<ApiResponse> PutSessionUser(ApiContext& ctx, const ApiCall& call);
Result<ApiResponse> GetUsage(ApiContext& ctx, const ApiCall& call);
Result<ApiResponse> ListEvents(ApiContext& ctx, const ApiCall& call);
Result<ApiResponse> GetMetrics(ApiContext& ctx, const ApiCall& call);
// api/forwarding.cc
Result<ApiResponse> GetForwarding(ApiContext& ctx, const ApiCall& call);

// Up to q.limit sessions matching q, newest first, paged through the store
// kMaxPageSize at a time (for CSV and the terminal).
Result<std::vector<Session>> ListAllSessions(Store& store, SessionPageQuery q);

// The printers GET /api/v1/printers lists, as it renders them (for other
// followers of the ledger, such as the MQTT publisher, to say the same).
Result<boost::json::array> PrintersJson(Store& store, const ApiOptions& options,
                                        TimeMs now);

// The usage report over the store (SessionsOverlapping + ComputeUsage), for
// the API and `printmeter report`.
Result<UsageReport> RunUsage(Store& store, const UsageQuery& query);

}  // namespace pm

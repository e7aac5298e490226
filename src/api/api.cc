// The read side's front door: a route table, access checks, error bodies.
#include "api/api.h"

#include <date/tz.h>
#include <fmt/format.h>

#include <boost/json/serialize.hpp>
#include <exception>

#include "api/handlers.h"
#include "api/maintenance_api.h"
#include "api/metrics.h"
#include "api/snapshot.h"
#include "http/status.h"

namespace pm {

namespace {

enum class Access {
  kRead,   // the read token when one is configured
  kAdmin,  // the admin token; loopback only while none is configured
};

using Handler = Result<ApiResponse> (*)(ApiContext&, const ApiCall&);

struct Route {
  std::string_view method;
  std::string_view pattern;  // "{id}" matches one path segment
  Access access;
  Handler handler;
};

constexpr Route kRoutes[] = {
    {"GET", "/api/v1/printers", Access::kRead, GetPrinters},
    {"GET", "/api/v1/sessions", Access::kRead, ListSessions},
    {"GET", "/api/v1/sessions.csv", Access::kRead, SessionsCsv},
    {"GET", "/api/v1/sessions/{id}", Access::kRead, GetSession},
    {"GET", "/api/v1/sessions/{id}/snapshot", Access::kRead,
     GetSessionSnapshot},
    {"GET", "/api/v1/events/{id}/snapshot", Access::kRead, GetEventSnapshot},
    {"GET", "/api/v1/stream", Access::kRead, OpenEventStream},
    {"PUT", "/api/v1/sessions/{id}/user", Access::kAdmin, PutSessionUser},
    {"POST", "/api/v1/printers/{id}/maintenance/{id}/done", Access::kAdmin,
     PostMaintenanceDone},
    {"GET", "/api/v1/usage", Access::kRead, GetUsage},
    {"GET", "/api/v1/events", Access::kAdmin, ListEvents},
    {"GET", "/api/v1/forwarding", Access::kAdmin, GetForwarding},
    {"GET", "/metrics", Access::kRead, GetMetrics},
};

// Whether `path` fits `pattern`; the {id} segments go to `ids`.
bool Match(std::string_view pattern, std::string_view path,
           std::vector<std::string_view>& ids) {
  ids.clear();
  while (!pattern.empty() && !path.empty()) {
    size_t p_end = pattern.find('/', 1);
    size_t s_end = path.find('/', 1);
    std::string_view p_seg = pattern.substr(0, p_end);
    std::string_view s_seg = path.substr(0, s_end);
    if (p_seg == "/{id}") {
      if (s_seg.size() < 2) return false;
      ids.push_back(s_seg.substr(1));
    } else if (p_seg != s_seg) {
      return false;
    }
    pattern = p_end == std::string_view::npos ? "" : pattern.substr(p_end);
    path = s_end == std::string_view::npos ? "" : path.substr(s_end);
  }
  return pattern.empty() && path.empty();
}

ApiResponse ErrorResponse(const Error& error) {
  ApiResponse r;
  r.status = HttpStatus(error.code);
  r.body =
      boost::json::serialize(boost::json::object{{"error", error.message}});
  if (r.status == 401) {
    r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"printmeter\"");
  }
  return r;
}

// Compares in time that depends on the lengths only, not on where the
// strings differ.
bool TokensEqual(std::string_view given, std::string_view expected) {
  unsigned char diff = given.size() != expected.size();
  for (size_t i = 0; i < expected.size(); ++i) {
    unsigned char g = i < given.size() ? given[i] : 0;
    diff |= g ^ static_cast<unsigned char>(expected[i]);
  }
  return diff == 0;
}

// The token of "Authorization: Bearer TOKEN" (scheme in any case).
std::optional<std::string_view> BearerToken(std::string_view header) {
  constexpr std::string_view kScheme = "bearer ";
  if (header.size() <= kScheme.size()) return std::nullopt;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(header[i])) != kScheme[i]) {
      return std::nullopt;
    }
  }
  std::string_view token = header.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  return token;
}

std::optional<std::string_view> Configured(const std::string& token) {
  if (token.empty()) return std::nullopt;
  return std::string_view(token);
}

Status CheckAccess(const ApiOptions& options, Access access,
                   const ApiRequest& request) {
  auto token = BearerToken(request.authorization);
  auto read = Configured(options.read_token);
  auto admin = Configured(options.admin_token);
  bool is_admin = token && admin && TokensEqual(*token, *admin);
  bool is_reader = token && read && TokensEqual(*token, *read);
  // An admin endpoint asks for the admin token, whatever else is set.
  if (access == Access::kAdmin && admin && !is_admin && !is_reader) {
    return Error{ErrorCode::kUnauthorized,
                 token ? "this is an admin endpoint: the bearer token is not "
                         "the configured admin_token"
                       : "this is an admin endpoint: it needs the admin "
                         "token; send \"Authorization: Bearer <admin_token>\""};
  }
  if (read && !is_reader && !is_admin) {
    return Error{ErrorCode::kUnauthorized,
                 token ? "the bearer token is not the configured read_token "
                         "(or admin_token)"
                       : "this API needs the read token: send "
                         "\"Authorization: Bearer <read_token>\""};
  }
  if (access != Access::kAdmin) return {};
  if (admin) {
    if (is_admin) return {};
    if (is_reader) {
      return Error{ErrorCode::kForbidden,
                   "this is an admin endpoint and the read token does not "
                   "grant it; send the admin_token instead"};
    }
    return Error{ErrorCode::kUnauthorized,
                 "this is an admin endpoint: the bearer token is not the "
                 "configured admin_token"};
  }
  if (request.from_loopback) return {};
  return Error{ErrorCode::kForbidden,
               "admin endpoints answer only clients on this machine while no "
               "admin_token is configured; set admin_token in the config file "
               "(or PRINTMETER_ADMIN_TOKEN) to use them from elsewhere"};
}

const date::time_zone* ConfiguredZone(const ApiOptions& options) {
  auto zone = FindZone(options.timezone);
  return zone ? *zone : nullptr;
}

class ApiImpl final : public Api {
 public:
  ApiImpl(Store& store, const ApiOptions& options, const Clock& clock,
          AttributeFn attribute)
      : options_(options),
        ctx_{.store = store,
             .options = options_,
             .clock = clock,
             .zone = ConfiguredZone(options_),
             .webhooks = webhooks_,
             .totals = totals_,
             .attribute = std::move(attribute)} {}

  ApiResponse Handle(const ApiRequest& request) override {
    try {
      auto response = Route(request);
      return response ? std::move(*response) : ErrorResponse(response.error());
    } catch (const std::exception& e) {
      return ErrorResponse(
          Internal(std::string("internal error while answering: ") + e.what()));
    }
  }

  ReceiverMetrics& metrics() override { return webhooks_; }

 private:
  Result<ApiResponse> Route(const ApiRequest& request) {
    std::string_view target = request.target;
    size_t q = target.find('?');
    std::string_view path = target.substr(0, q);
    std::string_view query =
        q == std::string_view::npos ? "" : target.substr(q + 1);
    // HEAD is answered as GET; the server leaves out the body.
    std::string_view method = request.method == "HEAD" ? "GET" : request.method;

    ApiCall call;
    std::string allow;
    for (const auto& route : kRoutes) {
      if (!Match(route.pattern, path, call.ids)) continue;
      if (route.method != method) {
        allow += allow.empty() ? "" : ", ";
        allow += route.method == "GET" ? "GET, HEAD" : route.method;
        continue;
      }
      if (auto s = CheckAccess(ctx_.options, route.access, request); !s) {
        return s.error();
      }
      auto params = Params::FromQuery(query);
      if (!params) return params.error();
      call.params = std::move(*params);
      call.body = request.body;
      return route.handler(ctx_, call);
    }
    if (!allow.empty()) {
      ApiResponse r =
          ErrorResponse({ErrorCode::kInvalid,
                         fmt::format("{} is not allowed on this path; use {}",
                                     request.method.substr(0, 16), allow)});
      r.status = 405;
      r.headers.emplace_back("Allow", allow);
      return r;
    }
    return NotFound(
        "no such API endpoint; see /api/v1/printers, /api/v1/sessions, "
        "/api/v1/usage, /api/v1/events and /metrics");
  }

  const ApiOptions options_;
  WebhookMetrics webhooks_;
  LedgerTotals totals_;
  ApiContext ctx_;
};

}  // namespace

bool Api::Serves(std::string_view path) {
  return path == "/metrics" || path == "/api" || path.rfind("/api/", 0) == 0;
}

std::unique_ptr<Api> MakeApi(Store& store, const ApiOptions& options,
                             const Clock& clock, AttributeFn attribute) {
  if (!attribute) {
    attribute = [&store](int64_t id, const std::string& user) {
      return store.SetSessionUser(id, user);
    };
  }
  return std::make_unique<ApiImpl>(store, options, clock, std::move(attribute));
}

}  // namespace pm

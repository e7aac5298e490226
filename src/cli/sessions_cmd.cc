// `printmeter sessions`: the session list on the terminal, as a table, CSV
// or the JSON of GET /api/v1/sessions.
#include <fmt/format.h>

#include <memory>

#include "api/handlers.h"
#include "api/params.h"
#include "api/render.h"
#include "cli/commands.h"
#include "store/rate_history.h"
#include "store/store.h"

namespace pm {

namespace {

constexpr int kDefaultLimit = 50;

struct SessionsOptions {
  CommonOptions common;
  std::string device, user, status, from, to, limit, format = "table";
};

int Fail(const std::string& message) {
  fmt::print(stderr, "printmeter sessions: {}\n", message);
  return 1;
}

int RunSessions(const SessionsOptions& o) {
  auto config = ResolveConfig(o.common);
  if (!config) return Fail(config.error().message);
  auto zone = ZoneParam("timezone (config)", config->timezone);
  if (!zone) return Fail(zone.error().message);
  Params params;
  params.Set("device", o.device);
  params.Set("user", o.user);
  params.Set("status", o.status);
  params.Set("from", o.from);
  params.Set("to", o.to);
  params.Set("limit", o.limit);
  auto query = ParseSessionQuery(params, *zone, kDefaultLimit, kMaxCsvRows);
  if (!query) return Fail("--" + query.error().message);
  auto store = OpenStore(config->db, {.read_only = true});
  if (!store) return Fail(store.error().message);
  TimeMs now = SystemClock().Now();
  std::string note;
  auto rates = RecordRates(**store, ConfiguredRates(*config), now, &note);
  if (!rates) return Fail(rates.error().message);
  if (!note.empty())
    fmt::print(stderr, "printmeter sessions: note: {}\n", note);
  auto sessions = ListAllSessions(**store, *query);
  if (!sessions) return Fail(sessions.error().message);
  const std::string& currency = config->currency;
  if (o.format == "json") {
    fmt::print("{}", JsonText(SessionPageJson(*sessions, query->limit, now,
                                              *rates, currency),
                              /*pretty=*/true));
  } else if (o.format == "csv") {
    std::string csv;
    AppendSessionsCsv(csv, *sessions, now, /*header=*/true, *rates);
    fmt::print("{}", csv);
  } else {
    fmt::print("{}", SessionsTable(*sessions, now, *zone, *rates, currency));
    if (static_cast<int>(sessions->size()) == query->limit) {
      fmt::print("(the newest {}; --limit N shows more)\n", query->limit);
    }
  }
  return 0;
}

}  // namespace

void AddSessionsCommand(CLI::App& app) {
  auto o = std::make_shared<SessionsOptions>();
  auto* cmd = app.add_subcommand(
      "sessions",
      "List print sessions, newest first: who printed what, on "
      "which printer, when, and how it ended");
  AddCommonOptions(*cmd, o->common);
  AddSettingFlags(*cmd, o->common, {"timezone", "currency"});
  cmd->add_option("--device", o->device, "only this printer (device id)");
  cmd->add_option("--user", o->user, "only this user");
  cmd->add_option("--status", o->status,
                  "only this status: printing, paused, completed, cancelled, "
                  "failed, interrupted, restarted");
  cmd->add_option("--from", o->from,
                  "only sessions overlapping [from, to): 2024-08-01 "
                  "(midnight in the configured timezone), "
                  "2024-08-01T08:00:00Z or epoch seconds");
  cmd->add_option("--to", o->to, "end of that window, exclusive");
  cmd->add_option("--limit", o->limit,
                  fmt::format("at most this many sessions (default {}, at "
                              "most {})",
                              kDefaultLimit, kMaxCsvRows));
  cmd->add_option("--format", o->format, "table (default), csv or json")
      ->check(CLI::IsMember({"table", "csv", "json"}));
  cmd->footer(
      "Times in the table are in the configured timezone; CSV and JSON use "
      "UTC. A * marks a start or end printmeter inferred rather than saw. "
      "Example:\n  printmeter sessions --device delta --from 2024-08-01 "
      "--format csv > august.csv");
  cmd->callback([o] {
    if (int rc = RunSessions(*o); rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace pm

// `printmeter report`: the usage report (ledger.md s. 7) on the terminal, as
// a table, CSV or the JSON of GET /api/v1/usage.
#include <fmt/format.h>

#include <memory>

#include "api/handlers.h"
#include "api/params.h"
#include "api/render.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "store/rate_history.h"
#include "store/store.h"

namespace pm {

namespace {

struct ReportOptions {
  CommonOptions common;
  std::string from, to, by = "device", tz, format = "table";
};

int Fail(const std::string& message) {
  fmt::print(stderr, "printmeter report: {}\n", message);
  return 1;
}

// The API's parameter names in messages become this command's flags.
std::string AsFlags(std::string message) {
  static const std::pair<std::string_view, std::string_view> kFlags[] = {
      {"group_by", "--by"}, {"from", "--from"}, {"to", "--to"}, {"tz", "--tz"}};
  for (const auto& [param, flag] : kFlags) {
    if (message.rfind(param, 0) == 0 &&
        (message.size() == param.size() || message[param.size()] == ' ' ||
         message[param.size()] == ':')) {
      return std::string(flag) + message.substr(param.size());
    }
  }
  return message;
}

int RunReport(const ReportOptions& o) {
  auto config = ResolveConfig(o.common);
  if (!config) return Fail(config.error().message);
  Params params;
  params.Set("from", o.from);
  params.Set("to", o.to);
  params.Set("group_by", o.by);
  params.Set("tz", o.tz);
  auto query =
      ParseUsageQuery(params, ApiOptionsFrom(*config), SystemClock().Now());
  if (!query) return Fail(AsFlags(query.error().message));
  auto store = OpenStore(config->db, {.read_only = true});
  if (!store) return Fail(store.error().message);
  std::string note;
  auto rates =
      RecordRates(**store, ConfiguredRates(*config), query->now, &note);
  if (!rates) return Fail(rates.error().message);
  if (!note.empty()) fmt::print(stderr, "printmeter report: note: {}\n", note);
  query->rates = std::move(*rates);
  auto report = RunUsage(**store, *query);
  if (!report) return Fail(report.error().message);
  const std::string& currency = config->currency;
  if (o.format == "json") {
    fmt::print("{}", JsonText(UsageJson(*query, *report, currency),
                              /*pretty=*/true));
  } else if (o.format == "csv") {
    fmt::print("{}", UsageCsv(*query, *report));
  } else {
    fmt::print("{}", UsageTable(*query, *report, currency));
  }
  return 0;
}

}  // namespace

void AddReportCommand(CLI::App& app) {
  auto o = std::make_shared<ReportOptions>();
  auto* cmd = app.add_subcommand(
      "report",
      "Usage report: sessions, busy and print hours, utilization, filament "
      "and cost per printer (or per user, day, week, month, origin, status)");
  AddCommonOptions(*cmd, o->common);
  AddSettingFlags(*cmd, o->common, {"currency"});  // --tz: the zone
  cmd->add_option("--from", o->from,
                  "start of the window: 2024-08-01, 2024-08-01T08:00:00Z or "
                  "epoch seconds (default: the 1st of this month; a bare date "
                  "is midnight in --tz)");
  cmd->add_option("--to", o->to, "end of the window, exclusive (default: now)");
  cmd->add_option("--by", o->by,
                  "group by these keys, comma-separated: device, user, day, "
                  "week, month, origin, status (default: device)");
  cmd->add_option("--tz", o->tz,
                  "IANA time zone of days, weeks and months, e.g. "
                  "Europe/Berlin (default: the configured timezone)");
  cmd->add_option("--format", o->format, "table (default), csv or json")
      ->check(CLI::IsMember({"table", "csv", "json"}));
  cmd->footer(
      "Busy time runs from a print's start to its end, pauses included; "
      "print time leaves pauses out. Counts, filament and cost belong to the "
      "window in which a print started. Example:\n"
      "  printmeter report --from 2024-08-01 --to 2024-09-01 --by user,month");
  cmd->callback([o] {
    if (int rc = RunReport(*o); rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace pm

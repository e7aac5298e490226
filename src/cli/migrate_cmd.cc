// `printmeter migrate`: copies a whole database into a new one, e.g. from the
// Raspberry Pi's SQLite file to a print farm's PostgreSQL (ingest/migrate.h).
#include <fmt/format.h>

#include <filesystem>
#include <memory>
#include <optional>

#include "cli/commands.h"
#include "ingest/migrate.h"
#include "ingest/progress.h"
#include "store/store.h"

namespace pm {
namespace {

struct MigrateOptions {
  std::string from;
  std::string to;
};

int Fail(const Error& e) {
  fmt::print(stderr, "printmeter migrate: {}\n", e.message);
  return 1;
}

int RunMigrate(const CommonOptions& common, const MigrateOptions& o) {
  auto config = ResolveConfig(common);
  if (!config) return Fail(config.error());
  // A SQLite source a `serve` ended with webhooks still in its append
  // journal (a crash, a power cut): moved into it first, as the next serve
  // would, by opening it once as its writer (refused while one runs).
  if (o.from.starts_with("sqlite:") &&
      std::filesystem::exists(o.from.substr(7) + "-appends")) {
    auto writer = OpenStore(
        o.from, {.writer = true, .program = "printmeter migrate"});
    if (!writer) {
      return Fail({writer.error().code,
                   fmt::format("--from {}: {}", RedactedUrl(o.from),
                               writer.error().message)});
    }
  }
  auto from = OpenStore(o.from, {.read_only = true});
  if (!from) {
    return Fail({from.error().code,
                 fmt::format("--from {}: {}", RedactedUrl(o.from), from.error().message)});
  }
  auto to = OpenStore(o.to, {.writer = true, .program = "printmeter migrate"});
  if (!to) {
    return Fail({to.error().code,
                 fmt::format("--to {}: {}", RedactedUrl(o.to), to.error().message)});
  }
  // The source's last id, as its readers see it (LastEventId is the
  // writer's: a source opened read-only has none), for the bars' total.
  auto total = (*from)->LogEnd();
  LedgerConfig ledger;
  ledger.stale_after = config->stale_after;
  PhasedProgress progress({{"copying", "copying the log"},
                            {"reading", "reading the copy again"},
                            {"folding", "folding the ledger"}},
                           total ? *total : 0);
  auto stats = Migrate(**from, **to, ledger,
                       [&](const char* phase, int64_t done) {
                         progress.Update(phase, done);
                       });
  progress.Finish();
  if (!stats) return Fail(stats.error());
  fmt::print(
      "copied {} event(s), {} printer(s), {} rate change(s), {} "
      "attribution(s), {} maintenance mark(s) and {} forwarding target(s)' "
      "positions with {} notice(s) sent; the new ledger has {} session(s) "
      "on {} printer(s)\n",
      stats->events, stats->devices, stats->rate_changes,
      stats->attributions, stats->maintenance_marks, stats->forward_targets,
      stats->forward_notices, stats->ledger.sessions, stats->ledger.devices);
  return 0;
}

}  // namespace

void AddMigrateCommand(CLI::App& app) {
  auto common = std::make_shared<CommonOptions>();
  auto o = std::make_shared<MigrateOptions>();
  auto* cmd = app.add_subcommand(
      "migrate",
      "Copy a whole database into a new, empty one: the event log, printers "
      "and their secrets, rate history, attributions and maintenance marks; "
      "then fold its "
      "ledger. For moving from the Raspberry Pi's SQLite file to a print "
      "farm's PostgreSQL, or into a new SQLite file (which stores the "
      "requests of an older printmeter's file compressed)");
  cmd->add_option("--from", o->from,
                  "the database to copy, e.g. sqlite:printmeter.db (only "
                  "read)")
      ->required();
  cmd->add_option("--to", o->to,
                  "the new database, e.g. "
                  "postgresql://printmeter:PASSWORD@db.local/printmeter; it "
                  "must be empty")
      ->required();
  cmd->add_option("--config", common->config_path,
                  "config file (default: ./printmeter.toml when it exists); "
                  "its stale_after folds the new ledger");
  AddSettingFlags(*cmd, *common, {"stale_after"});
  cmd->footer(
      "Stop `printmeter serve` on the old database first, so that nothing "
      "arrives there after the copy. To be sure the new ledger equals the "
      "old one, run `printmeter rebuild` on the old database first.\n"
      "Examples:\n  printmeter migrate --from sqlite:printmeter.db \\\n"
      "    --to postgresql://printmeter:PASSWORD@db.local:5432/printmeter\n"
      "  printmeter migrate --from sqlite:printmeter.db --to "
      "sqlite:compact.db");
  cmd->callback([common, o] {
    if (int rc = RunMigrate(*common, *o); rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace pm

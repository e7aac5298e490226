// `printmeter rebuild`: re-derive every session from the stored events.
#include <fmt/format.h>

#include <memory>

#include "cli/commands.h"
#include "ingest/progress.h"
#include "ingest/rebuild.h"
#include "store/rate_history.h"
#include "store/store.h"

namespace pm {

namespace {

int Fail(const Error& e) {
  fmt::print(stderr, "printmeter rebuild: {}\n", e.message);
  return 1;
}

// About how many events are stored: the newest id (ids have few gaps).
int64_t EstimateEvents(Store& store) {
  EventPageQuery q;
  q.limit = 1;
  auto newest = store.ListEvents(q);
  if (!newest || newest->empty()) return 0;
  return newest->front().event.id;
}

int RunRebuild(const CommonOptions& common, bool decode_all) {
  auto config = ResolveConfig(common);
  if (!config) return Fail(config.error());
  auto store =
      OpenStore(config->db, {.writer = true, .program = "printmeter rebuild"});
  if (!store) return Fail(store.error());
  if (auto rates =
          RecordRates(**store, ConfiguredRates(*config), SystemClock().Now());
      !rates) {
    return Fail(rates.error());
  }
  LedgerConfig ledger;
  ledger.stale_after = config->stale_after;
  PhasedProgress progress({{"reading", "reading the log"},
                            {"folding", "folding the ledger"}},
                           EstimateEvents(**store));
  auto stats = Rebuild(**store, ledger, DecodeLimits{},
                       [&progress](const char* phase, int64_t n) {
                         progress.Update(phase, n);
                       },
                       decode_all);
  progress.Finish();
  if (!stats) return Fail(stats.error());
  fmt::print(
      "rebuilt {} session(s) on {} printer(s) from {} event(s) "
      "({} duplicates, {} test events, {} stale sweeps)\n",
      stats->sessions, stats->devices, stats->events, stats->duplicates,
      stats->tests, stats->swept);
  if (stats->ledger_rows_changed) {
    if (*stats->ledger_rows_changed == 0) {
      fmt::print("the stored ledger was already right: nothing written\n");
    } else {
      fmt::print(
          "{} row(s) of the stored ledger (sessions, event links, printer "
          "states) differed and were rewritten; the rest were right\n",
          *stats->ledger_rows_changed);
    }
  }
  if (stats->decoded_again > 0) {
    fmt::print(
        "{} stored request(s) decoded again (read by another version of "
        "printmeter, or --decode-all)\n",
        stats->decoded_again);
  }
  if (stats->redecoded_differently > 0) {
    fmt::print(
        "{} stored request(s) read differently with this version of "
        "printmeter; the ledger follows the new reading\n",
        stats->redecoded_differently);
  }
  if (stats->undecodable > 0) {
    fmt::print(
        "{} stored request(s) this version cannot read; they were "
        "folded as first stored\n",
        stats->undecodable);
  }
  return 0;
}

}  // namespace

void AddRebuildCommand(CLI::App& app) {
  auto common = std::make_shared<CommonOptions>();
  auto decode_all = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand(
      "rebuild",
      "Re-derive every session from the stored event log (after an upgrade, "
      "or to check the ledger); user attributions are kept");
  AddCommonOptions(*cmd, *common);
  AddSettingFlags(*cmd, *common, {"stale_after"});
  cmd->add_flag(
      "--decode-all", *decode_all,
      "Decode every stored request again. Without it, only the requests "
      "another version of printmeter read are decoded again (this version "
      "reads the rest as they are stored); the ledger is folded again "
      "whole either way.");
  cmd->footer(
      "On SQLite the folded ledger is compared with the stored one and only "
      "the rows that differ are written: it says when the ledger was right "
      "already. One writer at a time: refused while `printmeter serve` or an "
      "import writes the same database.");
  cmd->callback([common, decode_all] {
    if (int rc = RunRebuild(*common, *decode_all); rc != 0) {
      throw CLI::RuntimeError(rc);
    }
  });
}

}  // namespace pm

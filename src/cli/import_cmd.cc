// `printmeter import FILE...`: recorded requests through the receiver's path.
#include <fmt/format.h>

#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "ingest/import.h"
#include "ingest/writer.h"
#include "ingest/progress.h"
#include "store/rate_history.h"
#include "store/store.h"

namespace pm {

namespace {

struct ImportOptions {
  CommonOptions common;
  std::vector<std::string> files;
};

int Fail(const Error& e) {
  fmt::print(stderr, "printmeter import: {}\n", e.message);
  return 1;
}

void PrintSummary(const ImportSummary& s) {
  fmt::print("stored {}, duplicates {}, test events {}, rejected {}\n",
             s.stored, s.duplicates, s.tests, s.rejected);
  for (const auto& [reason, count] : s.reasons) {
    fmt::print("  rejected {}x: {}\n", count, reason);
  }
}

int RunImport(const ImportOptions& o) {
  auto config = ResolveConfig(o.common);
  if (!config) return Fail(config.error());
  std::vector<RecordedRequest> requests;
  for (const std::string& file : o.files) {
    auto read = ReadRecordedRequests(file);
    if (!read) return Fail(read.error());
    for (RecordedRequest& r : *read) requests.push_back(std::move(r));
  }
  auto store =
      OpenStore(config->db, {.writer = true, .program = "printmeter import"});
  if (!store) return Fail(store.error());
  if (auto rates =
          RecordRates(**store, ConfiguredRates(*config), SystemClock().Now());
      !rates) {
    return Fail(rates.error());
  }
  SystemClock clock;
  IngestOptions options = IngestOptionsFrom(*config);
  options.sweep_interval = 0;  // the server sweeps; an import only appends
  IngestWriter writer(**store, options, clock);
  if (auto s = writer.Start(); !s) return Fail(s.error());
  Progress progress("importing", static_cast<int64_t>(requests.size()));
  ImportSummary summary =
      ImportRequests(requests, writer, clock, DecodeLimits{},
                     [&progress](int64_t done) { progress.Update(done); });
  progress.Finish();
  writer.Stop();
  PrintSummary(summary);
  return summary.rejected > 0 ? 1 : 0;
}

}  // namespace

void AddImportCommand(CLI::App& app) {
  auto o = std::make_shared<ImportOptions>();
  auto* cmd = app.add_subcommand(
      "import",
      "Feed recorded webhook requests through the receiver's path (decode, "
      "authenticate, store, fold), as if the plugin had posted them");
  AddCommonOptions(*cmd, o->common);
  AddSettingFlags(*cmd, o->common, {"auth", "stale_after", "pictures"});
  cmd->add_option("FILE", o->files,
                  "a JSON body, JSON lines (one body per line), or a raw "
                  "HTTP request (.http)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->footer(
      "Bodies without currentTime get the import time as their event time. "
      "Secrets are checked as the server would (--auth from the config). "
      "One writer at a time: refused while `printmeter serve` writes the same "
      "database; stop it first, or POST the files to the running server.\n"
      "Exit status: 0 when every request was stored, 1 when any was "
      "rejected (the reasons are listed).");
  cmd->callback([o] {
    if (int rc = RunImport(*o); rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace pm

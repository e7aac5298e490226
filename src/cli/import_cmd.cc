// `printmeter import FILE...`: recorded requests through the receiver's path.
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
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

// The rejections' reasons, the most frequent first; past the tenth only
// how many more (a file that is not webhooks at all has a reason per line).
void PrintSummary(const ImportSummary& s) {
  constexpr size_t kReasonsShown = 10;
  fmt::print("stored {}, duplicates {}, test events {}, rejected {}\n",
             s.stored, s.duplicates, s.tests, s.rejected);
  std::vector<std::pair<std::string, int64_t>> reasons(s.reasons.begin(),
                                                       s.reasons.end());
  std::stable_sort(reasons.begin(), reasons.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  int64_t others = 0;
  for (size_t i = 0; i < reasons.size(); ++i) {
    if (i < kReasonsShown) {
      fmt::print("  rejected {}x: {}\n", reasons[i].second, reasons[i].first);
    } else {
      others += reasons[i].second;
    }
  }
  if (reasons.size() > kReasonsShown) {
    fmt::print("  rejected {}x for {} other reason(s)\n", others,
               reasons.size() - kReasonsShown);
  }
}

int RunImport(const ImportOptions& o) {
  auto config = ResolveConfig(o.common);
  if (!config) return Fail(config.error());
  // Every file opened, and its requests counted for the progress bar,
  // before anything is stored: a file that cannot be read stops the import
  // before it starts. Then each is read again a request at a time. A pipe
  // (`<(zcat log.jsonl.gz)`, /dev/stdin) can be read only once: then the
  // bar shows the count without a total.
  int64_t total = 0;
  bool countable = true;
  for (const std::string& file : o.files) {
    std::error_code ec;
    countable = countable && std::filesystem::is_regular_file(file, ec);
  }
  for (RequestSource count = RequestsOfFiles(o.files); countable;) {
    auto next = count();
    if (!next) return Fail(next.error());
    if (!*next) break;
    ++total;
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
  Progress progress("importing", total);
  auto summary =
      ImportRequests(RequestsOfFiles(o.files), writer, clock, DecodeLimits{},
                     [&progress](int64_t done) { progress.Update(done); });
  progress.Finish();
  writer.Stop();
  if (!summary) {
    return Fail({summary.error().code,
                 fmt::format("{} (what was read before it is stored)",
                             summary.error().message)});
  }
  PrintSummary(*summary);
  return summary->rejected > 0 ? 1 : 0;
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
                  "a JSON body, JSON lines (one body per line, read a line at "
                  "a time: a file of any size, or a pipe such as "
                  "<(zcat log.jsonl.gz)), or a raw HTTP request (.http)")
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

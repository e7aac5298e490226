#include <cstdio>

#include "cli/commands.h"

namespace pm {

void AddReportCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("report", "(not yet available)");
  cmd->callback([] {
    std::fprintf(stderr, "printmeter report: not yet available in this version\n");
    throw CLI::RuntimeError(2);
  });
}

}  // namespace pm

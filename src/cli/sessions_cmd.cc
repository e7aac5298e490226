#include <cstdio>

#include "cli/commands.h"

namespace pm {

void AddSessionsCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("sessions", "(not yet available)");
  cmd->callback([] {
    std::fprintf(stderr, "printmeter sessions: not yet available in this version\n");
    throw CLI::RuntimeError(2);
  });
}

}  // namespace pm

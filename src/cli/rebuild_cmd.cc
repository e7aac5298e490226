#include <cstdio>

#include "cli/commands.h"

namespace pm {

void AddRebuildCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("rebuild", "(not yet available)");
  cmd->callback([] {
    std::fprintf(stderr, "printmeter rebuild: not yet available in this version\n");
    throw CLI::RuntimeError(2);
  });
}

}  // namespace pm

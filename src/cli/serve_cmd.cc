#include <cstdio>

#include "cli/commands.h"

namespace pm {

void AddServeCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("serve", "(not yet available)");
  cmd->callback([] {
    std::fprintf(stderr, "printmeter serve: not yet available in this version\n");
    throw CLI::RuntimeError(2);
  });
}

}  // namespace pm

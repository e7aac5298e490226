#include <cstdio>

#include "cli/commands.h"

namespace pm {

void AddImportCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("import", "(not yet available)");
  cmd->callback([] {
    std::fprintf(stderr, "printmeter import: not yet available in this version\n");
    throw CLI::RuntimeError(2);
  });
}

}  // namespace pm

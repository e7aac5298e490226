#include <cstdio>

#include "cli/commands.h"

namespace pm {

void AddDevicesCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("devices", "(not yet available)");
  cmd->callback([] {
    std::fprintf(stderr, "printmeter devices: not yet available in this version\n");
    throw CLI::RuntimeError(2);
  });
}

}  // namespace pm

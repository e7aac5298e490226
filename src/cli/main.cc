// printmeter: one binary, a table of subcommands (api.md "Command line").
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/commands.h"

namespace {

// Every subcommand, in the order `--help` lists them.
constexpr void (*kCommands[])(CLI::App&) = {
    pm::AddServeCommand,  pm::AddReportCommand,  pm::AddSessionsCommand,
    pm::AddImportCommand, pm::AddRebuildCommand, pm::AddDevicesCommand,
    pm::AddMigrateCommand,
    pm::AddMaintenanceCommand,
};

}  // namespace

namespace pm {

void LogToStderr() {
  spdlog::set_default_logger(spdlog::stderr_color_mt("printmeter"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
}

}  // namespace pm

int main(int argc, char** argv) {
  pm::LogToStderr();
  CLI::App app{
      "printmeter: a usage ledger for 3D printers, fed by OctoPrint's "
      "Webhooks plugin.\n"
      "Start the receiver with `printmeter serve`, then point the plugin at "
      "http://HOST:8080/webhook."};
  app.set_version_flag("--version",
                       std::string("printmeter ") + PRINTMETER_VERSION);
  app.require_subcommand(1);
  for (auto add : kCommands) add(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return 0;
}

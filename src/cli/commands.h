// The subcommands of `printmeter`. Each Add*Command registers one subcommand
// (its flags, its --help text and the function that runs it) on the app;
// main.cc lists them in one table.
#pragma once

#include <CLI/CLI.hpp>

#include "cli/config.h"

namespace pm {

// Flags every command that touches the database shares: --config, --db.
struct CommonOptions {
  std::string config_path;  // "" -> ./printmeter.toml when it exists
  std::string db;           // "" -> from config / environment / default
};

// Loads the config file, the environment and the common flags, in that order
// of precedence (flags win). Prints a message a person can act on and returns
// an error when the file is unreadable.
Result<Config> ResolveConfig(const CommonOptions& common);
void AddCommonOptions(CLI::App& cmd, CommonOptions& common);

void AddServeCommand(CLI::App& app);
void AddReportCommand(CLI::App& app);
void AddSessionsCommand(CLI::App& app);
void AddImportCommand(CLI::App& app);
void AddRebuildCommand(CLI::App& app);
void AddDevicesCommand(CLI::App& app);

}  // namespace pm

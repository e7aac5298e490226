// The subcommands of `printmeter`. Each Add*Command registers one subcommand
// (its flags, its --help text and the function that runs it) on the app;
// main.cc lists them in one table.
#pragma once

#include <CLI/CLI.hpp>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>

#include "cli/config.h"

namespace pm {

// Flags every command that touches the database shares: --config, --db,
// and the settings it uses (AddSettingFlags).
struct CommonOptions {
  std::string config_path;  // "" -> ./printmeter.toml when it exists
  std::string db;           // "" -> from config / environment / default
  // Settings given as flags, by config key ("read_token" -> "s3cret").
  std::map<std::string, std::string, std::less<>> settings;
};

// Loads the config file, the environment and the common flags, in that order
// of precedence (flags win). Prints a message a person can act on and returns
// an error when the file is unreadable. A config file named (--config,
// PRINTMETER_CONFIG) must exist, unless `may_be_missing` (`devices add`
// creates it).
Result<Config> ResolveConfig(const CommonOptions& common,
                             bool may_be_missing = false);
void AddCommonOptions(CLI::App& cmd, CommonOptions& common);
// Adds a flag for each of these settings (config keys: "listen", "auth",
// "stale_after", "timezone", "currency", "admin_token", "read_token"): the
// key with dashes ("--read-token"), with a --help line that says what it
// does, its default, and its config key and PRINTMETER_* variable.
void AddSettingFlags(CLI::App& cmd, CommonOptions& common,
                     std::initializer_list<std::string_view> keys);

// Sends the log of every command to stderr, in one format:
// "2024-08-02T02:26:07.123 info message". main() calls it once, first.
void LogToStderr();

void AddServeCommand(CLI::App& app);
void AddReportCommand(CLI::App& app);
void AddSessionsCommand(CLI::App& app);
void AddImportCommand(CLI::App& app);
void AddRebuildCommand(CLI::App& app);
void AddDevicesCommand(CLI::App& app);
void AddMigrateCommand(CLI::App& app);
void AddMaintenanceCommand(CLI::App& app);

}  // namespace pm

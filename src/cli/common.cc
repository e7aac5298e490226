#include <filesystem>

#include "cli/commands.h"

namespace pm {

void AddCommonOptions(CLI::App& cmd, CommonOptions& common) {
  cmd.add_option("--config", common.config_path,
                 "TOML configuration file (default: ./printmeter.toml when "
                 "it exists)");
  cmd.add_option("--db", common.db,
                 "database: sqlite:PATH (default sqlite:printmeter.db) or "
                 "postgresql://user:pass@host:port/db");
}

Result<Config> ResolveConfig(const CommonOptions& common) {
  bool explicit_path = !common.config_path.empty();
  std::string path = explicit_path ? common.config_path : "printmeter.toml";
  if (!explicit_path) {
    if (const char* env = std::getenv("PRINTMETER_CONFIG"); env && *env) {
      path = env;
      explicit_path = true;
    }
  }
  auto config = LoadConfigFile(path, explicit_path);
  if (!config) return config;
  if (config->path.empty()) config->path = path;  // where `devices add` writes
  if (auto s = ApplyEnvironment(*config); !s) return s.error();
  if (!common.db.empty()) config->db = common.db;
  return config;
}

}  // namespace pm

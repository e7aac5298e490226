#include <fmt/format.h>

#include <filesystem>

#include "cli/commands.h"

namespace pm {
namespace {

// Every setting a flag can give, with what --help says about it.
struct SettingFlag {
  std::string_view key;  // in the config file; PRINTMETER_<KEY> in the env
  std::string_view value_name;
  std::string_view help;
  std::string_view default_text;
};

constexpr SettingFlag kSettingFlags[] = {
    {"listen", "HOST:PORT", "address the receiver, API and dashboard listen on",
     "0.0.0.0:8080"},
    {"auth", "MODE",
     "which printers are accepted: open (any, secrets ignored), tofu (a new "
     "printer is registered with the secret it sends first, then must send "
     "it), strict (only printers in the config file, with their secret)",
     "tofu"},
    {"stale_after", "DURATION",
     "close a print as interrupted after this long without any event from "
     "its printer, e.g. 48h, 90m; 0 = never",
     "48h"},
    {"timezone", "ZONE",
     "IANA time zone of calendar days, weeks and months, e.g. Europe/Berlin",
     "UTC"},
    {"currency", "TEXT", "currency shown beside costs, e.g. EUR (display only)",
     "none"},
    {"admin_token", "TOKEN",
     "guards the admin endpoints (event log, attributing a print): clients "
     "send `Authorization: Bearer TOKEN`",
     "none: admin endpoints answer loopback clients only"},
    {"read_token", "TOKEN",
     "guards the API, /metrics and the dashboard: clients send "
     "`Authorization: Bearer TOKEN`",
     "none: open to anyone who can reach the port"},
    {"max_devices", "N",
     "printers that may be known in all (configured ones included); a new "
     "printer beyond it is refused with 403; 0 = no limit",
     "1000"},
    {"pictures", "RULE",
     "which webcam pictures are kept: prints (each print's first and last, "
     "and each printer's latest), all, none; the log always says a picture "
     "came",
     "prints"},
    {"mqtt_url", "URL",
     "publish every printer's state to this MQTT broker for Home Assistant: "
     "mqtt://USER@HOST:1883 or mqtts://... (the [mqtt] table's url; its other "
     "settings come from the table)",
     "none: not published"},
    {"mqtt_password_file", "FILE",
     "read the MQTT broker's password from this file (a systemd credential, "
     "a container secret) rather than from the url; there is no password "
     "flag, which anyone on the machine could read in the process list",
     "the url's password"},
    {"registrations_per_hour", "N",
     "new printers that may register themselves (tofu, open) per hour; "
     "beyond it 429; 0 = no limit",
     "60"},
};

std::string FlagName(std::string_view key) {
  std::string flag = "--";
  for (char c : key) flag += c == '_' ? '-' : c;
  return flag;
}

std::string EnvName(std::string_view key) {
  std::string name = "PRINTMETER_";
  for (char c : key) name += static_cast<char>(std::toupper(c));
  return name;
}

}  // namespace

void AddCommonOptions(CLI::App& cmd, CommonOptions& common) {
  cmd.add_option("--config", common.config_path,
                 "TOML configuration file (env PRINTMETER_CONFIG; default: "
                 "./printmeter.toml when it exists)");
  cmd.add_option(
      "--db", common.db,
      "database: sqlite:PATH or postgresql://user:pass@host:port/db "
      "(config db, env PRINTMETER_DB; default sqlite:printmeter.db)");
}

void AddSettingFlags(CLI::App& cmd, CommonOptions& common,
                     std::initializer_list<std::string_view> keys) {
  for (std::string_view key : keys) {
    for (const SettingFlag& s : kSettingFlags) {
      if (s.key != key) continue;
      std::string help =
          fmt::format("{} (config {}, env {}; default: {})", s.help, s.key,
                      EnvName(s.key), s.default_text);
      cmd.add_option_function<std::string>(
             FlagName(s.key),
             [&common, key = std::string(s.key)](const std::string& v) {
               common.settings[key] = v;
             },
             help)
          ->type_name(std::string(s.value_name));
    }
  }
}

Result<Config> ResolveConfig(const CommonOptions& common, bool may_be_missing) {
  bool explicit_path = !common.config_path.empty();
  std::string path = explicit_path ? common.config_path : "printmeter.toml";
  if (!explicit_path) {
    if (const char* env = std::getenv("PRINTMETER_CONFIG"); env && *env) {
      path = env;
      explicit_path = true;
    }
  }
  auto config = LoadConfigFile(path, explicit_path && !may_be_missing);
  if (!config) return config;
  if (config->path.empty()) config->path = path;  // where `devices add` writes
  if (auto s = ApplyEnvironment(*config); !s) return s.error();
  if (!common.db.empty()) config->db = common.db;
  for (const auto& [key, value] : common.settings) {
    if (auto s = ApplySetting(*config, key, value, FlagName(key) + " "); !s) {
      return s.error();
    }
  }
  if (auto s = FinishConfig(*config); !s) return s.error();
  return config;
}

}  // namespace pm

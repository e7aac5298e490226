// `printmeter devices add|list|remove`: the printers in the config file.
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>

#include "cli/commands.h"
#include "store/store.h"

namespace pm {

namespace {

struct DeviceOptions {
  CommonOptions common;
  std::string id;
  std::string name;
  std::string secret;
  std::optional<double> rate_per_hour;
  std::optional<double> rate_per_m;
  std::optional<double> minimum;
};

int Fail(const std::string& message) {
  fmt::print(stderr, "printmeter devices: {}\n", message);
  return 1;
}

// 128 random bits as 32 hex digits.
std::string NewSecret() {
  std::random_device random;
  std::string secret;
  for (int i = 0; i < 4; ++i) secret += fmt::format("{:08x}", random());
  return secret;
}

std::string ReceiverUrl(const Config& config) {
  std::string listen = config.listen;
  size_t colon = listen.rfind(':');
  std::string host = colon == std::string::npos ? listen : listen.substr(0, colon);
  std::string port = colon == std::string::npos ? "8080" : listen.substr(colon + 1);
  if (host.empty() || host == "0.0.0.0" || host == "::" || host == "[::]") {
    char name[256] = {};
    host = gethostname(name, sizeof name - 1) == 0 && name[0] ? name
                                                              : "THIS-HOST";
  }
  return fmt::format("http://{}:{}/webhook", host, port);
}

Status CheckId(const std::string& id) {
  if (id.empty() || id.size() > 128 ||
      id.find_first_of(" \t\r\n") != std::string::npos) {
    return Invalid(fmt::format(
        "device id \"{}\" must be 1-128 characters without spaces: the "
        "plugin's Device identifier",
        id));
  }
  return {};
}

int RunAdd(const DeviceOptions& o) {
  if (auto s = CheckId(o.id); !s) return Fail(s.error().message);
  // `add` is how a config file usually starts: create the one named.
  std::error_code ec;
  if (!o.common.config_path.empty() &&
      !std::filesystem::exists(o.common.config_path, ec)) {
    std::ofstream create(o.common.config_path);
    if (!create) {
      return Fail(fmt::format("cannot create {}: {}", o.common.config_path,
                              std::strerror(errno)));
    }
  }
  auto config = ResolveConfig(o.common);
  if (!config) return Fail(config.error().message);
  auto [it, added] = config->devices.try_emplace(o.id);
  DeviceConfig& device = it->second;
  if (!o.name.empty()) device.name = o.name;
  if (!o.secret.empty()) {
    device.secret = o.secret;
  } else if (!device.secret) {
    device.secret = NewSecret();
  }
  if (o.rate_per_hour) device.rates.rate_per_hour = *o.rate_per_hour;
  if (o.rate_per_m) device.rates.rate_per_m = *o.rate_per_m;
  if (o.minimum) device.rates.minimum_per_session = *o.minimum;
  if (auto s = SaveConfigFile(*config, config->path); !s) {
    return Fail(s.error().message);
  }
  fmt::print(
      "{} device \"{}\" in {}.\n\n"
      "In OctoPrint: Settings > Webhooks, add (or edit) a hook with:\n"
      "  Webhook URL:        {}\n"
      "  Device identifier:  {}\n"
      "  API secret:         {}\n"
      "  Events to tick:     Print Started, Print Done, Print Failed, Print "
      "Paused,\n"
      "                      Print Progress, User Action Needed, Error\n"
      "  Print resumed:      (version 4) a Custom Event for PrintResumed "
      "with the message\n"
      "                      \"Print resumed\"\n\n"
      "Restart `printmeter serve` so that it reads the new configuration.\n",
      added ? "Added" : "Updated", o.id, config->path, ReceiverUrl(*config),
      o.id, *device.secret);
  return 0;
}

int RunRemove(const DeviceOptions& o) {
  auto config = ResolveConfig(o.common);
  if (!config) return Fail(config.error().message);
  if (config->devices.erase(o.id) == 0) {
    return Fail(fmt::format("device \"{}\" is not in {}; `printmeter devices "
                            "list` shows the configured ones",
                            o.id, config->path));
  }
  if (auto s = SaveConfigFile(*config, config->path); !s) {
    return Fail(s.error().message);
  }
  fmt::print("Removed device \"{}\" from {}. Its recorded prints stay in the "
             "database. Restart `printmeter serve` to apply.\n",
             o.id, config->path);
  return 0;
}

// Whether `db` names a database that exists (list must not create one).
bool DatabaseExists(const std::string& db) {
  constexpr std::string_view kSqlite = "sqlite:";
  if (!db.starts_with(kSqlite)) return true;
  std::error_code ec;
  return std::filesystem::exists(db.substr(kSqlite.size()), ec);
}

int RunList(const DeviceOptions& o) {
  auto config = ResolveConfig(o.common);
  if (!config) return Fail(config.error().message);
  fmt::print("Configured in {}:\n", config->path);
  if (config->devices.empty()) fmt::print("  (none)\n");
  for (const auto& [id, d] : config->devices) {
    fmt::print("  {:<20} {:<28} secret {:<4} {:.2f}/h {:.2f}/m min {:.2f}\n",
               id, d.name.empty() ? "-" : d.name, d.secret ? "set" : "none",
               d.rates.rate_per_hour, d.rates.rate_per_m,
               d.rates.minimum_per_session);
  }
  if (!DatabaseExists(config->db)) return 0;
  auto store = OpenStore(config->db);
  if (!store) return Fail(store.error().message);
  auto devices = (*store)->LoadDevices();
  if (!devices) return Fail(devices.error().message);
  fmt::print("\nHeard from (database {}):\n", config->db);
  if (devices->empty()) fmt::print("  (none yet)\n");
  for (const DeviceRecord& d : *devices) {
    bool configured = config->devices.count(d.device) > 0;
    fmt::print("  {:<20} first {}  last heard {}  {}\n", d.device,
               FormatIso(d.first_seen), FormatIso(d.last_received),
               configured  ? "configured"
               : d.secret ? "registered on first contact (tofu)"
                          : "not registered");
  }
  return 0;
}

}  // namespace

void AddDevicesCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "devices", "Manage the printers in the config file and their secrets");
  cmd->require_subcommand(1);

  auto add_opts = std::make_shared<DeviceOptions>();
  auto* add = cmd->add_subcommand(
      "add", "Add or update a printer and print the plugin settings to paste");
  AddCommonOptions(*add, add_opts->common);
  add->add_option("ID", add_opts->id, "the plugin's Device identifier")
      ->required();
  add->add_option("--name", add_opts->name, "a name people recognise");
  add->add_option("--secret", add_opts->secret,
                  "the plugin's API secret (default: a new random one)");
  add->add_option("--rate-per-hour", add_opts->rate_per_hour,
                  "price per hour of print time")
      ->check(CLI::NonNegativeNumber);
  add->add_option("--rate-per-m", add_opts->rate_per_m,
                  "price per metre of filament")
      ->check(CLI::NonNegativeNumber);
  add->add_option("--minimum", add_opts->minimum,
                  "minimum price of one print")
      ->check(CLI::NonNegativeNumber);
  add->callback([add_opts] {
    if (int rc = RunAdd(*add_opts); rc != 0) throw CLI::RuntimeError(rc);
  });

  auto list_opts = std::make_shared<DeviceOptions>();
  auto* list = cmd->add_subcommand(
      "list", "Show configured printers and those heard from");
  AddCommonOptions(*list, list_opts->common);
  list->callback([list_opts] {
    if (int rc = RunList(*list_opts); rc != 0) throw CLI::RuntimeError(rc);
  });

  auto remove_opts = std::make_shared<DeviceOptions>();
  auto* remove = cmd->add_subcommand(
      "remove", "Remove a printer from the config file (its prints stay)");
  AddCommonOptions(*remove, remove_opts->common);
  remove->add_option("ID", remove_opts->id, "the Device identifier")
      ->required();
  remove->callback([remove_opts] {
    if (int rc = RunRemove(*remove_opts); rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace pm

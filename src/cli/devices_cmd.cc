// `printmeter devices add|list|remove`: the printers in the config file.
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <string>

#include "cli/commands.h"
#include "cli/config_edit.h"
#include "decode/device_id.h"
#include "decode/text.h"
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
  std::string host =
      colon == std::string::npos ? listen : listen.substr(0, colon);
  std::string port =
      colon == std::string::npos ? "8080" : listen.substr(colon + 1);
  if (host.empty() || host == "0.0.0.0" || host == "::" || host == "[::]") {
    char name[256] = {};
    host =
        gethostname(name, sizeof name - 1) == 0 && name[0] ? name : "THIS-HOST";
  }
  return fmt::format("http://{}:{}/webhook", host, port);
}

// The file's text; "" when it does not exist yet.
Result<std::string> ReadText(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::string();
  Result<std::string> text = ReadTextFile(path, 16 << 20);
  if (!text) {
    return Invalid(fmt::format("{} {}", path, text.error().message));
  }
  return text;
}

// The keys `add` sets: only those given on the command line, and a new
// secret when the device has none.
std::vector<TomlSetting> KeysToSet(const DeviceOptions& o,
                                   const DeviceConfig* existing,
                                   std::string& secret) {
  std::vector<TomlSetting> keys;
  if (!o.name.empty()) keys.emplace_back("name", TomlString(o.name));
  secret = !o.secret.empty()              ? o.secret
           : existing && existing->secret ? *existing->secret
                                          : NewSecret();
  if (!o.secret.empty() || !existing || !existing->secret) {
    keys.emplace_back("secret", TomlString(secret));
  }
  if (o.rate_per_hour) {
    keys.emplace_back("rate_per_hour", TomlNumber(*o.rate_per_hour));
  }
  if (o.rate_per_m) keys.emplace_back("rate_per_m", TomlNumber(*o.rate_per_m));
  if (o.minimum) {
    keys.emplace_back("minimum_per_session", TomlNumber(*o.minimum));
  }
  return keys;
}

// The secret the printer registered on first contact (tofu), when it
// differs from `secret`; nullopt when none, or when the database is absent.
std::optional<std::string> RegisteredSecret(const Config& config,
                                            const std::string& id,
                                            const std::string& secret) {
  auto store = OpenStore(config.db, {.read_only = true});
  if (!store) return std::nullopt;
  auto devices = (*store)->LoadDevices();
  if (!devices) return std::nullopt;
  for (const DeviceRecord& d : *devices) {
    if (d.device == id && d.secret && *d.secret != secret) return d.secret;
  }
  return std::nullopt;
}

int RunAdd(const DeviceOptions& o) {
  auto id = CheckDeviceId(o.id, "device id");
  if (!id) {
    return Fail(id.error().message + " (the plugin's Device identifier)");
  }
  // `add` is how a config file usually starts: it creates the one named.
  auto config = ResolveConfig(o.common, /*may_be_missing=*/true);
  if (!config) return Fail(config.error().message);
  auto text = ReadText(config->path);
  if (!text) return Fail(text.error().message);
  auto existing = config->devices.find(*id);
  bool added = existing == config->devices.end();
  std::string secret;
  auto keys = KeysToSet(o, added ? nullptr : &existing->second, secret);
  auto edited = SetDeviceKeys(*text, config->path, *id, keys);
  if (!edited) return Fail(edited.error().message);
  if (auto s = WriteFileAtomically(config->path, *edited); !s) {
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
      added ? "Added" : "Updated", *id, config->path, ReceiverUrl(*config), *id,
      secret);
  if (RegisteredSecret(*config, *id, secret)) {
    fmt::print(
        "\nNote: \"{}\" registered its own secret on first contact (tofu). "
        "The secret above replaces it once `printmeter serve` restarts: "
        "paste it into the printer's OctoPrint (Settings > Webhooks > API "
        "secret), or its messages will be refused (401).\n",
        *id);
  }
  return 0;
}

int RunRemove(const DeviceOptions& o) {
  auto config = ResolveConfig(o.common);
  if (!config) return Fail(config.error().message);
  auto text = ReadText(config->path);
  if (!text) return Fail(text.error().message);
  std::string id(TrimSpace(o.id));
  auto edited = RemoveDeviceTable(*text, config->path, id);
  if (!edited && edited.error().code == ErrorCode::kNotFound) {
    return Fail(
        fmt::format("device \"{}\" is not in {}; `printmeter devices "
                    "list` shows the configured ones",
                    id, config->path));
  }
  if (!edited) return Fail(edited.error().message);
  if (auto s = WriteFileAtomically(config->path, *edited); !s) {
    return Fail(s.error().message);
  }
  fmt::print(
      "Removed device \"{}\" from {}. Its recorded prints stay in the "
      "database. Restart `printmeter serve` to apply.\n",
      id, config->path);
  return 0;
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
  auto store = OpenStore(config->db, {.read_only = true});
  // Before the first `serve`, the default database does not exist yet; a
  // database named anywhere (flag, environment, config) must exist.
  if (!store && store.error().code == ErrorCode::kNotFound &&
      config->db == Config{}.db) {
    fmt::print(
        "\nHeard from: nobody yet (no database at {}; `printmeter "
        "serve` creates it)\n",
        config->db);
    return 0;
  }
  if (!store) return Fail(store.error().message);
  auto devices = (*store)->LoadDevices();
  if (!devices) return Fail(devices.error().message);
  fmt::print("\nHeard from (database {}):\n", RedactedUrl(config->db));
  if (devices->empty()) fmt::print("  (none yet)\n");
  for (const DeviceRecord& d : *devices) {
    bool configured = config->devices.count(d.device) > 0;
    fmt::print("  {:<20} first {}  last heard {}  {}\n", d.device,
               FormatIso(d.first_seen), FormatIso(d.last_received),
               configured ? "configured"
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
  AddSettingFlags(*add, add_opts->common, {"listen"});
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
  add->add_option("--minimum", add_opts->minimum, "minimum price of one print")
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

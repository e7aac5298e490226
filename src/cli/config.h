// Config: what `printmeter` is told, from (lowest to highest precedence) the
// built-in defaults, the TOML file (--config), PRINTMETER_* environment
// variables, and the command-line flags (api.md "Command line").
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "forward/options.h"
#include "ingest/options.h"
#include "ledger/cost.h"
#include "maintenance/maintenance.h"

namespace pm {

std::optional<AuthMode> AuthModeFromName(const std::string& name);
const char* AuthModeName(AuthMode mode);

// A printer listed in the config file under [devices.<id>].
struct DeviceConfig {
  std::string name;                   // display name; "" when not set
  std::optional<std::string> secret;  // the plugin's API secret
  Rates rates;
  // [[devices.<id>.maintenance]]: item, every ("200h", "500m", "90d"), note.
  std::vector<MaintenanceItem> maintenance;
};

// The [mqtt] table: publishing every printer's state to an MQTT broker for
// Home Assistant (mqtt/options.h says what each setting does).
struct MqttConfig {
  std::string url;  // mqtt://user:password@host:1883; required
  std::string topic_prefix = "printmeter";
  std::string discovery_prefix = "homeassistant";
  std::string client_id;  // "": printmeter-HOSTNAME
  // The broker's password, kept out of the url (and of the file, with
  // password_file or PRINTMETER_MQTT_PASSWORD): replaces the url's password
  // for the url's user. "": the url's.
  std::string password;
  // A file whose content (less a trailing newline) is the password, such
  // as a systemd credential or a container secret; read by FinishConfig.
  std::string password_file;
};

struct Config {
  std::string listen = "0.0.0.0:8080";
  std::string db = "sqlite:printmeter.db";
  AuthMode auth = AuthMode::kTofu;
  TimeMs stale_after = 48 * kHourMs;
  std::string timezone = "UTC";
  // Shown beside costs ("EUR", "CHF", "$"); "" for none (the API then says
  // "currency": null). Display only: it converts nothing.
  std::string currency;
  std::optional<std::string> admin_token;
  std::optional<std::string> read_token;
  // Devices that may register themselves (tofu, open): in all, and per hour
  // (ingest/registration_limit.h); 0 turns a limit off.
  size_t max_devices = 1000;
  size_t registrations_per_hour = 60;
  // Which webcam pictures are kept: "prints" (each print's first and last,
  // each printer's latest), "all" or "none" (ingest/retention.h).
  PictureRetention pictures = PictureRetention::kPrints;
  std::map<std::string, DeviceConfig, std::less<>> devices;
  std::optional<MqttConfig> mqtt;  // nullopt: no [mqtt] table, not published
  // [[forward]] tables: where the log's events are delivered
  // (forward/forwarder.h), in the file's order.
  std::vector<ForwardTarget> forward;
  std::string path;  // the config file it was read from; "" for none
};

// The configured rates of every device in `config`.
RatesByDevice ConfiguredRates(const Config& config);

// The configured maintenance items of every device that has some.
MaintenanceOptions MaintenanceOptionsFrom(const Config& config);

// The ingest writer's options as the configuration sets them.
IngestOptions IngestOptionsFrom(const Config& config);

// The whole text of a regular file of at most `max_bytes`, read without
// exceptions. The error (kInvalid) says why in words a person can act on:
// the file cannot be opened (strerror), is a directory or not a regular
// file (a FIFO, a device), is larger than `max_bytes`, or a read failed;
// the caller names the file and what it is for.
Result<std::string> ReadTextFile(const std::string& path, size_t max_bytes);

// Reads `path` (TOML). A missing file is an error only when `must_exist`.
// Errors name the file, the line and the key.
Result<Config> LoadConfigFile(const std::string& path, bool must_exist);

// Applies PRINTMETER_LISTEN, PRINTMETER_DB, PRINTMETER_AUTH,
// PRINTMETER_STALE_AFTER, PRINTMETER_TIMEZONE, PRINTMETER_ADMIN_TOKEN,
// PRINTMETER_READ_TOKEN, PRINTMETER_CURRENCY, PRINTMETER_MAX_DEVICES,
// PRINTMETER_REGISTRATIONS_PER_HOUR, PRINTMETER_PICTURES,
// PRINTMETER_MQTT_URL, PRINTMETER_MQTT_PASSWORD and
// PRINTMETER_MQTT_PASSWORD_FILE from the environment.
Status ApplyEnvironment(Config& config);

// What only the whole configuration (file, environment and flags applied)
// can tell: MQTT settings without a broker url are refused, saying what to
// set.
Status FinishConfig(Config& config);

// Reads [mqtt] password_file (PRINTMETER_MQTT_PASSWORD_FILE,
// --mqtt-password-file) into the password, less a trailing newline; only
// `serve`, which publishes, needs it. kInvalid, naming the file, when it
// cannot be read or is empty.
Status ReadMqttPasswordFile(Config& config);

// Sets the setting `key` (a config file key: "listen", "auth",
// "stale_after", "read_token", ...; for [mqtt]: "mqtt_url",
// "mqtt_password", "mqtt_password_file", which create the table) from text, as a flag or an environment
// variable gives it. `source` starts error messages, before the value
// ("--auth ", "PRINTMETER_AUTH="). kInvalid for a value the setting cannot
// take, or an unknown key.
Status ApplySetting(Config& config, std::string_view key,
                    const std::string& value, std::string_view source);

// "48h", "30m", "90s", "2d", "0" -> milliseconds.
std::optional<TimeMs> ParseDuration(const std::string& text);

}  // namespace pm

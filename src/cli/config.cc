#include "cli/config.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "cli/toml_text.h"
#include "decode/device_id.h"

namespace pm {

std::optional<AuthMode> AuthModeFromName(const std::string& name) {
  if (name == "open") return AuthMode::kOpen;
  if (name == "tofu") return AuthMode::kTofu;
  if (name == "strict") return AuthMode::kStrict;
  return std::nullopt;
}

const char* AuthModeName(AuthMode mode) {
  switch (mode) {
    case AuthMode::kOpen:
      return "open";
    case AuthMode::kTofu:
      return "tofu";
    case AuthMode::kStrict:
      return "strict";
  }
  return "tofu";
}

std::optional<TimeMs> ParseDuration(const std::string& text) {
  if (text.empty()) return std::nullopt;
  double value = 0;
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || value < 0) return std::nullopt;
  std::string unit(p, end);
  TimeMs scale = kSecondMs;
  if (unit.empty() || unit == "s")
    scale = kSecondMs;
  else if (unit == "ms")
    scale = 1;
  else if (unit == "m" || unit == "min")
    scale = kMinuteMs;
  else if (unit == "h")
    scale = kHourMs;
  else if (unit == "d")
    scale = kDayMs;
  else
    return std::nullopt;
  // Beyond int64's milliseconds the conversion would be undefined.
  double ms = value * static_cast<double>(scale);
  if (!(ms < 9.0e18)) return std::nullopt;
  return static_cast<TimeMs>(ms);
}

namespace {

Error ConfigError(const std::string& path, const std::string& what) {
  return Invalid(fmt::format("config file {}: {}", path, what));
}

template <typename T>
Status ReadString(const toml::table& t, std::string_view key, T& out,
                  const std::string& path) {
  const toml::node* n = t.get(key);
  if (!n) return {};
  auto v = n->value<std::string>();
  if (!v) {
    return ConfigError(path, fmt::format("line {}: `{}` must be a string",
                                         n->source().begin.line, key));
  }
  out = *v;
  return {};
}

Status ReadNumber(const toml::table& t, std::string_view key, double& out,
                  const std::string& path, const std::string& where) {
  const toml::node* n = t.get(key);
  if (!n) return {};
  auto v = n->value<double>();
  if (!v || !std::isfinite(*v) || *v < 0) {
    return ConfigError(path,
                       fmt::format("line {}: `{}` of {} must be a number >= 0",
                                   n->source().begin.line, key, where));
  }
  out = *v;
  return {};
}

// A whole number >= 0 (a count), kept in `out` when the key is absent.
Status ReadCount(const toml::table& t, std::string_view key, size_t& out,
                 const std::string& path) {
  const toml::node* n = t.get(key);
  if (!n) return {};
  // Only an integer node is read: toml++ 3.3 converts a float to an integer
  // with a cast that is undefined beyond int64's range (value.h, found by
  // the config fuzzer), so a float is refused before it is converted.
  const toml::value<int64_t>* integer = n->as_integer();
  if (!integer || integer->get() < 0) {
    return ConfigError(path, fmt::format("line {}: `{}` must be a whole "
                                         "number >= 0 (0: no limit)",
                                         n->source().begin.line, key));
  }
  out = static_cast<size_t>(integer->get());
  return {};
}

// A whole number >= 0 from a flag or the environment (0: no limit).
Status ParseCount(const std::string& text, std::string_view source,
                  size_t& out) {
  size_t value = 0;
  auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    return Invalid(fmt::format("{}{} is not a whole number >= 0 (0: no limit)",
                               source, text));
  }
  out = value;
  return {};
}

// A topic prefix: not empty, no wildcard (+ #), no '/' at either end.
Status CheckTopicPrefix(const std::string& prefix, std::string_view key,
                        const std::string& path) {
  if (prefix.empty() || prefix.find_first_of("+#") != std::string::npos ||
      prefix.front() == '/' || prefix.back() == '/') {
    return ConfigError(
        path, fmt::format("[mqtt] {} = \"{}\" must be a topic such as \"{}\": "
                          "not empty, without + or #, no / at either end",
                          key, prefix,
                          key == "topic_prefix" ? "printmeter"
                                                : "homeassistant"));
  }
  return {};
}

// A list of strings (`events = ["PrintDone"]`), kept when absent.
Status ReadStrings(const toml::table& t, std::string_view key,
                   std::vector<std::string>& out, const std::string& path,
                   const std::string& where) {
  const toml::node* n = t.get(key);
  if (!n) return {};
  Error wrong = ConfigError(
      path, fmt::format("line {}: `{}` of {} must be a list of strings",
                        n->source().begin.line, key, where));
  const toml::array* list = n->as_array();
  if (!list) return wrong;
  out.clear();
  for (const toml::node& item : *list) {
    auto v = item.value<std::string>();
    if (!v) return wrong;
    out.push_back(*v);
  }
  return {};
}

// The [mqtt] table, when there is one.
Status ReadMqtt(const toml::table& root, Config& config,
                const std::string& path) {
  const toml::node* n = root.get("mqtt");
  if (!n) return {};
  const toml::table* t = n->as_table();
  if (!t) return ConfigError(path, "[mqtt] must be a table");
  MqttConfig mqtt;
  for (auto s : {ReadString(*t, "url", mqtt.url, path),
                 ReadString(*t, "topic_prefix", mqtt.topic_prefix, path),
                 ReadString(*t, "discovery_prefix", mqtt.discovery_prefix, path),
                 ReadString(*t, "client_id", mqtt.client_id, path),
                 ReadString(*t, "password", mqtt.password, path),
                 ReadString(*t, "password_file", mqtt.password_file, path),
                 CheckTopicPrefix(mqtt.topic_prefix, "topic_prefix", path),
                 CheckTopicPrefix(mqtt.discovery_prefix, "discovery_prefix",
                                  path)}) {
    if (!s) return s.error();
  }
  // A missing url may still come from PRINTMETER_MQTT_URL or --mqtt-url:
  // FinishConfig checks.
  config.mqtt = std::move(mqtt);
  return {};
}

// [[devices.<id>.maintenance]]: an array of tables, each with `item` (a
// name unique on the printer), `every` (a threshold, ParseEvery) and an
// optional `note`; any other key is refused, so a misspelt one is not
// silently ignored.
Status ReadMaintenance(const toml::table& dt, const std::string& id,
                       std::vector<MaintenanceItem>& out,
                       const std::string& path) {
  const toml::node* n = dt.get("maintenance");
  if (!n) return {};
  const toml::array* items = n->as_array();
  std::string where = fmt::format("[[devices.{}.maintenance]]", id);
  if (!items) {
    return ConfigError(path, fmt::format("line {}: write each maintenance "
                                         "item as a {} table",
                                         n->source().begin.line, where));
  }
  for (const toml::node& node : *items) {
    int line = static_cast<int>(node.source().begin.line);
    const toml::table* t = node.as_table();
    if (!t) {
      return ConfigError(path, fmt::format("line {}: write each maintenance "
                                           "item as a {} table",
                                           line, where));
    }
    for (const auto& [key, value] : *t) {
      if (key != "item" && key != "every" && key != "note") {
        return ConfigError(
            path, fmt::format("line {}: `{}` is not a key of {}: use item, "
                              "every (\"200h\", \"500m\", \"2km\", "
                              "\"90d\") and note",
                              value.source().begin.line, key.str(), where));
      }
    }
    std::string name, every, note;
    for (auto s : {ReadString(*t, "item", name, path),
                   ReadString(*t, "every", every, path),
                   ReadString(*t, "note", note, path)}) {
      if (!s) return s.error();
    }
    if (name.empty() || every.empty()) {
      return ConfigError(
          path, fmt::format("line {}: {} needs item = \"...\" and every = "
                            "\"200h\" (print hours), \"500m\" or \"2km\" "
                            "(filament) or \"90d\" (days)",
                            line, where));
    }
    auto parsed = ParseEvery(every);
    if (!parsed) {
      return ConfigError(path, fmt::format("line {}: {} {}: every = {}", line,
                                           where, name,
                                           parsed.error().message));
    }
    for (const MaintenanceItem& known : out) {
      if (known.item == name) {
        return ConfigError(path,
                           fmt::format("line {}: {} lists item \"{}\" twice; "
                                       "give each item its own name",
                                       line, where, name));
      }
    }
    parsed->item = std::move(name);
    parsed->note = std::move(note);
    out.push_back(std::move(*parsed));
  }
  return {};
}

// A [[forward]] table's ca_file: a readable file of PEM certificates
// (OpenSSL reads them when forwarding starts). Debian's whole bundle is
// ~220 KB.
Status CheckCaFile(const std::string& file) {
  Result<std::string> text = ReadTextFile(file, 16 << 20);
  if (!text) {
    return Invalid(
        fmt::format("ca_file {} {}; give the path of the receiver's CA "
                    "certificate (PEM)",
                    file, text.error().message));
  }
  if (text->find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
    return Invalid(
        fmt::format("ca_file {} holds no PEM certificate "
                    "(-----BEGIN CERTIFICATE-----)",
                    file));
  }
  return {};
}

// One [[forward]] table (forward/options.h). The URL is checked here for
// its scheme only; the forwarder checks the rest when it starts.
Result<ForwardTarget> ReadForward(const toml::table& t, size_t index,
                                  const std::string& path) {
  int line = t.source().begin.line;
  std::string where = fmt::format("[[forward]] at line {}", line);
  ForwardTarget target;
  std::string body, timeout, pause_after;
  for (auto s : {ReadString(t, "name", target.name, path),
                 ReadString(t, "url", target.url, path),
                 ReadString(t, "body", body, path),
                 ReadString(t, "secret", target.secret, path),
                 ReadString(t, "ca_file", target.ca_file, path),
                 ReadString(t, "timeout", timeout, path),
                 ReadString(t, "pause_after", pause_after, path),
                 ReadStrings(t, "events", target.events, path, where),
                 ReadStrings(t, "devices", target.devices, path, where)}) {
    if (!s) return s.error();
  }
  if (target.name.empty()) target.name = fmt::format("forward{}", index + 1);
  bool https = target.url.rfind("https://", 0) == 0;
  if (!https && target.url.rfind("http://", 0) != 0) {
    return ConfigError(path, fmt::format("{}: `url` must start with http:// "
                                         "or https://",
                                         where));
  }
  if (!target.ca_file.empty()) {
    if (!https) {
      return ConfigError(path, fmt::format("{}: ca_file is for https:// "
                                           "URLs only",
                                           where));
    }
    if (Status s = CheckCaFile(target.ca_file); !s) {
      return ConfigError(path, fmt::format("{}: {}", where, s.error().message));
    }
  }
  if (body == "printmeter") {
    target.body = ForwardBody::kPrintmeter;
  } else if (!body.empty() && body != "original") {
    return ConfigError(path, fmt::format("{}: body = \"{}\" is not one of "
                                         "original, printmeter",
                                         where, body));
  }
  for (auto [text, out] : {std::pair{&timeout, &target.timeout},
                           std::pair{&pause_after, &target.pause_after}}) {
    if (text->empty()) continue;
    auto d = ParseDuration(*text);
    if (!d || *d <= 0) {
      return ConfigError(path, fmt::format("{}: \"{}\" is not a duration "
                                           "like \"10s\" or \"1h\"",
                                           where, *text));
    }
    *out = std::chrono::milliseconds(*d);
  }
  return target;
}

}  // namespace

Result<std::string> ReadTextFile(const std::string& path, size_t max_bytes) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused
  // below as not a regular file.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    return Invalid(fmt::format("cannot be read: {}", std::strerror(errno)));
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return Invalid(fmt::format("cannot be read: {}", std::strerror(errno)));
  }
  if (S_ISDIR(st.st_mode)) return Invalid("is a directory, not a file");
  if (!S_ISREG(st.st_mode)) {
    return Invalid("is not a regular file (a pipe or a device?)");
  }
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    return Invalid(fmt::format("is {} bytes, more than the {} it may be",
                               st.st_size, max_bytes));
  }
  std::string text;
  char buffer[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return Invalid(fmt::format("cannot be read: {}", std::strerror(errno)));
    }
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
    if (text.size() > max_bytes) {
      return Invalid(fmt::format("grew past the {} bytes it may be",
                                 max_bytes));
    }
  }
  return text;
}

Result<Config> LoadConfigFile(const std::string& path, bool must_exist) {
  Config config;
  if (path.empty()) return config;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    if (must_exist) {
      return Invalid(fmt::format(
          "config file {} does not exist; create it or leave out --config",
          path));
    }
    return config;
  }
  config.path = path;
  toml::table root;
  {
    Result<std::string> text = ReadTextFile(path, 16 << 20);
    if (!text) {
      return Invalid(fmt::format("config file {} {}", path,
                                 text.error().message));
    }
    auto ascii = AsciiToml(*text);
    if (!ascii) return ConfigError(path, ascii.error().message);
    try {
      root = toml::parse(*ascii, path);
    } catch (const toml::parse_error& e) {
      return ConfigError(
          path, fmt::format("line {}, column {}: {}", e.source().begin.line,
                            e.source().begin.column, e.description()));
    }
  }
  std::string auth, stale, pictures;
  std::string admin, read;
  for (auto s : {ReadString(root, "listen", config.listen, path),
                 ReadString(root, "db", config.db, path),
                 ReadString(root, "auth", auth, path),
                 ReadString(root, "stale_after", stale, path),
                 ReadString(root, "pictures", pictures, path),
                 ReadString(root, "timezone", config.timezone, path),
                 ReadString(root, "currency", config.currency, path),
                 ReadString(root, "admin_token", admin, path),
                 ReadString(root, "read_token", read, path),
                 ReadCount(root, "max_devices", config.max_devices, path),
                 ReadCount(root, "registrations_per_hour",
                           config.registrations_per_hour, path)}) {
    if (!s) return s.error();
  }
  if (!auth.empty()) {
    auto mode = AuthModeFromName(auth);
    if (!mode) {
      return ConfigError(path, fmt::format("auth = \"{}\" is not one of open, "
                                           "tofu, strict",
                                           auth));
    }
    config.auth = *mode;
  }
  if (!stale.empty()) {
    auto d = ParseDuration(stale);
    if (!d) {
      return ConfigError(path, fmt::format("stale_after = \"{}\" is not a "
                                           "duration like \"48h\" or \"0\"",
                                           stale));
    }
    config.stale_after = *d;
  }
  if (!pictures.empty()) {
    auto rule = PictureRetentionFromName(pictures);
    if (!rule) {
      return ConfigError(path, fmt::format("pictures = \"{}\" is not one of "
                                           "prints, all, none",
                                           pictures));
    }
    config.pictures = *rule;
  }
  if (!admin.empty()) config.admin_token = admin;
  if (!read.empty()) config.read_token = read;
  if (auto s = ReadMqtt(root, config, path); !s) return s.error();
  if (const toml::table* devices = root["devices"].as_table()) {
    for (const auto& [key, node] : *devices) {
      const toml::table* dt = node.as_table();
      auto checked = CheckDeviceId(key.str(), "device id");
      if (!checked) {
        return ConfigError(
            path, fmt::format("[devices] line {}: {}", node.source().begin.line,
                              checked.error().message));
      }
      std::string id = std::move(*checked);
      if (!dt) {
        return ConfigError(path,
                           fmt::format("[devices.{}] must be a table", id));
      }
      DeviceConfig dc;
      std::string secret;
      std::string where = fmt::format("[devices.{}]", id);
      for (auto s :
           {ReadString(*dt, "name", dc.name, path),
            ReadString(*dt, "secret", secret, path),
            ReadNumber(*dt, "rate_per_hour", dc.rates.rate_per_hour, path,
                       where),
            ReadNumber(*dt, "rate_per_m", dc.rates.rate_per_m, path, where),
            ReadNumber(*dt, "minimum_per_session", dc.rates.minimum_per_session,
                       path, where),
            ReadMaintenance(*dt, id, dc.maintenance, path)}) {
        if (!s) return s.error();
      }
      if (dt->contains("secret")) dc.secret = secret;
      config.devices.emplace(id, std::move(dc));
    }
  }
  if (const toml::node* forward = root.get("forward")) {
    const toml::array* tables = forward->as_array();
    if (!tables || !tables->is_array_of_tables()) {
      return ConfigError(path, fmt::format("line {}: write each forward "
                                           "target as a [[forward]] table",
                                           forward->source().begin.line));
    }
    for (size_t i = 0; i < tables->size(); ++i) {
      auto target = ReadForward(*tables->get(i)->as_table(), i, path);
      if (!target.ok()) return target.error();
      for (const ForwardTarget& other : config.forward) {
        if (other.name == target->name) {
          return ConfigError(path, fmt::format("two [[forward]] targets are "
                                               "named `{}`; names must differ",
                                               other.name));
        }
      }
      config.forward.push_back(std::move(*target));
    }
  }
  return config;
}

MaintenanceOptions MaintenanceOptionsFrom(const Config& config) {
  MaintenanceOptions options;
  for (const auto& [id, device] : config.devices) {
    if (!device.maintenance.empty()) options.devices[id] = device.maintenance;
  }
  return options;
}

RatesByDevice ConfiguredRates(const Config& config) {
  RatesByDevice rates;
  for (const auto& [id, device] : config.devices) rates[id] = device.rates;
  return rates;
}

Status ApplySetting(Config& config, std::string_view key,
                    const std::string& value, std::string_view source) {
  if (key == "auth") {
    auto mode = AuthModeFromName(value);
    if (!mode) {
      return Invalid(
          fmt::format("{}{} is not one of open, tofu, strict", source, value));
    }
    config.auth = *mode;
  } else if (key == "stale_after") {
    auto d = ParseDuration(value);
    if (!d) {
      return Invalid(fmt::format(
          "{}{} is not a duration like 48h, 90m or 0 (never)", source, value));
    }
    config.stale_after = *d;
  } else if (key == "pictures") {
    auto rule = PictureRetentionFromName(value);
    if (!rule) {
      return Invalid(fmt::format("{}{} is not one of prints, all, none",
                                 source, value));
    }
    config.pictures = *rule;
  } else if (key == "listen") {
    config.listen = value;
  } else if (key == "db") {
    config.db = value;
  } else if (key == "timezone") {
    config.timezone = value;
  } else if (key == "currency") {
    config.currency = value;
  } else if (key == "admin_token") {  // "" = none, as in the config file
    config.admin_token = value.empty() ? std::nullopt : std::optional(value);
  } else if (key == "read_token") {
    config.read_token = value.empty() ? std::nullopt : std::optional(value);
  } else if (key == "mqtt_url" || key == "mqtt_password" ||
             key == "mqtt_password_file") {
    if (!config.mqtt) config.mqtt = MqttConfig{};
    if (key == "mqtt_url") config.mqtt->url = value;
    // The later source wins, whether it gives the password or its file.
    if (key == "mqtt_password") {
      config.mqtt->password = value;
      config.mqtt->password_file.clear();
    }
    if (key == "mqtt_password_file") {
      config.mqtt->password_file = value;
      config.mqtt->password.clear();
    }
  } else if (key == "max_devices") {
    return ParseCount(value, source, config.max_devices);
  } else if (key == "registrations_per_hour") {
    return ParseCount(value, source, config.registrations_per_hour);
  } else {
    return Invalid(fmt::format("{}...: no such setting", source));
  }
  return {};
}

Status ApplyEnvironment(Config& config) {
  for (std::string_view key :
       {"listen", "db", "auth", "stale_after", "timezone", "currency",
        "admin_token", "read_token", "max_devices",
        "registrations_per_hour", "pictures", "mqtt_url", "mqtt_password",
        "mqtt_password_file"}) {
    std::string name = "PRINTMETER_";
    for (char c : key) name += static_cast<char>(std::toupper(c));
    const char* v = std::getenv(name.c_str());
    if (!v || !*v) continue;
    if (Status s = ApplySetting(config, key, v, name + "="); !s) return s;
  }
  return {};
}

Status FinishConfig(Config& config) {
  if (!config.mqtt) return {};
  MqttConfig& mqtt = *config.mqtt;
  if (mqtt.url.empty()) {
    return Invalid(
        "MQTT is configured without a broker: set url = "
        "\"mqtt://user@host:1883\" in [mqtt], or PRINTMETER_MQTT_URL, or "
        "--mqtt-url (or remove the MQTT settings to publish nothing)");
  }
  return {};
}

Status ReadMqttPasswordFile(Config& config) {
  if (!config.mqtt) return {};
  MqttConfig& mqtt = *config.mqtt;
  if (!mqtt.password_file.empty() && mqtt.password.empty()) {
    Result<std::string> text = ReadTextFile(mqtt.password_file, 1 << 20);
    if (!text) {
      return Invalid(fmt::format(
          "[mqtt] password_file {} {}; check the path and that printmeter's "
          "user may read it",
          mqtt.password_file, text.error().message));
    }
    mqtt.password = std::move(*text);
    while (!mqtt.password.empty() &&
           (mqtt.password.back() == '\n' || mqtt.password.back() == '\r')) {
      mqtt.password.pop_back();
    }
    if (mqtt.password.empty()) {
      return Invalid(fmt::format("[mqtt] password_file {} is empty",
                                 mqtt.password_file));
    }
  }
  return {};
}

IngestOptions IngestOptionsFrom(const Config& config) {
  IngestOptions options;
  options.auth = config.auth;
  options.ledger.stale_after = config.stale_after;
  options.pictures = config.pictures;
  // Other instances may append to a PostgreSQL database: follow them.
  if (config.db.starts_with("postgresql://") ||
      config.db.starts_with("postgres://")) {
    options.follow_interval = kSecondMs;
  }
  options.registrations.max_devices = config.max_devices;
  options.registrations.max_per_window = config.registrations_per_hour;
  for (const auto& [id, device] : config.devices) {
    options.devices.emplace(id, device.secret);
  }
  return options;
}

}  // namespace pm

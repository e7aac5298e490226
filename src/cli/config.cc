#include "cli/config.h"

#include <fmt/format.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <toml++/toml.h>

namespace pm {

std::optional<AuthMode> AuthModeFromName(const std::string& name) {
  if (name == "open") return AuthMode::kOpen;
  if (name == "tofu") return AuthMode::kTofu;
  if (name == "strict") return AuthMode::kStrict;
  return std::nullopt;
}

const char* AuthModeName(AuthMode mode) {
  switch (mode) {
    case AuthMode::kOpen: return "open";
    case AuthMode::kTofu: return "tofu";
    case AuthMode::kStrict: return "strict";
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
  if (unit.empty() || unit == "s") scale = kSecondMs;
  else if (unit == "ms") scale = 1;
  else if (unit == "m" || unit == "min") scale = kMinuteMs;
  else if (unit == "h") scale = kHourMs;
  else if (unit == "d") scale = kDayMs;
  else return std::nullopt;
  return static_cast<TimeMs>(value * static_cast<double>(scale));
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
  if (!v || *v < 0) {
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
  auto v = n->value<int64_t>();
  if (!n->is_integer() || !v || *v < 0) {
    return ConfigError(path, fmt::format("line {}: `{}` must be a whole "
                                         "number >= 0 (0: no limit)",
                                         n->source().begin.line, key));
  }
  out = static_cast<size_t>(*v);
  return {};
}

// The line of the first byte outside ASCII that is neither in a string nor
// in a comment, or 0. TOML allows none there; toml++ 3.3 reaches undefined
// behaviour on some (its non-ASCII whitespace table; found by config_fuzz),
// so such a file is refused before it is parsed.
int NonAsciiOutsideStrings(std::string_view text) {
  int line = 1;
  size_t i = 0;
  auto starts = [&](std::string_view s) {
    return text.substr(i, s.size()) == s;
  };
  while (i < text.size()) {
    char c = text[i];
    if (c == '\n') {
      ++line;
      ++i;
    } else if (c == '#') {
      while (i < text.size() && text[i] != '\n') ++i;
    } else if (starts("\"\"\"") || starts("'''")) {
      std::string_view close = text.substr(i, 3);
      bool basic = c == '"';
      i += 3;
      while (i < text.size() && !starts(close)) {
        if (basic && text[i] == '\\') ++i;
        if (i < text.size() && text[i] == '\n') ++line;
        ++i;
      }
      i += 3;
    } else if (c == '"' || c == '\'') {
      ++i;
      while (i < text.size() && text[i] != c && text[i] != '\n') {
        if (c == '"' && text[i] == '\\') ++i;
        ++i;
      }
      ++i;
    } else if (static_cast<unsigned char>(c) >= 0x80) {
      return line;
    } else {
      ++i;
    }
  }
  return 0;
}

// PRINTMETER_<NAME>: a whole number >= 0.
Status EnvCount(const char* name, size_t& out) {
  const char* v = std::getenv(name);
  if (!v || !*v) return {};
  std::string_view text(v);
  size_t value = 0;
  auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return Invalid(fmt::format("{}={} is not a whole number >= 0 (0: no limit)",
                               name, text));
  }
  out = value;
  return {};
}

}  // namespace

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
    std::ifstream in(path, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), {});
    if (int line = NonAsciiOutsideStrings(text)) {
      return ConfigError(path, fmt::format("line {}: a character outside "
                                           "ASCII outside quotes; keys and "
                                           "values other than strings must "
                                           "be plain ASCII",
                                           line));
    }
  }
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    return ConfigError(path, fmt::format("line {}, column {}: {}",
                                         e.source().begin.line,
                                         e.source().begin.column,
                                         e.description()));
  }
  std::string auth, stale;
  std::string admin, read;
  for (auto s : {ReadString(root, "listen", config.listen, path),
                 ReadString(root, "db", config.db, path),
                 ReadString(root, "auth", auth, path),
                 ReadString(root, "stale_after", stale, path),
                 ReadString(root, "timezone", config.timezone, path),
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
                                           "tofu, strict", auth));
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
  if (!admin.empty()) config.admin_token = admin;
  if (!read.empty()) config.read_token = read;
  if (const toml::table* devices = root["devices"].as_table()) {
    for (const auto& [key, node] : *devices) {
      const toml::table* dt = node.as_table();
      std::string id(key.str());
      if (!dt) {
        return ConfigError(path, fmt::format("[devices.{}] must be a table",
                                             id));
      }
      DeviceConfig dc;
      std::string secret;
      std::string where = fmt::format("[devices.{}]", id);
      for (auto s : {ReadString(*dt, "name", dc.name, path),
                     ReadString(*dt, "secret", secret, path),
                     ReadNumber(*dt, "rate_per_hour", dc.rates.rate_per_hour,
                                path, where),
                     ReadNumber(*dt, "rate_per_m", dc.rates.rate_per_m, path,
                                where),
                     ReadNumber(*dt, "minimum_per_session",
                                dc.rates.minimum_per_session, path, where)}) {
        if (!s) return s.error();
      }
      if (dt->contains("secret")) dc.secret = secret;
      config.devices.emplace(id, std::move(dc));
    }
  }
  return config;
}

Status ApplyEnvironment(Config& config) {
  auto env = [](const char* name) -> std::optional<std::string> {
    const char* v = std::getenv(name);
    if (!v || !*v) return std::nullopt;
    return std::string(v);
  };
  if (auto v = env("PRINTMETER_LISTEN")) config.listen = *v;
  if (auto v = env("PRINTMETER_DB")) config.db = *v;
  if (auto v = env("PRINTMETER_AUTH")) {
    auto mode = AuthModeFromName(*v);
    if (!mode) {
      return Invalid(fmt::format(
          "PRINTMETER_AUTH={} is not one of open, tofu, strict", *v));
    }
    config.auth = *mode;
  }
  if (auto v = env("PRINTMETER_STALE_AFTER")) {
    auto d = ParseDuration(*v);
    if (!d) {
      return Invalid(fmt::format(
          "PRINTMETER_STALE_AFTER={} is not a duration like 48h or 0", *v));
    }
    config.stale_after = *d;
  }
  if (auto v = env("PRINTMETER_TIMEZONE")) config.timezone = *v;
  if (auto v = env("PRINTMETER_ADMIN_TOKEN")) config.admin_token = *v;
  if (auto v = env("PRINTMETER_READ_TOKEN")) config.read_token = *v;
  if (Status s = EnvCount("PRINTMETER_MAX_DEVICES", config.max_devices); !s) {
    return s;
  }
  return EnvCount("PRINTMETER_REGISTRATIONS_PER_HOUR",
                  config.registrations_per_hour);
}

Status SaveConfigFile(const Config& config, const std::string& path) {
  toml::table root;
  // Keep every setting the file had; write only what differs from defaults.
  Config defaults;
  if (config.listen != defaults.listen) root.insert("listen", config.listen);
  if (config.db != defaults.db) root.insert("db", config.db);
  if (config.auth != defaults.auth) root.insert("auth", AuthModeName(config.auth));
  if (config.stale_after != defaults.stale_after) {
    root.insert("stale_after",
                fmt::format("{}s", config.stale_after / kSecondMs));
  }
  if (config.timezone != defaults.timezone) root.insert("timezone", config.timezone);
  if (config.admin_token) root.insert("admin_token", *config.admin_token);
  if (config.read_token) root.insert("read_token", *config.read_token);
  if (config.max_devices != defaults.max_devices) {
    root.insert("max_devices", static_cast<int64_t>(config.max_devices));
  }
  if (config.registrations_per_hour != defaults.registrations_per_hour) {
    root.insert("registrations_per_hour",
                static_cast<int64_t>(config.registrations_per_hour));
  }
  toml::table devices;
  for (const auto& [id, dc] : config.devices) {
    toml::table t;
    if (!dc.name.empty()) t.insert("name", dc.name);
    if (dc.secret) t.insert("secret", *dc.secret);
    if (dc.rates.rate_per_hour) t.insert("rate_per_hour", dc.rates.rate_per_hour);
    if (dc.rates.rate_per_m) t.insert("rate_per_m", dc.rates.rate_per_m);
    if (dc.rates.minimum_per_session) {
      t.insert("minimum_per_session", dc.rates.minimum_per_session);
    }
    devices.insert(id, std::move(t));
  }
  if (!devices.empty()) root.insert("devices", std::move(devices));
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) {
      return Invalid(fmt::format("cannot write {}: {}", tmp, std::strerror(errno)));
    }
    out << "# printmeter configuration (see README.md)\n" << root << "\n";
    if (!out.flush()) {
      return Invalid(fmt::format("cannot write {}: {}", tmp, std::strerror(errno)));
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return Invalid(fmt::format("cannot replace {}: {}", path, ec.message()));
  return {};
}

}  // namespace pm

// `printmeter serve`: the webhook receiver, the API and /metrics.
#include <fmt/format.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "api/api.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "forward/forwarder.h"
#include "http/embedded_files.h"
#include "ingest/writer.h"
#include "http/server.h"
#include "mqtt/publisher.h"
#include "store/rate_history.h"
#include "store/store.h"

namespace pm {

namespace {

struct ServeOptions {
  CommonOptions common;
  std::string web_root;
};

// A dashboard on disk to serve instead of the built-in one: --web-root, else
// PRINTMETER_WEB_ROOT, else none.
std::string WebRoot(const std::string& flag) {
  if (!flag.empty()) return flag;
  const char* env = std::getenv("PRINTMETER_WEB_ROOT");
  return env ? env : "";
}

// Says where the dashboard comes from, and how to get one when there is none.
void LogDashboard(const ServerOptions& options) {
  std::string url = fmt::format("http://{}:{}/", options.host, options.port);
  if (!options.web_root.empty()) {
    spdlog::info("dashboard: {} (files from {})", url, options.web_root);
  } else if (options.dashboard.empty()) {
    spdlog::warn(
        "dashboard: none; this printmeter was built before web/dist "
        "existed. Run `make build` (it builds the dashboard first, "
        "then the binary that embeds it), or pass --web-root "
        "web/dist");
  } else {
    spdlog::info("dashboard: {} (built in, {} files)", url,
                 options.dashboard.size());
  }
}

// What the plugin's "Webhook URL" should be, as far as this host can tell.
std::string PluginUrl(const ServerOptions& options) {
  std::string host = options.host;
  if (host == "0.0.0.0" || host == "::") {
    char name[256] = {};
    host =
        gethostname(name, sizeof name - 1) == 0 && name[0] ? name : "THIS-HOST";
  }
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return fmt::format("http://{}:{}/webhook", host, options.port);
}

int Fail(const Error& e) {
  spdlog::error("{}", e.message);
  return 1;
}

int RunServe(const ServeOptions& o) {
  // A write to a pipe nobody reads any more fails (EPIPE) instead of ending
  // the server: its stderr may go to a pipe (a log shipper, `| tee`) that
  // goes away while printers are still sending. Sockets already write with
  // MSG_NOSIGNAL; this is for everything else.
  signal(SIGPIPE, SIG_IGN);
  // Block the stop signals before any thread starts, so that every thread
  // inherits the mask and only sigwait() below sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto config = ResolveConfig(o.common);
  if (!config) return Fail(config.error());
  if (auto s = ReadMqttPasswordFile(*config); !s) return Fail(s.error());
  ServerOptions server_options;
  if (auto s = ParseListen(config->listen, server_options); !s) {
    return Fail(s.error());
  }
  server_options.web_root = WebRoot(o.web_root);
  server_options.dashboard = EmbeddedDashboard();
  auto store = OpenStore(config->db, {.writer = true,
                                      .program = "printmeter serve",
                                      .append_journal = true});
  if (!store) return Fail(store.error());
  SystemClock clock;
  if (auto rates = RecordRates(**store, ConfiguredRates(*config), clock.Now());
      !rates) {
    return Fail(rates.error());
  }
  IngestWriter writer(**store, IngestOptionsFrom(*config), clock);
  if (auto s = writer.Start(); !s) return Fail(s.error());
  // [mqtt]: every printer's state to the broker, told of changes by the
  // writer; it never holds up ingest, and a broker that is away is retried.
  std::unique_ptr<MqttPublisher> mqtt;
  IngestWriter::ListenerId mqtt_listener = 0;
  std::optional<MqttOptions> mqtt_options = MqttOptionsFrom(*config);
  ApiOptions api_options = ApiOptionsFrom(*config);
  if (mqtt_options) {
    mqtt = std::make_unique<MqttPublisher>(**store, ApiOptionsFrom(*config),
                                           *mqtt_options, clock);
    if (auto s = mqtt->Start(); !s) {
      writer.Stop();
      return Fail(s.error());
    }
    mqtt_listener = writer.AddProjectionListener(
        [p = mqtt.get()](const auto& changed) { p->Changed(changed); });
    // A maintenance item marked done changes no session: told directly.
    api_options.maintenance_marked = [p = mqtt.get()](const std::string& d) {
      p->Changed(d);
    };
  }
  // Forwarding ([[forward]]): woken by each projection commit, polling
  // the log besides; on threads of its own, never in a webhook's way.
  std::unique_ptr<Forwarder> forwarder;
  std::optional<IngestWriter::ListenerId> forward_listener;
  if (!config->forward.empty()) {
    forwarder = std::make_unique<Forwarder>(**store, **store,
                                            ForwardOptionsFrom(*config), clock);
    if (auto s = forwarder->Start(); !s) {
      writer.Stop();
      return Fail(s.error());
    }
    forward_listener = writer.AddProjectionListener(
        [f = forwarder.get()](const auto&) { f->Wake(); });
    api_options.forwarding = [f = forwarder.get()] { return f->Targets(); };
    for (const ForwardTarget& t : config->forward) {
      spdlog::info("forwarding {} to {}", t.name, UrlWithoutCredentials(t.url));
    }
  }
  std::unique_ptr<Api> api = MakeApi(
      **store, api_options, clock,
      [&writer](int64_t id, const std::string& user) {
        return writer.Attribute(id, user);
      });
  Server server(server_options, **store, writer, api.get(), clock);
  if (auto s = server.Start(); !s) {
    writer.Stop();
    return Fail(s.error());
  }
  server_options.port = server.port();
  spdlog::info("printmeter {} listening on {}:{}", PRINTMETER_VERSION,
               server_options.host, server.port());
  spdlog::info("database: {}", RedactedUrl(config->db));
  LogDashboard(server_options);
  if (mqtt) {
    spdlog::info("mqtt: publishing to {} as {}: {}/DEVICE/state, Home "
                 "Assistant discovery under {}/",
                 mqtt->BrokerName(), mqtt_options->client_id,
                 mqtt_options->topic_prefix, mqtt_options->discovery_prefix);
  }
  spdlog::info("auth: {}{}", AuthModeName(config->auth),
               config->auth == AuthMode::kTofu
                   ? " (a new printer is registered with the secret it "
                     "sends first)"
                   : "");
  if (config->auth == AuthMode::kStrict && config->devices.empty()) {
    spdlog::warn(
        "auth is strict but no device is configured: every webhook "
        "will be refused (403); add one with `printmeter devices "
        "add ID`");
  }
  spdlog::info("in OctoPrint's Webhooks plugin, set the Webhook URL to {}",
               PluginUrl(server_options));

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  spdlog::info("{}: finishing requests in flight, then stopping",
               signal_number == SIGTERM ? "SIGTERM" : "SIGINT");
  server.Stop();
  writer.Stop();  // its last folds still reach the publisher
  if (mqtt) {
    writer.RemoveProjectionListener(mqtt_listener);
    mqtt->Stop();  // what is pending, then "offline"
  }
  writer.Stop();
  if (forwarder) {
    writer.RemoveProjectionListener(*forward_listener);
    forwarder->Stop();
  }
  IngestStats stats = writer.stats();
  spdlog::info("stopped; {} event(s) stored in {} commit(s) since start",
               stats.events, stats.commits);
  return 0;
}

}  // namespace

void AddServeCommand(CLI::App& app) {
  auto o = std::make_shared<ServeOptions>();
  auto* cmd = app.add_subcommand(
      "serve",
      "Run the webhook receiver (POST /webhook), the API (/api/v1/...) and "
      "/metrics until SIGINT or SIGTERM");
  AddCommonOptions(*cmd, o->common);
  AddSettingFlags(*cmd, o->common,
                  {"listen", "auth", "stale_after", "timezone", "currency",
                   "admin_token", "read_token", "max_devices",
                   "registrations_per_hour", "pictures", "mqtt_url",
                   "mqtt_password_file"});
  cmd->add_option("--web-root", o->web_root,
                  "serve the dashboard from this directory (a `vite build` "
                  "of web/, e.g. web/dist) instead of the one built into "
                  "the binary; for developing the dashboard (or "
                  "PRINTMETER_WEB_ROOT)");
  cmd->footer(
      "Then, in OctoPrint: Settings > Webhooks > add a hook with the URL "
      "http://THIS-HOST:PORT/webhook, your printer's Device identifier and "
      "API secret, and tick Print Started, Print Done, Print Failed, Print "
      "Paused, Print Progress, User Action Needed and Error (for resumes, "
      "a Custom Event PrintResumed with the message \"Print resumed\"; see "
      "README.md).\n"
      "Every flag can also come from the config file or a PRINTMETER_* "
      "environment variable: flags win, then the environment, then the "
      "file.");
  cmd->callback([o] {
    if (int rc = RunServe(*o); rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace pm

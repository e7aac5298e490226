#include "mqtt/publisher.h"

#include <fmt/format.h>
#include <mosquitto.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json/value.hpp>
#include <cstring>

#include "api/handlers.h"
#include "api/params.h"
#include "common/thread_name.h"
#include "store/rate_history.h"

namespace pm {

namespace {

namespace json = boost::json;

constexpr int kKeepaliveS = 30;
constexpr int kQos = 1;
// Messages handed to libmosquitto and not yet acknowledged beyond which a
// round waits: a slow broker holds back publications (the latest state of
// each printer is read again when it is their turn), not memory.
constexpr int64_t kMaxUnacked = 1000;
// How long Stop() waits for the broker to take "offline".
constexpr auto kGoodbyeWait = std::chrono::seconds(2);
// How long a sweep waits for the broker's retained messages and its marker.
constexpr auto kSweepWait = std::chrono::seconds(10);

std::once_flag lib_init;

std::string ConnackText(int rc) {
  switch (rc) {
    case 4:
    case 5:
      return "the broker refused the user name or password; check "
             "user:password in the [mqtt] url";
    case 2:
      return "the broker refused the client id; set another [mqtt] client_id";
    default:
      return mosquitto_connack_string(rc);
  }
}

}  // namespace

Result<std::vector<PrinterReport>> ReadPrinterReports(Store& store,
                                                      const ApiOptions& options,
                                                      TimeMs now) {
  auto printers = PrintersJson(store, options, now);
  if (!printers) return printers.error();
  // This month's usage per device, as GET /api/v1/usage computes it (an
  // unknown time zone, which usage refuses, counts the month in UTC).
  auto q = ParseUsageQuery(Params{}, options, now);
  if (!q) q = ParseUsageQuery(Params{{"tz", "UTC"}}, options, now);
  std::map<std::string, UsageFigures, std::less<>> month;
  if (q) {  // else the month began this very millisecond: nothing yet
    auto rates = LoadRateHistory(store);
    if (!rates) return rates.error();
    q->rates = std::move(*rates);
    auto usage = RunUsage(store, *q);
    if (!usage) return usage.error();
    for (const UsageRow& row : usage->rows) {
      if (!row.key.empty() && row.key[0]) month[*row.key[0]] = row.figures;
    }
  }
  std::vector<PrinterReport> out;
  for (json::value& p : *printers) {
    PrinterReport r;
    r.printer = std::move(p.as_object());
    const json::value* device = r.printer.if_contains("device");
    if (device && device->is_string()) {
      auto it = month.find(std::string_view(device->as_string()));
      if (it != month.end()) r.month = it->second;
    }
    // Per-printer figures of other followers of the ledger (maintenance
    // due, say) join the state message here, in r.extra (topics.h).
    out.push_back(std::move(r));
  }
  return out;
}

MqttPublisher::MqttPublisher(Store& store, ApiOptions api, MqttOptions options,
                             const Clock& clock)
    : store_(store),
      api_(std::move(api)),
      options_(std::move(options)),
      clock_(clock) {}

MqttPublisher::~MqttPublisher() { Stop(); }

Status MqttPublisher::Start() {
  auto broker = ParseBrokerUrl(options_.url);
  if (!broker) return broker.error();
  broker_ = std::move(*broker);
  if (!options_.password.empty()) {
    if (broker_.user.empty()) {
      return Invalid(fmt::format(
          "mqtt: a password is set but the url {} names no user; write "
          "mqtt://USER@HOST:PORT",
          broker_.Redacted()));
    }
    broker_.password = options_.password;
  }
  std::call_once(lib_init, [] { mosquitto_lib_init(); });
  mosq_ = mosquitto_new(options_.client_id.c_str(), /*clean_session=*/true,
                        this);
  if (!mosq_) return Unavailable("mqtt: cannot create a client (out of memory)");
  mosquitto_connect_callback_set(mosq_, &MqttPublisher::OnConnect);
  mosquitto_disconnect_callback_set(mosq_, &MqttPublisher::OnDisconnect);
  mosquitto_publish_callback_set(mosq_, &MqttPublisher::OnPublish);
  mosquitto_message_callback_set(mosq_, &MqttPublisher::OnMessage);
  mosquitto_reconnect_delay_set(mosq_, options_.reconnect_min_s,
                                options_.reconnect_max_s, true);
  std::string status = StatusTopic(options_);
  mosquitto_will_set(mosq_, status.c_str(), 7, "offline", kQos, true);
  if (!broker_.user.empty()) {
    mosquitto_username_pw_set(
        mosq_, broker_.user.c_str(),
        broker_.password.empty() ? nullptr : broker_.password.c_str());
  }
  if (broker_.tls) {
    int rc = mosquitto_tls_set(mosq_, nullptr, "/etc/ssl/certs", nullptr,
                               nullptr, nullptr);
    if (rc != MOSQ_ERR_SUCCESS) {
      return Invalid(fmt::format(
          "mqtt: cannot set up TLS for {} ({}); use mqtt:// or check the "
          "system's CA certificates in /etc/ssl/certs",
          broker_.Redacted(), mosquitto_strerror(rc)));
    }
  }
  thread_ = std::thread([this] {
    NameThisThread("pm-mqtt");
    Run();
  });
  return {};
}

void MqttPublisher::Changed(
    const std::map<std::string, int64_t, std::less<>>& devices) {
  {
    std::lock_guard lock(mu_);
    for (const auto& [device, event] : devices) dirty_.insert(device);
  }
  wake_.notify_one();
}

void MqttPublisher::Changed(std::string_view device) {
  {
    std::lock_guard lock(mu_);
    dirty_.insert(std::string(device));
  }
  wake_.notify_one();
}

void MqttPublisher::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !thread_.joinable() && !mosq_) return;
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
  if (!mosq_) return;
  if (connected_) {
    std::string status = StatusTopic(options_);
    int mid = 0;
    std::unique_lock lock(mu_);
    if (mosquitto_publish(mosq_, &mid, status.c_str(), 7, "offline", kQos,
                          true) == MOSQ_ERR_SUCCESS) {
      offline_mid_ = mid;
      wake_.wait_for(lock, kGoodbyeWait, [&] { return offline_sent_; });
    }
  }
  mosquitto_disconnect(mosq_);
  // Wakes a loop that waits to reconnect. One inside a reconnect's connect()
  // to a host that is away returns when the system gives up on it.
  if (network_started_) mosquitto_loop_stop(mosq_, /*force=*/false);
  mosquitto_destroy(mosq_);
  mosq_ = nullptr;
  connected_ = false;
}

void MqttPublisher::OnConnect(mosquitto*, void* self, int rc) {
  auto* p = static_cast<MqttPublisher*>(self);
  if (rc != 0) {
    spdlog::warn("mqtt: {}: {}", p->broker_.Redacted(), ConnackText(rc));
    return;
  }
  spdlog::info("mqtt: connected to {}", p->broker_.Redacted());
  p->unacked_ = 0;  // what the last connection left is published again
  p->connected_ = true;
  ++p->connects_;
  {
    std::lock_guard lock(p->mu_);
    p->resync_ = true;
  }
  p->wake_.notify_one();
}

void MqttPublisher::OnDisconnect(mosquitto*, void* self, int rc) {
  auto* p = static_cast<MqttPublisher*>(self);
  bool was = p->connected_.exchange(false);
  if (was && rc != 0) {
    spdlog::warn("mqtt: lost {}; reconnecting in the background",
                 p->broker_.Redacted());
  }
  { std::lock_guard lock(p->mu_); }  // a sweep's wait sees it
  p->wake_.notify_all();
}

void MqttPublisher::OnMessage(mosquitto*, void* self,
                              const mosquitto_message* msg) {
  auto* p = static_cast<MqttPublisher*>(self);
  std::string payload(static_cast<const char*>(msg->payload),
                      static_cast<size_t>(std::max(msg->payloadlen, 0)));
  {
    std::lock_guard lock(p->mu_);
    if (p->sweep_marker_.empty()) return;
    if (payload == p->sweep_marker_ &&
        msg->topic == StatusTopic(p->options_) + "/sweep") {
      p->sweep_done_ = true;
    } else if (msg->retain) {
      p->retained_[msg->topic] = std::move(payload);
    }
  }
  p->wake_.notify_all();
}

void MqttPublisher::OnPublish(mosquitto*, void* self, int mid) {
  auto* p = static_cast<MqttPublisher*>(self);
  if (p->unacked_ > 0) --p->unacked_;
  {
    std::lock_guard lock(p->mu_);
    if (mid == p->offline_mid_) p->offline_sent_ = true;
  }
  p->wake_.notify_all();
}

bool MqttPublisher::Stopping() {
  std::lock_guard lock(mu_);
  return stopping_;
}

// libmosquitto's own thread gives up for good when the first connection
// fails (an asynchronous connect that fails ends its loop), so the first
// connection is made here, on this thread, retried with the same doubling
// delay; then that thread takes the connection over, reconnects included.
bool MqttPublisher::ConnectFirst() {
  int delay_s = options_.reconnect_min_s;
  bool told = false;
  for (;;) {
    if (Stopping()) return false;
    int rc = mosquitto_connect_async(mosq_, broker_.host.c_str(), broker_.port,
                                     kKeepaliveS);
    while (rc == MOSQ_ERR_SUCCESS && !connected_ && !Stopping()) {
      rc = mosquitto_loop(mosq_, 200, 1);
    }
    if (connected_) {
      rc = mosquitto_loop_start(mosq_);
      if (rc == MOSQ_ERR_SUCCESS) return true;
      spdlog::error("mqtt: cannot start the network thread: {}; not "
                    "publishing",
                    mosquitto_strerror(rc));
      return false;
    }
    if (!told && rc != MOSQ_ERR_SUCCESS) {
      spdlog::warn("mqtt: cannot reach {} ({}); retrying in the background",
                   broker_.Redacted(),
                   rc == MOSQ_ERR_ERRNO ? std::strerror(errno)
                                        : mosquitto_strerror(rc));
      told = true;
    }
    std::unique_lock lock(mu_);
    wake_.wait_for(lock, std::chrono::seconds(delay_s),
                   [&] { return stopping_; });
    delay_s = std::min(delay_s * 2, std::max(options_.reconnect_max_s, 1));
  }
}

void MqttPublisher::Run() {
  if (!ConnectFirst()) return;
  network_started_ = true;
  using SteadyClock = std::chrono::steady_clock;
  const auto interval = std::chrono::milliseconds(options_.republish_interval);
  auto next_all = SteadyClock::now() + interval;
  bool announce_pending = false;  // a connect whose announcement failed
  std::unique_lock lock(mu_);
  for (;;) {
    wake_.wait_until(lock, next_all, [&] {
      bool room = unacked_ < kMaxUnacked;
      return stopping_ || (room && (resync_ || !dirty_.empty()));
    });
    bool stopping = stopping_;
    bool announce = resync_ || announce_pending;
    bool all = announce || SteadyClock::now() >= next_all;
    if (stopping && dirty_.empty()) break;
    if (all) next_all = SteadyClock::now() + interval;
    resync_ = false;
    std::set<std::string, std::less<>> dirty = std::move(dirty_);
    dirty_.clear();
    lock.unlock();
    if (connected_) {
      if (announce) announced_.clear();
      bool ok = PublishRound(all, announce, dirty);
      announce_pending = announce && !ok;
      // A sweep that cannot finish (a broker that refuses the subscription)
      // is tried again at the next connection, not every round.
      if (announce && ok && !Stopping()) Sweep();
    } else {
      // Nothing to keep: the next connect publishes every printer.
      announce_pending = false;
    }
    lock.lock();
    if (stopping) break;
  }
}

bool MqttPublisher::PublishRound(
    bool all, bool announce, const std::set<std::string, std::less<>>& dirty) {
  auto reports = ReadPrinterReports(store_, api_, clock_.Now());
  if (!reports) {
    spdlog::warn("mqtt: cannot read the printers to publish: {}",
                 reports.error().message);
    return false;
  }
  if (announce && !Publish({StatusTopic(options_), "online"})) return false;
  for (const PrinterReport& r : *reports) {
    const json::value* d = r.printer.if_contains("device");
    std::string device = d && d->is_string() ? std::string(d->as_string()) : "";
    bool fresh = !announced_.contains(device);
    if (!all && !fresh && !dirty.contains(device)) continue;
    if (fresh) {
      for (const MqttMessage& m :
           DiscoveryMessages(options_, r, api_.currency)) {
        if (!Publish(m)) return false;
      }
      announced_.insert(device);
    }
    MqttMessage state = StateMessage(options_, r, api_.currency);
    auto last = published_.find(device);
    if (!fresh && last != published_.end() && last->second == state.payload) {
      continue;  // retained on the broker already
    }
    if (!Publish(state)) return false;
    published_[device] = std::move(state.payload);
  }
  return true;
}

bool MqttPublisher::Sweep() {
  const std::string marker_topic = StatusTopic(options_) + "/sweep";
  std::vector<std::string> filters = SweepFilters(options_);
  filters.push_back(marker_topic);
  {
    std::lock_guard lock(mu_);
    sweep_marker_ = fmt::format("{}-{}", options_.client_id, connects_.load());
    sweep_done_ = false;
    retained_.clear();
  }
  auto finish = [&](bool ok) {
    for (const std::string& f : filters) {
      mosquitto_unsubscribe(mosq_, nullptr, f.c_str());
    }
    std::lock_guard lock(mu_);
    sweep_marker_.clear();
    retained_.clear();
    return ok;
  };
  // The broker sends a subscription's retained messages before it handles
  // the client's next packet, so the marker, published after the
  // subscriptions, comes back after all of them.
  for (const std::string& f : filters) {
    int rc = mosquitto_subscribe(mosq_, nullptr, f.c_str(), kQos);
    if (rc != MOSQ_ERR_SUCCESS) return finish(false);
  }
  std::string marker;
  {
    std::lock_guard lock(mu_);
    marker = sweep_marker_;
  }
  int rc = mosquitto_publish(mosq_, nullptr, marker_topic.c_str(),
                             static_cast<int>(marker.size()), marker.data(),
                             kQos, /*retain=*/false);
  if (rc != MOSQ_ERR_SUCCESS) return finish(false);
  ++unacked_;  // OnPublish counts its acknowledgement
  std::map<std::string, std::string, std::less<>> retained;
  {
    std::unique_lock lock(mu_);
    bool done = wake_.wait_for(lock, kSweepWait, [&] {
      return sweep_done_ || stopping_ || !connected_;
    });
    if (!done || !sweep_done_) {
      lock.unlock();
      if (!done) {
        spdlog::warn("mqtt: {} did not send back what it retains within {} s; "
                     "entities of removed printers may linger in Home "
                     "Assistant until the next connection",
                     broker_.Redacted(), kSweepWait.count());
      }
      return finish(false);
    }
    retained = std::move(retained_);
  }
  // What printmeter publishes now: read again, after the marker, so that a
  // printer first heard from since the announcement (its config retained
  // by now) is not taken for a removed one.
  auto reports = ReadPrinterReports(store_, api_, clock_.Now());
  if (!reports) return finish(false);
  std::set<std::string, std::less<>> current;
  for (const PrinterReport& r : *reports) {
    for (const MqttMessage& m : DiscoveryMessages(options_, r, api_.currency)) {
      current.insert(m.topic);
    }
    current.insert(StateMessage(options_, r, api_.currency).topic);
  }
  std::vector<std::string> stale = StaleTopics(options_, retained, current);
  for (const std::string& topic : stale) {
    if (!Publish({topic, ""})) return finish(false);
  }
  if (!stale.empty()) {
    spdlog::info("mqtt: cleared {} retained topic(s) of printers or "
                 "maintenance items no longer configured",
                 stale.size());
  }
  swept_ += static_cast<int64_t>(stale.size());
  ++sweeps_;
  return finish(true);
}

bool MqttPublisher::Publish(const MqttMessage& m) {
  int rc = mosquitto_publish(mosq_, nullptr, m.topic.c_str(),
                             static_cast<int>(m.payload.size()),
                             m.payload.data(), kQos, /*retain=*/true);
  if (rc == MOSQ_ERR_SUCCESS) {
    ++unacked_;
    return true;
  }
  if (rc != MOSQ_ERR_NO_CONN) {
    spdlog::warn("mqtt: cannot publish {}: {}", m.topic,
                 mosquitto_strerror(rc));
  }
  return false;
}

}  // namespace pm

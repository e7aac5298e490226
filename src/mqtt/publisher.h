// MqttPublisher: follows the ledger and publishes every printer's state to
// an MQTT broker, with Home Assistant's discovery configs (topics.h).
//
// A projection of the ledger, never in the way of ingest: the ingest
// writer's projection listener calls Changed(), which only records which
// printers changed and wakes the publisher's own thread; that thread reads
// the printers through the store's reader face (the renderings of GET
// /api/v1/printers and of the usage report) and publishes. A printer has at
// most one pending publication (the latest state wins), so a broker that is
// down or slow costs a set of names, not a queue.
//
// The publisher's thread connects in the background, then libmosquitto's
// network thread keeps the connection and reconnects, with a growing delay
// (options.reconnect_min_s .. reconnect_max_s). The
// last will sets PREFIX/status to "offline" (retained); every (re)connect
// publishes "online" and then every printer's discovery configs and state,
// retained, so a broker restarted without persistence is whole again. Every
// printer is also republished each options.republish_interval (progress,
// ETA, the month's figures). Stop() says "offline" and disconnects.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "api/options.h"
#include "common/result.h"
#include "common/time.h"
#include "mqtt/broker_url.h"
#include "mqtt/options.h"
#include "mqtt/topics.h"
#include "store/store.h"

struct mosquitto;
struct mosquitto_message;

namespace pm {

// Every printer GET /api/v1/printers lists, with this month's figures (in
// options.timezone), as of `now`. The store's error when it cannot be read.
Result<std::vector<PrinterReport>> ReadPrinterReports(Store& store,
                                                      const ApiOptions& options,
                                                      TimeMs now);

class MqttPublisher {
 public:
  // `store` and `clock` must outlive the publisher; `api` gives the
  // printers' names, the currency and the time zone of the month.
  MqttPublisher(Store& store, ApiOptions api, MqttOptions options,
                const Clock& clock);
  ~MqttPublisher();  // Stop()
  MqttPublisher(const MqttPublisher&) = delete;
  MqttPublisher& operator=(const MqttPublisher&) = delete;

  // Reads the broker URL (options.password replacing its password) and
  // starts connecting in the background; does not
  // wait for the broker, which may come later. kInvalid for a URL it cannot
  // use (the message says what to write); kUnavailable when libmosquitto
  // cannot start.
  Status Start();

  // The devices whose ledger changed (IngestWriter's projection listener).
  // Records them and wakes the publisher; never blocks on the broker or the
  // store. Thread-safe.
  void Changed(const std::map<std::string, int64_t, std::less<>>& devices);
  // One device changed outside the ledger (a maintenance item marked done:
  // ApiOptions::maintenance_marked). As above.
  void Changed(std::string_view device);

  // Publishes what is pending and "offline" (when connected), disconnects
  // and joins the threads. Idempotent.
  void Stop();

  // Where it publishes, the password hidden.
  std::string BrokerName() const { return broker_.Redacted(); }

  bool connected() const { return connected_; }
  int64_t connects() const { return connects_; }
  // Sweeps finished (see above) and the stale topics they cleared.
  int64_t sweeps() const { return sweeps_; }
  int64_t swept() const { return swept_; }

 private:
  static void OnConnect(mosquitto* m, void* self, int rc);
  static void OnDisconnect(mosquitto* m, void* self, int rc);
  static void OnPublish(mosquitto* m, void* self, int mid);
  static void OnMessage(mosquitto* m, void* self, const mosquitto_message* msg);

  void Run();
  bool Stopping();
  bool ConnectFirst();
  // One round: `all` printers or those in `dirty`; `announce` sends
  // "online" and the discovery configs first. False when it could not
  // finish (the store or the broker failed).
  bool PublishRound(bool all, bool announce,
                    const std::set<std::string, std::less<>>& dirty);
  bool Publish(const MqttMessage& m);
  // After an announcement: clears what the broker retains of printmeter's
  // that it no longer publishes. False when it could not finish (the
  // broker went away, or did not send the marker back within 10 s: it may
  // refuse the subscription); the next connection sweeps again.
  bool Sweep();

  Store& store_;
  const ApiOptions api_;
  const MqttOptions options_;
  const Clock& clock_;
  BrokerAddress broker_;
  mosquitto* mosq_ = nullptr;
  std::atomic<bool> network_started_{false};  // libmosquitto's thread runs

  // Owned by the publisher thread.
  std::map<std::string, std::string, std::less<>> published_;  // device->state
  std::set<std::string, std::less<>> announced_;  // discovery sent this connection

  std::atomic<bool> connected_{false};
  std::atomic<int64_t> connects_{0};
  std::atomic<int64_t> unacked_{0};  // QoS 1 messages not yet acknowledged
  std::atomic<int64_t> sweeps_{0};
  std::atomic<int64_t> swept_{0};

  std::mutex mu_;
  std::condition_variable wake_;
  std::set<std::string, std::less<>> dirty_;  // guarded by mu_
  bool resync_ = false;                       // guarded by mu_: (re)connected
  bool stopping_ = false;                     // guarded by mu_
  int offline_mid_ = -1;                      // guarded by mu_
  bool offline_sent_ = false;                 // guarded by mu_
  // The sweep under way: the marker's payload ("" when none), whether it
  // came back, and the retained messages received meanwhile.
  std::string sweep_marker_;                                 // guarded by mu_
  bool sweep_done_ = false;                                  // guarded by mu_
  std::map<std::string, std::string, std::less<>> retained_;  // guarded by mu_
  std::thread thread_;
};

}  // namespace pm

// Test support: Debian's mosquitto broker (/usr/sbin/mosquitto) on a free
// loopback port in a temporary folder, and a real libmosquitto subscriber
// that reads the published topics back. For tests only.
#pragma once

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "common/result.h"

struct mosquitto;
struct mosquitto_message;

namespace pm::testing {

class TestBroker {
 public:
  // `user`/`password`: a broker that admits only them; empty: anyone.
  explicit TestBroker(std::string user = "", std::string password = "");
  ~TestBroker();  // Stop(), and the folder removed

  // Starts the broker, without persistence, and waits until it accepts
  // connections. The port is chosen at the first start and kept by later
  // ones (a restarted broker, empty).
  Status Start();
  // SIGTERM, and waits for the process to end.
  void Stop();
  int port() const { return port_; }
  // mqtt://[user:password@]127.0.0.1:PORT
  std::string Url() const;

 private:
  std::filesystem::path dir_;
  std::string user_, password_;
  int port_ = 0;
  int pid_ = -1;
};

struct Received {
  std::string payload;
  bool retained = false;  // delivered as the broker's retained message
  int count = 0;          // messages received on the topic
};
using Topics = std::map<std::string, Received>;

// A subscriber to `filter` on the broker at 127.0.0.1:`port` (as `user`
// with `password`, when given), connected and subscribed when constructed (a
// failure fails the test).
class TestSubscriber {
 public:
  explicit TestSubscriber(int port, const std::string& filter = "#",
                          const std::string& user = "",
                          const std::string& password = "");
  ~TestSubscriber();

  // Waits until `done(topics received)` holds, or `timeout`; whether it held.
  bool WaitFor(const std::function<bool(const Topics&)>& done,
               std::chrono::milliseconds timeout = std::chrono::seconds(15));
  // Waits for a message on `topic` whose payload satisfies `done`.
  bool WaitForTopic(const std::string& topic,
                    const std::function<bool(const Received&)>& done,
                    std::chrono::milliseconds timeout = std::chrono::seconds(15));
  Topics topics();

 private:
  static void OnMessage(mosquitto*, void*, const mosquitto_message*);
  static void OnSubscribe(mosquitto*, void*, int, int, const int*);

  mosquitto* mosq_ = nullptr;
  std::mutex mu_;
  std::condition_variable changed_;
  Topics topics_;           // guarded by mu_
  bool subscribed_ = false;  // guarded by mu_
};

}  // namespace pm::testing

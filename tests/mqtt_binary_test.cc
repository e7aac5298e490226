// End to end: `printmeter serve` with an [mqtt] table, against Debian's
// mosquitto broker. Killed, its last will says "offline"; started again, it
// publishes every printer again; a broker URL it cannot use stops it at
// start with a message that says what to write.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <ctime>
#include <filesystem>
#include <fstream>

#include "mqtt/test_broker.h"
#include "binary_harness.h"
#include "http/test_client.h"

namespace pm {
namespace {

using testing::Received;
using testing::TestBroker;
using testing::TestSubscriber;

constexpr const char* kUser = "ha";
constexpr const char* kPassword = "never-in-the-log";
constexpr const char* kState = "printmeter/ender3-garage/state";
constexpr const char* kStatus = "printmeter/status";

class MqttBinaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           fmt::format("pm_mqtt_bin_{}", ::getpid());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string WriteConfig(const std::string& url) {
    std::string path = (dir_ / "printmeter.toml").string();
    std::ofstream(path) << fmt::format(
        "[mqtt]\nurl = \"{}\"\nclient_id = \"printmeter-e2e\"\n\n"
        "[devices.ender3-garage]\nname = \"Ender 3 (garage)\"\n",
        url);
    return path;
  }

  // `printmeter serve`; its port, or 0 when it did not start.
  uint16_t Serve(Child& child, const std::string& config) {
    child = Spawn({Binary(), "serve", "--listen", "127.0.0.1:0", "--db",
                   "sqlite:" + (dir_ / "pm.db").string(), "--config",
                   config});
    std::string line = child.WaitFor("listening on 127.0.0.1:");
    if (line.empty()) return 0;
    return static_cast<uint16_t>(std::stoi(line.substr(line.rfind(':') + 1)));
  }

  // The plugin's Print Started, sent now.
  static int PostStarted(uint16_t port) {
    std::string body = ReadFileBytes(std::string(PM_FIXTURES_DIR) +
                                     "/plugin/01_print_started_local.json");
    std::string from = "\"currentTime\": 1718036225";
    body.replace(body.find(from), from.size(),
                 fmt::format("\"currentTime\": {}", std::time(nullptr)));
    TestClient client(port);
    auto reply = client.Send("POST", "/webhook", "application/json", body);
    return reply.ok() ? reply->status : 0;
  }

  std::filesystem::path dir_;
};

TEST_F(MqttBinaryTest, KilledItsWillSaysOfflineAndStartedAgainItRepublishes) {
  TestBroker broker(kUser, kPassword);
  ASSERT_TRUE(broker.Start().ok());
  std::string config = WriteConfig(broker.Url());
  TestSubscriber sub(broker.port(), "#", kUser, kPassword);

  Child first;
  uint16_t port = Serve(first, config);
  ASSERT_NE(port, 0) << first.log;
  EXPECT_FALSE(first.WaitFor("mqtt: publishing to").empty());
  EXPECT_EQ(PostStarted(port), 200);
  ASSERT_TRUE(sub.WaitForTopic(kState, [](const Received& r) {
    return r.payload.find("\"state\":\"printing\"") != std::string::npos &&
           r.payload.find("\"name\":\"Ender 3 (garage)\"") != std::string::npos;
  })) << sub.topics()[kState].payload;
  ASSERT_TRUE(sub.WaitForTopic(
      kStatus, [](const Received& r) { return r.payload == "online"; }));

  ::kill(first.pid, SIGKILL);  // no goodbye: the broker speaks its will
  first.Wait();
  EXPECT_EQ(first.log.find(kPassword), std::string::npos) << first.log;
  ASSERT_TRUE(sub.WaitForTopic(
      kStatus, [](const Received& r) { return r.payload == "offline"; }));
  int states = sub.topics()[kState].count;

  Child second;
  ASSERT_NE(Serve(second, config), 0) << second.log;
  EXPECT_TRUE(sub.WaitForTopic(
      kStatus, [](const Received& r) { return r.payload == "online"; }));
  EXPECT_TRUE(sub.WaitForTopic(kState, [&](const Received& r) {
    return r.count > states &&
           r.payload.find("\"state\":\"printing\"") != std::string::npos;
  }));
  ::kill(second.pid, SIGTERM);
  EXPECT_EQ(second.Wait(), 0) << second.log;
  EXPECT_TRUE(sub.WaitForTopic(
      kStatus, [](const Received& r) { return r.payload == "offline"; }));
  EXPECT_EQ(second.log.find(kPassword), std::string::npos) << second.log;
}

TEST_F(MqttBinaryTest, BrokerFromTheEnvironmentAndPasswordFromAFile) {
  TestBroker broker(kUser, kPassword);
  ASSERT_TRUE(broker.Start().ok());
  std::string config = (dir_ / "printmeter.toml").string();
  std::ofstream(config) << "[devices.ender3-garage]\nname = \"Ender 3\"\n";
  std::string secret = (dir_ / "mqtt-password").string();
  std::ofstream(secret) << kPassword << "\n";
  TestSubscriber sub(broker.port(), "#", kUser, kPassword);

  // The url names the user only; the password comes from the file.
  ::setenv("PRINTMETER_MQTT_URL",
           fmt::format("mqtt://{}@127.0.0.1:{}", kUser, broker.port()).c_str(),
           1);
  Child child;
  child = Spawn({Binary(), "serve", "--listen", "127.0.0.1:0", "--db",
                 "sqlite:" + (dir_ / "pm.db").string(), "--config", config,
                 "--mqtt-password-file", secret});
  ::unsetenv("PRINTMETER_MQTT_URL");
  ASSERT_FALSE(child.WaitFor("mqtt: connected to").empty()) << child.log;
  EXPECT_TRUE(sub.WaitForTopic(kState, [](const Received& r) {
    return r.payload.find("\"name\":\"Ender 3\"") != std::string::npos;
  })) << sub.topics()[kState].payload;
  ::kill(child.pid, SIGTERM);
  EXPECT_EQ(child.Wait(), 0) << child.log;
  EXPECT_EQ(child.log.find(kPassword), std::string::npos) << child.log;

  // A password file it cannot read stops it at start, naming the file.
  Child unreadable;
  unreadable = Spawn({Binary(), "serve", "--listen", "127.0.0.1:0", "--db",
                      "sqlite:" + (dir_ / "pm.db").string(), "--config",
                      config, "--mqtt-url", broker.Url(),
                      "--mqtt-password-file", secret + ".missing"});
  EXPECT_EQ(unreadable.Wait(), 1);
  EXPECT_NE(unreadable.log.find("mqtt-password.missing cannot be read: No such file"),
            std::string::npos)
      << unreadable.log;
}

TEST_F(MqttBinaryTest, ABrokerUrlItCannotUseStopsItAtStart) {
  Child child;
  std::string config = WriteConfig("http://broker.local:1883");
  EXPECT_EQ(Serve(child, config), 0);
  EXPECT_EQ(child.Wait(), 1);
  EXPECT_NE(child.log.find("mqtt://user:password@"), std::string::npos)
      << child.log;
}

}  // namespace
}  // namespace pm

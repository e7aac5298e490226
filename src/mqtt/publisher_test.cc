// The publisher against Debian's mosquitto broker, fed through the real
// receiver and ingest writer: discovery configs and state, retained; a
// broker restarted empty; printmeter stopped and started again; a broker
// that is down while webhooks arrive.
#include "mqtt/publisher.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <memory>

#include "http/test_harness.h"
#include "mqtt/test_broker.h"

namespace pm {
namespace {

namespace json = boost::json;
using testing::FixturesDir;
using testing::Received;
using testing::TestBroker;
using testing::TestSubscriber;
using testing::Topics;

// The plugin fixtures' currentTime: 2024-06-10T16:17:05Z.
constexpr int64_t kFixtureTime = 1718036225;
constexpr const char* kDevice = "ender3-garage";
constexpr const char* kState = "printmeter/ender3-garage/state";
constexpr const char* kStatus = "printmeter/status";
constexpr size_t kConfigs = 11;  // entities of a printer (topics.cc)

// The plugin fixture `name`, sent `offset_s` after its own currentTime.
std::string Fixture(const std::string& name, int64_t offset_s) {
  std::string body =
      ReadFileBytes(FixturesDir() + "/plugin/" + name + ".json");
  std::string from = fmt::format("\"currentTime\": {}", kFixtureTime);
  size_t at = body.find(from);
  EXPECT_NE(at, std::string::npos) << name;
  if (at != std::string::npos) {
    body.replace(at, from.size(),
                 fmt::format("\"currentTime\": {}", kFixtureTime + offset_s));
  }
  return body;
}

json::object Json(const Received& r) { return json::parse(r.payload).as_object(); }

// The printer's discovery configs among `t`: those the broker kept
// (retained), or all that came (a subscriber already listening gets them
// without the retained flag).
size_t Configs(const Topics& t, bool retained_only) {
  size_t n = 0;
  for (const auto& [topic, r] : t) {
    if (topic.starts_with("homeassistant/") && topic.ends_with("/config") &&
        topic.find("printmeter_ender3-garage") != std::string::npos &&
        (r.retained || !retained_only)) {
      ++n;
    }
  }
  return n;
}

size_t RetainedConfigs(const Topics& t) { return Configs(t, true); }

class MqttTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(broker_.Start().ok());
    harness_.clock.Set((kFixtureTime + 3600) * 1000);
    harness_.api_options.devices[kDevice] = {.name = "Ender 3 (garage)"};
    harness_.api_options.currency = "EUR";
    harness_.Start({}, {}, /*with_api=*/true);
    options_.url = broker_.Url();
    options_.client_id = "printmeter-test";
    options_.reconnect_max_s = 1;
  }
  void TearDown() override {
    StopPublisher();
    harness_.Stop();
  }

  void StartPublisher() {
    publisher_ = std::make_unique<MqttPublisher>(
        *harness_.store, harness_.api_options, options_, harness_.clock);
    ASSERT_TRUE(publisher_->Start().ok());
    listener_ = harness_.writer->AddProjectionListener(
        [p = publisher_.get()](const auto& changed) { p->Changed(changed); });
  }
  void StopPublisher() {
    if (!publisher_) return;
    harness_.writer->RemoveProjectionListener(listener_);
    publisher_->Stop();
    publisher_.reset();
  }

  // Posts a fixture; the verdict (status) it got.
  int Post(const std::string& name, int64_t offset_s) {
    TestClient client(harness_.port());
    auto reply =
        client.Send("POST", "/webhook", "application/json", Fixture(name, offset_s));
    EXPECT_TRUE(reply.ok()) << (reply.ok() ? "" : reply.error().message);
    return reply.ok() ? reply->status : 0;
  }

  TestBroker broker_;
  testing::TempDir dir_;
  testing::Harness harness_{dir_.path()};
  MqttOptions options_;
  std::unique_ptr<MqttPublisher> publisher_;
  IngestWriter::ListenerId listener_ = 0;
};

TEST_F(MqttTest, DiscoveryConfigsAndStateAreRetained) {
  StartPublisher();
  EXPECT_EQ(Post("01_print_started_local", 0), 200);
  EXPECT_EQ(Post("03_print_paused", 1043), 200);
  {
    TestSubscriber live(broker_.port());
    EXPECT_TRUE(live.WaitForTopic(kState, [](const Received& r) {
      return r.payload.find("\"state\":\"paused\"") != std::string::npos;
    })) << live.topics()[kState].payload;
  }
  // A subscriber that comes later gets everything from the broker, retained.
  TestSubscriber later(broker_.port());
  ASSERT_TRUE(later.WaitFor([](const Topics& t) {
    return RetainedConfigs(t) == kConfigs && t.contains(kState) &&
           t.contains(kStatus);
  })) << RetainedConfigs(later.topics());
  Topics t = later.topics();
  EXPECT_TRUE(t[kStatus].retained);
  EXPECT_EQ(t[kStatus].payload, "online");
  EXPECT_TRUE(t[kState].retained);
  json::object s = Json(t[kState]);
  EXPECT_EQ(s["device"], kDevice);
  EXPECT_EQ(s["name"], "Ender 3 (garage)");
  EXPECT_EQ(s["state"], "paused");
  EXPECT_EQ(s["file"], "CE3PRO_calibration_cube.gcode");
  EXPECT_EQ(s["user"], "pi");
  EXPECT_EQ(s["currency"], "EUR");
  ASSERT_TRUE(s["progress"].is_number());
  EXPECT_EQ(s["progress"].to_number<double>(), 38);

  json::object status = Json(
      t["homeassistant/sensor/printmeter_ender3-garage/status/config"]);
  EXPECT_EQ(status["state_topic"], kState);
  EXPECT_EQ(status["availability_topic"], kStatus);
  EXPECT_EQ(status["unique_id"], "printmeter_ender3-garage_status");
  EXPECT_EQ(status["device"].as_object()["name"], "Ender 3 (garage)");
  json::object attention = Json(t["homeassistant/binary_sensor/"
                                  "printmeter_ender3-garage/needs_attention/"
                                  "config"]);
  EXPECT_EQ(attention["device_class"], "problem");

  // It resumes and ends: the state says idle, the month has its hours.
  EXPECT_EQ(Post("12_custom_event_print_resumed", 1043 + 60), 200);
  EXPECT_EQ(Post("06_print_done", 2841 + 300), 200);
  EXPECT_TRUE(later.WaitForTopic(kState, [](const Received& r) {
    return r.payload.find("\"state\":\"idle\"") != std::string::npos;
  }));
  s = Json(later.topics()[kState]);
  EXPECT_TRUE(s["file"].is_null());
  EXPECT_TRUE(s["progress"].is_null());
  EXPECT_EQ(s["prints_this_month"].as_int64(), 1);
  EXPECT_GT(s["hours_this_month"].to_number<double>(), 0.5);
  EXPECT_GT(s["filament_this_month_m"].to_number<double>(), 0);
}

TEST_F(MqttTest, BrokerRestartedEmptyGetsEverythingAgain) {
  StartPublisher();
  EXPECT_EQ(Post("01_print_started_local", 0), 200);
  {
    // Published before or after this subscriber came: retained or live.
    TestSubscriber sub(broker_.port());
    ASSERT_TRUE(sub.WaitFor([](const Topics& t) {
      return Configs(t, false) == kConfigs && t.contains(kState);
    }));
  }
  int64_t connects = publisher_->connects();
  broker_.Stop();  // no persistence: the retained messages are gone
  ASSERT_TRUE(broker_.Start().ok());
  {
    TestSubscriber live(broker_.port());
    ASSERT_TRUE(live.WaitForTopic(kState, [](const Received& r) {
      return r.payload.find("\"state\":\"printing\"") != std::string::npos;
    })) << "not republished after the broker's restart";
    // The whole republish (a state queued while the broker was away may
    // come first), before a new subscriber asks for what is retained.
    ASSERT_TRUE(live.WaitFor([](const Topics& t) {
      return Configs(t, false) == kConfigs && t.contains(kStatus);
    })) << Configs(live.topics(), false);
  }
  EXPECT_GT(publisher_->connects(), connects);
  TestSubscriber later(broker_.port());
  ASSERT_TRUE(later.WaitFor([](const Topics& t) {
    return RetainedConfigs(t) == kConfigs && t.contains(kState) &&
           t.contains(kStatus);
  })) << RetainedConfigs(later.topics());
  EXPECT_TRUE(later.topics()[kState].retained);
  EXPECT_EQ(later.topics()[kStatus].payload, "online");
}

TEST_F(MqttTest, StoppedSaysOfflineAndStartedAgainRepublishes) {
  StartPublisher();
  EXPECT_EQ(Post("01_print_started_local", 0), 200);
  TestSubscriber sub(broker_.port());
  ASSERT_TRUE(sub.WaitForTopic(kState, [](const Received& r) {
    return r.payload.find("\"state\":\"printing\"") != std::string::npos;
  }));
  StopPublisher();
  ASSERT_TRUE(sub.WaitForTopic(
      kStatus, [](const Received& r) { return r.payload == "offline"; }));
  int states = sub.topics()[kState].count;

  // Ingest goes on meanwhile; the next start publishes where it stands.
  EXPECT_EQ(Post("03_print_paused", 1043), 200);
  harness_.Settle();
  StartPublisher();
  EXPECT_TRUE(sub.WaitForTopic(
      kStatus, [](const Received& r) { return r.payload == "online"; }));
  EXPECT_TRUE(sub.WaitForTopic(kState, [&](const Received& r) {
    return r.count > states &&
           r.payload.find("\"state\":\"paused\"") != std::string::npos;
  })) << sub.topics()[kState].payload;
}

TEST_F(MqttTest, StopsAtOnceWhileWaitingToReconnect) {
  options_.reconnect_min_s = 60;  // the first wait to reconnect: a minute
  options_.reconnect_max_s = 120;
  StartPublisher();
  TestSubscriber sub(broker_.port());
  ASSERT_TRUE(sub.WaitForTopic(
      kStatus, [](const Received& r) { return r.payload == "online"; }));
  broker_.Stop();
  // Waiting for the real broker's connection to drop.
  for (int i = 0; i < 500 && publisher_->connected(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_FALSE(publisher_->connected());
  auto start = std::chrono::steady_clock::now();
  StopPublisher();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30))
      << "Stop() waited for the reconnect delay";
}

TEST_F(MqttTest, BrokerDownLeavesIngestAlone) {
  broker_.Stop();
  StartPublisher();
  // Every webhook gets its verdict while nothing listens on the port.
  const char* prints[] = {"01_print_started_local", "07_print_progress_50",
                          "03_print_paused", "12_custom_event_print_resumed",
                          "07_print_progress_50", "06_print_done"};
  int64_t offset = 0;
  for (int round = 0; round < 5; ++round) {
    for (const char* name : prints) {
      EXPECT_EQ(Post(name, offset += 60), 200) << name << " round " << round;
    }
  }
  harness_.Settle();
  EXPECT_FALSE(publisher_->connected());
  // The broker comes: the latest state, not a backlog, is published.
  ASSERT_TRUE(broker_.Start().ok());
  TestSubscriber live(broker_.port());
  ASSERT_TRUE(live.WaitForTopic(kState, [](const Received& r) {
    return r.payload.find("\"prints_this_month\":5") != std::string::npos;
  })) << live.topics()[kState].payload;
  EXPECT_EQ(live.topics()[kState].count, 1);
  EXPECT_EQ(Json(live.topics()[kState])["state"], "idle");
  TestSubscriber later(broker_.port());
  EXPECT_TRUE(later.WaitFor([](const Topics& t) {
    return RetainedConfigs(t) == kConfigs && t.contains(kState);
  }));
}

// The discovery configs among `t` of the printer whose node is `node`
// ("printmeter_ender3-garage"), with their payloads.
std::map<std::string, std::string> ConfigsOf(const Topics& t,
                                             const std::string& node) {
  std::map<std::string, std::string> out;
  for (const auto& [topic, r] : t) {
    if (topic.starts_with("homeassistant/") && topic.ends_with("/config") &&
        topic.find("/" + node + "/") != std::string::npos) {
      out[topic] = r.payload;
    }
  }
  return out;
}

constexpr const char* kDueConfig =
    "homeassistant/binary_sensor/printmeter_ender3-garage/maintenance_due/"
    "config";
constexpr const char* kNozzleConfig =
    "homeassistant/sensor/printmeter_ender3-garage/maintenance_item_nozzle/"
    "config";

// The printer has two maintenance items: a nozzle every quarter of an hour
// of printing, and rods to lubricate every 90 days.
class MqttMaintenanceTest : public MqttTest {
 protected:
  MqttMaintenanceTest() {
    harness_.api_options.maintenance.devices[kDevice] = {
        {"nozzle", MaintenanceKind::kHours, 0.25, ""},
        {"lubricate rods", MaintenanceKind::kDays, 90, ""}};
    // As `printmeter serve` wires it.
    harness_.api_options.maintenance_marked = [this](const std::string& d) {
      if (publisher_) publisher_->Changed(d);
    };
  }

  int MarkDone(const std::string& item) {
    TestClient client(harness_.port());
    auto reply = client.Send(
        "POST",
        fmt::format("/api/v1/printers/{}/maintenance/{}/done", kDevice, item),
        "application/json", "{\"by\": \"sam\"}");
    EXPECT_TRUE(reply.ok()) << (reply.ok() ? "" : reply.error().message);
    return reply.ok() ? reply->status : 0;
  }
};

TEST_F(MqttMaintenanceTest, ItemsThatBecomeDueAndMarkedDoneArePublishedAtOnce) {
  // Only a change publishes within this test: the periodic round is an
  // hour away.
  options_.republish_interval = 3600 * 1000;
  harness_.clock.Set((kFixtureTime + 600) * 1000);
  StartPublisher();
  EXPECT_EQ(Post("01_print_started_local", 0), 200);
  TestSubscriber sub(broker_.port());
  // 10 min of printing: the nozzle at 67 %, nothing due.
  ASSERT_TRUE(sub.WaitForTopic(kState, [](const Received& r) {
    return r.payload.find("\"state\":\"printing\"") != std::string::npos;
  })) << sub.topics()[kState].payload;
  json::object s = Json(sub.topics()[kState]);
  EXPECT_EQ(s["maintenance_due"], false);
  json::object nozzle = s["maintenance"].as_object()["nozzle"].as_object();
  EXPECT_EQ(nozzle["state"], "ok");
  EXPECT_EQ(nozzle["used_pct"].as_double(), 66.7);
  ASSERT_TRUE(sub.WaitFor([](const Topics& t) {
    return t.contains(kDueConfig) && t.contains(kNozzleConfig);
  }));
  EXPECT_EQ(Json(sub.topics()[kDueConfig])["device_class"], "problem");

  // Paused after 1043 s of printing: the nozzle is overdue (116 %).
  harness_.clock.Set((kFixtureTime + 1100) * 1000);
  EXPECT_EQ(Post("03_print_paused", 1043), 200);
  ASSERT_TRUE(sub.WaitForTopic(kState, [](const Received& r) {
    return r.payload.find("\"maintenance_due\":true") != std::string::npos;
  })) << sub.topics()[kState].payload;
  s = Json(sub.topics()[kState]);
  EXPECT_EQ(s["state"], "paused");
  nozzle = s["maintenance"].as_object()["nozzle"].as_object();
  EXPECT_EQ(nozzle["state"], "overdue");
  EXPECT_GT(nozzle["used_pct"].as_double(), 110);

  // Marked done: published at once, though no webhook came.
  int before = sub.topics()[kState].count;
  EXPECT_EQ(MarkDone("nozzle"), 200);
  ASSERT_TRUE(sub.WaitForTopic(kState, [&](const Received& r) {
    return r.count > before &&
           r.payload.find("\"maintenance_due\":false") != std::string::npos;
  })) << sub.topics()[kState].payload;
  nozzle = Json(sub.topics()[kState])["maintenance"].as_object()["nozzle"]
               .as_object();
  EXPECT_EQ(nozzle["state"], "ok");
  EXPECT_EQ(nozzle["used_pct"].as_double(), 0);
}

TEST_F(MqttMaintenanceTest, ALateEventThatChangesThePastIsPublishedAtOnce) {
  options_.republish_interval = 3600 * 1000;  // only changes publish
  harness_.clock.Set((kFixtureTime + 1100) * 1000);
  StartPublisher();
  // Started, done at 1000 s: 1000 s of printing, the nozzle (a quarter of
  // an hour) overdue.
  EXPECT_EQ(Post("01_print_started_local", 0), 200);
  EXPECT_EQ(Post("06_print_done", 1000), 200);
  TestSubscriber sub(broker_.port());
  ASSERT_TRUE(sub.WaitForTopic(kState, [](const Received& r) {
    return r.payload.find("\"maintenance_due\":true") != std::string::npos &&
           r.payload.find("\"state\":\"idle\"") != std::string::npos;
  })) << sub.topics()[kState].payload;
  // Then a pause at 400 s comes, late (spec/ledger.md 4: the printer is
  // re-folded): the print was paused from 400 s to its end, so the nozzle
  // has done 400 s of its 900.
  EXPECT_EQ(Post("03_print_paused", 400), 200);
  ASSERT_TRUE(sub.WaitForTopic(kState, [](const Received& r) {
    return r.payload.find("\"maintenance_due\":false") != std::string::npos;
  })) << sub.topics()[kState].payload;
  json::object nozzle = Json(sub.topics()[kState])["maintenance"]
                            .as_object()["nozzle"].as_object();
  EXPECT_EQ(nozzle["state"], "ok");
  EXPECT_NEAR(nozzle["used_pct"].to_number<double>(), 44.4, 0.1);
}

TEST_F(MqttMaintenanceTest, RemovedPrintersAndItemsDisappearFromTheBroker) {
  const std::string a = "printmeter_ender3-garage";
  const std::string b = "printmeter_prusa-lab";
  harness_.api_options.devices["prusa-lab"] = {.name = "Prusa (lab)"};
  StartPublisher();
  // Another printmeter, with its own prefix, on the same broker.
  MqttOptions other_options = options_;
  other_options.topic_prefix = "lab";
  other_options.client_id = "printmeter-other";
  ApiOptions other_api;
  other_api.devices["lab-only"] = {.name = "Lab only"};
  MqttPublisher other(*harness_.store, other_api, other_options,
                      harness_.clock);
  ASSERT_TRUE(other.Start().ok());

  std::map<std::string, std::string> b_configs;
  {
    TestSubscriber first(broker_.port());
    ASSERT_TRUE(first.WaitFor([&](const Topics& t) {
      return ConfigsOf(t, a).size() == kConfigs + 3 &&
             ConfigsOf(t, b).size() == kConfigs &&
             ConfigsOf(t, "printmeter_lab-only").size() == kConfigs &&
             t.contains("printmeter/prusa-lab/state");
    })) << ConfigsOf(first.topics(), a).size();
    b_configs = ConfigsOf(first.topics(), b);
  }
  StopPublisher();

  // Started again knowing the garage's printer only, and its nozzle only.
  harness_.api_options.devices.erase("prusa-lab");
  harness_.api_options.maintenance.devices[kDevice].pop_back();
  const std::string rods_config =
      "homeassistant/sensor/" + a + "/maintenance_item_" +
      TopicId("lubricate rods") + "/config";
  TestSubscriber live(broker_.port());
  ASSERT_TRUE(live.WaitFor([&](const Topics& t) {
    return t.contains(rods_config) && t.contains("printmeter/prusa-lab/state");
  }));
  StartPublisher();
  ASSERT_TRUE(live.WaitFor([&](const Topics& t) {
    for (const auto& [topic, payload] : b_configs) {
      auto it = t.find(topic);
      if (it == t.end() || !it->second.payload.empty()) return false;
    }
    auto state = t.find("printmeter/prusa-lab/state");
    auto rods = t.find(rods_config);
    return state->second.payload.empty() && rods->second.payload.empty();
  })) << "the removed printer's and item's topics were not cleared";
  EXPECT_EQ(publisher_->swept(), static_cast<int64_t>(kConfigs) + 2);

  // A new subscriber: the broker keeps nothing of them, and all of the rest.
  TestSubscriber fresh(broker_.port());
  ASSERT_TRUE(fresh.WaitFor([&](const Topics& t) {
    return ConfigsOf(t, a).size() == kConfigs + 2 &&
           ConfigsOf(t, "printmeter_lab-only").size() == kConfigs &&
           t.contains(kState) && t.contains("lab/lab-only/state");
  })) << ConfigsOf(fresh.topics(), a).size();
  Topics t = fresh.topics();
  EXPECT_TRUE(ConfigsOf(t, b).empty());
  EXPECT_FALSE(t.contains("printmeter/prusa-lab/state"));
  EXPECT_FALSE(t.contains(rods_config));
  EXPECT_TRUE(t.contains(kNozzleConfig));
  EXPECT_TRUE(t.contains(kDueConfig));
  other.Stop();
}

TEST(MqttCredentialsTest, UserAndPasswordFromTheUrl) {
  TestBroker broker("home-assistant", "p@ss word");
  ASSERT_TRUE(broker.Start().ok());
  testing::TempDir dir;
  auto store = testing::MustOpen("sqlite:" + (dir.path() / "pm.db").string());
  ASSERT_NE(store, nullptr);
  FakeClock clock(kFixtureTime * 1000);
  MqttOptions options;
  options.url = fmt::format("mqtt://home-assistant:p%40ss%20word@127.0.0.1:{}",
                            broker.port());
  ApiOptions api;
  api.devices["lab-1"] = {.name = "Lab printer"};
  MqttPublisher publisher(*store, api, options, clock);
  ASSERT_TRUE(publisher.Start().ok());
  EXPECT_EQ(publisher.BrokerName().find("p@ss"), std::string::npos);
  EXPECT_EQ(publisher.BrokerName().find("p%40ss"), std::string::npos);
  TestSubscriber sub(broker.port(), "#", "home-assistant", "p@ss word");
  EXPECT_TRUE(sub.WaitForTopic("printmeter/lab-1/state", [](const Received& r) {
    return r.retained || r.count > 0;
  }));
  json::object s = Json(sub.topics()["printmeter/lab-1/state"]);
  EXPECT_EQ(s["name"], "Lab printer");
  EXPECT_EQ(s["status"], "idle");
  EXPECT_EQ(publisher.connects(), 1);
}

TEST(MqttCredentialsTest, APasswordKeptOutOfTheUrl) {
  TestBroker broker("home-assistant", "p@ss word");
  ASSERT_TRUE(broker.Start().ok());
  testing::TempDir dir;
  auto store = testing::MustOpen("sqlite:" + (dir.path() / "pm.db").string());
  ASSERT_NE(store, nullptr);
  FakeClock clock(kFixtureTime * 1000);
  MqttOptions options;
  options.url = fmt::format("mqtt://home-assistant:wrong@127.0.0.1:{}",
                            broker.port());
  options.password = "p@ss word";  // replaces the url's
  ApiOptions api;
  api.devices["lab-1"] = {.name = "Lab printer"};
  MqttPublisher publisher(*store, api, options, clock);
  ASSERT_TRUE(publisher.Start().ok());
  TestSubscriber sub(broker.port(), "#", "home-assistant", "p@ss word");
  EXPECT_TRUE(sub.WaitForTopic("printmeter/lab-1/state", [](const Received& r) {
    return r.count > 0;
  }));
  EXPECT_EQ(publisher.connects(), 1);

  // A password for no user says what to write.
  options.url = fmt::format("mqtt://127.0.0.1:{}", broker.port());
  MqttPublisher userless(*store, api, options, clock);
  Status s = userless.Start();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("mqtt://USER@"), std::string::npos);
}

}  // namespace
}  // namespace pm

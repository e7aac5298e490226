#include "cli/options.h"

#include <gtest/gtest.h>

namespace pm {
namespace {

TEST(ApiOptionsFromTest, CarriesWhatTheApiUses) {
  Config config;
  config.read_token = "r";
  config.admin_token = "a";
  config.timezone = "Europe/Berlin";
  config.currency = "EUR";
  config.devices["delta"].name = "Prusa by the door";
  config.devices["delta"].secret = "s3cret";
  config.devices["delta"].rates.rate_per_hour = 2;
  config.devices["echo"];
  config.devices["delta"].maintenance = {
      {"nozzle", MaintenanceKind::kHours, 200, ""}};
  ApiOptions options = ApiOptionsFrom(config);
  EXPECT_EQ(options.read_token, "r");
  EXPECT_EQ(options.admin_token, "a");
  EXPECT_EQ(options.timezone, "Europe/Berlin");
  EXPECT_EQ(options.currency, "EUR");
  ASSERT_EQ(options.devices.size(), 2u);
  EXPECT_EQ(options.devices["delta"].name, "Prusa by the door");
  EXPECT_TRUE(options.devices["delta"].secret_set);
  EXPECT_EQ(options.devices["echo"].name, "");
  EXPECT_FALSE(options.devices["echo"].secret_set);
  ASSERT_NE(options.maintenance.Items("delta"), nullptr);
  EXPECT_EQ(*options.maintenance.Items("delta"),
            config.devices["delta"].maintenance);
  EXPECT_EQ(options.maintenance.Items("echo"), nullptr);  // none configured
}

// An empty token or secret in the config counts as none.
TEST(ApiOptionsFromTest, EmptyMeansNone) {
  Config config;
  config.read_token = "";
  config.devices["delta"].secret = "";
  ApiOptions options = ApiOptionsFrom(config);
  EXPECT_EQ(options.read_token, "");
  EXPECT_EQ(options.admin_token, "");
  EXPECT_FALSE(options.devices["delta"].secret_set);
  EXPECT_EQ(ApiOptionsFrom(Config{}).timezone, "UTC");
}

TEST(MqttOptionsFromTest, OnlyWithAnMqttTable) {
  Config config;
  EXPECT_EQ(MqttOptionsFrom(config), std::nullopt);
  config.mqtt = MqttConfig{.url = "mqtt://ha:pw@broker:1883",
                           .topic_prefix = "farm",
                           .discovery_prefix = "ha",
                           .client_id = "printmeter-lab",
                           .password = "",
                           .password_file = ""};
  auto options = MqttOptionsFrom(config);
  ASSERT_TRUE(options.has_value());
  EXPECT_EQ(options->url, "mqtt://ha:pw@broker:1883");
  EXPECT_EQ(options->topic_prefix, "farm");
  EXPECT_EQ(options->discovery_prefix, "ha");
  EXPECT_EQ(options->client_id, "printmeter-lab");
  EXPECT_EQ(options->password, "");
  config.mqtt->client_id = "";
  EXPECT_TRUE(MqttOptionsFrom(config)->client_id.starts_with("printmeter"));
  config.mqtt->password = "from-the-environment";
  EXPECT_EQ(MqttOptionsFrom(config)->password, "from-the-environment");
}

}  // namespace
}  // namespace pm

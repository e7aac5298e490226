#include "cli/config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace pm {
namespace {

std::string WriteTemp(const std::string& text) {
  auto path =
      std::filesystem::temp_directory_path() /
      ("pm_config_" +
       std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
       ::testing::UnitTest::GetInstance()->current_test_info()->name() +
       ".toml");
  std::ofstream(path) << text;
  return path.string();
}

TEST(ConfigTest, ReadsTheApiMdExample) {
  auto path = WriteTemp(R"(
listen = "0.0.0.0:8080"
db = "sqlite:/var/lib/printmeter/printmeter.db"
auth = "strict"
stale_after = "48h"
timezone = "Europe/Berlin"
admin_token = "adm"

[devices.delta]
name = "Prusa MK3S+ by the door"
secret = "s3"
rate_per_hour = 1.50
rate_per_m = 0.05
minimum_per_session = 0.50
)");
  auto c = LoadConfigFile(path, true);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->db, "sqlite:/var/lib/printmeter/printmeter.db");
  EXPECT_EQ(c->auth, AuthMode::kStrict);
  EXPECT_EQ(c->stale_after, 48 * kHourMs);
  EXPECT_EQ(c->timezone, "Europe/Berlin");
  EXPECT_EQ(c->admin_token, "adm");
  EXPECT_EQ(c->read_token, std::nullopt);
  ASSERT_EQ(c->devices.count("delta"), 1u);
  const auto& d = c->devices.at("delta");
  EXPECT_EQ(d.name, "Prusa MK3S+ by the door");
  EXPECT_EQ(d.secret, "s3");
  EXPECT_DOUBLE_EQ(d.rates.rate_per_hour, 1.5);
  EXPECT_DOUBLE_EQ(d.rates.rate_per_m, 0.05);
  EXPECT_DOUBLE_EQ(d.rates.minimum_per_session, 0.5);

  std::remove(path.c_str());
}

TEST(ConfigTest, ErrorsNameTheLineAndKey) {
  auto path = WriteTemp("auth = \"sometimes\"\n");
  auto c = LoadConfigFile(path, true);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("open, tofu, strict"), std::string::npos);
  std::remove(path.c_str());

  path = WriteTemp("listen = 8080\n");
  c = LoadConfigFile(path, true);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("line 1"), std::string::npos);
  EXPECT_NE(c.error().message.find("listen"), std::string::npos);
  std::remove(path.c_str());

  path = WriteTemp("[devices.a]\nrate_per_hour = \"cheap\"\n");
  c = LoadConfigFile(path, true);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("rate_per_hour"), std::string::npos);
  std::remove(path.c_str());
}

TEST(ConfigTest, MissingFileIsAnErrorOnlyWhenNamed) {
  EXPECT_TRUE(LoadConfigFile("/nonexistent/pm.toml", false).ok());
  auto c = LoadConfigFile("/nonexistent/pm.toml", true);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("does not exist"), std::string::npos);
}

TEST(ConfigTest, Durations) {
  EXPECT_EQ(ParseDuration("48h"), 48 * kHourMs);
  EXPECT_EQ(ParseDuration("30m"), 30 * kMinuteMs);
  EXPECT_EQ(ParseDuration("90"), 90 * kSecondMs);
  EXPECT_EQ(ParseDuration("2d"), 2 * kDayMs);
  EXPECT_EQ(ParseDuration("0"), 0);
  EXPECT_EQ(ParseDuration("soon"), std::nullopt);
  EXPECT_EQ(ParseDuration("-1h"), std::nullopt);
}

}  // namespace
}  // namespace pm

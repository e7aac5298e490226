#include "cli/config_edit.h"

#include <gtest/gtest.h>

namespace pm {
namespace {

// A config as a person writes it: comments, their own key order, a
// duration and decimals that a TOML writer would respell.
constexpr std::string_view kHandWritten = R"(# printmeter at the makerspace
auth = "tofu"
stale_after = "2h"   # short prints only

[devices.delta]
# by the door
secret = "abc"
rate_per_m = 0.05
name = "Prusa"

# the big one
[devices.mk4]
name = "MK4"
)";

std::string Set(std::string_view text, std::string_view id,
                const std::vector<TomlSetting>& keys) {
  auto out = SetDeviceKeys(text, "pm.toml", id, keys);
  EXPECT_TRUE(out.ok()) << out.error().message;
  return out.ok() ? *out : "";
}

TEST(ConfigEditTest, ReplacingAKeyChangesOnlyItsLine) {
  std::string out = Set(kHandWritten, "delta", {{"rate_per_m", "0.07"}});
  std::string want(kHandWritten);
  want.replace(want.find("rate_per_m = 0.05"), 17, "rate_per_m = 0.07");
  EXPECT_EQ(out, want);
}

TEST(ConfigEditTest, NewKeysGoAtTheEndOfTheirTable) {
  std::string out = Set(kHandWritten, "delta",
                        {{"rate_per_hour", TomlNumber(1.5)},
                         {"name", TomlString("Prusa MK3S+")}});
  std::string want(kHandWritten);
  want.replace(want.find("name = \"Prusa\"\n"), 15,
               "name = \"Prusa MK3S+\"\nrate_per_hour = 1.5\n");
  EXPECT_EQ(out, want);
}

TEST(ConfigEditTest, ANewDeviceIsAppendedWithItsIdQuotedWhenNeeded) {
  std::string out =
      Set(kHandWritten, "my printer", {{"secret", TomlString("s\"1")}});
  EXPECT_EQ(out, std::string(kHandWritten) +
                     "\n[devices.\"my printer\"]\nsecret = \"s\\\"1\"\n");
  // Empty file and a file without a final line end.
  EXPECT_EQ(Set("", "a", {{"name", "\"A\""}}), "[devices.a]\nname = \"A\"\n");
  EXPECT_EQ(Set("auth = \"open\"", "a", {{"name", "\"A\""}}),
            "auth = \"open\"\n\n[devices.a]\nname = \"A\"\n");
}

TEST(ConfigEditTest, QuotedIdsAndWindowsLineEndsAreFound) {
  std::string text = "[devices.\"my printer\"]\r\nname = \"x\"\r\n";
  EXPECT_EQ(Set(text, "my printer", {{"name", "\"y\""}, {"rate_per_m", "1"}}),
            "[devices.\"my printer\"]\r\nname = \"y\"\r\nrate_per_m = 1\r\n");
}

TEST(ConfigEditTest, RemovingKeepsEverythingElse) {
  auto out = RemoveDeviceTable(kHandWritten, "pm.toml", "delta");
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(*out, R"(# printmeter at the makerspace
auth = "tofu"
stale_after = "2h"   # short prints only

# the big one
[devices.mk4]
name = "MK4"
)");
  auto last = RemoveDeviceTable(kHandWritten, "pm.toml", "mk4");
  ASSERT_TRUE(last.ok());
  std::string want(kHandWritten);
  want.erase(want.find("[devices.mk4]"));
  EXPECT_EQ(*last, want);
  auto missing = RemoveDeviceTable(kHandWritten, "pm.toml", "nosuch");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

TEST(ConfigEditTest, RefusesWhatItCannotEditSafely) {
  auto inline_table = SetDeviceKeys("devices = { a = { name = \"A\" } }\n",
                                    "pm.toml", "a", {{"name", "\"B\""}});
  ASSERT_FALSE(inline_table.ok());
  EXPECT_NE(inline_table.error().message.find("edit that file by hand"),
            std::string::npos);
  auto broken = SetDeviceKeys("auth = \n", "pm.toml", "a", {});
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(broken.error().message.find("line 1"), std::string::npos);
}

TEST(ConfigEditTest, NumbersAndStrings) {
  EXPECT_EQ(TomlNumber(0.05), "0.05");
  EXPECT_EQ(TomlNumber(2), "2");
  EXPECT_EQ(TomlString("a\\b\n"), "\"a\\\\b\\n\"");
}

// [[devices.ID.maintenance]] tables belong to the device but are written
// apart: new keys go into [devices.ID] itself, and removing the device
// removes them too.
constexpr std::string_view kWithMaintenance = R"([devices.delta]
name = "Prusa"

[[devices.delta.maintenance]]
item = "nozzle"
every = "200h"

# the big one
[devices.mk4]
name = "MK4"

[[devices.delta.maintenance]]
item = "belts"
every = "90d"
)";

TEST(ConfigEditTest, MaintenanceTablesStayApartFromTheDevicesKeys) {
  std::string out = Set(kWithMaintenance, "delta", {{"secret", "\"s3\""}});
  std::string want(kWithMaintenance);
  want.insert(want.find("\n\n[[devices.delta.maintenance]]"),
              "\nsecret = \"s3\"");
  EXPECT_EQ(out, want);

  auto removed = RemoveDeviceTable(kWithMaintenance, "pm.toml", "delta");
  ASSERT_TRUE(removed.ok()) << removed.error().message;
  EXPECT_EQ(*removed, "# the big one\n[devices.mk4]\nname = \"MK4\"\n\n");
}

}  // namespace
}  // namespace pm

#include "mqtt/broker_url.h"

#include <gtest/gtest.h>

namespace pm {
namespace {

TEST(BrokerUrlTest, ReadsHostPortAndCredentials) {
  auto a = ParseBrokerUrl("mqtt://ha:s%40cret@broker.local:1884");
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->host, "broker.local");
  EXPECT_EQ(a->port, 1884);
  EXPECT_EQ(a->user, "ha");
  EXPECT_EQ(a->password, "s@cret");
  EXPECT_FALSE(a->tls);
}

TEST(BrokerUrlTest, DefaultPortsByScheme) {
  auto plain = ParseBrokerUrl("mqtt://10.0.0.5");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->port, 1883);
  EXPECT_TRUE(plain->user.empty());
  auto tls = ParseBrokerUrl("mqtts://broker.example.com/");
  ASSERT_TRUE(tls.ok());
  EXPECT_EQ(tls->port, 8883);
  EXPECT_TRUE(tls->tls);
  auto v6 = ParseBrokerUrl("mqtt://[::1]:1883");
  ASSERT_TRUE(v6.ok()) << v6.error().message;
  EXPECT_EQ(v6->host, "::1");
}

TEST(BrokerUrlTest, RefusesWhatItCannotUseAndSaysWhatToWrite) {
  for (const char* bad :
       {"http://broker:1883", "broker:1883", "mqtt://", "mqtt://h:0",
        "mqtt://h:70000", "mqtt://h:12x", "mqtt://h/topic", "mqtt://:pw@h",
        "mqtt://h?x=1", ""}) {
    auto a = ParseBrokerUrl(bad);
    EXPECT_FALSE(a.ok()) << bad;
    if (!a.ok()) {
      EXPECT_EQ(a.error().code, ErrorCode::kInvalid);
      EXPECT_NE(a.error().message.find("mqtt://user:password@"),
                std::string::npos)
          << a.error().message;
    }
  }
}

TEST(BrokerUrlTest, RedactedHidesThePassword) {
  auto a = ParseBrokerUrl("mqtt://ha:topsecret@broker:1883");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->Redacted(), "mqtt://ha:****@broker:1883");
  auto anon = ParseBrokerUrl("mqtts://broker");
  ASSERT_TRUE(anon.ok());
  EXPECT_EQ(anon->Redacted(), "mqtts://broker:8883");
}

}  // namespace
}  // namespace pm

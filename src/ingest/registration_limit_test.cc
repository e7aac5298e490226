// The registration limiter with a fake clock: the window slides, the cap
// holds, and each refusal says which limit and what to do.
#include "ingest/registration_limit.h"

#include <gtest/gtest.h>

#include <string>

#include "http/status.h"

namespace pm {
namespace {

constexpr TimeMs kStart = 1'800'000'000'000;

TEST(RegistrationLimitTest, AdmitsUpToTheRateThenRefusesWith429) {
  RegistrationLimiter limiter(
      {.max_devices = 0, .max_per_window = 3, .window = kHourMs});
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(limiter.Admit("p" + std::to_string(i), i, kStart + i).ok());
  }
  Status refused = limiter.Admit("p3", 3, kStart + 10);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kTooManyRequests);
  EXPECT_EQ(HttpStatus(refused.error().code), 429);
  EXPECT_NE(refused.error().message.find("registrations_per_hour"),
            std::string::npos);
  EXPECT_NE(refused.error().message.find("devices add p3"), std::string::npos);
  EXPECT_EQ(limiter.counts().admitted, 3);
  EXPECT_EQ(limiter.counts().refused_rate, 1);
}

TEST(RegistrationLimitTest, TheWindowSlides) {
  RegistrationLimiter limiter(
      {.max_devices = 0, .max_per_window = 2, .window = kHourMs});
  ASSERT_TRUE(limiter.Admit("a", 0, kStart).ok());
  ASSERT_TRUE(limiter.Admit("b", 1, kStart + 30 * kMinuteMs).ok());
  EXPECT_FALSE(limiter.Admit("c", 2, kStart + kHourMs - 1).ok());
  // "a" leaves the window an hour after it came; "b" is still in it.
  EXPECT_TRUE(limiter.Admit("c", 2, kStart + kHourMs).ok());
  EXPECT_FALSE(limiter.Admit("d", 3, kStart + kHourMs + 1).ok());
  EXPECT_TRUE(limiter.Admit("d", 3, kStart + 90 * kMinuteMs).ok());
}

TEST(RegistrationLimitTest, TheMessageSaysWhenToTryAgain) {
  RegistrationLimiter limiter(
      {.max_devices = 0, .max_per_window = 1, .window = kHourMs});
  ASSERT_TRUE(limiter.Admit("a", 0, kStart).ok());
  Status refused = limiter.Admit("b", 1, kStart + 59 * kMinuteMs);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("try again in 60 s"),
            std::string::npos)
      << refused.error().message;
}

TEST(RegistrationLimitTest, TheCapRefusesWith403WhateverTheRate) {
  RegistrationLimiter limiter(
      {.max_devices = 5, .max_per_window = 0, .window = kHourMs});
  EXPECT_TRUE(limiter.Admit("e", 4, kStart).ok());
  Status refused = limiter.Admit("f", 5, kStart + kDayMs);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kForbidden);
  EXPECT_NE(refused.error().message.find("max_devices"), std::string::npos);
  EXPECT_EQ(limiter.counts().refused_cap, 1);
  EXPECT_EQ(limiter.counts().refused_rate, 0);
}

TEST(RegistrationLimitTest, RefusalsDoNotUseUpTheWindow) {
  RegistrationLimiter limiter(
      {.max_devices = 0, .max_per_window = 1, .window = kHourMs});
  ASSERT_TRUE(limiter.Admit("a", 0, kStart).ok());
  for (int i = 0; i < 1000; ++i) {
    EXPECT_FALSE(limiter.Admit("x", 1, kStart + 1 + i).ok());
  }
  EXPECT_TRUE(limiter.Admit("b", 1, kStart + kHourMs).ok());
}

// Registrations another instance made count once each, in the window from
// their own time; one this limiter admitted is not counted twice.
TEST(RegistrationLimitTest, RegistrationsMadeElsewhereCountOnce) {
  RegistrationLimiter limiter(
      {.max_devices = 0, .max_per_window = 3, .window = kHourMs});
  ASSERT_TRUE(limiter.Admit("mine", 0, kStart).ok());
  limiter.Observe({{"mine", kStart - 5}, {"theirs", kStart + 1}});
  limiter.Observe({{"theirs", kStart + 1}});
  ASSERT_TRUE(limiter.Admit("third", 2, kStart + 2).ok());
  Status refused = limiter.Admit("fourth", 3, kStart + 3);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kTooManyRequests);
  // "mine" leaves the window an hour after it came here, "theirs" an hour
  // after its own time.
  EXPECT_TRUE(limiter.Admit("fourth", 3, kStart + kHourMs).ok());
  EXPECT_FALSE(limiter.Admit("fifth", 4, kStart + kHourMs).ok());
  EXPECT_TRUE(limiter.Admit("fifth", 4, kStart + kHourMs + 1).ok());
}

TEST(RegistrationLimitTest, ZeroTurnsBothLimitsOff) {
  RegistrationLimiter limiter(
      {.max_devices = 0, .max_per_window = 0, .window = kHourMs});
  for (size_t i = 0; i < 5000; ++i) {
    ASSERT_TRUE(limiter.Admit("d", i, kStart).ok());
  }
}

TEST(RegistrationLimitTest, DefaultsSuitAPrintFarm) {
  RegistrationLimits defaults;
  EXPECT_EQ(defaults.max_devices, 1000u);
  EXPECT_EQ(defaults.max_per_window, 60u);
  EXPECT_EQ(defaults.window, kHourMs);
}

}  // namespace
}  // namespace pm

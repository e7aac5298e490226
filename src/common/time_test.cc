#include "common/time.h"

#include <gtest/gtest.h>

namespace pm {
namespace {

TEST(TimeTest, FormatsWholeSecondsRoundedDown) {
  EXPECT_EQ(FormatIso(1722565567999), "2024-08-02T02:26:07Z");
  EXPECT_EQ(FormatIso(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatIso(-1), "1969-12-31T23:59:59Z");
}

TEST(TimeTest, ParsesWhatPeopleType) {
  EXPECT_EQ(ParseTime("2024-08-02"), 1722556800000);
  EXPECT_EQ(ParseTime("2024-08-02T02:26:07Z"), 1722565567000);
  EXPECT_EQ(ParseTime("2024-08-02T02:26Z"), 1722565560000);
  EXPECT_EQ(ParseTime("2024-08-02T04:26:07+02:00"), 1722565567000);
  EXPECT_EQ(ParseTime("2024-08-02T02:26:07"), 1722565567000);
  EXPECT_EQ(ParseTime("1722565567"), 1722565567000);
  EXPECT_EQ(ParseTime("1722565567.5"), 1722565567500);
}

TEST(TimeTest, RejectsGarbage) {
  EXPECT_EQ(ParseTime(""), std::nullopt);
  EXPECT_EQ(ParseTime("yesterday"), std::nullopt);
  EXPECT_EQ(ParseTime("2024-13-45"), std::nullopt);
  EXPECT_EQ(ParseTime("2024-08-02T02:26:07Zjunk"), std::nullopt);
  EXPECT_EQ(ParseTime("1e400"), std::nullopt);
}

}  // namespace
}  // namespace pm

#include "api/text.h"

#include <gtest/gtest.h>

namespace pm {
namespace {

TEST(TextTest, HoursAndMinutesRoundDown) {
  EXPECT_EQ(FormatHoursMinutes(0), "0m");
  EXPECT_EQ(FormatHoursMinutes(59), "0m");
  EXPECT_EQ(FormatHoursMinutes(45 * 60 + 59), "45m");
  EXPECT_EQ(FormatHoursMinutes(83 * 60), "1h 23m");
  EXPECT_EQ(FormatHoursMinutes(1234 * 3600 + 5 * 60), "1234h 05m");
  EXPECT_EQ(FormatHoursMinutes(-5), "0m");
}

TEST(TextTest, Percent) {
  EXPECT_EQ(FormatPercent(0.1234), "12.3%");
  EXPECT_EQ(FormatPercent(1), "100.0%");
}

TEST(TextTest, Utf8Validation) {
  EXPECT_TRUE(IsValidUtf8("Grüße, 3D-Druck ✓ 🖨"));
  EXPECT_FALSE(IsValidUtf8("\xff"));
  EXPECT_FALSE(IsValidUtf8("\xc3"));          // truncated
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));      // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));  // surrogate
  EXPECT_EQ(CleanUtf8("a\xff"
                      "b"),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(CleanUtf8("Grüße"), "Grüße");
}

TEST(TextTest, QuoteForMessageIsBoundedAndPrintable) {
  EXPECT_EQ(QuoteForMessage("abc"), "\"abc\"");
  EXPECT_EQ(QuoteForMessage("a\nb\xff"), "\"a?b?\"");
  std::string long_text(200, 'x');
  std::string quoted = QuoteForMessage(long_text);
  EXPECT_EQ(quoted, "\"" + std::string(64, 'x') + "...\"");
}

TEST(TextTest, TableAlignsByCodePoints) {
  TextTable t({"NAME", "HOURS"}, {false, true});
  t.AddRow({"Jürgen", "1h 05m"});
  t.AddRow({"al", "12m"});
  t.AddFooter({"total", "1h 17m"});
  EXPECT_EQ(t.Render(),
            "NAME     HOURS\n"
            "--------------\n"
            "Jürgen  1h 05m\n"
            "al         12m\n"
            "--------------\n"
            "total   1h 17m\n");
}

}  // namespace
}  // namespace pm

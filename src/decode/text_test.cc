#include "decode/text.h"

#include <gtest/gtest.h>

namespace pm {
namespace {

TEST(Text, TrimAndCase) {
  EXPECT_EQ(TrimSpace(" \t a b \r\n"), "a b");
  EXPECT_EQ(TrimSpace("   "), "");
  EXPECT_TRUE(EqualsIgnoreCase("Print Done", "pRINT dONE"));
  EXPECT_FALSE(EqualsIgnoreCase("Print Done", "Print Don"));
  EXPECT_TRUE(ContainsIgnoreCase("Print RESUMED", "resum"));
  EXPECT_FALSE(ContainsIgnoreCase("Print", "resum"));
}

TEST(Text, Utf8) {
  EXPECT_TRUE(IsValidUtf8("plain"));
  EXPECT_TRUE(
      IsValidUtf8("\xC3\xBC\xE2\x82\xAC\xF0\x9F\x96\xA8"));  // ü € 🖨
  EXPECT_FALSE(IsValidUtf8("\xC3"));                         // truncated
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));                     // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xE0\x80\xAF"));                 // overlong
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));                 // surrogate
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));             // above U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xFF"));
  EXPECT_FALSE(IsValidUtf8("\x80"));
  EXPECT_EQ(Utf8Length("\xC3\xBC\xE2\x82\xAC\xF0\x9F\x96\xA8x"), 4u);
  EXPECT_TRUE(HasControlCharacter("a\tb"));
  EXPECT_TRUE(HasControlCharacter("a\x7F"));
  EXPECT_FALSE(HasControlCharacter("a b\xC3\xBC"));
}

TEST(Text, MediaTypeAndParams) {
  EXPECT_EQ(MediaType(" multipart/form-data ; boundary=x"),
            "multipart/form-data");
  EXPECT_EQ(MediaType("application/json"), "application/json");
  EXPECT_EQ(HeaderParam("multipart/form-data; boundary=abc", "boundary"),
            "abc");
  EXPECT_EQ(HeaderParam("multipart/form-data; BOUNDARY = \"a;b\\\"c\" ; x=1",
                        "boundary"),
            "a;b\"c");
  EXPECT_EQ(HeaderParam("form-data; name=\"x\"; filename=\"f.jpg\"", "name"),
            "x");
  EXPECT_EQ(
      HeaderParam("form-data; name=\"x\"; filename=\"f.jpg\"", "filename"),
      "f.jpg");
  EXPECT_EQ(HeaderParam("form-data; flag; name=y", "name"), "y");
  EXPECT_EQ(HeaderParam("form-data; name=\"unterminated", "name"),
            "unterminated");
  EXPECT_EQ(HeaderParam("form-data", "name"), std::nullopt);
  EXPECT_EQ(HeaderParam("form-data; filename=x", "name"), std::nullopt);
}

TEST(Text, Printable) {
  EXPECT_EQ(Printable("ok\x01\xFF"), "ok??");
  EXPECT_EQ(Printable(std::string(50, 'a')), std::string(40, 'a') + "...");
}

}  // namespace
}  // namespace pm

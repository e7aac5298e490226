#include "decode/multipart.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace pm {
namespace {

using ::testing::HasSubstr;

TEST(Multipart, PartsNamesFilesAndContentTypes) {
  const std::string body =
      "preamble to ignore\r\n"
      "--xy\r\n"
      "Content-Disposition: form-data; name=\"topic\"\r\n"
      "\r\n"
      "Print Done\r\n"
      "--xy  \r\n"  // transport padding
      "content-disposition: form-data; name=\"we\\\"ird\"\r\n"
      "X-Other: ignored\r\n"
      "\r\n"
      "a\r\nb\r\n"
      "--xy\r\n"
      "Content-Disposition: form-data; name=snapshot; filename=\"s.jpg\"\r\n"
      "Content-Type: image/jpeg\r\n"
      "\r\n"
      "\xFF\xD8--x\r\n--xz\xFF\xD9\r\n"
      "--xy\r\n"
      "\r\n"
      "headerless\r\n"
      "--xy--\r\n"
      "epilogue";
  const auto parts = ParseMultipart(body, "xy", 10);
  ASSERT_TRUE(parts.ok()) << parts.error().message;
  ASSERT_EQ(parts->size(), 4u);
  EXPECT_EQ((*parts)[0].name, "topic");
  EXPECT_EQ((*parts)[0].data, "Print Done");
  EXPECT_EQ((*parts)[0].filename, std::nullopt);
  EXPECT_EQ((*parts)[1].name, "we\"ird");
  EXPECT_EQ((*parts)[1].data, "a\r\nb");
  EXPECT_EQ((*parts)[2].name, "snapshot");
  EXPECT_EQ((*parts)[2].filename, "s.jpg");
  EXPECT_EQ((*parts)[2].content_type, "image/jpeg");
  EXPECT_EQ((*parts)[2].data, "\xFF\xD8--x\r\n--xz\xFF\xD9");
  EXPECT_EQ((*parts)[3].name, "");
  EXPECT_EQ((*parts)[3].data, "headerless");
}

TEST(Multipart, EmptyBodyWithOnlyTheClosingBoundary) {
  const auto parts = ParseMultipart("--b--\r\n", "b", 10);
  ASSERT_TRUE(parts.ok());
  EXPECT_TRUE(parts->empty());
}

TEST(Multipart, Errors) {
  const std::pair<std::string, std::string> cases[] = {
      {"", "no boundary line \"--b\""},
      {"--c\r\n\r\nx\r\n--c--", "no boundary line"},
      {"--bx\r\n\r\nx\r\n--b--", "boundary must be followed by CRLF"},
      {"--b\r\nContent-Disposition: form-data; name=a\r\n\r\nx",
       "ends without its closing boundary \"--b--\""},
      {"--b\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n--b",
       "boundary must be followed by CRLF"},
      {"--b\r\nContent-Disposition: form-data; name=a", "never end"},
      {"--b\r\nno colon here\r\n\r\nx\r\n--b--",
       "multipart part 1 has a malformed header line \"no colon here\""},
  };
  for (const auto& [body, message] : cases) {
    const auto parts = ParseMultipart(body, "b", 10);
    ASSERT_FALSE(parts.ok()) << body;
    EXPECT_EQ(parts.error().code, ErrorCode::kInvalid);
    EXPECT_THAT(parts.error().message, HasSubstr(message)) << body;
  }
}

TEST(Multipart, PartLimit) {
  std::string body;
  for (int i = 0; i < 3; ++i) body += "--b\r\n\r\nx\r\n";
  body += "--b--";
  EXPECT_TRUE(ParseMultipart(body, "b", 3).ok());
  const auto parts = ParseMultipart(body, "b", 2);
  ASSERT_FALSE(parts.ok());
  EXPECT_THAT(parts.error().message, HasSubstr("more than 2 parts"));
}

}  // namespace
}  // namespace pm

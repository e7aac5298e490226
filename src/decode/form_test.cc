#include "decode/form.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <utility>
#include <vector>

namespace pm {
namespace {

using ::testing::HasSubstr;
using Fields = std::vector<std::pair<std::string, std::string>>;

Result<Fields> Parse(std::string_view text, size_t max_fields = 100) {
  Fields fields;
  Status s = ForEachUrlEncoded(
      text, max_fields, "form body", [](std::string_view) { return true; },
      [&](std::string_view n, std::string_view v) {
        fields.emplace_back(n, v);
      });
  if (!s.ok()) return s.error();
  return fields;
}

TEST(Form, DecodesPlusAndPercent) {
  const auto f = Parse("topic=Print+Done&&x=%7B%22a%22%3A+1%7D&flag&=v&e=");
  ASSERT_TRUE(f.ok());
  const Fields expected = {{"topic", "Print Done"},
                           {"x", "{\"a\": 1}"},
                           {"flag", ""},
                           {"", "v"},
                           {"e", ""}};
  EXPECT_EQ(*f, expected);
}

TEST(Form, UnwantedFieldsAreCountedButNotDecoded) {
  std::vector<std::string> names;
  const auto wanted = [](std::string_view name) { return name != "meta"; };
  Status s = ForEachUrlEncoded(
      "a=1&meta=%ZZ&b=2", 3, "form body", wanted,
      [&](std::string_view n, std::string_view) { names.emplace_back(n); });
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(names, (std::vector<std::string>{"a", "b"}));
  s = ForEachUrlEncoded("a=1&meta=x&b=2", 2, "form body", wanted,
                        [](std::string_view, std::string_view) {});
  EXPECT_FALSE(s.ok());
}

TEST(Form, Errors) {
  EXPECT_THAT(Parse("a=%").error().message,
              HasSubstr("form body has bad percent-encoding in \"a=%\""));
  EXPECT_THAT(Parse("a%2=1").error().message, HasSubstr("bad percent"));
  EXPECT_THAT(Parse("a=%C3%28").error().message,
              HasSubstr("is not valid UTF-8"));
  EXPECT_THAT(Parse("a=1&b=2&c=3", 2).error().message,
              HasSubstr("more than 2 fields"));
  EXPECT_TRUE(Parse("a=1&b=2&&", 2).ok());  // empty segments do not count
}

TEST(Form, SplitTarget) {
  EXPECT_EQ(SplitTarget("/webhook/d?x=1").path, "/webhook/d");
  EXPECT_EQ(SplitTarget("/webhook/d?x=1").query, "x=1");
  EXPECT_EQ(SplitTarget("/webhook").query, "");
  EXPECT_EQ(SplitTarget("/w?a=http://x/y").path, "/w");
  EXPECT_EQ(SplitTarget("/w?a=http://x/y").query, "a=http://x/y");
  EXPECT_EQ(SplitTarget("https://h:1/webhook/d?q#f").path, "/webhook/d");
  EXPECT_EQ(SplitTarget("https://h:1/webhook/d?q#f").query, "q");
  EXPECT_EQ(SplitTarget("http://h").path, "");
  // "://" after a '?' or a '#' is not a scheme's: the query stays the query.
  EXPECT_EQ(SplitTarget("?topic=%zz&token=a://b").query,
            "topic=%zz&token=a://b");
  EXPECT_EQ(SplitTarget("?topic=%zz&token=a://b").path, "");
  EXPECT_EQ(SplitTarget("#f://x/webhook/d?q").path, "");
  EXPECT_EQ(SplitTarget("#f://x/webhook/d?q").query, "");
}

TEST(Form, DeviceFromPath) {
  const auto device = [](std::string_view path) {
    auto r = DeviceFromPath(path);
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : std::nullopt;
  };
  EXPECT_EQ(device("/webhook/delta"), "delta");
  EXPECT_EQ(device("/octoprint/webhook/delta"), "delta");
  EXPECT_EQ(device("/webhook/webhook"), "webhook");
  EXPECT_EQ(device("/webhook/a%2Fb"), "a/b");
  EXPECT_EQ(device("/webhook/a+b"), "a+b");  // '+' is a plus in a path
  EXPECT_EQ(device("/webhook"), std::nullopt);
  EXPECT_EQ(device("/webhook/"), std::nullopt);
  EXPECT_EQ(device("/hooks/delta"), std::nullopt);
  EXPECT_EQ(device("/webhook/delta/x"), std::nullopt);
  EXPECT_EQ(device(""), std::nullopt);
  EXPECT_FALSE(DeviceFromPath("/webhook/%").ok());
  EXPECT_FALSE(DeviceFromPath("/webhook/%FF").ok());
}

}  // namespace
}  // namespace pm

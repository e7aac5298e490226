#include "decode/loose.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace pm {
namespace {

namespace json = boost::json;

// The value of {"v": <text>}'s member v.
json::value V(std::string_view text) {
  return json::parse("{\"v\": " + std::string(text) + "}").at("v");
}

TEST(Loose, Absent) {
  EXPECT_TRUE(IsAbsent(nullptr));
  for (const char* text : {"null", "\"None\"", "\"null\"", "\"\""}) {
    const json::value v = V(text);
    EXPECT_TRUE(IsAbsent(&v)) << text;
  }
  for (const char* text : {"0", "false", "\" \"", "\"none\"", "{}", "[]"}) {
    const json::value v = V(text);
    EXPECT_FALSE(IsAbsent(&v)) << text;
  }
}

TEST(Loose, Bool) {
  const std::pair<const char*, std::optional<bool>> cases[] = {
      {"true", true},       {"false", false},   {"\"True\"", true},
      {"\"False\"", false}, {"\"true\"", true}, {"\"false\"", false},
      {"\"TRUE\"", {}},     {"1", {}},          {"null", {}},
      {"\"None\"", {}},     {"\"yes\"", {}},    {"{}", {}},
  };
  for (const auto& [text, expected] : cases) {
    const json::value v = V(text);
    EXPECT_EQ(LooseBool(&v), expected) << text;
  }
  EXPECT_EQ(LooseBool(nullptr), std::nullopt);
}

TEST(Loose, Number) {
  const std::pair<const char*, std::optional<double>> cases[] = {
      {"12", 12},
      {"-3.5", -3.5},
      {"18446744073709551615", 18446744073709551615.0},
      {"\"2847.3913402\"", 2847.3913402},
      {"\"1718036225\"", 1718036225},
      {"\" 7 \"", 7},
      {"\"1e3\"", 1000},
      {"1e400", {}},
      {"\"1e400\"", {}},
      {"\"nan\"", {}},
      {"\"inf\"", {}},
      {"\"12abc\"", {}},
      {"\"0x10\"", {}},
      {"\"\"", {}},
      {"\"None\"", {}},
      {"true", {}},
      {"null", {}},
      {"[1]", {}},
  };
  for (const auto& [text, expected] : cases) {
    const json::value v = V(text);
    EXPECT_EQ(LooseNumber(&v), expected) << text;
  }
}

TEST(Loose, Count) {
  const std::pair<const char*, std::optional<int64_t>> cases[] = {
      {"1338274", 1338274},
      {"\"1338274\"", 1338274},
      {"1338274.0", 1338274},
      {"\"1338274.0\"", 1338274},
      {"9223372036854775807", INT64_MAX},
      {"9223372036854775808", {}},
      {"1e19", {}},
      {"-1", {}},
      {"\"-1\"", {}},
      {"12.5", {}},
      {"\"abc\"", {}},
      {"null", {}},
      {"false", {}},
  };
  for (const auto& [text, expected] : cases) {
    const json::value v = V(text);
    EXPECT_EQ(LooseCount(&v), expected) << text;
  }
}

TEST(Loose, String) {
  const std::pair<const char*, std::optional<std::string>> cases[] = {
      {"\"pi\"", "pi"}, {"\" pi \"", " pi "}, {"42", "42"}, {"-42", "-42"},
      {"\"None\"", {}}, {"\"\"", {}},         {"null", {}}, {"true", {}},
      {"1.5", {}},      {"{\"a\": 1}", {}},
  };
  for (const auto& [text, expected] : cases) {
    const json::value v = V(text);
    EXPECT_EQ(LooseString(&v), expected) << text;
  }
}

TEST(Loose, StringWithoutNul) {
  const json::value v = V(R"("a\u0000b")");
  EXPECT_EQ(LooseString(&v),
            "a\xEF\xBF\xBD"
            "b");
}

TEST(Loose, Member) {
  const json::object o = json::parse(R"({"a": 1})").as_object();
  EXPECT_NE(Member(&o, "a"), nullptr);
  EXPECT_EQ(Member(&o, "b"), nullptr);
  EXPECT_EQ(Member(nullptr, "a"), nullptr);
}

}  // namespace
}  // namespace pm

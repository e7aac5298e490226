// Masking: every fixture, in each of the plugin's four encodings, loses its
// secret and nothing else (the masked request decodes to the same event).
#include "decode/mask.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "decode/decode.h"
#include "decode/test_request.h"

namespace pm {
namespace {

using ::testing::HasSubstr;
using testing::OwnedRequest;

constexpr TimeMs kReceived = 1'800'000'000'123;
constexpr std::string_view kSecret = "Zq7-fixture-secret-91";

struct Case {
  std::string name;  // fixture and encoding
  OwnedRequest request;
};

// The fixture's body with a known secret: the seed bodies carry an empty
// one, the plugin's ones "3f9c1a7be2d44e0b" (kept: it is the real layout).
std::string WithSecret(std::string body) {
  const std::string empty = "\"apiSecret\": \"\"";
  if (auto at = body.find(empty); at != std::string::npos) {
    body.replace(at, empty.size(),
                 "\"apiSecret\": \"" + std::string(kSecret) + "\"");
  }
  return body;
}

// Every fixture: .json ones in all four encodings, .http ones as sent.
std::vector<Case> AllCases() {
  std::vector<Case> cases;
  for (const char* dir : {"seed", "plugin"}) {
    std::filesystem::path root = std::filesystem::path(PM_FIXTURES_DIR) / dir;
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(root)) {
      files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& path : files) {
      std::string text = testing::ReadFile(path.string());
      std::string name = path.filename().string();
      if (path.extension() == ".http") {
        cases.push_back({name, testing::ParseRawHttp(text)});
      } else if (path.extension() == ".json") {
        std::string body = WithSecret(text);
        cases.push_back({name + " as json", testing::AsJson(body)});
        cases.push_back({name + " as form", testing::AsForm(body)});
        cases.push_back(
            {name + " as multipart", testing::AsMultipart(body, "JPEGDATA")});
        cases.push_back({name + " as query", testing::AsQuery(body)});
      }
    }
  }
  return cases;
}

OwnedRequest Masked(const OwnedRequest& r) {
  OwnedRequest m = r;
  m.target = MaskTarget(r.target);
  auto body = MaskBody(r.content_type, r.body);
  EXPECT_TRUE(body.has_value()) << "a fixture's body could not be masked";
  m.body = body.value_or("");
  m.authorization = MaskHeader("Authorization", r.authorization);
  m.api_key = MaskHeader("X-Api-Key", r.api_key);
  return m;
}

TEST(MaskTest, EveryFixtureInEveryEncodingLosesItsSecretAndNothingElse) {
  std::vector<Case> cases = AllCases();
  ASSERT_GE(cases.size(), 26u * 4 / 2) << "fixtures missing?";
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto original = Decode(c.request.View(kReceived));
    ASSERT_TRUE(original.ok()) << original.error().message;
    ASSERT_TRUE(original->secret.has_value());
    const std::string secret = *original->secret;

    OwnedRequest m = Masked(c.request);
    if (!secret.empty()) {
      EXPECT_EQ(m.body.find(secret), std::string::npos) << m.body;
      EXPECT_EQ(m.target.find(secret), std::string::npos) << m.target;
    }
    auto masked = Decode(m.View(kReceived));
    ASSERT_TRUE(masked.ok()) << masked.error().message;
    EXPECT_EQ(masked->event, original->event);
    EXPECT_EQ(masked->secret.value_or("?"),
              secret.empty() ? "" : std::string(kMasked));
    EXPECT_EQ(masked->snapshot.has_value(), original->snapshot.has_value());
    if (masked->snapshot) {
      EXPECT_EQ(masked->snapshot->bytes, original->snapshot->bytes);
    }
  }
}

// Found by decode_fuzz: a secret whose value held "://" made the decoder
// take the whole target for an absolute URL and skip its query; masked,
// the "://" was gone and the query's bad field was read and refused. The
// original and the masked request must be read alike: here both refuse.
TEST(MaskTest, ASchemeLikeSecretInTheQueryDoesNotChangeHowTheTargetIsRead) {
  OwnedRequest r;
  r.content_type = "application/json";
  r.body = R"({"deviceIdentifier": "d", "topic": "PrintStarted"})";
  r.target = "?topic=%zz&token=a://b";
  auto original = Decode(r.View(kReceived));
  ASSERT_FALSE(original.ok());
  EXPECT_THAT(original.error().message, HasSubstr("bad percent-encoding"));
  OwnedRequest m = r;
  m.target = MaskTarget(r.target);
  EXPECT_EQ(m.target, "?topic=%zz&token=" + std::string(kMasked));
  EXPECT_FALSE(Decode(m.View(kReceived)).ok());

  r.target = "/webhook/d?token=a://b&topic=Print+Done";
  original = Decode(r.View(kReceived));
  ASSERT_TRUE(original.ok()) << original.error().message;
  m.target = MaskTarget(r.target);
  auto masked = Decode(m.View(kReceived));
  ASSERT_TRUE(masked.ok()) << masked.error().message;
  EXPECT_EQ(masked->event, original->event);
}

TEST(MaskTest, EmptySecretsStayEmptyAndBodiesWithoutSecretsStayAsSent) {
  std::string body = R"({"deviceIdentifier": "a", "apiSecret": ""})";
  EXPECT_EQ(MaskBody("application/json", body), body);
  std::string form = "deviceIdentifier=a&apiSecret=&topic=Print+Done";
  EXPECT_EQ(MaskBody("application/x-www-form-urlencoded", form), form);
  EXPECT_EQ(MaskTarget("/webhook/a?topic=x"), "/webhook/a?topic=x");
  EXPECT_EQ(MaskBody("", ""), "");
}

struct BodyCase {
  const char* what;
  const char* content_type;
  const char* body;
  std::optional<std::string> expected;
};

TEST(MaskTest, SecretsAtAnyDepthAndUnderAnyOfTheirNames) {
  const BodyCase cases[] = {
      {"nested", "application/json",
       R"({"a":{"b":[{"apiSecret":"s1"}]},"x":1})",
       R"({"a":{"b":[{"apiSecret":"********"}]},"x":1})"},
      {"case and other names", "application/json",
       R"({"APISECRET":"s1","password":7,"token":{"k":"v"},"ok":"s"})",
       R"({"APISECRET":"********","password":"********","token":"********","ok":"s"})"},
      {"escaped key", "application/json", R"({"api\u0053ecret":"s1"})",
       R"({"api\u0053ecret":"********"})"},
      {"repeated key", "application/json",
       R"({"apiSecret":"a","apiSecret":"b"})",
       R"({"apiSecret":"********","apiSecret":"********"})"},
      {"no content type", "", R"(  {"apiSecret" : "s1"})",
       R"(  {"apiSecret" : "********"})"},
      {"form: percent-encoded name, JSON inside a field",
       "application/x-www-form-urlencoded",
       "api%53ecret=s1&extra=%7B%22token%22%3A%22t%22%7D&a=b",
       "api%53ecret=********&extra=%7B%22token%22%3A%22********%22%7D&a=b"},
      {"broken JSON that names a secret", "application/json",
       R"({"apiSecret":"s1")", std::nullopt},
      {"multipart without boundary", "multipart/form-data", "--x\r\n",
       std::nullopt},
      {"unknown type naming a secret", "text/plain", "apiSecret=s1",
       std::nullopt},
      {"unknown type without one", "text/plain", "hello", "hello"},
  };
  for (const BodyCase& c : cases) {
    EXPECT_EQ(MaskBody(c.content_type, c.body), c.expected) << c.what;
  }
}

TEST(MaskTest, QueryStringsAndHeaders) {
  EXPECT_EQ(MaskTarget("/webhook?deviceIdentifier=d&apiSecret=s1&x=%41"),
            "/webhook?deviceIdentifier=d&apiSecret=********&x=%41");
  EXPECT_EQ(MaskTarget("/webhook?apiSecret=s1&bad=%zz"),
            "/webhook?apiSecret=********&bad=%zz");
  EXPECT_EQ(MaskTarget("/webhook?api%zzSecret=s1"), "/webhook?********");
  EXPECT_EQ(MaskHeader("Authorization", "Bearer abc"), "Bearer ********");
  EXPECT_EQ(MaskHeader("x-api-key", "abc"), "********");
  EXPECT_EQ(MaskHeader("Content-Type", "text/plain"), "text/plain");
}

// Found by the fuzzer: masking must not change what the decoder reads.
TEST(MaskTest, TextThatOnlyMentionsASecretIsKept) {
  // A field with bad percent-encoding that nothing reads.
  EXPECT_EQ(MaskTarget("/webhook?deviceIdentifier=d&apiSecret=s1&note=%zz"
                       "apiSecret"),
            "/webhook?deviceIdentifier=d&apiSecret=********&note=%zz"
            "apiSecret");
  // A text field that looks like broken JSON naming a secret.
  std::string body =
      "--b\r\nContent-Disposition: form-data; name=\"topic\"\r\n\r\n"
      "{\"apiSecret\" broken\r\n--b\r\nContent-Disposition: form-data; "
      "name=\"apiSecret\"\r\n\r\ns1\r\n--b--\r\n";
  auto masked = MaskBody("multipart/form-data; boundary=b", body);
  ASSERT_TRUE(masked.has_value());
  EXPECT_NE(masked->find("{\"apiSecret\" broken"), std::string::npos);
  EXPECT_EQ(masked->find("s1"), std::string::npos) << *masked;
  EXPECT_EQ(MaskBody("application/x-www-form-urlencoded",
                     "topic=%7B%22apiSecret%22+x&apiSecret=s1"),
            "topic=%7B%22apiSecret%22+x&apiSecret=********");
}

TEST(MaskTest, HostileBodiesNeverCrashAndNeverLeak) {
  std::string deep(100000, '[');
  EXPECT_EQ(MaskBody("application/json", deep), std::nullopt);
  std::string deep_secret =
      std::string(600, '[') + R"({"apiSecret":"s1"})" + std::string(600, ']');
  EXPECT_EQ(MaskBody("application/json", deep_secret), std::nullopt);
  for (std::string_view cut : {R"({"apiSecret":"s1)", R"({"apiSecret)",
                               R"({"apiSecret":"\)", R"({"a":"\u12)"}) {
    EXPECT_EQ(MaskBody("application/json", cut), std::nullopt) << cut;
  }
}

}  // namespace
}  // namespace pm

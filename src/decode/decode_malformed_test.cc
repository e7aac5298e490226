// What Decode refuses, and the decisions it makes where the spec is silent.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "decode/decode.h"
#include "decode/test_request.h"

namespace pm {
namespace {

using testing::AsJson;
using ::testing::HasSubstr;
using testing::OwnedRequest;

constexpr TimeMs kReceived = 1'800'000'000'123;

Result<Decoded> DecodeOwned(const OwnedRequest& r,
                            const DecodeLimits& limits = {}) {
  return Decode(r.View(kReceived), limits);
}

Result<Decoded> DecodeJson(std::string body) {
  return DecodeOwned(AsJson(std::move(body)));
}

OwnedRequest Typed(std::string content_type, std::string body) {
  OwnedRequest r;
  r.content_type = std::move(content_type);
  r.body = std::move(body);
  return r;
}

// Asserts a kInvalid error whose message contains `needle`.
void ExpectInvalid(const Result<Decoded>& r, const std::string& needle,
                   ErrorCode code = ErrorCode::kInvalid) {
  ASSERT_FALSE(r.ok()) << "expected an error containing: " << needle;
  EXPECT_EQ(static_cast<int>(r.error().code), static_cast<int>(code));
  EXPECT_THAT(r.error().message, HasSubstr(needle));
}

Event MustDecodeEvent(const Result<Decoded>& r) {
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? r->event : Event{};
}

const std::string kMinimal =
    R"({"deviceIdentifier": "delta", "topic": "Print Started"})";

// ---------------------------------------------------------------------------
// JSON bodies

TEST(DecodeMalformed, TruncatedJsonNamesTheByte) {
  const std::string body = R"({"deviceIdentifier": "delta", "topic": "Pri)";
  ExpectInvalid(DecodeJson(body),
                "body is not valid JSON at byte 43: the "
                "text ends too early");
}

TEST(DecodeMalformed, TrailingGarbage) {
  ExpectInvalid(DecodeJson(kMinimal + " x"),
                "body is not valid JSON at byte 56: unexpected data after "
                "the value");
}

TEST(DecodeMalformed, NaNAndInfinity) {
  ExpectInvalid(DecodeJson(R"({"deviceIdentifier": "d", "currentTime": NaN})"),
                "at byte 41: unexpected 'N' (NaN and Infinity are not JSON)");
  ExpectInvalid(DecodeJson(R"({"deviceIdentifier": "d", "x": Infinity})"),
                "at byte 31: unexpected 'I'");
}

TEST(DecodeMalformed, InvalidUtf8InAString) {
  ExpectInvalid(DecodeJson("{\"deviceIdentifier\": \"d\xff\"}"),
                "at byte 23: invalid UTF-8");
  // An overlong encoding of '/' and a lone surrogate.
  ExpectInvalid(DecodeJson("{\"deviceIdentifier\": \"\xc0\xaf\"}"),
                "invalid UTF-8");
  ExpectInvalid(DecodeJson("{\"deviceIdentifier\": \"\xed\xa0\x80\"}"),
                "invalid UTF-8");
}

TEST(DecodeMalformed, UnescapedControlCharacter) {
  ExpectInvalid(DecodeJson("{\"deviceIdentifier\": \"a\x01\"}"),
                "control character 0x01");
}

TEST(DecodeMalformed, BinaryGarbage) {
  std::string garbage;
  for (int i = 0; i < 512; ++i) garbage.push_back(static_cast<char>(i * 37));
  ExpectInvalid(DecodeJson(garbage), "body is not valid JSON at byte 0");
  ExpectInvalid(
      DecodeOwned(Typed("application/x-www-form-urlencoded", garbage)),
      "form body");
  ExpectInvalid(
      DecodeOwned(Typed("multipart/form-data; boundary=xyz", garbage)),
      "multipart body has no boundary line \"--xyz\"");
}

TEST(DecodeMalformed, JsonThatIsNotAnObject) {
  ExpectInvalid(DecodeJson("[1, 2]"), "body is JSON but not an object");
  ExpectInvalid(DecodeJson("\"delta\""), "body is JSON but not an object");
}

TEST(DecodeMalformed, DeepNestingIsRefusedWithoutOverflowingTheStack) {
  const std::string deep = R"({"deviceIdentifier": "d", "meta": )" +
                           std::string(10'000, '[') + std::string(10'000, ']') +
                           "}";
  ExpectInvalid(DecodeJson(deep), "nested deeper than the limit of 64 levels");
  // 64 levels are fine: the body object and 63 arrays inside it.
  const std::string ok = R"({"deviceIdentifier": "d", "meta": )" +
                         std::string(63, '[') + std::string(63, ']') + "}";
  EXPECT_TRUE(DecodeJson(ok).ok());
  const std::string too_deep = R"({"deviceIdentifier": "d", "meta": )" +
                               std::string(64, '[') + std::string(64, ']') +
                               "}";
  ExpectInvalid(DecodeJson(too_deep), "limit of 64 levels");
}

TEST(DecodeMalformed, DepthLimitIsConfigurable) {
  const std::string body =
      R"({"deviceIdentifier": "d", "extra": {"a": {"b": 1}}})";
  ExpectInvalid(DecodeOwned(AsJson(body), {.max_json_depth = 2}),
                "limit of 2 levels");
  EXPECT_TRUE(DecodeOwned(AsJson(body), {.max_json_depth = 3}).ok());
}

TEST(DecodeMalformed, HugeNumbersAreAbsentNotErrors) {
  const std::string digits(100, '9');
  const Event e = MustDecodeEvent(DecodeJson(
      R"({"deviceIdentifier": "d", "currentTime": 1e400,
          "extra": {"size": )" +
      digits + R"(, "time": -1e400,
                    "progress": 1e400},
          "job": {"estimatedPrintTime": )" +
      digits + R"(,
                  "filament": {"tool0": {"length": 1e308},
                               "tool1": {"length": 1e308}}},
          "progress": {"printTime": ")" +
      digits + R"("}})"));
  EXPECT_FALSE(e.has_current_time);
  EXPECT_EQ(e.time, kReceived);
  EXPECT_EQ(e.file.size, std::nullopt);        // does not fit int64
  EXPECT_EQ(e.reported_time_s, std::nullopt);  // infinite
  EXPECT_EQ(e.progress_pct, std::nullopt);
  EXPECT_EQ(e.filament_mm, std::nullopt);  // the sum overflows
  ASSERT_TRUE(e.estimated_s);              // 1e100 s: finite, kept
  EXPECT_DOUBLE_EQ(*e.estimated_s, 1e100);
  ASSERT_TRUE(e.print_time_s);
  EXPECT_DOUBLE_EQ(*e.print_time_s, 1e100);
}

// ---------------------------------------------------------------------------
// Content types

TEST(DecodeMalformed, UnsupportedContentTypeListsTheEncodings) {
  const auto r = DecodeOwned(Typed("text/plain", kMinimal));
  ExpectInvalid(r, "Content-Type \"text/plain\" is not supported",
                ErrorCode::kUnsupported);
  EXPECT_THAT(r.error().message, HasSubstr("application/json"));
  EXPECT_THAT(r.error().message, HasSubstr("multipart/form-data"));
  EXPECT_THAT(r.error().message,
              HasSubstr("application/x-www-form-urlencoded"));
  EXPECT_THAT(r.error().message, HasSubstr("query string"));
}

TEST(DecodeMalformed, NoContentTypeAndNotJson) {
  ExpectInvalid(DecodeOwned(Typed("", "deviceIdentifier=d")),
                "has a body but no Content-Type", ErrorCode::kUnsupported);
}

TEST(DecodeContentType, NoContentTypeButJsonObject) {
  EXPECT_EQ(MustDecodeEvent(DecodeOwned(Typed("", "  \r\n" + kMinimal))).device,
            "delta");
}

TEST(DecodeContentType, ParametersAndCaseAreFine) {
  EXPECT_EQ(MustDecodeEvent(DecodeOwned(Typed(
                                "Application/JSON ; charset=utf-8", kMinimal)))
                .kind,
            Kind::kStarted);
  EXPECT_EQ(
      MustDecodeEvent(DecodeOwned(Typed("application/x-www-form-urlencoded; "
                                        "charset=UTF-8",
                                        "deviceIdentifier=d&topic=Print+Done")))
          .kind,
      Kind::kDone);
}

TEST(DecodeContentType, EmptyBodyIgnoresTheContentType) {
  OwnedRequest r = Typed("text/plain", "");
  r.method = "GET";
  r.target = "/webhook?deviceIdentifier=d&topic=Print%20Paused";
  EXPECT_EQ(MustDecodeEvent(DecodeOwned(r)).kind, Kind::kPaused);
}

TEST(DecodeMalformed, EmptyBodyWithoutDevice) {
  ExpectInvalid(DecodeOwned(Typed("application/json", "")),
                "deviceIdentifier is missing");
}

// ---------------------------------------------------------------------------
// multipart/form-data

std::string Part(std::string_view name, std::string_view value) {
  return "--b\r\nContent-Disposition: form-data; name=\"" + std::string(name) +
         "\"\r\n\r\n" + std::string(value) + "\r\n";
}

TEST(DecodeMalformed, MultipartBoundaryMissing) {
  ExpectInvalid(DecodeOwned(Typed("multipart/form-data",
                                  Part("deviceIdentifier", "d") + "--b--")),
                "multipart boundary missing");
  ExpectInvalid(DecodeOwned(Typed("multipart/form-data; boundary=\"\"",
                                  Part("deviceIdentifier", "d") + "--b--")),
                "multipart boundary missing");
}

TEST(DecodeMalformed, MultipartWrongBoundary) {
  ExpectInvalid(DecodeOwned(Typed("multipart/form-data; boundary=other",
                                  Part("deviceIdentifier", "d") + "--b--\r\n")),
                "no boundary line \"--other\"");
}

TEST(DecodeMalformed, MultipartWithoutClosingBoundary) {
  ExpectInvalid(DecodeOwned(Typed("multipart/form-data; boundary=b",
                                  Part("deviceIdentifier", "d"))),
                "ends without its closing boundary \"--b--\"");
  // Cut in the middle of a part's value, and of its headers.
  const std::string topic = Part("topic", "Print Done");
  ExpectInvalid(DecodeOwned(Typed("multipart/form-data; boundary=b",
                                  Part("deviceIdentifier", "d") +
                                      topic.substr(0, topic.size() - 4))),
                "closing boundary");
  ExpectInvalid(
      DecodeOwned(Typed("multipart/form-data; boundary=b",
                        Part("deviceIdentifier", "d") + topic.substr(0, 30))),
      "multipart part 2 has headers that never end");
}

TEST(DecodeMalformed, TooManyMultipartParts) {
  std::string body = Part("deviceIdentifier", "d");
  for (int i = 0; i < 256; ++i) body += Part("f" + std::to_string(i), "x");
  body += "--b--\r\n";
  ExpectInvalid(DecodeOwned(Typed("multipart/form-data; boundary=b", body)),
                "more than 256 parts (the limit)");
  EXPECT_TRUE(DecodeOwned(Typed("multipart/form-data; boundary=b", body),
                          {.max_multipart_parts = 257})
                  .ok());
}

TEST(DecodeMalformed, MultipartFieldNotUtf8) {
  ExpectInvalid(
      DecodeOwned(Typed("multipart/form-data; boundary=b",
                        Part("deviceIdentifier", "d\xfe") + "--b--\r\n")),
      "multipart field \"deviceIdentifier\" is not valid UTF-8");
}

TEST(DecodeMalformed, InvalidJsonInAFormField) {
  ExpectInvalid(DecodeOwned(Typed("multipart/form-data; boundary=b",
                                  Part("deviceIdentifier", "d") +
                                      Part("job", R"({"file": {"name": )") +
                                      "--b--\r\n")),
                "field 'job' is not valid JSON at byte 18: the text ends too "
                "early");
  ExpectInvalid(
      DecodeOwned(Typed("application/x-www-form-urlencoded",
                        "deviceIdentifier=d&state=%7B%22flags%22%3ANaN%7D")),
      "field 'state' is not valid JSON at byte 9");
}

TEST(DecodeMalformed, DepthLimitHoldsInsideFormFields) {
  const std::string deep =
      "{\"a\": " + std::string(10'000, '[') + std::string(10'000, ']') + "}";
  ExpectInvalid(DecodeOwned(Typed("multipart/form-data; boundary=b",
                                  Part("deviceIdentifier", "d") +
                                      Part("extra", deep) + "--b--\r\n")),
                "field 'extra' is not valid JSON at byte 69: nested deeper "
                "than the limit of 64 levels");
}

TEST(DecodeMultipart, SnapshotWithoutContentTypeAndEmptySnapshot) {
  const std::string with_picture =
      Part("deviceIdentifier", "d") + Part("snapshot", "JPEGDATA") + "--b--";
  const auto r =
      DecodeOwned(Typed("multipart/form-data; boundary=b", with_picture));
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_TRUE(r->snapshot);
  EXPECT_EQ(r->snapshot->content_type, "application/octet-stream");
  EXPECT_EQ(r->snapshot->bytes, "JPEGDATA");
  EXPECT_TRUE(r->event.snapshot);

  // An empty file part is no picture.
  const std::string empty =
      Part("deviceIdentifier", "d") + Part("snapshot", "") + "--b--";
  const auto e = DecodeOwned(Typed("multipart/form-data; boundary=b", empty));
  ASSERT_TRUE(e.ok()) << e.error().message;
  EXPECT_FALSE(e->snapshot);
  EXPECT_FALSE(e->event.snapshot);
}

TEST(DecodeMultipart, OtherFilePartsAreIgnored) {
  const std::string body =
      "--b\r\nContent-Disposition: form-data; name=\"topic\"; "
      "filename=\"t.txt\"\r\n\r\nPrint Done\r\n" +
      Part("deviceIdentifier", "d") + Part("topic", "Print Paused") + "--b--";
  EXPECT_EQ(MustDecodeEvent(
                DecodeOwned(Typed("multipart/form-data; boundary=b", body)))
                .kind,
            Kind::kPaused);
}

// ---------------------------------------------------------------------------
// form-urlencoded and query strings

TEST(DecodeMalformed, BadPercentEncoding) {
  ExpectInvalid(DecodeOwned(Typed("application/x-www-form-urlencoded",
                                  "deviceIdentifier=d&topic=Print%2")),
                "form body has bad percent-encoding in \"topic=Print%2\"");
  ExpectInvalid(DecodeOwned(Typed("application/x-www-form-urlencoded",
                                  "deviceIdentifier=%zzd")),
                "'%' must be followed by two hex digits");
  OwnedRequest r;
  r.method = "GET";
  r.target = "/webhook?deviceIdentifier=d&topic=%G1";
  ExpectInvalid(DecodeOwned(r), "query string has bad percent-encoding");
  r.target = "/webhook/de%2";
  ExpectInvalid(DecodeOwned(r), "the request path has bad percent-encoding");
}

TEST(DecodeMalformed, PercentEncodedInvalidUtf8) {
  ExpectInvalid(DecodeOwned(Typed("application/x-www-form-urlencoded",
                                  "deviceIdentifier=%FF")),
                "form body field \"deviceIdentifier\" is not valid UTF-8");
}

TEST(DecodeMalformed, TooManyFormFields) {
  std::string body = "deviceIdentifier=d";
  for (int i = 0; i < 1024; ++i) body += "&f" + std::to_string(i) + "=1";
  ExpectInvalid(DecodeOwned(Typed("application/x-www-form-urlencoded", body)),
                "form body has more than 1024 fields (the limit)");
  OwnedRequest r;
  r.method = "GET";
  r.target = "/webhook?" + body;
  ExpectInvalid(DecodeOwned(r), "query string has more than 1024 fields");
  EXPECT_TRUE(DecodeOwned(r, {.max_form_fields = 1025}).ok());
}

TEST(DecodeForm, BodyWinsOverQueryAndFirstValueWins) {
  OwnedRequest r = Typed("application/x-www-form-urlencoded",
                         "deviceIdentifier=body&topic=Print+Done&topic=Error");
  r.target = "/webhook?deviceIdentifier=query&message=from+query&message=2";
  const Event e = MustDecodeEvent(DecodeOwned(r));
  EXPECT_EQ(e.device, "body");
  EXPECT_EQ(e.kind, Kind::kDone);
  EXPECT_EQ(e.message, "from query");

  // The same in a JSON body: JSON's fields win over the query string's.
  OwnedRequest j = AsJson(kMinimal);
  j.target = "/webhook?deviceIdentifier=query&currentTime=1718036225";
  const Event je = MustDecodeEvent(DecodeOwned(j));
  EXPECT_EQ(je.device, "delta");
  EXPECT_EQ(je.time, 1718036225000);
}

TEST(DecodeJson, DuplicateKeysKeepTheLastValue) {
  // Decision: inside one JSON object a repeated key keeps its last value,
  // as Boost.JSON and Python's json module do; "first value wins" is a rule
  // of form fields and query strings, where repetition is part of the format.
  const Event e = MustDecodeEvent(DecodeJson(
      R"({"deviceIdentifier": "d", "topic": "Print Done", "topic": "Error"})"));
  EXPECT_EQ(e.kind, Kind::kError);
}

// ---------------------------------------------------------------------------
// device

TEST(DecodeDevice, FromThePathUnderAnyPrefix) {
  OwnedRequest r = AsJson(R"({"topic": "Print Done"})");
  r.target = "/octoprint/webhook/delta?x=1";
  EXPECT_EQ(MustDecodeEvent(DecodeOwned(r)).device, "delta");
  r.target = "/webhook/my%20printer%C3%A9";
  EXPECT_EQ(MustDecodeEvent(DecodeOwned(r)).device, "my printer\xC3\xA9");
  r.target = "http://host:8080/webhook/delta";
  EXPECT_EQ(MustDecodeEvent(DecodeOwned(r)).device, "delta");
  r.target = "/webhook";
  ExpectInvalid(DecodeOwned(r), "deviceIdentifier is missing");
  r.target = "/other/delta";  // not a webhook path: no device in it
  ExpectInvalid(DecodeOwned(r), "deviceIdentifier is missing");
}

TEST(DecodeDevice, FieldWinsOverPathAndIsTrimmed) {
  OwnedRequest r = AsJson(R"({"deviceIdentifier": "  delta \t"})");
  r.target = "/webhook/other";
  EXPECT_EQ(MustDecodeEvent(DecodeOwned(r)).device, "delta");
  // A blank field falls back to the path.
  r.body = R"({"deviceIdentifier": "   "})";
  EXPECT_EQ(MustDecodeEvent(DecodeOwned(r)).device, "other");
  r.body = R"({"deviceIdentifier": 42})";
  EXPECT_EQ(MustDecodeEvent(DecodeOwned(r)).device, "42");
}

TEST(DecodeMalformed, DeviceBlankOrTooLong) {
  ExpectInvalid(DecodeJson(R"({"deviceIdentifier": "  "})"),
                "deviceIdentifier is missing");
  ExpectInvalid(DecodeJson(R"({"deviceIdentifier": "None"})"),
                "deviceIdentifier is missing");
  ExpectInvalid(DecodeJson(R"({"topic": "Print Done"})"),
                "deviceIdentifier is missing");
  ExpectInvalid(
      DecodeJson(R"({"deviceIdentifier": ")" + std::string(129, 'x') + "\"}"),
      "deviceIdentifier is 129 characters long; at most 128 are allowed");
  ExpectInvalid(DecodeJson(R"({"deviceIdentifier": "a\nb"})"),
                "contains a control character");
  // 128 characters are fine, counted as characters, not bytes.
  std::string umlauts;
  for (int i = 0; i < 128; ++i) umlauts += "\xC3\xBC";
  EXPECT_EQ(
      MustDecodeEvent(DecodeJson(R"({"deviceIdentifier": ")" + umlauts + "\"}"))
          .device,
      umlauts);
  OwnedRequest r;
  r.method = "GET";
  r.target = "/webhook/" + std::string(200, 'p');
  ExpectInvalid(DecodeOwned(r), "deviceIdentifier is 200 characters long");
}

// ---------------------------------------------------------------------------
// secret

TEST(DecodeSecret, FieldThenBearerThenApiKey) {
  OwnedRequest r = AsJson(R"({"deviceIdentifier": "d", "apiSecret": "s1"})");
  r.authorization = "Bearer s2";
  r.api_key = "s3";
  EXPECT_EQ(DecodeOwned(r)->secret, "s1");
  r.body = R"({"deviceIdentifier": "d"})";
  EXPECT_EQ(DecodeOwned(r)->secret, "s2");
  r.authorization = "Basic dXNlcjpwYXNz";  // not a bearer token
  EXPECT_EQ(DecodeOwned(r)->secret, "s3");
  r.authorization = "bearer   s4  ";
  EXPECT_EQ(DecodeOwned(r)->secret, "s4");
  r.authorization = "";
  r.api_key = "";
  EXPECT_EQ(DecodeOwned(r)->secret, std::nullopt);
  r.body = R"({"deviceIdentifier": "d", "apiSecret": null})";
  EXPECT_EQ(DecodeOwned(r)->secret, std::nullopt);
}

TEST(DecodeSecret, EmptyApiSecretIsPresentButLosesToAHeader) {
  // Decision: the plugin's default template sends "apiSecret": "" when no
  // secret is set; that is an empty secret (tofu registers it), unless a
  // header carries one.
  OwnedRequest r = AsJson(R"({"deviceIdentifier": "d", "apiSecret": ""})");
  EXPECT_EQ(DecodeOwned(r)->secret, "");
  r.api_key = "k";
  EXPECT_EQ(DecodeOwned(r)->secret, "k");
  r.api_key = "";
  r.authorization = "Bearer t";
  EXPECT_EQ(DecodeOwned(r)->secret, "t");
  // In a form body too: "apiSecret=" is present and empty.
  const auto form = DecodeOwned(Typed("application/x-www-form-urlencoded",
                                      "deviceIdentifier=d&apiSecret="));
  EXPECT_EQ(form->secret, "");
}

// ---------------------------------------------------------------------------
// kind, test, time, loose values

TEST(DecodeKind, TopicCaseAndSpacesAreIgnored) {
  const std::pair<std::string, Kind> cases[] = {
      {"  print STARTED ", Kind::kStarted},
      {"print done", Kind::kDone},
      {"PRINT FAILED", Kind::kFailed},
      {"Print Paused", Kind::kPaused},
      {"Print Resumed", Kind::kResumed},
      {"Print Progress", Kind::kProgress},
      {"user action needed", Kind::kAttention},
      {"error", Kind::kError},
      {"Print Cancelled", Kind::kOther},
      {"Startup", Kind::kOther},
  };
  for (const auto& [topic, kind] : cases) {
    const Event e = MustDecodeEvent(
        DecodeJson(R"({"deviceIdentifier": "d", "topic": ")" + topic + "\"}"));
    EXPECT_EQ(KindName(e.kind), KindName(kind)) << topic;
    EXPECT_EQ(e.topic, topic);  // kept as sent
  }
  const Event none =
      MustDecodeEvent(DecodeJson(R"({"deviceIdentifier": "d"})"));
  EXPECT_EQ(none.kind, Kind::kOther);
  EXPECT_EQ(none.topic, "");
}

TEST(DecodeKind, CustomEventResumedByMessage) {
  const auto kind = [](const std::string& message) {
    return MustDecodeEvent(
               DecodeJson(R"({"deviceIdentifier": "d", "topic": "custom event",
                              "message": ")" +
                          message + "\"}"))
        .kind;
  };
  EXPECT_EQ(kind("Print RESUMING now"), Kind::kResumed);
  EXPECT_EQ(kind("resumed"), Kind::kResumed);
  EXPECT_EQ(kind("Print cancelled"), Kind::kOther);
}

TEST(DecodeTest, HookIndexOrPopup) {
  const auto test = [](const std::string& extra) {
    return MustDecodeEvent(DecodeJson(R"({"deviceIdentifier": "d", "extra": )" +
                                      extra + "}"))
        .test;
  };
  EXPECT_TRUE(test(R"({"hook_index": 0})"));
  EXPECT_TRUE(test(R"({"hook_index": "0"})"));
  EXPECT_TRUE(test(R"({"popup": "True"})"));
  EXPECT_TRUE(test(R"("{\"popup\": true}")"));  // extra as JSON text
  EXPECT_FALSE(test(R"({"popup": false})"));
  EXPECT_FALSE(test(R"({"popup": "False", "hook_index": null})"));
  EXPECT_FALSE(test(R"({"hook_index": "None"})"));
  EXPECT_FALSE(test(R"("")"));
}

TEST(DecodeTime, CurrentTimeRules) {
  const auto time = [](const std::string& value) {
    return MustDecodeEvent(DecodeJson(
        R"({"deviceIdentifier": "d", "currentTime": )" + value + "}"));
  };
  EXPECT_EQ(time("1718036225").time, 1718036225000);
  EXPECT_EQ(time("\"1718036225.25\"").time, 1718036225250);  // keeps ms
  EXPECT_EQ(time("1718036225.0004").time, 1718036225000);
  EXPECT_EQ(time("1718036225.9996").time, 1718036226000);  // rounded
  EXPECT_TRUE(time("\" 1718036225 \"").has_current_time);
  for (const char* bad :
       {"0", "-5", "32503680000", "1718036225000", "\"abc\"", "\"nan\"",
        "\"inf\"", "true", "null", "\"None\"", "\"\"", "{}"}) {
    const Event e = time(bad);
    EXPECT_FALSE(e.has_current_time) << bad;
    EXPECT_EQ(e.time, kReceived) << bad;
    EXPECT_EQ(e.received_at, kReceived) << bad;
  }
  // A clock ahead of ours is believed up to 24 h (kReceived is
  // 2027-01-15T08:00:00.123Z); beyond, the receive time is used (ledger.md
  // section 2), so a year-2100 stamp cannot make later events "late".
  EXPECT_TRUE(time("1800086400").has_current_time);  // 23:59:59.877 ahead
  EXPECT_EQ(time("1800086400").time, 1800086400000);
  for (const char* ahead : {"1800086401", "4102444800", "32503679999"}) {
    const Event e = time(ahead);
    EXPECT_FALSE(e.has_current_time) << ahead;
    EXPECT_EQ(e.time, kReceived) << ahead;
  }
}

TEST(DecodeLoose, NestedObjectsAsJsonTextAtAnyDepth) {
  // A template that quoted nested objects: loose typing at every depth.
  const Event e = MustDecodeEvent(DecodeJson(R"({
      "deviceIdentifier": "d",
      "extra": "{\"name\": \"a.gcode\", \"size\": \"12\"}",
      "state": {"flags": "{\"printing\": \"true\", \"paused\": \"False\"}"},
      "job": {"file": "{\"display\": \"A\", \"path\": \"p/a.gcode\"}",
              "filament": {"tool0": "{\"length\": \"10.5\"}",
                           "tool1": {"length": 2, "volume": null},
                           "tool2": null, "tool3": ""},
              "estimatedPrintTime": "100"},
      "progress": {"completion": "None", "printTime": "7"}})"));
  EXPECT_EQ(e.file.name, "a.gcode");
  EXPECT_EQ(e.file.size, 12);
  EXPECT_EQ(e.file.display, "A");
  EXPECT_EQ(e.file.path, "p/a.gcode");
  EXPECT_EQ(e.printing, true);
  EXPECT_EQ(e.paused, false);
  EXPECT_EQ(e.filament_mm, 12.5);
  EXPECT_EQ(e.filament_cm3, std::nullopt);
  EXPECT_EQ(e.estimated_s, 100);
  EXPECT_EQ(e.progress_pct, std::nullopt);
  EXPECT_EQ(e.print_time_s, 7);
}

TEST(DecodeFields, FallbacksInTheSpecsOrder) {
  const std::string job = R"("job": {"user": "job-user", "file": {
      "name": "job.gcode", "path": "job/p.gcode", "display": "Job",
      "origin": "sdcard", "size": 2}})";
  const auto decode = [&](const std::string& extra) {
    return MustDecodeEvent(DecodeJson(R"({"deviceIdentifier": "d", )" + job +
                                      R"(, "extra": )" + extra + "}"));
  };
  const Event full = decode(R"({"user": "u", "owner": "o", "name": "x.gcode",
      "path": "x/p.gcode", "origin": "local", "size": 1})");
  EXPECT_EQ(full.user, "u");
  EXPECT_EQ(full.file.name, "x.gcode");
  EXPECT_EQ(full.file.path, "x/p.gcode");
  EXPECT_EQ(full.file.display, "Job");  // only job.file has a display
  EXPECT_EQ(full.file.origin, "local");
  EXPECT_EQ(full.file.size, 1);

  const Event fallback = decode(R"({"owner": "o", "name": null,
      "path": "None", "origin": "", "size": "None"})");
  EXPECT_EQ(fallback.user, "job-user");
  EXPECT_EQ(fallback.file.name, "job.gcode");
  EXPECT_EQ(fallback.file.path, "job/p.gcode");
  EXPECT_EQ(fallback.file.origin, "sdcard");
  EXPECT_EQ(fallback.file.size, 2);

  const Event owner = MustDecodeEvent(DecodeJson(
      R"({"deviceIdentifier": "d", "job": {"user": null},
          "extra": {"owner": "o"}})"));
  EXPECT_EQ(owner.user, "o");
}

TEST(DecodeFields, NulInTextBecomesReplacementCharacter) {
  const Event e = MustDecodeEvent(
      DecodeOwned(Typed("application/x-www-form-urlencoded",
                        "deviceIdentifier=d&message=a%00b&topic=Error%00")));
  EXPECT_EQ(e.message,
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(e.topic, "Error\xEF\xBF\xBD");
  EXPECT_EQ(e.kind, Kind::kOther);
  ExpectInvalid(DecodeJson(R"({"deviceIdentifier": "a\u0000b"})"),
                "contains a control character");
}

TEST(DecodeLoose, FlatFilamentLayout) {
  const Event e = MustDecodeEvent(DecodeJson(R"({"deviceIdentifier": "d",
      "job": {"filament": {"length": "1500.5", "volume": 3.5}}})"));
  EXPECT_EQ(e.filament_mm, 1500.5);
  EXPECT_EQ(e.filament_cm3, 3.5);
}

TEST(DecodeLoose, ProgressOutsideZeroToHundredIsDropped) {
  const auto pct = [](const std::string& extra) {
    return MustDecodeEvent(DecodeJson(R"({"deviceIdentifier": "d",
        "progress": {"completion": 40}, "extra": )" +
                                      extra + "}"))
        .progress_pct;
  };
  EXPECT_EQ(pct(R"({"progress": 150})"), std::nullopt);
  EXPECT_EQ(pct(R"({"progress": -1})"), std::nullopt);
  EXPECT_EQ(pct(R"({"progress": "55"})"), 55);
  EXPECT_EQ(pct(R"({"progress": 1})"), 1);  // a percentage unless reason=error
  EXPECT_EQ(pct(R"({"progress": 1, "reason": "error"})"), 100);
  EXPECT_EQ(pct(R"({"progress": 12, "reason": "error"})"), 12);
  EXPECT_EQ(pct(R"({})"), 40);  // progress.completion
}

TEST(DecodeLoose, NegativeDurationsAndSizesAreDropped) {
  const Event e = MustDecodeEvent(DecodeJson(R"({"deviceIdentifier": "d",
      "extra": {"time": -3, "size": -1},
      "job": {"estimatedPrintTime": -1},
      "progress": {"printTime": "-2"}})"));
  EXPECT_EQ(e.reported_time_s, std::nullopt);
  EXPECT_EQ(e.file.size, std::nullopt);
  EXPECT_EQ(e.estimated_s, std::nullopt);
  EXPECT_EQ(e.print_time_s, std::nullopt);
}

TEST(DecodeLoose, ExtraAsBareWordIsAbsent) {
  OwnedRequest r;
  r.method = "GET";
  r.target = "/webhook?deviceIdentifier=d&extra=name&extra=path";
  const Event e = MustDecodeEvent(DecodeOwned(r));
  EXPECT_EQ(e.file.name, std::nullopt);
  EXPECT_EQ(e.file.path, std::nullopt);
}

}  // namespace
}  // namespace pm

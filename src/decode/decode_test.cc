// Every fixture in ../shared/fixtures decodes to the event its file says,
// field by field; the seed bodies decode alike in every encoding.
#include "decode/decode.h"

#include <gtest/gtest.h>

#include <string>

#include "decode/test_request.h"

namespace pm {
namespace {

using testing::AsForm;
using testing::AsJson;
using testing::AsMultipart;
using testing::AsQuery;
using testing::OwnedRequest;
using testing::ParseRawHttp;
using testing::ReadFile;

constexpr TimeMs kReceived = 1'800'000'000'123;

std::string Fixture(const std::string& name) {
  return ReadFile(std::string(PM_FIXTURES_DIR) + "/" + name);
}

Decoded MustDecode(const OwnedRequest& r) {
  auto decoded = Decode(r.View(kReceived));
  EXPECT_TRUE(decoded.ok()) << (decoded.ok() ? "" : decoded.error().message);
  return decoded.ok() ? std::move(*decoded) : Decoded{};
}

Decoded DecodeJsonFixture(const std::string& name) {
  return MustDecode(AsJson(Fixture(name)));
}

Decoded DecodeHttpFixture(const std::string& name) {
  const OwnedRequest r = ParseRawHttp(Fixture(name));
  EXPECT_EQ(r.body.size(), r.content_length.value_or(0)) << name;
  return MustDecode(r);
}

// Every request decoded says which decoder read it, so that `rebuild`
// decodes again only what another decoder read.
TEST(DecoderIdTest, EveryDecodedRequestSaysWhichDecoderReadIt) {
  EXPECT_GT(DecoderId(), 0);
  EXPECT_EQ(DecoderId(), DecoderId());
  EXPECT_EQ(DecodeJsonFixture("seed/01-octoprint-print-started.json").decoder,
            DecoderId());
  EXPECT_EQ(Decoded{}.decoder, 0);
}

void ExpectNear(const std::optional<double>& actual,
                const std::optional<double>& expected, const char* field) {
  ASSERT_EQ(actual.has_value(), expected.has_value()) << field;
  if (expected) {
    EXPECT_DOUBLE_EQ(*actual, *expected) << field;
  }
}

// Compares every field on its own, so that a failure names the field.
void ExpectEvent(const Event& a, const Event& e) {
  EXPECT_EQ(a.id, 0);
  EXPECT_EQ(a.device, e.device);
  EXPECT_EQ(a.topic, e.topic);
  EXPECT_EQ(KindName(a.kind), KindName(e.kind));
  EXPECT_EQ(a.test, e.test);
  EXPECT_EQ(a.time, e.time);
  EXPECT_EQ(a.has_current_time, e.has_current_time);
  EXPECT_EQ(a.received_at, kReceived);
  EXPECT_EQ(a.file.name, e.file.name);
  EXPECT_EQ(a.file.path, e.file.path);
  EXPECT_EQ(a.file.display, e.file.display);
  EXPECT_EQ(a.file.origin, e.file.origin);
  EXPECT_EQ(a.file.size, e.file.size);
  EXPECT_EQ(a.user, e.user);
  EXPECT_EQ(a.message, e.message);
  ExpectNear(a.reported_time_s, e.reported_time_s, "reported_time_s");
  EXPECT_EQ(a.reason, e.reason);
  ExpectNear(a.progress_pct, e.progress_pct, "progress_pct");
  ExpectNear(a.print_time_s, e.print_time_s, "print_time_s");
  ExpectNear(a.print_time_left_s, e.print_time_left_s, "print_time_left_s");
  ExpectNear(a.filament_mm, e.filament_mm, "filament_mm");
  ExpectNear(a.filament_cm3, e.filament_cm3, "filament_cm3");
  ExpectNear(a.estimated_s, e.estimated_s, "estimated_s");
  EXPECT_EQ(a.error, e.error);
  EXPECT_EQ(a.printing, e.printing);
  EXPECT_EQ(a.paused, e.paused);
  EXPECT_EQ(a.snapshot, e.snapshot);
}

// ---------------------------------------------------------------------------
// seed/: a real Prusa MK3S+ ("delta"), stringly typed, apiSecret "".

const FileInfo kCube{
    .name = "cube_0.8n_0.4mm_PETG_235C.gcode",
    .path = "Calbration/cube_0.8n_0.4mm_PETG_235C.gcode",
    .display = "cube_0.8n_0.4mm_PETG_235C.gcode",
    .origin = "local",
    .size = 85675,
};
const FileInfo kShapeBox{
    .name = "Shape-Box_0.8n_0.4mm_PETG_MK3S_2m.gcode",
    .path = "Shape-Box_0.8n_0.4mm_PETG_MK3S_2m.gcode",
    .origin = "sdcard",
    .size = 36162,
};

TEST(DecodeSeed, OctoprintPrintStarted) {
  const Decoded d = DecodeJsonFixture("seed/01-octoprint-print-started.json");
  FileInfo file = kCube;
  file.name = "cube_1.8n_0.4mm_PETG_235C.gcode";  // extra.name wins
  ExpectEvent(d.event, {.device = "delta",
                        .topic = "Print Started",
                        .kind = Kind::kStarted,
                        .time = 1722565567000,
                        .has_current_time = true,
                        .file = file,
                        .user = "mike",
                        .message = "Your print has started.",
                        .progress_pct = 12.256784359498104,
                        .print_time_s = 0,
                        .print_time_left_s = 1051,
                        .filament_mm = 1853.3127900000088,
                        .filament_cm3 = 4.457739663242711,
                        .estimated_s = 859.9312829893596,
                        .printing = true,
                        .paused = false});
  EXPECT_EQ(d.secret, "");  // present but empty: tofu registers it
  EXPECT_FALSE(d.snapshot);
}

TEST(DecodeSeed, OctoprintPrintDone) {
  const Decoded d = DecodeJsonFixture("seed/02-octoprint-print-done.json");
  ExpectEvent(d.event, {.device = "delta",
                        .topic = "Print Done",
                        .kind = Kind::kDone,
                        .time = 1722566717000,
                        .has_current_time = true,
                        .file = kCube,
                        .user = "mike",  // job.user: extra has no user
                        .message = "Your print is done.",
                        .reported_time_s = 1150.5227840360021,
                        .progress_pct = 100.0,
                        .print_time_s = 1150,
                        .print_time_left_s = 0,
                        .filament_mm = 1853.3127900000088,
                        .filament_cm3 = 4.457739663242711,
                        .estimated_s = 859.9312829893596,
                        .printing = false,
                        .paused = false});
  EXPECT_EQ(d.secret, "");
}

TEST(DecodeSeed, SdcardPrintStarted) {
  const Decoded d = DecodeJsonFixture("seed/03-sdcard-print-started.json");
  ExpectEvent(d.event, {.device = "delta",
                        .topic = "Print Started",
                        .kind = Kind::kStarted,
                        .time = 1722567131000,
                        .has_current_time = true,
                        .file = kShapeBox,
                        .message = "Your print has started."});
  EXPECT_EQ(d.secret, "");
}

TEST(DecodeSeed, SdcardPrintDone) {
  const Decoded d = DecodeJsonFixture("seed/04-sdcard-print-done.json");
  ExpectEvent(d.event, {.device = "delta",
                        .topic = "Print Done",
                        .kind = Kind::kDone,
                        .time = 1722567444000,
                        .has_current_time = true,
                        .file = kShapeBox,
                        .message = "Your print is done.",
                        .reported_time_s = 312.77999567898223});
}

TEST(DecodeSeed, PrinterPrintStopped) {
  const Decoded d = DecodeJsonFixture("seed/05-printer-print-stopped.json");
  ExpectEvent(d.event,
              {.device = "delta",
               .topic = "Print Failed",
               .kind = Kind::kFailed,
               .time = 1722728256000,
               .has_current_time = true,
               .file = kShapeBox,
               .message = "Something went wrong and your print has failed.",
               .reported_time_s = 287.36758312408347,
               .reason = "cancelled",
               .progress_pct = 34});
}

TEST(DecodeSeed, OctoprintPrintStoppedWithEightDotThreeName) {
  const Decoded d = DecodeJsonFixture("seed/06-octoprint-print-stopped.json");
  ExpectEvent(d.event,
              {.device = "delta",
               .topic = "Print Failed",
               .kind = Kind::kFailed,
               .time = 1722729695000,
               .has_current_time = true,
               .file = {.name = "shape~10.gco",
                        .path = "shape~10.gco",
                        .origin = "sdcard",
                        .size = 36162},
               .user = "mike",
               .message = "Something went wrong and your print has failed.",
               .reported_time_s = 268.68962830200326,
               .reason = "cancelled",
               .progress_pct = 32});
}

// ---------------------------------------------------------------------------
// plugin/: bodies built by the plugin's own code ("ender3-garage").

constexpr std::string_view kSecret = "3f9c1a7be2d44e0b";
constexpr TimeMs kPluginTime = 1718036225000;
const FileInfo kCalibrationCube{
    .name = "CE3PRO_calibration_cube.gcode",
    .path = "calibration/CE3PRO_calibration_cube.gcode",
    .display = "CE3PRO_calibration_cube.gcode",
    .origin = "local",
    .size = 1338274,
};
FileInfo CubeFromExtra() {  // extra has no display, job.file has nothing
  FileInfo f = kCalibrationCube;
  f.display.reset();
  return f;
}
const FileInfo kSdCube{.name = "ce3pro~1.gco",
                       .path = "ce3pro~1.gco",
                       .origin = "sdcard",
                       .size = 1338274};
constexpr double kCubeMm = 4123.48192;
constexpr double kCubeCm3 = 9.917952178411307;
constexpr double kCubeEstimate = 2712.534981623335;
const std::string kThermalRunaway =
    "Thermal Runaway, system stopped! Heater_ID: bed - Printer halted. kill() "
    "called!";

Event PrintStartedLocal() {
  return {.device = "ender3-garage",
          .topic = "Print Started",
          .kind = Kind::kStarted,
          .time = kPluginTime,
          .has_current_time = true,
          .file = kCalibrationCube,
          .user = "pi",
          .message = "Your print has started.",
          .progress_pct = 0.0,
          .print_time_s = 0,
          .filament_mm = kCubeMm,
          .filament_cm3 = kCubeCm3,
          .estimated_s = kCubeEstimate,
          .printing = true,
          .paused = false};
}

Event PrintStartedSdcard() {
  return {.device = "ender3-garage",
          .topic = "Print Started",
          .kind = Kind::kStarted,
          .time = kPluginTime,
          .has_current_time = true,
          .file = kSdCube,
          .user = "pi",
          .message = "Your print has started."};
}

Event PrintDone() {
  return {.device = "ender3-garage",
          .topic = "Print Done",
          .kind = Kind::kDone,
          .time = kPluginTime,
          .has_current_time = true,
          .file = kCalibrationCube,
          .user = "pi",  // job.user
          .message = "Your print is done.",
          .reported_time_s = 2847.3913402,
          .progress_pct = 100,
          .print_time_s = 2847,
          .print_time_left_s = 0,
          .filament_mm = kCubeMm,
          .filament_cm3 = kCubeCm3,
          .estimated_s = kCubeEstimate,
          .printing = false,
          .paused = false};
}

TEST(DecodePlugin, PrintStartedLocal) {
  const Decoded d = DecodeJsonFixture("plugin/01_print_started_local.json");
  ExpectEvent(d.event, PrintStartedLocal());
  EXPECT_EQ(d.secret, kSecret);
}

TEST(DecodePlugin, PrintStartedSdcardWithEmptyObjects) {
  const Decoded d = DecodeJsonFixture("plugin/02_print_started_sdcard.json");
  ExpectEvent(d.event, PrintStartedSdcard());
  EXPECT_EQ(d.secret, kSecret);
}

TEST(DecodePlugin, PrintPaused) {
  const Decoded d = DecodeJsonFixture("plugin/03_print_paused.json");
  ExpectEvent(d.event,
              {.device = "ender3-garage",
               .topic = "Print Paused",
               .kind = Kind::kPaused,
               .time = kPluginTime,
               .has_current_time = true,
               .file = kCalibrationCube,
               .user = "pi",
               .message = "Your print has paused. You might need to change "
                          "the filament color.",
               .progress_pct = 38,  // extra.progress wins over completion
               .print_time_s = 1043,
               .print_time_left_s = 1687,
               .filament_mm = kCubeMm,
               .filament_cm3 = kCubeCm3,
               .estimated_s = kCubeEstimate,
               .printing = false,
               .paused = true});
  EXPECT_EQ(d.secret, kSecret);
}

TEST(DecodePlugin, PrintFailedCancelled) {
  const Decoded d = DecodeJsonFixture("plugin/04_print_failed_cancelled.json");
  ExpectEvent(d.event,
              {.device = "ender3-garage",
               .topic = "Print Failed",
               .kind = Kind::kFailed,
               .time = kPluginTime,
               .has_current_time = true,
               .file = kCalibrationCube,
               .user = "pi",
               .message = "Something went wrong and your print has failed.",
               .reported_time_s = 1437.0731209,
               .reason = "cancelled",
               .progress_pct = 52,
               .filament_mm = kCubeMm,
               .filament_cm3 = kCubeCm3,
               .estimated_s = kCubeEstimate,
               .printing = false,
               .paused = false});
}

TEST(DecodePlugin, PrintFailedErrorScalesFractionalProgress) {
  const Decoded d = DecodeJsonFixture("plugin/05_print_failed_error.json");
  ExpectEvent(d.event,
              {.device = "ender3-garage",
               .topic = "Print Failed",
               .kind = Kind::kFailed,
               .time = kPluginTime,
               .has_current_time = true,
               .file = CubeFromExtra(),
               .user = "pi",  // extra.owner: no extra.user, job.user null
               .message = "Something went wrong and your print has failed.",
               .reported_time_s = 2210.5301876,
               .reason = "error",
               .progress_pct = 81.24170747,  // 0.8124170747 x 100
               .error = kThermalRunaway,
               .printing = false,
               .paused = false});
}

TEST(DecodePlugin, PrintDone) {
  const Decoded d = DecodeJsonFixture("plugin/06_print_done.json");
  ExpectEvent(d.event, PrintDone());
  EXPECT_EQ(d.secret, kSecret);
}

TEST(DecodePlugin, PrintProgressTakesFileFromJob) {
  const Decoded d = DecodeJsonFixture("plugin/07_print_progress_50.json");
  ExpectEvent(d.event, {.device = "ender3-garage",
                        .topic = "Print Progress",
                        .kind = Kind::kProgress,
                        .time = kPluginTime,
                        .has_current_time = true,
                        .file = kCalibrationCube,
                        .user = "pi",
                        .message = "Your print is 50 % complete.",
                        .progress_pct = 50.00216,
                        .print_time_s = 1398,
                        .print_time_left_s = 1342,
                        .filament_mm = kCubeMm,
                        .filament_cm3 = kCubeCm3,
                        .estimated_s = kCubeEstimate,
                        .printing = true,
                        .paused = false});
}

TEST(DecodePlugin, UserActionNeeded) {
  const Decoded d = DecodeJsonFixture("plugin/08_user_action_needed.json");
  ExpectEvent(d.event,
              {.device = "ender3-garage",
               .topic = "User Action Needed",
               .kind = Kind::kAttention,
               .time = kPluginTime,
               .has_current_time = true,
               .file = kCalibrationCube,
               .user = "pi",
               .message = "User action needed. You might need to change the "
                          "filament color.",
               .progress_pct = 61.4471,
               .print_time_s = 1722,
               .print_time_left_s = 1081,
               .filament_mm = kCubeMm,
               .filament_cm3 = kCubeCm3,
               .estimated_s = kCubeEstimate,
               .printing = true,
               .paused = false});
}

TEST(DecodePlugin, ErrorEvent) {
  const Decoded d = DecodeJsonFixture("plugin/09_error_event.json");
  ExpectEvent(d.event, {.device = "ender3-garage",
                        .topic = "Error",
                        .kind = Kind::kError,
                        .time = kPluginTime,
                        .has_current_time = true,
                        .message = "There was an error.",
                        .reason = "firmware",
                        .error = kThermalRunaway,
                        .printing = false,
                        .paused = false});
}

Event TestButton(std::string topic, Kind kind) {
  return {.device = "ender3-garage",
          .topic = std::move(topic),
          .kind = kind,
          .test = true,
          .time = kPluginTime,
          .has_current_time = true,
          .file = {.name = "example.gcode",
                   .path = "example.gcode",
                   .origin = "local",
                   .size = 242038},
          .user = "example_user",
          .reported_time_s = 50.237335886,
          .printing = false,
          .paused = false};
}

TEST(DecodePlugin, TestButtonPrintStarted) {
  const Decoded d = DecodeJsonFixture("plugin/10_test_print_started.json");
  Event e = TestButton("Print Started", Kind::kStarted);
  e.message = "Your print has started.";
  ExpectEvent(d.event, e);
}

TEST(DecodePlugin, TestButtonPrintProgress) {
  const Decoded d = DecodeJsonFixture("plugin/11_test_print_progress.json");
  Event e = TestButton("Print Progress", Kind::kProgress);
  e.message = "Your print is 50 % complete.";
  ExpectEvent(d.event, e);
}

TEST(DecodePlugin, CustomEventPrintResumed) {
  const Decoded d =
      DecodeJsonFixture("plugin/12_custom_event_print_resumed.json");
  ExpectEvent(d.event, {.device = "ender3-garage",
                        .topic = "Custom Event",
                        .kind = Kind::kResumed,
                        .time = kPluginTime,
                        .has_current_time = true,
                        .file = kCalibrationCube,
                        .user = "pi",
                        .message = "Print resumed",
                        .progress_pct = 38.32156,
                        .print_time_s = 1091,
                        .print_time_left_s = 1640,
                        .filament_mm = kCubeMm,
                        .filament_cm3 = kCubeCm3,
                        .estimated_s = kCubeEstimate,
                        .printing = true,
                        .paused = false});
}

TEST(DecodePlugin, CustomEventPrintCancelledIsOther) {
  const Decoded d =
      DecodeJsonFixture("plugin/13_custom_event_print_cancelled.json");
  ExpectEvent(d.event, {.device = "ender3-garage",
                        .topic = "Custom Event",
                        .kind = Kind::kOther,
                        .time = kPluginTime,
                        .has_current_time = true,
                        .file = kCalibrationCube,
                        .user = "pi",
                        .message = "Print cancelled",
                        .reported_time_s = 1437.0731209,
                        .reason = "cancelled",
                        .progress_pct = 52,
                        .filament_mm = kCubeMm,
                        .filament_cm3 = kCubeCm3,
                        .estimated_s = kCubeEstimate,
                        .printing = false,
                        .paused = false});
}

TEST(DecodePlugin, SimpleTemplateWithoutCurrentTime) {
  const Decoded d =
      DecodeJsonFixture("plugin/14_simple_template_print_done.json");
  ExpectEvent(d.event, {.device = "ender3-garage",
                        .topic = "Print Done",
                        .kind = Kind::kDone,
                        .time = kReceived,
                        .has_current_time = false,
                        .file = CubeFromExtra(),
                        .user = "pi",  // extra.owner
                        .message = "Your print is done.",
                        .reported_time_s = 2847.3913402});
  EXPECT_EQ(d.secret, kSecret);
}

TEST(DecodePlugin, FormUrlencodedPrintDone) {
  const Decoded d =
      DecodeHttpFixture("plugin/15_form_urlencoded_print_done.http");
  ExpectEvent(d.event, PrintDone());
  EXPECT_EQ(d.secret, kSecret);
}

TEST(DecodePlugin, FormUrlencodedPrintStartedSdcard) {
  const Decoded d =
      DecodeHttpFixture("plugin/16_form_urlencoded_print_started_sdcard.http");
  ExpectEvent(d.event, PrintStartedSdcard());
  EXPECT_EQ(d.secret, kSecret);
}

TEST(DecodePlugin, MultipartDefaultWithoutSnapshot) {
  const Decoded d = DecodeHttpFixture(
      "plugin/17_multipart_default_no_snapshot_print_started.http");
  ExpectEvent(d.event, PrintStartedLocal());
  EXPECT_EQ(d.secret, kSecret);
  EXPECT_FALSE(d.snapshot);
}

TEST(DecodePlugin, RawRequestsAreReadWhole) {
  const OwnedRequest form =
      ParseRawHttp(Fixture("plugin/15_form_urlencoded_print_done.http"));
  EXPECT_EQ(form.method, "POST");
  EXPECT_EQ(form.target, "/octoprint/webhook");
  EXPECT_EQ(form.content_type, "application/x-www-form-urlencoded");
  EXPECT_EQ(form.body.size(), 2594u);
  const OwnedRequest get =
      ParseRawHttp(Fixture("plugin/19_get_simple_print_done.http"));
  EXPECT_EQ(get.method, "GET");
  EXPECT_EQ(get.content_type, "application/json");
  EXPECT_EQ(get.body, "");
}

TEST(DecodePlugin, GetWithQueryStringLosesExtra) {
  const Decoded d = DecodeHttpFixture("plugin/19_get_simple_print_done.http");
  // extra=name&extra=path...: the keys without their values, so no file
  // fields, user or print time; no currentTime either.
  ExpectEvent(d.event, {.device = "ender3-garage",
                        .topic = "Print Done",
                        .kind = Kind::kDone,
                        .time = kReceived,
                        .has_current_time = false,
                        .message = "Your print is done."});
  EXPECT_EQ(d.secret, kSecret);
}

TEST(DecodePlugin, DotNotationTemplateIsNotATestEvent) {
  // The shipped template of the test button has no extra, so nothing marks
  // it as a test (ledger.md: extra.hook_index or extra.popup).
  const Decoded d =
      DecodeJsonFixture("plugin/20_dotnotation_template_test_print_done.json");
  ExpectEvent(d.event, {.device = "ender3-garage",
                        .topic = "Print Done",
                        .kind = Kind::kDone,
                        .test = false,
                        .time = kReceived,
                        .has_current_time = false,
                        .message = "None % complete - Your print is done."});
  EXPECT_EQ(d.secret, kSecret);
}

// ---------------------------------------------------------------------------
// The same body in every encoding decodes to the same event.

class EveryEncoding : public ::testing::TestWithParam<const char*> {};

TEST_P(EveryEncoding, DecodesLikeJson) {
  const std::string body = Fixture(GetParam());
  const Decoded json = MustDecode(AsJson(body));
  ASSERT_FALSE(json.event.device.empty());
  const std::pair<const char*, OwnedRequest> encodings[] = {
      {"multipart", AsMultipart(body, std::nullopt)},
      {"form", AsForm(body)},
      {"GET query", AsQuery(body, "GET")},
      {"PUT query", AsQuery(body, "PUT")},
      {"DELETE query", AsQuery(body, "DELETE")},
      {"POST query, empty body", AsQuery(body, "POST")},
  };
  for (const auto& [name, request] : encodings) {
    SCOPED_TRACE(name);
    const Decoded other = MustDecode(request);
    ExpectEvent(other.event, json.event);
    EXPECT_EQ(other.event, json.event);
    EXPECT_EQ(other.secret, json.secret);
    EXPECT_FALSE(other.snapshot);
  }
}

TEST_P(EveryEncoding, MultipartWithSnapshot) {
  const std::string body = Fixture(GetParam());
  std::string jpeg = "\xFF\xD8\xFF\xE0";
  jpeg += std::string("\0\x10JFIF\0\r\n--7ccfe79c\r\n", 21);  // near-boundary
  jpeg += "\xFF\xD9";
  const Decoded json = MustDecode(AsJson(body));
  const OwnedRequest multipart = AsMultipart(body, jpeg);
  const Decoded d = MustDecode(multipart);
  ASSERT_TRUE(d.snapshot);
  EXPECT_EQ(d.snapshot->content_type, "image/jpeg");
  EXPECT_EQ(d.snapshot->bytes, jpeg);
  // Where the picture sits in the body: the store cuts it out there.
  EXPECT_EQ(multipart.body.substr(d.snapshot->offset, jpeg.size()), jpeg);
  EXPECT_TRUE(d.event.snapshot);
  Event without = d.event;
  without.snapshot = false;
  EXPECT_EQ(without, json.event);
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, EveryEncoding,
    ::testing::Values("seed/01-octoprint-print-started.json",
                      "seed/02-octoprint-print-done.json",
                      "seed/03-sdcard-print-started.json",
                      "seed/04-sdcard-print-done.json",
                      "seed/05-printer-print-stopped.json",
                      "seed/06-octoprint-print-stopped.json",
                      "plugin/01_print_started_local.json",
                      "plugin/05_print_failed_error.json",
                      "plugin/10_test_print_started.json"));

// The plugin's own multipart and form bytes agree with its JSON body.
TEST(DecodePlugin, FormFixtureMatchesJsonFixture) {
  EXPECT_EQ(
      DecodeHttpFixture("plugin/15_form_urlencoded_print_done.http").event,
      DecodeJsonFixture("plugin/06_print_done.json").event);
  EXPECT_EQ(DecodeHttpFixture(
                "plugin/17_multipart_default_no_snapshot_print_started.http")
                .event,
            DecodeJsonFixture("plugin/01_print_started_local.json").event);
}

}  // namespace
}  // namespace pm

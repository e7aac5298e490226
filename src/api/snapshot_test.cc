// GET /api/v1/events/{id}/snapshot, /api/v1/sessions/{id}/snapshot and the
// opening of /api/v1/stream, over a real SQLite store.
#include "api/snapshot.h"

#include <gtest/gtest.h>

#include "api/api_testing.h"

namespace pm {
namespace {

using testing::ApiFixture;
using testing::Ingester;
using testing::kAug1;
using testing::MakeEvent;

std::string HeaderValue(const ApiResponse& r, const std::string& name) {
  for (const auto& [key, value] : r.headers) {
    if (key == name) return value;
  }
  return "";
}

// Bytes that are not UTF-8, as a JPEG's are.
const std::string kJpeg1("\xff\xd8\xff\xe0\x00\x10JFIF\x00first\xff\xd9", 18);
const std::string kJpeg2("\xff\xd8\xff\xe0\x00\x10JFIF\x00later\xff\xd9", 18);

// delta: a print with a picture at its start, a progress without one, and a
// newer picture at 50 %; then a second print without any.
struct SnapshotFixture : ::testing::Test {
  void SetUp() override {
    Ingester in(*f.store);
    TimeMs t = kAug1 + kDayMs;
    first_ = in.IngestWithSnapshot(MakeEvent("delta", Kind::kStarted, t),
                                   {"image/jpeg", kJpeg1});
    in.Ingest(MakeEvent("delta", Kind::kProgress, t + 10 * kMinuteMs));
    later_ = in.IngestWithSnapshot(
        MakeEvent("delta", Kind::kProgress, t + 20 * kMinuteMs),
        {"IMAGE/JPEG; q=1", kJpeg2});
    in.Ingest(MakeEvent("delta", Kind::kDone, t + 30 * kMinuteMs));
    plain_ = in.Ingest(MakeEvent("delta", Kind::kStarted, t + kHourMs));
    in.IngestWithSnapshot(MakeEvent("ender", Kind::kStarted, t),
                          {"text/html", "<script>alert(1)</script>"});
  }
  int64_t SessionOf(int64_t event) {
    auto e = ApiFixture::Json(f.Get("/api/v1/events?limit=100"));
    for (const auto& v : e.at("events").as_array()) {
      if (v.at("id").as_int64() == event) return v.at("session").as_int64();
    }
    ADD_FAILURE() << "event " << event << " not listed";
    return 0;
  }

  ApiFixture f;
  int64_t first_ = 0, later_ = 0, plain_ = 0;
};

TEST_F(SnapshotFixture, EventSnapshotIsThePictureWithItsType) {
  auto r = f.Get("/api/v1/events/" + std::to_string(first_) + "/snapshot");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "image/jpeg");
  EXPECT_EQ(r.body, kJpeg1);
  EXPECT_EQ(HeaderValue(r, "X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(HeaderValue(r, "Content-Security-Policy"), "default-src 'none'");
  // Parameters and case do not leak into the answer.
  auto later = f.Get("/api/v1/events/" + std::to_string(later_) + "/snapshot");
  ASSERT_EQ(later.status, 200);
  EXPECT_EQ(later.content_type, "image/jpeg");
}

TEST_F(SnapshotFixture, SessionSnapshotIsItsLatestPicture) {
  int64_t session = SessionOf(first_);
  auto r = f.Get("/api/v1/sessions/" + std::to_string(session) + "/snapshot");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, kJpeg2);
  EXPECT_EQ(HeaderValue(r, "X-Printmeter-Event"), std::to_string(later_));
  EXPECT_EQ(HeaderValue(r, "Cache-Control"), "no-cache");
}

TEST_F(SnapshotFixture, NoPictureIsNotFoundInWords) {
  auto none = f.Get("/api/v1/events/" + std::to_string(plain_) + "/snapshot");
  EXPECT_EQ(none.status, 404);
  EXPECT_NE(none.body.find("has no snapshot"), std::string::npos) << none.body;
  int64_t session = SessionOf(plain_);
  auto s = f.Get("/api/v1/sessions/" + std::to_string(session) + "/snapshot");
  EXPECT_EQ(s.status, 404);
  EXPECT_NE(s.body.find("no snapshot"), std::string::npos) << s.body;
  EXPECT_EQ(f.Get("/api/v1/sessions/9999/snapshot").status, 404);
  EXPECT_EQ(f.Get("/api/v1/events/9999/snapshot").status, 404);
  auto bad = f.Get("/api/v1/events/abc/snapshot");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("positive whole number"), std::string::npos);
}

TEST_F(SnapshotFixture, StoredTypeThatIsNoImageIsNeverServedAsAPage) {
  auto events = ApiFixture::Json(f.Get("/api/v1/events?device=ender"));
  int64_t id = events.at("events").as_array().at(0).at("id").as_int64();
  auto r = f.Get("/api/v1/events/" + std::to_string(id) + "/snapshot");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/octet-stream");
  EXPECT_EQ(SnapshotContentType("image/png"), "image/png");
  EXPECT_EQ(SnapshotContentType("image/svg+xml"), "application/octet-stream");
}

TEST(SnapshotAuthTest, ReadTokenGuardsPicturesAndTheStream) {
  ApiOptions o;
  o.read_token = "r34d";
  ApiFixture f(o);
  EXPECT_EQ(f.Get("/api/v1/events/1/snapshot", "", false).status, 401);
  EXPECT_EQ(f.Get("/api/v1/sessions/1/snapshot", "wrong", false).status, 401);
  EXPECT_EQ(f.Get("/api/v1/events/1/snapshot", "r34d", false).status, 404);
  EXPECT_EQ(f.Get("/api/v1/stream", "", false).status, 401);
  auto stream = f.Get("/api/v1/stream", "r34d", false);
  EXPECT_EQ(stream.status, 200);
  EXPECT_EQ(stream.content_type, kEventStreamType);
  EXPECT_NE(stream.body.find("event: hello"), std::string::npos);
  EXPECT_NE(stream.body.find("retry: "), std::string::npos);
}

}  // namespace
}  // namespace pm

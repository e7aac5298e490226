// Pictures stored apart from the request log, and the retention rule that
// keeps the disk bounded (README "Pictures"), end to end: posted as the
// plugin posts them, served by the API, rebuilt from the log.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "decode/test_request.h"
#include "http/test_client.h"
#include "http/test_harness.h"
#include "ingest/rebuild.h"

namespace pm {
namespace {

using testing::AllEvents;
using testing::AllSessions;
using testing::Harness;
using testing::TempDir;
using testing::AsMultipart;
using testing::OwnedRequest;

// One print of the printer "cam" with a picture on every event: started,
// five progress events, done; then an event while idle.
struct Posted {
  std::vector<int64_t> ids;           // in order
  std::vector<std::string> pictures;  // the bytes each carried
};

std::string Picture(int i) {
  // A JPEG's markers around bytes a multipart body must carry as they are.
  return fmt::format("\xff\xd8\xff\xe0{}\r\n--not-the-boundary\r\n", i) +
         std::string("\0\x01", 2) + "\xff\xd9";
}

Posted PostAPrint(Harness& h, bool settle_each) {
  static constexpr const char* kTopics[] = {
      "Print Started",  "Print Progress", "Print Progress", "Print Progress",
      "Print Progress", "Print Progress", "Print Done",     "Connected"};
  TestClient c(h.port());
  Posted posted;
  int64_t t = 1'722'640'000;
  for (int i = 0; i < 8; ++i) {
    std::string json = fmt::format(
        R"({{"deviceIdentifier":"cam","topic":"{}","extra":{{"name":"a.gcode",)"
        R"("path":"a.gcode","progress":{}}},"currentTime":{}}})",
        kTopics[i], i * 15, t + i * 600);
    posted.pictures.push_back(Picture(i));
    OwnedRequest r = AsMultipart(json, posted.pictures.back());
    auto reply = c.Send("POST", "/webhook", r.content_type, r.body);
    EXPECT_TRUE(reply.ok());
    if (!reply.ok()) return posted;
    EXPECT_EQ(reply->status, 200) << reply->body;
    auto at = reply->body.find("\"event\":");
    posted.ids.push_back(std::stoll(reply->body.substr(at + 8)));
    if (settle_each) h.Settle();
  }
  h.Settle();
  return posted;
}

HttpReply Get(Harness& h, const std::string& target) {
  TestClient c(h.port());
  auto reply = c.Send("GET", target, "", "");
  EXPECT_TRUE(reply.ok());
  return reply.ok() ? *reply : HttpReply{};
}

std::string EventPicture(int64_t id) {
  return fmt::format("/api/v1/events/{}/snapshot", id);
}

IngestOptions Keeping(PictureRetention rule) {
  IngestOptions options;
  options.pictures = rule;
  return options;
}

TEST(PicturesTest, APictureIsStoredOnceApartFromItsRequest) {
  TempDir dir;
  Harness h(dir.path());
  h.Start(Keeping(PictureRetention::kAll), {}, /*with_api=*/true);
  Posted posted = PostAPrint(h, /*settle_each=*/false);
  auto events = AllEvents(*h.store);
  ASSERT_EQ(events.size(), posted.ids.size());
  for (size_t i = 0; i < events.size(); ++i) {
    const StoredRequest& stored = *events[i].request;
    EXPECT_EQ(stored.body.find(posted.pictures[i]), std::string::npos);
    ASSERT_TRUE(stored.picture.has_value());
    EXPECT_EQ(stored.picture->size,
              static_cast<int64_t>(posted.pictures[i].size()));
    EXPECT_EQ(stored.picture->content_type, "image/jpeg");
    EXPECT_TRUE(events[i].event.snapshot);
    // The event snapshot endpoint answers the exact bytes and their type.
    HttpReply r = Get(h, EventPicture(posted.ids[i]));
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.headers["content-type"], "image/jpeg");
    EXPECT_EQ(r.body, posted.pictures[i]);
  }
}

// Under the default rule a print keeps its first and last picture, and the
// printer its latest; the others answer 404 saying they were not kept.
void ExpectPrintsRule(bool settle_each) {
  TempDir dir;
  Harness h(dir.path());
  h.Start(IngestOptions{}, {}, /*with_api=*/true);
  Posted posted = PostAPrint(h, settle_each);
  ASSERT_EQ(posted.ids.size(), 8u);
  for (size_t i = 0; i < posted.ids.size(); ++i) {
    HttpReply r = Get(h, EventPicture(posted.ids[i]));
    bool kept = i == 0 || i == 6 || i == 7;  // first, last, the latest
    if (kept) {
      EXPECT_EQ(r.status, 200) << i << ": " << r.body;
      EXPECT_EQ(r.body, posted.pictures[i]) << i;
    } else {
      EXPECT_EQ(r.status, 404) << i;
      EXPECT_NE(r.body.find("not kept under the retention rule"),
                std::string::npos)
          << r.body;
    }
  }
  auto sessions = AllSessions(*h.store);
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_TRUE(sessions[0].snapshot);
  HttpReply latest =
      Get(h, fmt::format("/api/v1/sessions/{}/snapshot", sessions[0].id));
  EXPECT_EQ(latest.status, 200);
  EXPECT_EQ(latest.body, posted.pictures[6]);
}

TEST(PicturesTest, APrintKeepsItsFirstAndLastAndThePrinterItsLatest) {
  ExpectPrintsRule(/*settle_each=*/true);
}

TEST(PicturesTest, TheRuleIsTheSameWhenOneStepFoldsTheWholePrint) {
  ExpectPrintsRule(/*settle_each=*/false);
}

TEST(PicturesTest, AllKeepsEveryPictureAndNoneKeepsNone) {
  for (PictureRetention rule : {PictureRetention::kAll, PictureRetention::kNone}) {
    TempDir dir;
    Harness h(dir.path());
    h.Start(Keeping(rule), {}, /*with_api=*/true);
    Posted posted = PostAPrint(h, /*settle_each=*/true);
    for (size_t i = 0; i < posted.ids.size(); ++i) {
      HttpReply r = Get(h, EventPicture(posted.ids[i]));
      EXPECT_EQ(r.status, rule == PictureRetention::kAll ? 200 : 404)
          << PictureRetentionName(rule) << " " << i;
    }
    auto sessions = AllSessions(*h.store);
    ASSERT_EQ(sessions.size(), 1u);
    EXPECT_TRUE(sessions[0].snapshot);  // the log says a picture came
  }
}

// The log says what every picture was: `rebuild` after the rule let most
// of them go gives the same ledger, snapshot flags included.
TEST(PicturesTest, RebuildAfterRetentionGivesTheSameLedger) {
  TempDir dir;
  Harness h(dir.path());
  h.Start(Keeping(PictureRetention::kNone));
  Posted posted = PostAPrint(h, /*settle_each=*/true);
  auto live = AllSessions(*h.store);
  auto live_events = AllEvents(*h.store);
  auto live_links = testing::EventSessions(*h.store);
  h.Stop();

  auto store = testing::MustOpen(h.db);
  auto stats = Rebuild(*store, LedgerConfig{}, DecodeLimits{}, nullptr);
  ASSERT_TRUE(stats.ok()) << stats.error().message;
  EXPECT_EQ(stats->redecoded_differently, 0);
  EXPECT_EQ(stats->undecodable, 0);
  EXPECT_EQ(AllSessions(*store), live);
  ASSERT_FALSE(live.empty());
  EXPECT_TRUE(live[0].snapshot);
  auto events = AllEvents(*store);
  ASSERT_EQ(events.size(), live_events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].event, live_events[i].event);
    EXPECT_TRUE(events[i].event.snapshot);
  }
  EXPECT_EQ(testing::EventSessions(*store), live_links);
}

}  // namespace
}  // namespace pm

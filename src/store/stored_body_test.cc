// Request bodies compressed in the SQLite log (stored_body.h): what is
// stored, that every way the log is read gives the body as received, the
// stock sqlite3 shell's reading, and a damaged body.
#include "store/stored_body.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "store/store_test_util.h"
#include "store/write_batch.h"

namespace pm {
namespace {

using ::testing::HasSubstr;
using testing::MustOpen;
using testing::TempDir;

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::filesystem::path> SeedFixtures() {
  std::vector<std::filesystem::path> out;
  for (const auto& entry : std::filesystem::directory_iterator(
           std::filesystem::path(PM_FIXTURES_DIR) / "seed")) {
    if (entry.path().extension() == ".json") out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

TEST(StoredBodyTest, EveryFixtureReadsBackAsReceived) {
  std::vector<std::filesystem::path> fixtures = SeedFixtures();
  ASSERT_GE(fixtures.size(), 6u);
  for (const auto& path : fixtures) {
    std::string body = ReadFile(path);
    CompressedBody stored = CompressBody(body);
    EXPECT_EQ(stored.size, static_cast<int64_t>(body.size())) << path;
    Result<std::string> back = UncompressBody(stored.bytes, stored.size);
    ASSERT_TRUE(back.ok()) << path << ": " << back.error().message;
    EXPECT_EQ(*back, body) << path;
  }
}

TEST(StoredBodyTest, AWebhookIsStoredInUnderHalfItsSize) {
  std::string body =
      ReadFile(std::filesystem::path(PM_FIXTURES_DIR) / "seed" /
               "01-octoprint-print-started.json");
  ASSERT_GT(body.size(), 2000u);
  CompressedBody stored = CompressBody(body);
  EXPECT_LT(stored.bytes.size(), body.size() / 2);
}

TEST(StoredBodyTest, WhatCompressionWouldNotShortenIsKeptAsReceived) {
  for (const std::string& body :
       {std::string(), std::string("{\"topic\":\"Print Started\"}"),
        std::string(255, 'a'), RandomBytes(4096, 1)}) {
    CompressedBody stored = CompressBody(body);
    EXPECT_EQ(stored.bytes, body);
    EXPECT_EQ(stored.size, static_cast<int64_t>(body.size()));
    Result<std::string> back = UncompressBody(stored.bytes, stored.size);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, body);
  }
  // A long run is shortened; 256 bytes is where it starts.
  EXPECT_LT(CompressBody(std::string(256, 'a')).bytes.size(), 256u);
}

TEST(StoredBodyTest, ARowFromBeforeCompressionIsReadAsIs) {
  Result<std::string> back = UncompressBody("as received", std::nullopt);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, "as received");
}

TEST(StoredBodyTest, ADamagedBodyIsAnErrorNotGarbage) {
  std::string body(3000, 'x');
  body += RandomBytes(200, 2);
  CompressedBody stored = CompressBody(body);
  ASSERT_LT(stored.bytes.size(), body.size());

  std::string flipped = stored.bytes;
  flipped[flipped.size() / 2] ^= 0x5a;
  Result<std::string> bad = UncompressBody(flipped, stored.size);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kInternal);
  EXPECT_THAT(bad.error().message, HasSubstr("damaged"));

  // The size it claims is not what the data holds.
  EXPECT_FALSE(UncompressBody(stored.bytes, stored.size + 1).ok());
  EXPECT_FALSE(UncompressBody(stored.bytes, stored.size - 1).ok());
  EXPECT_FALSE(UncompressBody(stored.bytes, -5).ok());
  EXPECT_FALSE(UncompressBody("not zlib at all", 100).ok());
}

// --- In the SQLite store

// One value of `sql`, run on the file as another program would.
std::string RawText(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK)
      << sqlite3_errmsg(db);
  std::string v;
  if (sqlite3_step(stmt) == SQLITE_ROW) {
    const void* p = sqlite3_column_blob(stmt, 0);
    v.assign(static_cast<const char*>(p), sqlite3_column_bytes(stmt, 0));
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return v;
}

class StoredBodyStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    body_ = ReadFile(std::filesystem::path(PM_FIXTURES_DIR) / "seed" /
                     "01-octoprint-print-started.json");
    store_ = MustOpen(path_);
    ASSERT_NE(store_, nullptr);
    WriteBatch batch;
    EventRecord r = testing::Record(
        testing::BareEvent(1, "delta", Kind::kStarted, 1000));
    r.request->body = body_;
    batch.events.push_back(r);
    batch.events.push_back(testing::Record(
        testing::BareEvent(2, "delta", Kind::kDone, 2000)));
    ASSERT_TRUE(CommitBatch(*store_, batch).ok());
  }

  TempDir dir_;
  std::string path_ = dir_.File("bodies.db");
  std::string body_;
  std::unique_ptr<Store> store_;
};

TEST_F(StoredBodyStoreTest, TheLogHoldsTheWebhookCompressedWithItsSize) {
  EXPECT_EQ(RawText(path_, "SELECT body_size FROM events WHERE id = 1"),
            std::to_string(body_.size()));
  EXPECT_LT(RawText(path_, "SELECT body FROM events WHERE id = 1").size(),
            body_.size() / 2);
  // A short one is stored as received.
  EXPECT_EQ(RawText(path_, "SELECT body FROM events WHERE id = 2"),
            "{\"topic\":\"x\"}");
}

TEST_F(StoredBodyStoreTest, EveryReadOfTheLogGivesTheBodyAsReceived) {
  std::vector<std::string> replayed;
  ASSERT_TRUE(store_
                  ->ForEachEvent([&](const EventRecord& r) -> Status {
                    replayed.push_back(r.request->body);
                    return {};
                  })
                  .ok());
  EXPECT_THAT(replayed, ::testing::ElementsAre(body_, "{\"topic\":\"x\"}"));

  Result<std::vector<EventRecord>> forwarded = store_->ReadRequests(0, 10);
  ASSERT_TRUE(forwarded.ok()) << forwarded.error().message;
  ASSERT_EQ(forwarded->size(), 2u);
  EXPECT_EQ((*forwarded)[0].request->body, body_);

  Result<std::vector<EventView>> listed = store_->ListEvents({});
  ASSERT_TRUE(listed.ok()) << listed.error().message;
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[1].event.id, 1);
  EXPECT_EQ((*listed)[1].body, body_);
}

// The stock sqlite3 shell reads a stored request without printmeter
// (stored_body.h): sqlite3 is installed with the test packages.
TEST_F(StoredBodyStoreTest, TheSqlite3ShellReadsItWithSqlarUncompress) {
  store_.reset();
  std::string out_path = dir_.File("body.out");
  std::string command = fmt::format(
      "sqlite3 '{}' \"SELECT writefile('{}', sqlar_uncompress(body, "
      "body_size)) FROM events WHERE id = 1\" > /dev/null",
      path_, out_path);
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  EXPECT_EQ(ReadFile(out_path), body_);
}

TEST_F(StoredBodyStoreTest, ADamagedBodyIsReportedAndTheRestStillReads) {
  store_.reset();
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    // The compressed bytes cut in half.
    ASSERT_EQ(sqlite3_exec(db,
                           "UPDATE events SET body = CAST(substr(body, 1, "
                           "length(body) / 2) AS BLOB) WHERE id = 1",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  store_ = MustOpen(path_);
  ASSERT_NE(store_, nullptr);
  Result<std::vector<EventView>> listed = store_->ListEvents({});
  ASSERT_FALSE(listed.ok());
  EXPECT_THAT(listed.error().message, HasSubstr("damaged"));
  EventPageQuery newest;
  newest.limit = 1;
  Result<std::vector<EventView>> one = store_->ListEvents(newest);
  ASSERT_TRUE(one.ok()) << one.error().message;
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].body, "{\"topic\":\"x\"}");
  Status replay = store_->ForEachEvent(
      [](const EventRecord&) -> Status { return {}; });
  EXPECT_FALSE(replay.ok());
}

// The body compressed beforehand on the submitter's thread (LogStore::
// Prepare, as the ingest writer does) is stored as the append would have
// made it, and a body changed afterwards is not stored from what was made
// of it before.
TEST_F(StoredBodyStoreTest, ABodyPreparedBeforehandIsStoredAsTheAppendMakesIt) {
  WriteBatch batch;
  EventRecord prepared = testing::Record(
      testing::BareEvent(3, "delta", Kind::kStarted, 3000));
  prepared.request->body = body_;
  store_->Prepare(*prepared.request);
  ASSERT_TRUE(prepared.request->compressed.has_value());
  EXPECT_EQ(prepared.request->compressed->size,
            static_cast<int64_t>(body_.size()));
  batch.events.push_back(prepared);

  // A picture set apart after Prepare: what was made of the whole body is
  // dropped with it.
  EventRecord changed = testing::Record(
      testing::BareEvent(4, "delta", Kind::kProgress, 4000));
  const std::string picture(700, 'J');
  changed.request->body = body_ + picture;
  store_->Prepare(*changed.request);
  Snapshot snapshot;
  snapshot.offset = body_.size();
  snapshot.bytes = picture;
  snapshot.content_type = "image/jpeg";
  SetPictureApart(*changed.request, snapshot);
  EXPECT_FALSE(changed.request->compressed.has_value());
  batch.events.push_back(changed);
  ASSERT_TRUE(CommitBatch(*store_, batch).ok());

  // Byte for byte what the append made of the same body itself (event 1).
  EXPECT_EQ(RawText(path_, "SELECT body FROM events WHERE id = 3"),
            RawText(path_, "SELECT body FROM events WHERE id = 1"));
  EXPECT_EQ(RawText(path_, "SELECT body_size FROM events WHERE id = 4"),
            std::to_string(body_.size()));
  std::map<int64_t, std::string> bodies;
  ASSERT_TRUE(store_
                  ->ForEachEvent([&](const EventRecord& r) -> Status {
                    bodies[r.event.id] = r.request->body;
                    return {};
                  })
                  .ok());
  EXPECT_EQ(bodies[3], body_);
  EXPECT_EQ(bodies[4], body_);
}

}  // namespace
}  // namespace pm

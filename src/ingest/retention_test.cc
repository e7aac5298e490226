#include "ingest/retention.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace pm {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

KeptPicture In(int64_t session, int64_t id, TimeMs time) {
  return {id, session, {time, id}};
}
KeptPicture Idle(int64_t id, TimeMs time) { return {id, std::nullopt, {time, id}}; }

TEST(RetentionTest, PrintsKeepsEachSessionsEndsAndTheLatest) {
  std::vector<KeptPicture> pictures = {In(1, 1, 10), In(1, 2, 20), In(1, 3, 30),
                                       In(1, 4, 40), Idle(5, 50), Idle(6, 60)};
  EXPECT_THAT(PicturesToDrop(PictureRetention::kPrints, pictures),
              ElementsAre(2, 3, 5));
}

// First and last go by (time, id), the latest by id: a late picture that
// belongs at the start of a print becomes its first.
TEST(RetentionTest, FirstAndLastGoByTimeTheLatestById) {
  std::vector<KeptPicture> pictures = {In(1, 1, 10), In(1, 2, 20), In(1, 3, 30),
                                       In(1, 4, 5)};
  EXPECT_THAT(PicturesToDrop(PictureRetention::kPrints, pictures),
              ElementsAre(1, 2));
}

TEST(RetentionTest, AllKeepsEveryPictureNoneNone) {
  std::vector<KeptPicture> pictures = {In(1, 1, 10), In(1, 2, 20), Idle(3, 30)};
  EXPECT_THAT(PicturesToDrop(PictureRetention::kAll, pictures), IsEmpty());
  EXPECT_THAT(PicturesToDrop(PictureRetention::kNone, pictures),
              ElementsAre(1, 2, 3));
}

TEST(RetentionTest, NamesRoundTrip) {
  for (auto rule : {PictureRetention::kPrints, PictureRetention::kAll,
                    PictureRetention::kNone}) {
    EXPECT_EQ(PictureRetentionFromName(PictureRetentionName(rule)), rule);
  }
  EXPECT_EQ(PictureRetentionFromName("first-last"), std::nullopt);
}

}  // namespace
}  // namespace pm

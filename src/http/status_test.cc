#include "http/status.h"

#include <gtest/gtest.h>

#include <iterator>

namespace pm {
namespace {

constexpr int kCodes = static_cast<int>(ErrorCode::kInternal) + 1;

TEST(HttpStatusTest, EveryErrorCodeHasExactlyOneRow) {
  for (int i = 0; i < kCodes; ++i) {
    auto code = static_cast<ErrorCode>(i);
    int rows = 0;
    for (const HttpStatusRow& row : kHttpStatuses) rows += row.code == code;
    EXPECT_EQ(rows, 1) << "ErrorCode " << i;
  }
  EXPECT_EQ(std::size(kHttpStatuses), static_cast<size_t>(kCodes))
      << "a row for a code past kInternal, the last one";
}

TEST(HttpStatusTest, LooksUpTheRow) {
  EXPECT_EQ(HttpStatus(ErrorCode::kInvalid), 400);
  EXPECT_EQ(HttpStatus(ErrorCode::kTooManyRequests), 429);
  EXPECT_EQ(HttpStatus(ErrorCode::kUnavailable), 503);
  EXPECT_EQ(HttpStatus(ErrorCode::kInternal), 500);
}

}  // namespace
}  // namespace pm

// libpq loaded on demand (libpq.h): what a machine without it, or with a
// library of that name that is not libpq, is told; and the real one found.
#include "store/libpq.h"

#include <gtest/gtest.h>

namespace pm::pg {
namespace {

TEST(LibPqTest, AMissingLibraryNamesThePackageToInstall) {
  auto functions = OpenLibPq("libprintmeter-no-such-libpq.so.5");
  ASSERT_FALSE(functions.ok());
  EXPECT_EQ(functions.error().code, ErrorCode::kNotFound);
  EXPECT_NE(functions.error().message.find("apt install libpq5"),
            std::string::npos)
      << functions.error().message;
  EXPECT_NE(functions.error().message.find("libprintmeter-no-such-libpq.so.5"),
            std::string::npos)
      << functions.error().message;
}

TEST(LibPqTest, ALibraryWithoutLibpqsFunctionsIsRefusedByName) {
  auto functions = OpenLibPq("libc.so.6");  // loads, but is not libpq
  ASSERT_FALSE(functions.ok());
  EXPECT_EQ(functions.error().code, ErrorCode::kNotFound);
  EXPECT_NE(functions.error().message.find("has no PQclear"),
            std::string::npos)
      << functions.error().message;
}

TEST(LibPqTest, DebiansLibpqHasEveryFunction) {
  auto functions = OpenLibPq(kLibPqFile);
  ASSERT_TRUE(functions.ok()) << functions.error().message;
#define PM_EXPECT_FOUND(name) EXPECT_NE(functions->name, nullptr) << #name;
  PM_LIBPQ_FUNCTIONS(PM_EXPECT_FOUND)
#undef PM_EXPECT_FOUND
  ASSERT_TRUE(LoadLibPq().ok());
  EXPECT_NE(LibPq().PQconnectdb, nullptr);
}

}  // namespace
}  // namespace pm::pg

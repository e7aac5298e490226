#include "http/static_files.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace pm {
namespace {

namespace fs = std::filesystem;

// A built dashboard in a fresh temporary directory, with a secret file beside
// it that no request may reach.
class StaticFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = fs::temp_directory_path() /
            ("pm_static_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(base_);
    root_ = base_ / "dist";
    fs::create_directories(root_ / "assets");
    Write(root_ / "index.html", "<!doctype html><title>printmeter</title>");
    Write(root_ / "assets" / "index-Bx9_a-2Q.js", "console.log(1)");
    Write(root_ / "assets" / "index-C1d2.css", "body{}");
    Write(root_ / "favicon.svg", "<svg/>");
    Write(root_ / "notes.exe", "MZ");
    Write(root_ / ".env", "token=1");
    Write(base_ / "secret.json", "{\"read_token\":\"s3cret\"}");
  }
  void TearDown() override { fs::remove_all(base_); }

  static void Write(const fs::path& p, const std::string& text) {
    std::ofstream(p, std::ios::binary) << text;
  }
  Result<StaticFile> Get(std::string_view target) {
    return LookupStatic(root_.string(), target);
  }

  fs::path base_;
  fs::path root_;
};

TEST_F(StaticFilesTest, RootServesIndexWithoutCaching) {
  auto f = Get("/");
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ(f->body, "<!doctype html><title>printmeter</title>");
  EXPECT_EQ(f->content_type, "text/html; charset=utf-8");
  EXPECT_EQ(HeaderOf(*f, "Cache-Control"), "no-cache");
  EXPECT_EQ(HeaderOf(*f, "X-Content-Type-Options"), "nosniff");
  EXPECT_NE(HeaderOf(*f, "Content-Security-Policy").find("default-src 'self'"),
            std::string_view::npos);

  auto named = Get("/index.html?v=2");
  ASSERT_TRUE(named.ok());
  EXPECT_EQ(named->body, f->body);
}

TEST_F(StaticFilesTest, QueryStringIsIgnored) {
  auto f = Get("/?token=x&y=%2e%2e");
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ(f->content_type, "text/html; charset=utf-8");
}

TEST_F(StaticFilesTest, HashedAssetsAreImmutable) {
  auto js = Get("/assets/index-Bx9_a-2Q.js");
  ASSERT_TRUE(js.ok()) << js.error().message;
  EXPECT_EQ(js->body, "console.log(1)");
  EXPECT_EQ(js->content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(HeaderOf(*js, "Cache-Control"),
            "public, max-age=31536000, immutable");
  EXPECT_EQ(HeaderOf(*js, "Content-Security-Policy"), "");

  auto css = Get("/assets/index-C1d2.css");
  ASSERT_TRUE(css.ok());
  EXPECT_EQ(css->content_type, "text/css; charset=utf-8");
}

TEST_F(StaticFilesTest, RootFilesOutsideAssetsAreRevalidated) {
  auto svg = Get("/favicon.svg");
  ASSERT_TRUE(svg.ok());
  EXPECT_EQ(svg->content_type, "image/svg+xml");
  EXPECT_EQ(HeaderOf(*svg, "Cache-Control"), "no-cache");
}

TEST_F(StaticFilesTest, MissingFileIsNotFound) {
  auto f = Get("/assets/nope.js");
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().code, ErrorCode::kNotFound);
  EXPECT_NE(f.error().message.find("/assets/nope.js"), std::string::npos);
}

TEST_F(StaticFilesTest, TraversalAndOddPathsAreRefused) {
  const char* attempts[] = {
      "/../secret.json",
      "/assets/../../secret.json",
      "/%2e%2e/secret.json",
      "/%2E%2E/secret.json",
      "/..%2fsecret.json",
      "/assets/..\\..\\secret.json",
      "/assets\\..\\..\\secret.json",
      "//secret.json",
      "/assets//index-C1d2.css",
      "/.env",
      "/assets/./index-C1d2.css",
      "",
      "secret.json",
      "/index.html%00.js",
  };
  for (const char* target : attempts) {
    auto f = Get(target);
    ASSERT_FALSE(f.ok()) << "served " << target;
    EXPECT_EQ(f.error().code, ErrorCode::kNotFound) << target;
  }
  std::string with_nul("/index.html\0.js", 15);
  EXPECT_FALSE(Get(with_nul).ok());
}

TEST_F(StaticFilesTest, SymlinkOutOfTheRootIsRefused) {
  fs::create_symlink(base_ / "secret.json", root_ / "assets" / "leak.json");
  auto f = Get("/assets/leak.json");
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().code, ErrorCode::kNotFound);
}

TEST_F(StaticFilesTest, UnknownTypesAndDirectoriesAreRefused) {
  EXPECT_FALSE(Get("/notes.exe").ok());
  EXPECT_FALSE(Get("/assets").ok());
  EXPECT_FALSE(Get("/assets/").ok());
}

TEST_F(StaticFilesTest, MissingBuildSaysHowToBuild) {
  fs::remove(root_ / "index.html");
  auto f = Get("/");
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().code, ErrorCode::kNotFound);
  EXPECT_NE(f.error().message.find("not built"), std::string::npos);
  EXPECT_NE(f.error().message.find("make web"), std::string::npos);

  auto absent = LookupStatic((base_ / "nowhere").string(), "/");
  ASSERT_FALSE(absent.ok());
  EXPECT_NE(absent.error().message.find("not built"), std::string::npos);
}

TEST(StaticContentTypeTest, KnownAndUnknownExtensions) {
  EXPECT_EQ(StaticContentType("a.woff2"), "font/woff2");
  EXPECT_EQ(StaticContentType("a.png"), "image/png");
  EXPECT_EQ(StaticContentType("a.ico"), "image/x-icon");
  EXPECT_EQ(StaticContentType("manifest.json"), "application/json");
  EXPECT_EQ(StaticContentType("a.exe"), "");
  EXPECT_EQ(StaticContentType("html"), "");
}

}  // namespace
}  // namespace pm

// The dashboard served from memory: the table cmake/EmbedFiles.cmake
// generated from testdata/dashboard at build time, and ServeEmbedded over it.
#include "http/embedded_files.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

namespace pm {

std::span<const EmbeddedFile> EmbeddedTestDashboard();

namespace {

std::string ReadTestdata(const std::string& relative) {
  std::ifstream in(
      std::string(PM_SOURCE_DIR) + "/src/http/testdata/dashboard/" + relative,
      std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

Result<StaticFile> Get(std::string_view target, std::string_view accept = "",
                       std::string_view if_none_match = "") {
  return ServeEmbedded(EmbeddedTestDashboard(),
                       {target, accept, if_none_match});
}

// The gzip member's uncompressed size, from its trailer (RFC 1952).
uint32_t GzipSize(std::string_view gz) {
  auto b = [&](size_t i) {
    return static_cast<uint32_t>(static_cast<unsigned char>(gz[i]));
  };
  size_t n = gz.size();
  return b(n - 4) | b(n - 3) << 8 | b(n - 2) << 16 | b(n - 1) << 24;
}

TEST(EmbeddedFilesTest, TableHoldsEveryFileSortedWithItsBytes) {
  auto files = EmbeddedTestDashboard();
  ASSERT_EQ(files.size(), 5u);
  for (size_t i = 1; i < files.size(); ++i) {
    EXPECT_LT(files[i - 1].path, files[i].path);
  }
  for (const EmbeddedFile& f : files) {
    EXPECT_EQ(f.body, ReadTestdata(std::string(f.path.substr(1)))) << f.path;
    EXPECT_EQ(f.etag.front(), '"');
    EXPECT_EQ(f.etag.back(), '"');
  }
}

TEST(EmbeddedFilesTest, RootIsTheIndexWithPolicyAndEtag) {
  auto f = Get("/?x=1");
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ(f->status, 200);
  EXPECT_EQ(f->body, ReadTestdata("index.html"));
  EXPECT_EQ(f->content_type, "text/html; charset=utf-8");
  EXPECT_EQ(HeaderOf(*f, "Cache-Control"), "no-cache");
  EXPECT_NE(HeaderOf(*f, "Content-Security-Policy").find("default-src 'self'"),
            std::string_view::npos);
  EXPECT_FALSE(HeaderOf(*f, "ETag").empty());
  EXPECT_EQ(HeaderOf(*f, "Vary"), "Accept-Encoding");
  EXPECT_EQ(HeaderOf(*f, "Content-Encoding"), "");
}

TEST(EmbeddedFilesTest, ContentTypesAndCachePolicy) {
  auto js = Get("/assets/index-Bx9_a-2Q.js");
  ASSERT_TRUE(js.ok());
  EXPECT_EQ(js->content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(HeaderOf(*js, "Cache-Control"),
            "public, max-age=31536000, immutable");
  EXPECT_EQ(HeaderOf(*js, "Content-Security-Policy"), "");
  auto css = Get("/assets/index-C1d2.css");
  ASSERT_TRUE(css.ok());
  EXPECT_EQ(css->content_type, "text/css; charset=utf-8");
  auto svg = Get("/favicon.svg");
  ASSERT_TRUE(svg.ok());
  EXPECT_EQ(svg->content_type, "image/svg+xml");
  EXPECT_EQ(HeaderOf(*svg, "Cache-Control"), "no-cache");
}

TEST(EmbeddedFilesTest, GzipWhenAcceptedAndSmaller) {
  auto f = Get("/index.html", "br, gzip;q=0.8, deflate");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(HeaderOf(*f, "Content-Encoding"), "gzip");
  ASSERT_GE(f->body.size(), 18u);
  EXPECT_EQ(static_cast<unsigned char>(f->body[0]), 0x1f);
  EXPECT_EQ(static_cast<unsigned char>(f->body[1]), 0x8b);
  EXPECT_LT(f->body.size(), ReadTestdata("index.html").size());
  EXPECT_EQ(GzipSize(f->body), ReadTestdata("index.html").size());
  auto plain = Get("/index.html", "gzip;q=0, identity");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(HeaderOf(*plain, "Content-Encoding"), "");
  EXPECT_EQ(plain->body, ReadTestdata("index.html"));
  // The two representations have different validators.
  EXPECT_NE(HeaderOf(*f, "ETag"), HeaderOf(*plain, "ETag"));
}

TEST(EmbeddedFilesTest, TinyFileIsNotCompressed) {
  // A 2-byte file grows under gzip: only the original is kept.
  auto files = EmbeddedTestDashboard();
  for (const EmbeddedFile& f : files) {
    if (f.path == "/notes.exe") {
      EXPECT_TRUE(f.gzip.empty());
    }
  }
  auto js = Get("/assets/index-Bx9_a-2Q.js", "gzip");
  ASSERT_TRUE(js.ok());
  EXPECT_EQ(HeaderOf(*js, "Content-Encoding"), "");
  EXPECT_EQ(js->body, ReadTestdata("assets/index-Bx9_a-2Q.js"));
}

TEST(EmbeddedFilesTest, IfNoneMatchGivesNotModified) {
  auto first = Get("/", "gzip");
  ASSERT_TRUE(first.ok());
  std::string etag(HeaderOf(*first, "ETag"));
  auto again = Get("/", "gzip", etag);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->status, 304);
  EXPECT_TRUE(again->body.empty());
  EXPECT_EQ(HeaderOf(*again, "ETag"), etag);
  auto listed = Get("/", "gzip", "\"other\", W/" + etag);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->status, 304);
  auto stale = Get("/", "gzip", "\"0123456789\"");
  ASSERT_TRUE(stale.ok());
  EXPECT_EQ(stale->status, 200);
  EXPECT_FALSE(stale->body.empty());
}

TEST(EmbeddedFilesTest, TraversalAndUnknownFilesRefused) {
  for (std::string_view target :
       {"/../CMakeLists.txt", "/assets/../index.html", "/%2e%2e/secret",
        "/assets/..%2fx.js", "/notes.exe", "/.env", "//index.html",
        "/assets\\index-C1d2.css", "/missing.js", "/assets/"}) {
    auto f = Get(target);
    EXPECT_FALSE(f.ok()) << target;
    if (!f.ok()) {
      EXPECT_EQ(f.error().code, ErrorCode::kNotFound) << target;
    }
  }
}

TEST(EmbeddedFilesTest, BinaryBuiltWithoutDashboardSaysHowToGetOne) {
  auto f = ServeEmbedded({}, {"/", "gzip", ""});
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().code, ErrorCode::kNotFound);
  EXPECT_NE(f.error().message.find("make build"), std::string::npos);
  EXPECT_NE(f.error().message.find("--web-root"), std::string::npos);
}

}  // namespace
}  // namespace pm

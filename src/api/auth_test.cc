// Access to the API: no token configured, a read token, an admin token,
// loopback-only admin endpoints.
#include <gtest/gtest.h>

#include "api/api_testing.h"

namespace pm {
namespace {

using testing::ApiFixture;

constexpr const char* kRead = "/api/v1/sessions";
constexpr const char* kEvents = "/api/v1/events";
constexpr const char* kMetrics = "/metrics";

// "": none configured.
ApiOptions WithTokens(std::string read, std::string admin) {
  ApiOptions o;
  o.read_token = std::move(read);
  o.admin_token = std::move(admin);
  return o;
}

bool HasHeader(const ApiResponse& r, const std::string& name) {
  for (const auto& h : r.headers) {
    if (h.first == name) return true;
  }
  return false;
}

TEST(AuthTest, NoTokensConfigured) {
  ApiFixture f(WithTokens("", ""));
  EXPECT_EQ(f.Get(kRead, "", /*loopback=*/false).status, 200);
  EXPECT_EQ(f.Get(kMetrics, "", false).status, 200);
  EXPECT_EQ(f.Get(kEvents, "", /*loopback=*/true).status, 200);
  auto remote = f.Get(kEvents, "", /*loopback=*/false);
  EXPECT_EQ(remote.status, 403);
  EXPECT_NE(remote.body.find("set admin_token"), std::string::npos)
      << remote.body;
  EXPECT_EQ(
      f.Send("PUT", "/api/v1/sessions/1/user", R"({"user":"a"})", "", false)
          .status,
      403);
}

TEST(AuthTest, ReadTokenGuardsApiAndMetrics) {
  ApiFixture f(WithTokens("r-token", ""));
  auto missing = f.Get(kRead, "", true);
  EXPECT_EQ(missing.status, 401);
  EXPECT_TRUE(HasHeader(missing, "WWW-Authenticate"));
  EXPECT_NE(missing.body.find("Authorization: Bearer"), std::string::npos);
  EXPECT_EQ(f.Get(kRead, "wrong", true).status, 401);
  EXPECT_EQ(f.Get(kRead, "r-token", false).status, 200);
  EXPECT_EQ(f.Get(kMetrics, "", false).status, 401);
  EXPECT_EQ(f.Get(kMetrics, "r-token", false).status, 200);
  EXPECT_EQ(f.Get("/api/v1/printers", "r-token-longer", false).status, 401);
  // Admin endpoints: still loopback only, and the read token is needed too.
  EXPECT_EQ(f.Get(kEvents, "", true).status, 401);
  EXPECT_EQ(f.Get(kEvents, "r-token", true).status, 200);
  EXPECT_EQ(f.Get(kEvents, "r-token", false).status, 403);
  // The scheme is case-insensitive.
  ApiRequest request;
  request.method = "GET";
  request.target = kRead;
  request.authorization = "bearer r-token";
  EXPECT_EQ(f.api->Handle(request).status, 200);
  request.authorization = "Basic r-token";
  EXPECT_EQ(f.api->Handle(request).status, 401);
}

TEST(AuthTest, AdminTokenGuardsAdminEndpointsFromAnywhere) {
  ApiFixture f(WithTokens("r-token", "a-token"));
  EXPECT_EQ(f.Get(kEvents, "a-token", /*loopback=*/false).status, 200);
  auto with_read = f.Get(kEvents, "r-token", /*loopback=*/true);
  EXPECT_EQ(with_read.status, 403);
  EXPECT_NE(with_read.body.find("read token does not grant"),
            std::string::npos);
  // Without a token (or with a wrong one) it asks for the admin token, not
  // the read token.
  auto none = f.Get(kEvents, "", true);
  EXPECT_EQ(none.status, 401);
  EXPECT_NE(none.body.find("needs the admin token"), std::string::npos)
      << none.body;
  EXPECT_EQ(none.body.find("read token"), std::string::npos) << none.body;
  auto wrong = f.Get(kEvents, "a-tokem", true);
  EXPECT_EQ(wrong.status, 401);
  EXPECT_NE(wrong.body.find("not the configured admin_token"),
            std::string::npos)
      << wrong.body;
  // The admin token reads too.
  EXPECT_EQ(f.Get(kRead, "a-token", false).status, 200);
  EXPECT_EQ(f.Get(kMetrics, "a-token", false).status, 200);
  auto put = f.Send("PUT", "/api/v1/sessions/5/user", R"({"user":"a"})",
                    "a-token", false);
  EXPECT_EQ(put.status, 404);  // past the guard: no such session
}

TEST(AuthTest, AdminTokenWithoutReadToken) {
  ApiFixture f(WithTokens("", "a-token"));
  EXPECT_EQ(f.Get(kRead, "", false).status, 200);
  EXPECT_EQ(f.Get(kEvents, "", /*loopback=*/true).status, 401);
  EXPECT_EQ(f.Get(kEvents, "a-token", false).status, 200);
}

}  // namespace
}  // namespace pm

// GET /api/v1/forwarding and the printmeter_forward_* metrics.
#include "api/forwarding.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "api/api_testing.h"

namespace pm {
namespace {

using ::testing::HasSubstr;
using testing::ApiFixture;

std::vector<ForwardTargetStatus> TwoTargets() {
  ForwardTargetStatus billing;
  billing.name = "billing";
  billing.url = "http://billing.local/hook";
  billing.state = ForwardState::kRetrying;
  billing.position = 40;
  billing.log_end = 52;
  billing.delivered = 40;
  billing.failed = 3;
  billing.last_error = "answered HTTP 503";
  billing.failing_since = testing::kAug1;
  billing.next_attempt = testing::kAug1 + 4000;
  ForwardTargetStatus chat;
  chat.name = "chat";
  chat.url = "http://chat.local/in";
  chat.position = 52;
  chat.log_end = 52;
  chat.delivered = 7;
  return {billing, chat};
}

ApiOptions WithForwarding() {
  ApiOptions o;
  o.admin_token = "adm";
  o.forwarding = [] { return TwoTargets(); };
  return o;
}

TEST(ForwardingApiTest, ListsEachTargetsStateBacklogAndLastError) {
  ApiFixture f(WithForwarding());
  ApiResponse r = f.Get("/api/v1/forwarding", "adm", false);
  ASSERT_EQ(r.status, 200) << r.body;
  boost::json::value v = ApiFixture::Json(r);
  const boost::json::array& targets = v.at("targets").as_array();
  ASSERT_EQ(targets.size(), 2u);
  const boost::json::value& b = targets[0];
  EXPECT_EQ(b.at("name"), "billing");
  EXPECT_EQ(b.at("url"), "http://billing.local/hook");
  EXPECT_EQ(b.at("state"), "retrying");
  EXPECT_EQ(b.at("position"), 40);
  EXPECT_EQ(b.at("backlog"), 12);
  EXPECT_EQ(b.at("delivered"), 40);
  EXPECT_EQ(b.at("failed"), 3);
  EXPECT_EQ(b.at("last_error"), "answered HTTP 503");
  EXPECT_EQ(b.at("failing_since"), "2024-08-01T00:00:00Z");
  EXPECT_EQ(b.at("next_attempt"), "2024-08-01T00:00:04Z");
  const boost::json::value& c = targets[1];
  EXPECT_EQ(c.at("state"), "idle");
  EXPECT_EQ(c.at("backlog"), 0);
  EXPECT_TRUE(c.at("last_error").is_null());
  EXPECT_TRUE(c.at("next_attempt").is_null());
}

TEST(ForwardingApiTest, IsAnAdminEndpoint) {
  ApiFixture f(WithForwarding());
  EXPECT_EQ(f.Get("/api/v1/forwarding", "", false).status, 401);
  EXPECT_EQ(f.Get("/api/v1/forwarding", "wrong", false).status, 401);
  ApiFixture none;  // nothing forwarded: no targets, not an error
  ApiResponse r = none.Get("/api/v1/forwarding");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(ApiFixture::Json(r).at("targets").as_array().empty());
}

TEST(ForwardingApiTest, MetricsCountDeliveriesFailuresAndBacklogByTarget) {
  ApiFixture f(WithForwarding());
  ApiResponse r = f.Get("/metrics", "adm", false);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(r.body, HasSubstr("# TYPE printmeter_forward_delivered_total "
                                "counter"));
  EXPECT_THAT(r.body, HasSubstr(
                          "printmeter_forward_delivered_total{target=\"billing\"} 40"));
  EXPECT_THAT(r.body,
              HasSubstr("printmeter_forward_failed_total{target=\"billing\"} 3"));
  EXPECT_THAT(r.body, HasSubstr(
                          "printmeter_forward_backlog_events{target=\"billing\"} 12"));
  EXPECT_THAT(r.body,
              HasSubstr("printmeter_forward_backlog_events{target=\"chat\"} 0"));
  if (std::system("command -v promtool > /dev/null") != 0) {
    GTEST_SKIP() << "promtool is not installed (Debian package prometheus)";
  }
  std::string file = f.dir.Path("metrics.txt");
  std::ofstream(file) << r.body;
  EXPECT_EQ(std::system(("promtool check metrics < " + file).c_str()), 0);
}

}  // namespace
}  // namespace pm

// Maintenance on the read side: the printers' items, marking one done over
// HTTP, and the /metrics series.
#include "api/maintenance_api.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "api/api_testing.h"

namespace pm {
namespace {

namespace json = boost::json;
using testing::ApiFixture;
using testing::ClosedSession;
using testing::kAug1;

MaintenanceItem Item(const char* name, const char* every) {
  MaintenanceItem item = ParseEvery(every).value();
  item.item = name;
  return item;
}

ApiOptions Options() {
  ApiOptions o;
  o.devices["delta"].name = "Delta";
  o.devices["echo"].name = "Echo";
  o.maintenance.devices["delta"] = {Item("nozzle", "2h"),
                                    Item("lubricate rods", "30d")};
  return o;
}

struct MaintenanceApiTest : ::testing::Test {
  MaintenanceApiTest() : f(Options()) {
    Session a = ClosedSession(10, "delta", kAug1, 60);
    Session b = ClosedSession(20, "delta", kAug1 + kDayMs, 90);
    testing::CommitSessions(*f.store, {a, b});
  }
  // The printer's maintenance array in GET /api/v1/printers.
  json::array Items(const std::string& device) {
    auto r = f.Get("/api/v1/printers");
    EXPECT_EQ(r.status, 200) << r.body;
    json::value body = ApiFixture::Json(r);
    for (const json::value& p : body.at("printers").as_array()) {
      if (p.at("device").as_string() == device) {
        return p.at("maintenance").as_array();
      }
    }
    ADD_FAILURE() << "no printer " << device;
    return {};
  }
  ApiFixture f;
};

TEST_F(MaintenanceApiTest, EachPrinterShowsItsItems) {
  json::array items = Items("delta");
  ASSERT_EQ(items.size(), 2u);
  const json::object& nozzle = items[0].as_object();
  EXPECT_EQ(nozzle.at("item").as_string(), "nozzle");
  EXPECT_EQ(nozzle.at("kind").as_string(), "hours");
  EXPECT_DOUBLE_EQ(nozzle.at("every").to_number<double>(), 2);
  EXPECT_EQ(nozzle.at("every_text").as_string(), "2h");
  EXPECT_DOUBLE_EQ(nozzle.at("used").to_number<double>(), 2.5);
  EXPECT_DOUBLE_EQ(nozzle.at("remaining").to_number<double>(), 0);
  EXPECT_DOUBLE_EQ(nozzle.at("fraction").to_number<double>(), 1.25);
  EXPECT_EQ(nozzle.at("state").as_string(), "overdue");
  EXPECT_EQ(nozzle.at("since").as_string(), "2024-08-01T00:00:00Z");
  EXPECT_TRUE(nozzle.at("last_done").is_null());
  EXPECT_TRUE(nozzle.at("done_by").is_null());
  const json::object& rods = items[1].as_object();
  EXPECT_EQ(rods.at("kind").as_string(), "days");
  EXPECT_DOUBLE_EQ(rods.at("used").to_number<double>(), 20);
  EXPECT_EQ(rods.at("state").as_string(), "ok");
  EXPECT_TRUE(Items("echo").empty());  // no items configured
}

TEST_F(MaintenanceApiTest, AnAdminMarksAnItemDone) {
  TimeMs at = kAug1 + kDayMs + 30 * kMinuteMs;  // halfway through print b
  auto r = f.Send("POST", "/api/v1/printers/delta/maintenance/nozzle/done",
                  R"({"by": "ada", "at": "2024-08-02T00:30:00Z"})");
  ASSERT_EQ(r.status, 200) << r.body;
  json::value item = ApiFixture::Json(r);
  EXPECT_EQ(item.at("device").as_string(), "delta");
  EXPECT_DOUBLE_EQ(item.at("used").to_number<double>(), 1);
  EXPECT_EQ(item.at("state").as_string(), "ok");
  EXPECT_EQ(item.at("last_done").as_string(), FormatIso(at));
  EXPECT_EQ(item.at("done_by").as_string(), "ada");
  EXPECT_EQ(Items("delta")[0].at("state").as_string(), "ok");

  // A name with a space, percent-encoded; no body: done now, by nobody.
  r = f.Send("POST",
             "/api/v1/printers/delta/maintenance/lubricate%20rods/done", "");
  ASSERT_EQ(r.status, 200) << r.body;
  json::value rods = ApiFixture::Json(r);
  EXPECT_DOUBLE_EQ(rods.at("used").to_number<double>(), 0);
  EXPECT_TRUE(rods.at("done_by").is_null());
  auto marks = f.store->LoadMaintenanceMarks();
  ASSERT_TRUE(marks.ok());
  EXPECT_EQ(marks->size(), 2u);
}

TEST_F(MaintenanceApiTest, AWrongMarkIsRefusedSayingWhy) {
  struct Case {
    const char* target;
    const char* body;
    int status;
    const char* says;
  } cases[] = {
      {"/api/v1/printers/delta/maintenance/bed/done", "", 404,
       "its items: nozzle, lubricate rods"},
      {"/api/v1/printers/echo/maintenance/nozzle/done", "", 404,
       "printers with items: delta"},
      {"/api/v1/printers/delta/maintenance/nozzle/done", "{\"who\": 1}", 400,
       "unexpected"},
      {"/api/v1/printers/delta/maintenance/nozzle/done", "[", 400,
       "not a JSON object"},
      {"/api/v1/printers/delta/maintenance/nozzle/done",
       R"({"at": "yesterday"})", 400, "\\\"at\\\" is not a time"},
      {"/api/v1/printers/delta/maintenance/nozzle/done",
       R"({"at": "2030-01-01"})", 400, "in the future"},
      {"/api/v1/printers/delta/maintenance/nozzle%zz/done", "", 400,
       "percent-encoding"},
  };
  for (const Case& c : cases) {
    auto r = f.Send("POST", c.target, c.body);
    EXPECT_EQ(r.status, c.status) << c.target << " " << c.body;
    EXPECT_NE(r.body.find(c.says), std::string::npos) << r.body;
  }
  auto marks = f.store->LoadMaintenanceMarks();
  ASSERT_TRUE(marks.ok());
  EXPECT_TRUE(marks->empty());
}

TEST(MaintenanceApiAuthTest, MarkingDoneIsForAdminsOnly) {
  ApiOptions o = Options();
  o.read_token = "reader";
  o.admin_token = "admin";
  ApiFixture f(o);
  const std::string path = "/api/v1/printers/delta/maintenance/nozzle/done";
  EXPECT_EQ(f.Send("POST", path, "", "reader").status, 403);
  EXPECT_EQ(f.Send("POST", path, "").status, 401);
  EXPECT_EQ(f.Send("POST", path, "", "admin").status, 200);
  EXPECT_EQ(f.Get(path, "admin").status, 405);
}

TEST_F(MaintenanceApiTest, MetricsShowEachItemsShareAndTheDueCount) {
  auto r = f.Get("/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("printmeter_maintenance_used_ratio{device=\"delta\","
                        "item=\"nozzle\"} 1.25"),
            std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find("printmeter_maintenance_due_items{device=\"delta\"} 1"),
            std::string::npos);
  ASSERT_EQ(
      f.Send("POST", "/api/v1/printers/delta/maintenance/nozzle/done", "")
          .status,
      200);
  r = f.Get("/metrics");
  EXPECT_NE(r.body.find("printmeter_maintenance_due_items{device=\"delta\"} 0"),
            std::string::npos)
      << r.body;
}

}  // namespace
}  // namespace pm

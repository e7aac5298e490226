// maintenance_due notices: who asks for them, once per crossing, and what
// the body and key say.
#include "forward/notice.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace pm {
namespace {

constexpr TimeMs kMarked = 1718000000000;  // 2024-06-10 06:13:20 UTC

MaintenanceDue Due(std::string device, std::string item, TimeMs since,
                   MaintenanceState state = MaintenanceState::kDue) {
  MaintenanceDue d;
  d.device = std::move(device);
  d.item = std::move(item);
  d.kind = MaintenanceKind::kHours;
  d.every = 200;
  d.used = state == MaintenanceState::kOverdue ? 230 : 201.5;
  d.fraction = d.used / d.every;
  d.state = state;
  d.since = since;
  d.note = "swap the nozzle";
  return d;
}

std::vector<std::string> Keys(const std::vector<MaintenanceDue>& v) {
  std::vector<std::string> out;
  for (const MaintenanceDue& d : v) out.push_back(NoticeKey(d));
  return out;
}

TEST(Notice, TargetsAskingForMaintenanceDueOrForEverythingGetIt) {
  ForwardTarget every;
  EXPECT_TRUE(WantsMaintenanceNotices(every));
  ForwardTarget listed;
  listed.events = {"done", "maintenance_due"};
  EXPECT_TRUE(WantsMaintenanceNotices(listed));
  ForwardTarget prints;
  prints.events = {"done", "PrintFailed"};
  EXPECT_FALSE(WantsMaintenanceNotices(prints));
  MaintenanceDue d = Due("mk3", "nozzle", kMarked);
  EXPECT_TRUE(NoticesToSend({&d, 1}, {}, prints).empty());
}

// Once per crossing: sent while not recorded; still due or gone overdue in
// the same count, it is not sent again; marked done (a new `since`) and
// due again, it is.
TEST(Notice, EachCrossingIsSentOnce) {
  ForwardTarget t;
  std::set<std::string> sent;
  std::vector<MaintenanceDue> now = {Due("mk3", "nozzle", kMarked)};
  auto first = NoticesToSend(now, sent, t);
  ASSERT_EQ(Keys(first),
            std::vector<std::string>{"maintenance:mk3:nozzle:1718000000000"});
  sent.insert(NoticeKey(first[0]));

  EXPECT_TRUE(NoticesToSend(now, sent, t).empty());
  std::vector<MaintenanceDue> overdue = {
      Due("mk3", "nozzle", kMarked, MaintenanceState::kOverdue)};
  EXPECT_TRUE(NoticesToSend(overdue, sent, t).empty());

  TimeMs done_again = kMarked + 30LL * 86'400'000;
  std::vector<MaintenanceDue> again = {Due("mk3", "nozzle", done_again),
                                       Due("mk3", "belts", kMarked)};
  EXPECT_EQ(Keys(NoticesToSend(again, sent, t)),
            (std::vector<std::string>{"maintenance:mk3:nozzle:1720592000000",
                                      "maintenance:mk3:belts:1718000000000"}));
}

TEST(Notice, OnlyTheTargetsPrintersAreSent) {
  ForwardTarget t;
  t.devices = {"delta"};
  std::vector<MaintenanceDue> due = {Due("mk3", "nozzle", kMarked),
                                     Due("delta", "nozzle", kMarked)};
  EXPECT_EQ(Keys(NoticesToSend(due, {}, t)),
            std::vector<std::string>{"maintenance:delta:nozzle:1718000000000"});
}

TEST(Notice, TheDeliveryCarriesTheItemUnderItsKey) {
  Delivery d =
      NoticeDelivery(Due("mk3", "nozzle", kMarked, MaintenanceState::kOverdue));
  EXPECT_EQ(d.key, "maintenance:mk3:nozzle:1718000000000");
  EXPECT_EQ(d.device, "mk3");
  EXPECT_EQ(d.content_type, "application/json");
  auto headers = DeliveryHeaders(d, "s3cret", 1718000001);
  EXPECT_EQ(headers["X-Printmeter-Event"], d.key);
  EXPECT_EQ(headers["Idempotency-Key"], d.key);
  EXPECT_EQ(headers["X-Printmeter-Signature"],
            "sha256=" + Signature("s3cret", 1718000001, d.body));
  boost::json::object body = boost::json::parse(d.body).as_object();
  EXPECT_EQ(body.at("kind").as_string(), "maintenance_due");
  EXPECT_EQ(body.at("device").as_string(), "mk3");
  EXPECT_EQ(body.at("item").as_string(), "nozzle");
  EXPECT_EQ(body.at("every").as_string(), "200h");
  EXPECT_EQ(body.at("unit").as_string(), "hours");
  EXPECT_DOUBLE_EQ(body.at("used").to_number<double>(), 230);
  EXPECT_EQ(body.at("state").as_string(), "overdue");
  EXPECT_EQ(body.at("since").as_string(), FormatIso(kMarked));
  EXPECT_EQ(body.at("note").as_string(), "swap the nozzle");
}

}  // namespace
}  // namespace pm

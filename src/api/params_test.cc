#include "api/params.h"

#include <date/tz.h>
#include <gtest/gtest.h>

namespace pm {
namespace {

constexpr TimeMs kAug1 = 1722470400000;  // 2024-08-01T00:00:00Z

const date::time_zone* Berlin() {
  auto zone = FindZone("Europe/Berlin");
  EXPECT_TRUE(zone.ok());
  return zone ? *zone : nullptr;
}

TEST(ParamsTest, QueryDecodingFirstWinsEmptyIsAbsent) {
  auto p = Params::FromQuery("user=J%C3%BCrgen+K&user=other&device=&x");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->Get("user"), "Jürgen K");
  EXPECT_FALSE(p->Get("device"));
  EXPECT_FALSE(p->Get("x"));
  EXPECT_FALSE(p->Get("missing"));
  EXPECT_FALSE(Params::FromQuery("user=%zz").ok());
}

// A request target is a view into the header block: the last value must end
// where the view ends, not at the buffer's end.
TEST(ParamsTest, QueryIsAViewIntoALargerBuffer) {
  std::string buffer = "from=2024-01-01&to=2025-01-01 HTTP/1.1\r\n";
  auto p = Params::FromQuery(std::string_view(buffer).substr(0, 29));
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->Get("to"), "2025-01-01");
  EXPECT_EQ(p->Get("from"), "2024-01-01");
}

TEST(ParamsTest, BareDateIsMidnightInTheZone) {
  Params p({{"from", "2024-08-01"}});
  auto utc = TimeParam(p, "from", nullptr);
  ASSERT_TRUE(utc.ok());
  EXPECT_EQ(**utc, kAug1);
  auto berlin = TimeParam(p, "from", Berlin());
  ASSERT_TRUE(berlin.ok());
  EXPECT_EQ(**berlin, kAug1 - 2 * kHourMs);  // CEST, UTC+2
  // A date-time without offset stays UTC; epoch seconds too.
  Params q({{"from", "2024-08-01T00:00:00"}, {"to", "1722470400"}});
  EXPECT_EQ(**TimeParam(q, "from", Berlin()), kAug1);
  EXPECT_EQ(**TimeParam(q, "to", Berlin()), kAug1);
}

TEST(ParamsTest, BadTimeNamesTheParameter) {
  Params p({{"to", "yesterday"}});
  auto t = TimeParam(p, "to", nullptr);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().code, ErrorCode::kInvalid);
  EXPECT_EQ(t.error().message.rfind("to must be", 0), 0u) << t.error().message;
  EXPECT_NE(t.error().message.find("\"yesterday\""), std::string::npos);
  EXPECT_FALSE(TimeParam(Params({{"to", "2024-02-30"}}), "to", nullptr).ok());
}

TEST(ParamsTest, IntParamRange) {
  EXPECT_EQ(*IntParam(Params(), "limit", 100, 1, 1000), 100);
  EXPECT_EQ(*IntParam(Params({{"limit", "1000"}}), "limit", 100, 1, 1000),
            1000);
  for (const char* bad : {"0", "1001", "-1", "10x", "1e3", " 5"}) {
    auto r = IntParam(Params({{"limit", bad}}), "limit", 100, 1, 1000);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.error().message.find("limit must be a whole number 1..1000"),
              std::string::npos);
  }
}

TEST(ParamsTest, CursorsRoundTripAndRejectGarbage) {
  std::string c = EncodeCursor(kAug1 + 123, 98765);
  auto d = DecodeCursor(c);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->first, kAug1 + 123);
  EXPECT_EQ(d->second, 98765);
  EXPECT_EQ(c.find_first_of("+/=&?"), std::string::npos);  // URL-safe
  EXPECT_FALSE(DecodeCursor("not a cursor"));
  EXPECT_FALSE(DecodeCursor(EncodeEventCursor(5)));
  EXPECT_EQ(DecodeEventCursor(EncodeEventCursor(5)), 5);
  EXPECT_FALSE(DecodeEventCursor(c));
}

TEST(ParamsTest, SessionQuery) {
  Params p({{"device", "delta"},
            {"user", "ana"},
            {"status", "cancelled"},
            {"from", "2024-08-01"},
            {"to", "2024-09-01"},
            {"limit", "7"},
            {"cursor", EncodeCursor(kAug1, 3)}});
  auto q = ParseSessionQuery(p, nullptr, 100);
  ASSERT_TRUE(q.ok()) << q.error().message;
  EXPECT_EQ(q->filter.device, "delta");
  EXPECT_EQ(q->filter.user, "ana");
  EXPECT_EQ(q->filter.status, SessionStatus::kCancelled);
  EXPECT_EQ(q->filter.from, kAug1);
  EXPECT_EQ(q->filter.to, kAug1 + 31 * kDayMs);
  EXPECT_EQ(q->limit, 7);
  EXPECT_EQ(q->after, std::make_pair(kAug1, int64_t{3}));
  EXPECT_EQ(ParseSessionQuery(Params(), nullptr, 100)->limit, 100);
}

// Every rejection names its parameter and what would be valid.
TEST(ParamsTest, SessionQueryErrorsNameTheParameter) {
  struct Case {
    const char* name;
    const char* value;
    const char* expect;
  } cases[] = {
      {"status", "done",
       "status must be one of printing, paused, completed, "
       "cancelled, failed, interrupted, restarted"},
      {"limit", "5000", "limit must be a whole number 1..1000"},
      {"from", "soon", "from must be an ISO 8601 date"},
      {"to", "later", "to must be an ISO 8601 date"},
      {"cursor", "abc", "cursor is not one this server issued"},
  };
  for (const Case& c : cases) {
    auto q = ParseSessionQuery(Params({{c.name, c.value}}), nullptr, 100);
    ASSERT_FALSE(q.ok()) << c.name;
    EXPECT_EQ(q.error().code, ErrorCode::kInvalid);
    EXPECT_NE(q.error().message.find(c.expect), std::string::npos)
        << q.error().message;
  }
  auto q = ParseSessionQuery(
      Params({{"from", "2024-09-01"}, {"to", "2024-08-01"}}), nullptr, 100);
  ASSERT_FALSE(q.ok());
  EXPECT_NE(q.error().message.find("from (2024-09-01T00:00:00Z) must be "
                                   "before to"),
            std::string::npos);
}

TEST(ParamsTest, UsageDefaultsToThisMonthInTheConfiguredZone) {
  ApiOptions options;
  options.timezone = "Europe/Berlin";
  TimeMs now = kAug1 + 14 * kDayMs + 5 * kHourMs;
  auto q = ParseUsageQuery(Params(), options, now);
  ASSERT_TRUE(q.ok()) << q.error().message;
  EXPECT_EQ(q->from, kAug1 - 2 * kHourMs);  // Aug 1, 00:00 in Berlin
  EXPECT_EQ(q->to, now);
  EXPECT_EQ(q->now, now);
  ASSERT_EQ(q->group_by.size(), 1u);
  EXPECT_EQ(q->group_by[0], GroupKey::kDevice);
  // The rates are the caller's to set, from the store's history (a config
  // change must not re-price the past).
  EXPECT_TRUE(q->rates.empty());
  EXPECT_EQ(q->tz, Berlin());

  // Just after midnight on Aug 1 in Berlin (still July 31 in UTC).
  auto early = ParseUsageQuery(Params(), options, kAug1 - kHourMs);
  EXPECT_EQ(early->from, kAug1 - 2 * kHourMs);
  // A tz parameter wins over the configured zone; only `to`: that month.
  auto q2 = ParseUsageQuery(
      Params({{"tz", "UTC"}, {"to", "2024-07-15"}, {"group_by", "user,day"}}),
      options, now);
  ASSERT_TRUE(q2.ok()) << q2.error().message;
  EXPECT_EQ(q2->from, kAug1 - 31 * kDayMs);
  EXPECT_EQ(q2->to, kAug1 - 17 * kDayMs);
  EXPECT_EQ(q2->group_by,
            (std::vector<GroupKey>{GroupKey::kUser, GroupKey::kDay}));
}

TEST(ParamsTest, UsageErrorsNameTheParameter) {
  ApiOptions options;
  TimeMs now = kAug1 + kDayMs;
  auto tz = ParseUsageQuery(Params({{"tz", "Mars/Olympus"}}), options, now);
  ASSERT_FALSE(tz.ok());
  EXPECT_NE(tz.error().message.find("tz must be an IANA time zone"),
            std::string::npos);
  auto group =
      ParseUsageQuery(Params({{"group_by", "device,colour"}}), options, now);
  ASSERT_FALSE(group.ok());
  EXPECT_EQ(group.error().message.rfind("group_by", 0), 0u);
  EXPECT_NE(group.error().message.find("colour"), std::string::npos);
  EXPECT_NE(group.error().message.find("week"), std::string::npos)
      << "lists the valid keys: " << group.error().message;
  auto window = ParseUsageQuery(
      Params({{"from", "2000-01-01"}, {"to", "2024-01-01"}}), options, now);
  ASSERT_FALSE(window.ok());
  EXPECT_NE(window.error().message.find("10 years"), std::string::npos);
  options.timezone = "Nowhere/Special";
  auto bad = ParseUsageQuery(Params(), options, now);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("timezone (config)"), std::string::npos);
}

}  // namespace
}  // namespace pm

// What a target receives: URLs, the original request put back together,
// headers and the signature.
#include "forward/delivery.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace pm {
namespace {

using ::testing::HasSubstr;

TEST(ParseHttpUrl, TakesHostPortAndTarget) {
  auto url = ParseHttpUrl("http://ha.local:8123/api/webhook/x?y=1");
  ASSERT_TRUE(url.ok()) << url.error().message;
  EXPECT_EQ(url->host, "ha.local");
  EXPECT_EQ(url->port, "8123");
  EXPECT_EQ(url->target, "/api/webhook/x?y=1");
  auto bare = ParseHttpUrl("http://billing");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->port, "80");
  EXPECT_EQ(bare->target, "/");
}

TEST(ParseHttpUrl, RefusesHttpsAndNonUrlsSayingWhatToDo) {
  auto https = ParseHttpUrl("https://user:pw@example.com/hook");
  ASSERT_FALSE(https.ok());
  EXPECT_EQ(https.error().code, ErrorCode::kInvalid);
  EXPECT_THAT(https.error().message, HasSubstr("relay"));
  EXPECT_THAT(https.error().message, ::testing::Not(HasSubstr("pw")));
  EXPECT_FALSE(ParseHttpUrl("not a url").ok());
  EXPECT_FALSE(ParseHttpUrl("http:///nohost").ok());
}

TEST(UrlWithoutCredentials, DropsTheUserInfoOnly) {
  EXPECT_EQ(UrlWithoutCredentials("http://u:p@h:1/x?q"), "http://h:1/x?q");
  EXPECT_EQ(UrlWithoutCredentials("http://h/x"), "http://h/x");
}

TEST(OriginalDelivery, PutsThePictureBackWhereItWasCut) {
  EventRecord r;
  r.event.id = 7;
  r.event.device = "delta";
  r.request = StoredRequest{"POST", "/webhook", "multipart/form-data; b=x",
                            "head|tail"};
  r.request->picture = StoredPicture{5, 3, "image/jpeg", "JPG"};
  auto d = OriginalDelivery(r);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->body, "head|JPGtail");
  EXPECT_EQ(d->content_type, "multipart/form-data; b=x");
  EXPECT_EQ(d->event_id, 7);
  r.request.reset();  // a `swept`: nothing was received
  EXPECT_FALSE(OriginalDelivery(r).has_value());
}

TEST(DeliveryHeaders, CarryTheIdTwiceAndSignOnlyWithASecret) {
  Delivery d{42, "delta", "application/json", "{}"};
  auto unsigned_headers = DeliveryHeaders(d, "", 1700000000);
  EXPECT_EQ(unsigned_headers["X-Printmeter-Event"], "42");
  EXPECT_EQ(unsigned_headers["Idempotency-Key"], "42");
  EXPECT_EQ(unsigned_headers["X-Printmeter-Device"], "delta");
  EXPECT_EQ(unsigned_headers["X-Printmeter-Timestamp"], "1700000000");
  EXPECT_EQ(unsigned_headers.count("X-Printmeter-Signature"), 0u);
  auto signed_headers = DeliveryHeaders(d, "key", 1700000000);
  // python3 -c 'import hmac,hashlib;
  //   print(hmac.new(b"key", b"1700000000.{}", hashlib.sha256).hexdigest())'
  EXPECT_EQ(signed_headers["X-Printmeter-Signature"],
            "sha256=9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940"
            "bd63ae");
  EXPECT_NE(Signature("key", 1700000001, "{}"),
            Signature("key", 1700000000, "{}"));
}

TEST(Post, SaysWhyWhenNothingListens) {
  auto url = ParseHttpUrl("http://127.0.0.1:1/x");
  ASSERT_TRUE(url.ok());
  auto answer = Post(*url, {}, "", std::chrono::milliseconds(2000));
  ASSERT_FALSE(answer.ok());
  EXPECT_EQ(answer.error().code, ErrorCode::kUnavailable);
  EXPECT_THAT(answer.error().message, HasSubstr("cannot connect"));
}

}  // namespace
}  // namespace pm

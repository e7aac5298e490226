// What a target receives: URLs, the original request put back together,
// headers and the signature.
#include "forward/delivery.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "forward/test_receiver.h"
#include "store/store_test_util.h"

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

TEST(ParseHttpUrl, TakesHttpsWithItsDefaultPort) {
  auto url = ParseHttpUrl("https://chat.example.com/hooks/x");
  ASSERT_TRUE(url.ok()) << url.error().message;
  EXPECT_TRUE(url->tls);
  EXPECT_EQ(url->port, "443");
  EXPECT_EQ(url->target, "/hooks/x");
  EXPECT_FALSE(ParseHttpUrl("http://billing")->tls);
}

TEST(ParseHttpUrl, RefusesOtherSchemesAndNonUrlsSayingWhatToDo) {
  auto ftp = ParseHttpUrl("ftp://user:pw@example.com/hook");
  ASSERT_FALSE(ftp.ok());
  EXPECT_EQ(ftp.error().code, ErrorCode::kInvalid);
  EXPECT_THAT(ftp.error().message, HasSubstr("https://"));
  EXPECT_THAT(ftp.error().message, ::testing::Not(HasSubstr("pw")));
  EXPECT_FALSE(ParseHttpUrl("not a url").ok());
  EXPECT_FALSE(ParseHttpUrl("http:///nohost").ok());
}

TEST(UrlWithoutCredentials, DropsTheUserInfoOnly) {
  EXPECT_EQ(UrlWithoutCredentials("http://u:p@h:1/x?q"), "http://h:1/x?q");
  EXPECT_EQ(UrlWithoutCredentials("http://h/x"), "http://h/x");
}

TEST(OriginalDelivery, PutsThePictureBackWhereItWasCut) {
  const std::string head =
      "--b\r\nContent-Disposition: form-data; name=\"topic\"\r\n\r\n"
      "Print Done\r\n--b\r\nContent-Disposition: form-data; "
      "name=\"snapshot\"; filename=\"s.jpg\"\r\nContent-Type: "
      "image/jpeg\r\n\r\n";
  const std::string tail = "\r\n--b--\r\n";
  EventRecord r;
  r.event.id = 7;
  r.event.device = "delta";
  r.request = StoredRequest{"POST", "/webhook",
                            "multipart/form-data; boundary=b", head + tail};
  r.request->picture = StoredPicture{static_cast<int64_t>(head.size()), 3,
                                     "image/jpeg", "JPG"};
  auto d = OriginalDelivery(r);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->body, head + "JPG" + tail);
  EXPECT_EQ(d->content_type, "multipart/form-data; boundary=b");
  EXPECT_EQ(d->event_id, 7);
  r.request.reset();  // a `swept`: nothing was received
  std::string unsent;
  EXPECT_FALSE(OriginalDelivery(r, &unsent).has_value());
  EXPECT_EQ(unsent, "");
}

// The printer's secret is not passed on, in any of the plugin's encodings;
// the rest of the body is, byte for byte.
TEST(OriginalDelivery, MasksThePrintersSecretAndKeepsTheRest) {
  struct Case {
    std::string content_type;
    std::string body;
    std::string masked;
  };
  const std::vector<Case> cases = {
      {"application/json",
       R"({"deviceIdentifier":"delta","apiSecret":"s3cret-42","topic":"Print Done"})",
       R"({"deviceIdentifier":"delta","apiSecret":"********","topic":"Print Done"})"},
      {"application/x-www-form-urlencoded",
       "deviceIdentifier=delta&apiSecret=s3cret-42&topic=Print+Done",
       "deviceIdentifier=delta&apiSecret=********&topic=Print+Done"},
      {"multipart/form-data; boundary=b",
       "--b\r\nContent-Disposition: form-data; name=\"apiSecret\"\r\n\r\n"
       "s3cret-42\r\n--b\r\nContent-Disposition: form-data; "
       "name=\"topic\"\r\n\r\nPrint Done\r\n--b--\r\n",
       "--b\r\nContent-Disposition: form-data; name=\"apiSecret\"\r\n\r\n"
       "********\r\n--b\r\nContent-Disposition: form-data; "
       "name=\"topic\"\r\n\r\nPrint Done\r\n--b--\r\n"},
  };
  for (const Case& c : cases) {
    EventRecord r;
    r.event.id = 3;
    r.request = StoredRequest{"POST", "/webhook", c.content_type, c.body};
    auto d = OriginalDelivery(r);
    ASSERT_TRUE(d.has_value()) << c.content_type;
    EXPECT_EQ(d->body, c.masked) << c.content_type;
    EXPECT_THAT(d->body, ::testing::Not(HasSubstr("s3cret")));
  }

  // A GET's fields, from its query string, as a form body.
  EventRecord get;
  get.event.id = 5;
  get.request = StoredRequest{
      "GET", "/webhook?deviceIdentifier=delta&apiSecret=s3cret-42&topic=Print+Done",
      "", ""};
  auto d = OriginalDelivery(get);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->content_type, "application/x-www-form-urlencoded");
  EXPECT_EQ(d->body, "deviceIdentifier=delta&apiSecret=********&topic=Print+Done");
  // Nothing in the query and no body: an empty delivery, as received.
  get.request->target = "/webhook/delta";
  d = OriginalDelivery(get);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->body, "");

  // A body that cannot be read in its encoding is not sent, and says why.
  EventRecord broken;
  broken.event.id = 4;
  broken.request = StoredRequest{"POST", "/webhook", "application/json",
                                 R"({"apiSecret":"s3cret-42", "topic": )"};
  std::string unsent;
  EXPECT_FALSE(OriginalDelivery(broken, &unsent).has_value());
  EXPECT_THAT(unsent, HasSubstr("application/json"));
  EXPECT_THAT(unsent, HasSubstr("secret"));
}

TEST(DeliveryHeaders, CarryTheIdTwiceAndSignOnlyWithASecret) {
  Delivery d{42, "delta", "application/json", "{}", ""};
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

TEST(TargetConnection, SaysWhyWhenNothingListens) {
  auto url = ParseHttpUrl("http://127.0.0.1:1/x");
  ASSERT_TRUE(url.ok());
  TargetConnection c(*url);
  ASSERT_TRUE(c.Init().ok());
  auto answer = c.Post({}, "", std::chrono::milliseconds(2000));
  ASSERT_FALSE(answer.ok());
  EXPECT_EQ(answer.error().code, ErrorCode::kUnavailable);
  EXPECT_THAT(answer.error().message, HasSubstr("cannot connect"));
}

TEST(TargetConnection, AnUnreadableCaFileIsNamed) {
  auto url = ParseHttpUrl("https://127.0.0.1:1/x");
  ASSERT_TRUE(url.ok());
  TargetConnection c(*url, "/nonexistent/receiver-ca.pem");
  Status s = c.Init();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kInvalid);
  EXPECT_THAT(s.error().message, HasSubstr("/nonexistent/receiver-ca.pem"));
}

// Real TLS on loopback: a CA and a server certificate made with openssl
// for localhost and 127.0.0.1, and the receiver serving it.
class TlsTest : public ::testing::Test {
 protected:
  Result<int> PostTo(const std::string& url_text, const std::string& ca_file,
                     TargetConnection** keep = nullptr) {
    auto url = ParseHttpUrl(url_text);
    EXPECT_TRUE(url.ok());
    connection_ = std::make_unique<TargetConnection>(*url, ca_file);
    Status s = connection_->Init();
    EXPECT_TRUE(s.ok()) << s.error().message;
    if (keep) *keep = connection_.get();
    return connection_->Post({{"Content-Type", "application/json"}}, "{}",
                             std::chrono::milliseconds(5000));
  }

  std::unique_ptr<TargetConnection> connection_;
  ::pm::testing::TempDir dir_;
  ::pm::testing::TestCertificates certs_ = ::pm::testing::MakeTestCertificates(
      dir_.File(""), "local", "DNS:localhost,IP:127.0.0.1");
  ::pm::testing::TestReceiver receiver_{certs_};
};

TEST_F(TlsTest, AServerSignedByTheCaFilesCaIsReachedByNameAndAddress) {
  auto by_address = PostTo(receiver_.url(), certs_.ca);
  ASSERT_TRUE(by_address.ok()) << by_address.error().message;
  EXPECT_EQ(*by_address, 200);
  auto by_name = PostTo(receiver_.url("/hook", "localhost"), certs_.ca);
  ASSERT_TRUE(by_name.ok()) << by_name.error().message;
  ASSERT_TRUE(receiver_.WaitFor(2));
  EXPECT_EQ(receiver_.requests()[1].header("host"), "localhost");
}

TEST_F(TlsTest, AnUnknownCaIsRefusedSayingWhyAndForWhichHost) {
  auto refused = PostTo(receiver_.url(), "");  // the system's CAs only
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.error().message, HasSubstr("certificate verify failed"));
  EXPECT_THAT(refused.error().message, HasSubstr("for host 127.0.0.1"));
  EXPECT_THAT(refused.error().message, HasSubstr("ca_file"));
  EXPECT_TRUE(receiver_.requests().empty());
}

TEST_F(TlsTest, ACertificateForAnotherHostIsRefused) {
  auto other = ::pm::testing::MakeTestCertificates(dir_.File(""), "other",
                                                   "DNS:billing.example.com");
  ::pm::testing::TestReceiver impostor(other);
  auto refused = PostTo(impostor.url("/hook", "localhost"), other.ca);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.error().message, HasSubstr("certificate verify failed"));
  EXPECT_THAT(refused.error().message, HasSubstr("hostname mismatch"));
  EXPECT_THAT(refused.error().message, HasSubstr("for host localhost"));
  auto by_address = PostTo(impostor.url(), other.ca);
  ASSERT_FALSE(by_address.ok());
  EXPECT_THAT(by_address.error().message, HasSubstr("mismatch"));
  EXPECT_TRUE(impostor.requests().empty());
}

// Kept alive: N POSTs, one connection, over TLS as over plain HTTP.
TEST_F(TlsTest, OneConnectionCarriesEveryPost) {
  TargetConnection* c = nullptr;
  ASSERT_TRUE(PostTo(receiver_.url(), certs_.ca, &c).ok());
  for (int i = 0; i < 9; ++i) {
    auto answer = c->Post({}, "{}", std::chrono::milliseconds(5000));
    ASSERT_TRUE(answer.ok()) << answer.error().message;
  }
  ASSERT_TRUE(receiver_.WaitFor(10));
  EXPECT_EQ(receiver_.connections(), 1);
  EXPECT_EQ(c->opened(), 1);
}

// A receiver that takes a request and never answers: the POST ends at its
// deadline, the TLS stream it was reading from outliving every handler
// that still uses it (under the sanitizers, a use after free otherwise),
// and the next POST connects again.
TEST_F(TlsTest, AnUnansweredPostEndsAtItsDeadlineAndTheNextConnectsAgain) {
  TargetConnection* c = nullptr;
  ASSERT_TRUE(PostTo(receiver_.url(), certs_.ca, &c).ok());
  receiver_.set_mode(::pm::testing::TestReceiver::Mode::kStall);
  auto late = c->Post({}, "{}", std::chrono::milliseconds(300));
  ASSERT_FALSE(late.ok());
  EXPECT_THAT(late.error().message, HasSubstr("cannot read the answer"));
  EXPECT_THAT(late.error().message, HasSubstr("no answer in time"));
  receiver_.set_mode(::pm::testing::TestReceiver::Mode::kAccept);
  auto next = c->Post({}, "{}", std::chrono::milliseconds(5000));
  ASSERT_TRUE(next.ok()) << next.error().message;
  EXPECT_EQ(*next, 200);
  EXPECT_EQ(c->opened(), 2);
}

// serve stopping cancels a POST that waits for its answer (from another
// thread): it ends at once, and a POST through a cancelled canceller ends
// before it starts.
TEST_F(TlsTest, CancelEndsAPostWaitingForItsAnswer) {
  TargetConnection* c = nullptr;
  ASSERT_TRUE(PostTo(receiver_.url(), certs_.ca, &c).ok());
  receiver_.set_mode(::pm::testing::TestReceiver::Mode::kStall);
  PostCanceller canceller;
  std::thread stopper([&] {
    EXPECT_TRUE(receiver_.WaitFor(2));  // the second POST is there, stalled
    canceller.Cancel();
  });
  auto start = std::chrono::steady_clock::now();
  auto cancelled = c->Post({}, "{}", std::chrono::seconds(30), &canceller);
  stopper.join();
  ASSERT_FALSE(cancelled.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
  auto after = c->Post({}, "{}", std::chrono::seconds(30), &canceller);
  EXPECT_FALSE(after.ok());
  EXPECT_EQ(receiver_.requests().size(), 2u);
}

TEST(KeepAlive, PlainHttpUsesOneConnectionAndReconnectsWhenClosed) {
  ::pm::testing::TestReceiver receiver;
  auto url = ParseHttpUrl(receiver.url());
  ASSERT_TRUE(url.ok());
  TargetConnection c(*url);
  ASSERT_TRUE(c.Init().ok());
  for (int i = 0; i < 10; ++i) {
    auto answer = c.Post({}, "{}", std::chrono::milliseconds(5000));
    ASSERT_TRUE(answer.ok()) << answer.error().message;
  }
  EXPECT_EQ(receiver.connections(), 1);
  // A server that closes after each answer still gets every request.
  receiver.set_mode(::pm::testing::TestReceiver::Mode::kClose);
  for (int i = 0; i < 5; ++i) {
    auto answer = c.Post({}, "{}", std::chrono::milliseconds(5000));
    ASSERT_TRUE(answer.ok()) << answer.error().message;
    EXPECT_EQ(*answer, 200);
  }
  EXPECT_EQ(receiver.requests().size(), 15u);  // each answered 200 above
  EXPECT_EQ(receiver.connections(), 5);  // the first, and one per later POST
}

// A kept-alive connection the server dropped while idle: the POST that
// finds it closed is sent again on a new connection, once, and succeeds.
TEST(KeepAlive, APostOnAConnectionTheServerDroppedIsSentAgainOnANewOne) {
  ::pm::testing::TestReceiver receiver;
  receiver.set_mode(::pm::testing::TestReceiver::Mode::kDropIdle);
  auto url = ParseHttpUrl(receiver.url());
  ASSERT_TRUE(url.ok());
  TargetConnection c(*url);
  ASSERT_TRUE(c.Init().ok());
  for (int i = 0; i < 6; ++i) {
    auto answer = c.Post({}, "{}", std::chrono::milliseconds(5000));
    ASSERT_TRUE(answer.ok()) << i << ": " << answer.error().message;
    EXPECT_EQ(*answer, 200);
  }
  EXPECT_EQ(receiver.requests().size(), 6u);  // the lost sends never arrived
  EXPECT_EQ(receiver.connections(), 6);
  EXPECT_EQ(c.opened(), 6);
}

}  // namespace
}  // namespace pm

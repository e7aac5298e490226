// The receiver over real HTTP on loopback, with the real SQLite store.
#include "http/server.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "http/test_harness.h"
#include "ledger/replay.h"

namespace pm {
namespace {

using testing::AllEvents;
using testing::AllSessions;
using testing::FixturesDir;
using testing::Harness;
using testing::TempDir;

std::string Fixture(const std::string& name) {
  return ReadFileBytes(FixturesDir() + "/" + name);
}

// A fixture as the bytes the plugin sends: .http files as they stand, .json
// bodies as POST application/json to /webhook.
std::string FixtureRequest(const std::string& name) {
  std::string bytes = Fixture(name);
  EXPECT_FALSE(bytes.empty()) << name;
  if (name.ends_with(".http")) return bytes;
  return BuildRequest("POST", "/webhook", "application/json", bytes);
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// --- every fixture is accepted and ends up in the ledger as it says ------

struct FixtureCase {
  const char* file;
  bool test;
  int sessions;                              // sessions after it, fresh db
  std::optional<SessionStatus> status;       // of the one session
  bool start_inferred;
};

class FixtureTest : public ::testing::TestWithParam<FixtureCase> {};

TEST_P(FixtureTest, AnsweredStoredAndFolded) {
  const FixtureCase& c = GetParam();
  TempDir dir;
  Harness h(dir.path());
  h.Start();
  TestClient client(h.port());
  auto reply = client.SendRaw(FixtureRequest(std::string("plugin/") + c.file));
  ASSERT_TRUE(reply.ok()) << reply.error().message;
  EXPECT_EQ(reply->status, 200) << reply->body;
  EXPECT_TRUE(Contains(reply->body, "\"status\":\"stored\"")) << reply->body;
  EXPECT_TRUE(Contains(reply->body, c.test ? "\"test\":true" : "\"test\":false"))
      << reply->body;
  EXPECT_TRUE(Contains(reply->body, "\"duplicate\":false")) << reply->body;

  auto events = AllEvents(*h.store);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].event.device, "ender3-garage");
  EXPECT_EQ(events[0].event.test, c.test);
  ASSERT_TRUE(events[0].request.has_value());
  // Stored as received: the body bytes of the request.
  std::string raw = Fixture(std::string("plugin/") + c.file);
  EXPECT_TRUE(raw.ends_with(events[0].request->body));

  auto sessions = h.Sessions();
  ASSERT_EQ(static_cast<int>(sessions.size()), c.sessions);
  if (c.sessions == 1) {
    EXPECT_EQ(sessions[0].status, *c.status);
    EXPECT_EQ(sessions[0].start_inferred, c.start_inferred);
    EXPECT_EQ(sessions[0].id, events[0].event.id);
    EXPECT_EQ(testing::EventSessions(*h.store)[events[0].event.id],
              sessions[0].id);
  }
}

using S = SessionStatus;
INSTANTIATE_TEST_SUITE_P(
    Plugin, FixtureTest,
    ::testing::Values(
        FixtureCase{"01_print_started_local.json", false, 1, S::kPrinting, false},
        FixtureCase{"02_print_started_sdcard.json", false, 1, S::kPrinting, false},
        FixtureCase{"03_print_paused.json", false, 1, S::kPaused, true},
        FixtureCase{"04_print_failed_cancelled.json", false, 1, S::kCancelled, true},
        FixtureCase{"05_print_failed_error.json", false, 1, S::kFailed, true},
        FixtureCase{"06_print_done.json", false, 1, S::kCompleted, true},
        FixtureCase{"07_print_progress_50.json", false, 1, S::kPrinting, true},
        FixtureCase{"08_user_action_needed.json", false, 0, std::nullopt, false},
        FixtureCase{"09_error_event.json", false, 0, std::nullopt, false},
        FixtureCase{"10_test_print_started.json", true, 0, std::nullopt, false},
        FixtureCase{"11_test_print_progress.json", true, 0, std::nullopt, false},
        FixtureCase{"12_custom_event_print_resumed.json", false, 1, S::kPrinting, true},
        FixtureCase{"13_custom_event_print_cancelled.json", false, 0, std::nullopt, false},
        FixtureCase{"14_simple_template_print_done.json", false, 1, S::kCompleted, true},
        FixtureCase{"15_form_urlencoded_print_done.http", false, 1, S::kCompleted, true},
        FixtureCase{"16_form_urlencoded_print_started_sdcard.http", false, 1, S::kPrinting, false},
        FixtureCase{"17_multipart_default_no_snapshot_print_started.http", false, 1, S::kPrinting, false},
        FixtureCase{"19_get_simple_print_done.http", false, 1, S::kCompleted, true},
        FixtureCase{"20_dotnotation_template_test_print_done.json", false, 1, S::kCompleted, true}),
    [](const auto& info) {
      std::string name = info.param.file;
      name = name.substr(0, name.find('.'));
      for (char& c : name) if (!isalnum(static_cast<unsigned char>(c))) c = '_';
      return "F" + name;
    });

TEST(ServerTest, EveryPluginFixtureIsCovered) {
  int files = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(FixturesDir() + "/plugin")) {
    auto ext = entry.path().extension();
    if (ext == ".json" || ext == ".http") ++files;
  }
  EXPECT_EQ(files, 19);
}

// The six seed bodies from a real printer, posted in order over one
// kept-alive connection, make the four prints a person reads off them.
TEST(ServerTest, SeedsMakeFourSessions) {
  TempDir dir;
  Harness h(dir.path());
  h.Start();
  TestClient client(h.port());
  for (const char* seed :
       {"01-octoprint-print-started.json", "02-octoprint-print-done.json",
        "03-sdcard-print-started.json", "04-sdcard-print-done.json",
        "05-printer-print-stopped.json", "06-octoprint-print-stopped.json"}) {
    auto reply = client.SendRaw(FixtureRequest(std::string("seed/") + seed));
    ASSERT_TRUE(reply.ok()) << reply.error().message;
    ASSERT_EQ(reply->status, 200) << seed << ": " << reply->body;
  }
  auto sessions = h.Sessions();  // newest first
  ASSERT_EQ(sessions.size(), 4u);
  const Session& local = sessions[3];
  EXPECT_EQ(local.status, S::kCompleted);
  EXPECT_EQ(local.started_at, 1722565567000);
  EXPECT_EQ(local.ended_at, 1722566717000);
  EXPECT_EQ(local.user, "mike");
  EXPECT_FALSE(local.start_inferred);
  const Session& sd = sessions[2];
  EXPECT_EQ(sd.status, S::kCompleted);
  EXPECT_EQ(sd.started_at, 1722567131000);
  EXPECT_EQ(sd.ended_at, 1722567444000);
  const Session& stopped = sessions[1];
  EXPECT_EQ(stopped.status, S::kCancelled);
  EXPECT_TRUE(stopped.start_inferred);
  EXPECT_EQ(stopped.ended_at, 1722728256000);
  EXPECT_NEAR(static_cast<double>(stopped.started_at),
              1722728256000 - 287367.58, 1.0);
  const Session& stopped8 = sessions[0];
  EXPECT_EQ(stopped8.status, S::kCancelled);
  EXPECT_EQ(stopped8.ended_at, 1722729695000);
  EXPECT_EQ(stopped8.user, "mike");
}

// --- rejections: the status, a message, and nothing stored ----------------

class RejectionTest : public ::testing::Test {
 protected:
  void SetUp() override { h_.Start(options_, server_options_); }
  void ExpectNothingStored() {
    EXPECT_TRUE(AllEvents(*h_.store).empty());
    EXPECT_TRUE(h_.Sessions().empty());
  }
  void ExpectError(const Result<HttpReply>& reply, int status,
                   const std::string& words) {
    ASSERT_TRUE(reply.ok()) << reply.error().message;
    EXPECT_EQ(reply->status, status) << reply->body;
    EXPECT_TRUE(Contains(reply->body, "\"error\":")) << reply->body;
    EXPECT_TRUE(Contains(reply->body, words)) << reply->body;
  }
  std::string Body(const std::string& device, const std::string& secret) {
    return R"({"deviceIdentifier":")" + device + R"(","apiSecret":")" +
           secret + R"(","topic":"Print Started","currentTime":1722565567})";
  }

  TempDir dir_;
  IngestOptions options_;
  ServerOptions server_options_;
  Harness h_{dir_.path()};
};

TEST_F(RejectionTest, MalformedJsonIs400) {
  TestClient c(h_.port());
  ExpectError(c.Send("POST", "/webhook", "application/json", "{\"topic\":"),
              400, "JSON");
  ExpectNothingStored();
}

TEST_F(RejectionTest, MissingDeviceIs400) {
  TestClient c(h_.port());
  ExpectError(c.Send("POST", "/webhook", "application/json",
                     R"({"topic":"Print Started"})"),
              400, "deviceIdentifier");
  ExpectNothingStored();
}

TEST_F(RejectionTest, MalformedContentLengthIs400) {
  TestClient c(h_.port());
  ExpectError(c.SendRaw("POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: "
                        "application/json\r\nContent-Length: 12x\r\n\r\n{}"),
              400, "malformed");
  ExpectNothingStored();
}

TEST_F(RejectionTest, MalformedChunkIs400) {
  TestClient c(h_.port());
  ExpectError(c.SendRaw("POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: "
                        "application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "zz\r\n{}\r\n0\r\n\r\n"),
              400, "malformed");
  ExpectNothingStored();
}

TEST_F(RejectionTest, WrongMethodIs405WithAllow) {
  TestClient c(h_.port());
  auto reply = c.Send("PATCH", "/octoprint/webhook", "application/json",
                      Body("delta", ""));
  ExpectError(reply, 405, "POST");
  EXPECT_EQ(reply->headers["allow"], "POST, PUT, GET, DELETE");
  ExpectNothingStored();
}

TEST_F(RejectionTest, BodyOverOneMebibyteIs413) {
  TestClient c(h_.port());
  std::string big(server_options_.max_body + 1, ' ');
  ExpectError(c.Send("POST", "/webhook", "application/json", big), 413,
              "larger than");
  ExpectNothingStored();
}

TEST_F(RejectionTest, MultipartOverOneMebibyteWithoutSnapshotIs413) {
  TestClient c(h_.port());
  std::string boundary = "b0undary";
  std::string filler(server_options_.max_body, 'x');
  std::string body =
      "--" + boundary +
      "\r\nContent-Disposition: form-data; name=\"deviceIdentifier\"\r\n\r\n"
      "delta\r\n--" + boundary +
      "\r\nContent-Disposition: form-data; name=\"message\"\r\n\r\n" + filler +
      "\r\n--" + boundary + "--\r\n";
  ExpectError(c.Send("POST", "/webhook",
                     "multipart/form-data; boundary=" + boundary, body),
              413, "snapshot");
  ExpectNothingStored();
}

TEST_F(RejectionTest, MultipartWithLargeSnapshotIsStored) {
  TestClient c(h_.port());
  std::string boundary = "b0undary";
  std::string jpeg(2 << 20, '\xff');
  std::string body =
      "--" + boundary +
      "\r\nContent-Disposition: form-data; name=\"deviceIdentifier\"\r\n\r\n"
      "delta\r\n--" + boundary +
      "\r\nContent-Disposition: form-data; name=\"topic\"\r\n\r\nPrint "
      "Started\r\n--" + boundary +
      "\r\nContent-Disposition: form-data; name=\"snapshot\"; "
      "filename=\"snapshot.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n" + jpeg +
      "\r\n--" + boundary + "--\r\n";
  auto reply = c.Send("POST", "/webhook",
                      "multipart/form-data; boundary=" + boundary, body);
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->status, 200) << reply->body;
  auto events = AllEvents(*h_.store);
  ASSERT_EQ(events.size(), 1u);
  auto snapshot = h_.store->GetSnapshot(events[0].event.id);
  ASSERT_TRUE(snapshot.ok() && snapshot->has_value());
  EXPECT_EQ((*snapshot)->bytes.size(), jpeg.size());
}

TEST_F(RejectionTest, LongTargetIs414) {
  TestClient c(h_.port());
  std::string target = "/webhook?x=" + std::string(9000, 'a');
  ExpectError(c.Send("GET", target, "", ""), 414, "target");
  ExpectNothingStored();
}

TEST_F(RejectionTest, VeryLongTargetIs414) {
  TestClient c(h_.port());
  std::string target = "/webhook?x=" + std::string(20000, 'a');
  ExpectError(c.Send("GET", target, "", ""), 414, "target");
  ExpectNothingStored();
}

TEST_F(RejectionTest, HugeHeadersAre431) {
  TestClient c(h_.port());
  std::string headers;
  for (int i = 0; i < 40; ++i) {
    headers += "X-Filler-" + std::to_string(i) + ": " +
               std::string(500, 'h') + "\r\n";
  }
  ExpectError(c.Send("POST", "/webhook", "application/json",
                     Body("delta", ""), headers),
              431, "headers");
  ExpectNothingStored();
}

TEST_F(RejectionTest, UnknownContentTypeIs415) {
  TestClient c(h_.port());
  ExpectError(c.Send("POST", "/webhook", "text/csv", "a,b\n1,2\n"), 415, "");
  ExpectNothingStored();
}

TEST_F(RejectionTest, UnknownPathIs404) {
  TestClient c(h_.port());
  ExpectError(c.Send("POST", "/nothing/here", "application/json", "{}"), 404,
              "webhook");
  ExpectNothingStored();
}

TEST_F(RejectionTest, SlowClientIsCutOffWhileOthersAreServed) {
  // A fresh server with a short deadline, so the test stays fast.
  Harness h(dir_.path() / "slow");
  std::filesystem::create_directories(dir_.path() / "slow");
  ServerOptions options;
  options.body_timeout = 300;
  h.Start({}, options);
  TestClient slow(h.port());
  ASSERT_TRUE(slow.Write("POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: "
                         "application/json\r\nContent-Length: 200\r\n\r\n{")
                  .ok());
  // Meanwhile another client is served (several times over).
  TestClient quick(h.port());
  for (int i = 0; i < 3; ++i) {
    auto reply = quick.Send("GET", "/healthz", "", "");
    ASSERT_TRUE(reply.ok());
    EXPECT_EQ(reply->status, 200);
  }
  // The slow one is closed without an answer once its deadline passed
  // (the read blocks until the server closes it).
  EXPECT_TRUE(slow.ServerClosed());
  EXPECT_TRUE(AllEvents(*h.store).empty());
}

class TofuTest : public RejectionTest {};

TEST_F(TofuTest, RegistersFirstSecretThenRequiresIt) {
  TestClient c(h_.port());
  auto first = c.Send("POST", "/webhook", "application/json",
                      Body("delta", "s3cret"));
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->status, 200) << first->body;
  ExpectError(c.Send("POST", "/webhook", "application/json",
                     Body("delta", "guess")),
              401, "delta");
  // A missing secret is refused too.
  ExpectError(c.Send("POST", "/webhook", "application/json",
                     R"({"deviceIdentifier":"delta","topic":"Print Done"})"),
              401, "secret");
  // The secret in a header counts as well.
  auto bearer = c.Send("POST", "/webhook", "application/json",
                       R"({"deviceIdentifier":"delta","topic":"Print Done"})",
                       "Authorization: Bearer s3cret\r\n");
  ASSERT_TRUE(bearer.ok());
  EXPECT_EQ(bearer->status, 200) << bearer->body;
  EXPECT_EQ(AllEvents(*h_.store).size(), 2u);  // the rejected ones: nothing
}

TEST_F(TofuTest, EmptySecretRegistersToo) {
  TestClient c(h_.port());
  auto first = c.Send("POST", "/webhook", "application/json", Body("delta", ""));
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->status, 200);
  ExpectError(c.Send("POST", "/webhook", "application/json",
                     Body("delta", "now-a-secret")),
              401, "delta");
  EXPECT_EQ(AllEvents(*h_.store).size(), 1u);
}

class StrictTest : public RejectionTest {
 protected:
  StrictTest() {
    options_.auth = AuthMode::kStrict;
    options_.devices["delta"] = "abc";
  }
};

TEST_F(StrictTest, UnknownDeviceIs403KnownNeedsItsSecret) {
  TestClient c(h_.port());
  ExpectError(c.Send("POST", "/webhook", "application/json",
                     Body("stranger", "abc")),
              403, "devices add");
  ExpectError(c.Send("POST", "/webhook", "application/json",
                     Body("delta", "abd")),
              401, "delta");
  ExpectNothingStored();
  auto ok = c.Send("POST", "/webhook", "application/json", Body("delta", "abc"));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->status, 200) << ok->body;
}

// --- routing -------------------------------------------------------------

TEST(ServerTest, RoutesUnderAnyPrefixAndPerDevicePaths) {
  TempDir dir;
  Harness h(dir.path());
  h.Start();
  TestClient c(h.port());
  for (std::string target : {"/webhook", "/webhook/", "/octoprint/webhook",
                             "/a/b/webhook/garage-mk4", "/webhook/garage-mk4"}) {
    auto reply = c.Send("POST", target, "application/json",
                        R"({"topic":"Print Progress","deviceIdentifier":"d"})");
    ASSERT_TRUE(reply.ok());
    EXPECT_EQ(reply->status, 200) << target << ": " << reply->body;
  }
  // Without deviceIdentifier, the path names the device.
  auto reply = c.Send("POST", "/x/webhook/garage-mk4", "application/json",
                      R"({"topic":"Print Started","currentTime":1722565567})");
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->status, 200) << reply->body;
  auto events = AllEvents(*h.store);
  ASSERT_EQ(events.size(), 6u);
  EXPECT_EQ(events.back().event.device, "garage-mk4");
  auto health = c.Send("GET", "/healthz", "", "");
  ASSERT_TRUE(health.ok());
  EXPECT_EQ(health->status, 200);
  auto ready = c.Send("GET", "/readyz", "", "");
  ASSERT_TRUE(ready.ok());
  EXPECT_EQ(ready->status, 200);
  // Without an Api, /api answers 404 rather than guessing.
  auto api = c.Send("GET", "/api/v1/printers", "", "");
  ASSERT_TRUE(api.ok());
  EXPECT_EQ(api->status, 404);
}

TEST(ServerTest, ServesTheApiMetricsAndDashboard) {
  TempDir dir;
  std::filesystem::create_directories(dir.path() / "dist");
  std::ofstream(dir.path() / "dist" / "index.html")
      << "<!doctype html><title>printmeter</title>";
  Harness h(dir.path());
  ServerOptions options;
  options.web_root = (dir.path() / "dist").string();
  h.Start({}, options, /*with_api=*/true);
  TestClient c(h.port());
  auto posted = c.SendRaw(FixtureRequest("seed/01-octoprint-print-started.json"));
  ASSERT_TRUE(posted.ok());
  ASSERT_EQ(posted->status, 200);
  auto rejected = c.Send("POST", "/webhook", "application/json", "{");
  ASSERT_TRUE(rejected.ok());
  ASSERT_EQ(rejected->status, 400);
  h.Settle();

  auto printers = c.Send("GET", "/api/v1/printers", "", "");
  ASSERT_TRUE(printers.ok());
  EXPECT_EQ(printers->status, 200) << printers->body;
  EXPECT_TRUE(Contains(printers->body, "\"delta\"")) << printers->body;
  EXPECT_TRUE(Contains(printers->body, "printing")) << printers->body;

  auto metrics = c.Send("GET", "/metrics", "", "");
  ASSERT_TRUE(metrics.ok());
  EXPECT_EQ(metrics->status, 200);
  EXPECT_TRUE(Contains(metrics->body, "stored")) << metrics->body;
  EXPECT_TRUE(Contains(metrics->body, "invalid")) << metrics->body;

  auto page = c.Send("GET", "/", "", "");
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->status, 200);
  EXPECT_TRUE(Contains(page->body, "<title>printmeter</title>"));
  EXPECT_TRUE(Contains(page->headers["content-type"], "text/html"));
  auto missing = c.Send("GET", "/nothing.html", "", "");
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->status, 404);
}

// Over the connection cap, a new connection is served at once: the idle
// kept-alive one is closed to make room, and nothing is lost.
TEST(ServerTest, OverTheCapTheIdleConnectionMakesRoom) {
  TempDir dir;
  Harness h(dir.path());
  ServerOptions options;
  options.max_connections = 1;
  h.Start({}, options);
  TestClient first(h.port());
  auto r1 = first.Send("GET", "/healthz", "", "");
  ASSERT_TRUE(r1.ok());
  ASSERT_EQ(r1->status, 200);
  ASSERT_TRUE(r1->keep_alive);
  // At once: the client has its answer a moment before the server takes
  // the connection back to idle, and the newcomer waits for that moment.
  TestClient second(h.port());
  auto r2 = second.Send("POST", "/webhook", "application/json",
                        Fixture("plugin/02_print_started_sdcard.json"));
  ASSERT_TRUE(r2.ok()) << r2.error().message;
  EXPECT_EQ(r2->status, 200) << r2->body;
  EXPECT_TRUE(first.ServerClosed());
  EXPECT_EQ(AllEvents(*h.store).size(), 1u);
}

// Every slot holds a request being answered (here the one slot's webhook
// waits for the database, which another program has locked): a newcomer
// waits up to admit_wait for it, is served when it finishes, and hears 503
// when it does not finish in time.
TEST(ServerTest, ANewcomerWaitsForABusySlotThenIsServedOrHears503) {
  if (testing::TestStoreIsPostgresql()) {
    GTEST_SKIP() << "the slot is held busy by locking the SQLite file";
  }
  for (bool in_time : {true, false}) {
    SCOPED_TRACE(in_time ? "the slot frees in time" : "it does not");
    TempDir dir;
    Harness h(dir.path());
    ServerOptions options;
    options.max_connections = 1;
    options.admit_wait = in_time ? 3000 : 300;
    h.Start({}, options);
    sqlite3* other = nullptr;
    ASSERT_EQ(sqlite3_open((dir.path() / "pm.db").c_str(), &other), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(other, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr),
              SQLITE_OK);
    int webhook_status = 0;
    std::thread busy([&] {
      TestClient c(h.port());
      auto r = c.Send("POST", "/webhook", "application/json",
                      Fixture("plugin/02_print_started_sdcard.json"));
      webhook_status = r.ok() ? r->status : -1;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    std::thread unlock([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(in_time ? 300 : 1500));
      sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr);
    });
    auto start = std::chrono::steady_clock::now();
    TestClient second(h.port());
    auto r = second.Send("GET", "/healthz", "", "");
    auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
    unlock.join();
    busy.join();
    sqlite3_close(other);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(webhook_status, 200);
    EXPECT_GE(waited, 250);
    if (in_time) {
      EXPECT_EQ(r->status, 200) << r->body;
    } else {
      EXPECT_EQ(r->status, 503) << r->body;
      EXPECT_NE(r->body.find("answering as many requests"), std::string::npos)
          << r->body;
      EXPECT_LT(waited, 1400);
    }
  }
}

TEST(ServerTest, DuplicateAnsweredAndFlagged) {
  TempDir dir;
  Harness h(dir.path());
  h.Start();
  TestClient c(h.port());
  std::string req = FixtureRequest("seed/01-octoprint-print-started.json");
  auto first = c.SendRaw(req);
  auto second = c.SendRaw(req);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_TRUE(Contains(first->body, "\"duplicate\":false"));
  EXPECT_TRUE(Contains(second->body, "\"duplicate\":true")) << second->body;
  auto events = AllEvents(*h.store);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_TRUE(events[1].duplicate);
  EXPECT_EQ(h.Sessions().size(), 1u);
  EXPECT_EQ(h.Sessions()[0].event_count, 1);
}

// --- restart: everything the writer knew is read back --------------------

TEST(ServerTest, RestartKeepsSessionsStateAndSecrets) {
  TempDir dir;
  Harness h(dir.path());
  h.Start();
  {
    TestClient c(h.port());
    auto r1 = c.SendRaw(FixtureRequest("seed/01-octoprint-print-started.json"));
    auto r2 = c.Send("POST", "/webhook", "application/json",
                     R"({"deviceIdentifier":"mk4","apiSecret":"k","topic":"Print Started","currentTime":1722565000})");
    ASSERT_TRUE(r1.ok() && r2.ok());
    ASSERT_EQ(r2->status, 200);
  }
  auto before = h.Sessions();
  h.Stop();
  h.Start();
  EXPECT_EQ(h.Sessions(), before);  // the open prints stay open
  for (const Session& s : before) EXPECT_TRUE(IsOpen(s.status));
  TestClient c(h.port());
  // The tofu secret survived.
  auto wrong = c.Send("POST", "/webhook", "application/json",
                      R"({"deviceIdentifier":"mk4","apiSecret":"x","topic":"Print Done","currentTime":1722566000})");
  ASSERT_TRUE(wrong.ok());
  EXPECT_EQ(wrong->status, 401);
  // The device state survived: the done closes the print opened before.
  auto done = c.SendRaw(FixtureRequest("seed/02-octoprint-print-done.json"));
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->status, 200);
  auto after = h.Sessions();
  ASSERT_EQ(after.size(), 2u);
  const Session& delta = after[0].device == "delta" ? after[0] : after[1];
  EXPECT_EQ(delta.status, SessionStatus::kCompleted);
  EXPECT_FALSE(delta.start_inferred);
}

}  // namespace
}  // namespace pm

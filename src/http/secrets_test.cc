// Over real HTTP: no answer of any endpoint carries a printer's secret, the
// session view is paged, and a registration flood is bounded.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "decode/test_request.h"
#include "http/test_harness.h"

namespace pm {
namespace {

namespace json = boost::json;
using testing::Harness;
using testing::TempDir;

constexpr std::string_view kPluginSecret = "3f9c1a7be2d44e0b";
constexpr std::string_view kSeedSecret = "seed-secret-Qx81";

bool Contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

std::string Request(const testing::OwnedRequest& r) {
  std::string headers;
  if (!r.authorization.empty()) {
    headers += "Authorization: " + r.authorization + "\r\n";
  }
  if (!r.api_key.empty()) headers += "X-Api-Key: " + r.api_key + "\r\n";
  return BuildRequest(r.method, r.target, r.content_type, r.body, headers);
}

// Every fixture, the .json ones in the plugin's four encodings (the seeds
// with a secret, since theirs is empty), as raw requests.
std::vector<std::string> EveryFixtureRequest() {
  std::vector<std::string> out;
  for (const char* dir : {"seed", "plugin"}) {
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(
             std::filesystem::path(testing::FixturesDir()) / dir)) {
      files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& path : files) {
      std::string text = ReadFileBytes(path.string());
      if (path.extension() == ".http") {
        out.push_back(text);
        continue;
      }
      if (path.extension() != ".json") continue;
      const std::string empty = "\"apiSecret\": \"\"";
      if (auto at = text.find(empty); at != std::string::npos) {
        text.replace(at, empty.size(),
                     "\"apiSecret\": \"" + std::string(kSeedSecret) + "\"");
      }
      out.push_back(Request(testing::AsJson(text)));
      out.push_back(Request(testing::AsForm(text)));
      out.push_back(Request(testing::AsMultipart(text, "JPEG")));
      out.push_back(Request(testing::AsQuery(text)));
    }
  }
  return out;
}

// GET `target`, asserting it answers and carries no secret.
std::string GetClean(TestClient& c, const std::string& target,
                     std::string_view headers = "") {
  auto r = c.Send("GET", target, "", "", headers);
  EXPECT_TRUE(r.ok()) << target;
  if (!r.ok()) return {};
  std::string all = r->body;
  for (const auto& [name, value] : r->headers) all += name + ": " + value;
  EXPECT_FALSE(Contains(all, kPluginSecret)) << target << " leaks: " << all;
  EXPECT_FALSE(Contains(all, kSeedSecret)) << target << " leaks: " << all;
  return r->body;
}

TEST(SecretsTest, NoAnswerOfAnyEndpointCarriesAFixturesSecret) {
  TempDir dir;
  Harness h(dir.path());
  h.api_options.timezone = "UTC";
  IngestOptions options;
  options.auth = AuthMode::kOpen;
  h.Start(options, {}, /*with_api=*/true);
  TestClient c(h.port());
  int stored = 0;
  for (const std::string& request : EveryFixtureRequest()) {
    auto r = c.SendRaw(request);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->status, 200) << r->body << "\n" << request.substr(0, 300);
    EXPECT_FALSE(Contains(r->body, kPluginSecret));
    ++stored;
  }
  ASSERT_GT(stored, 60);
  h.Settle();

  GetClean(c, "/api/v1/printers");
  std::string list = GetClean(c, "/api/v1/sessions?limit=1000");
  GetClean(c, "/api/v1/sessions.csv");
  GetClean(c, "/api/v1/usage?from=2000-01-01&to=2100-01-01");
  GetClean(c, "/metrics");
  GetClean(c, "/readyz");
  GetClean(c, "/healthz");
  json::value sessions = json::parse(list);
  ASSERT_GT(sessions.at("sessions").as_array().size(), 3u);
  int bodies = 0;
  for (const json::value& s : sessions.at("sessions").as_array()) {
    std::string id = std::to_string(s.at("id").as_int64());
    json::value one = json::parse(GetClean(c, "/api/v1/sessions/" + id));
    for (const json::value& e : one.at("events").as_array()) {
      bodies += e.as_object().contains("body");
    }
  }
  EXPECT_GT(bodies, 3) << "the bodies must be shown, masked";
  // The admin's event log (loopback, no admin token): masked as well, every
  // page of it; the bodies are there, with the secret masked.
  std::string events = GetClean(c, "/api/v1/events?limit=1000");
  EXPECT_TRUE(Contains(events, "********")) << events.substr(0, 500);
  EXPECT_TRUE(Contains(events, "deviceIdentifier"));
  GetClean(c, "/api/v1/events?reveal=nonsense");
  // Only when asked for, explicitly, does the admin see them.
  auto revealed =
      c.Send("GET", "/api/v1/events?limit=1000&reveal=secrets", "", "");
  ASSERT_TRUE(revealed.ok());
  EXPECT_EQ(revealed->status, 200);
  EXPECT_TRUE(Contains(revealed->body, kPluginSecret));
  EXPECT_TRUE(Contains(revealed->body, kSeedSecret));
}

TEST(SecretsTest, TheReadTokenDoesNotRevealSecrets) {
  TempDir dir;
  Harness h(dir.path());
  h.api_options.read_token = "reader";
  h.api_options.admin_token = "admin";
  h.Start({}, {}, /*with_api=*/true);
  TestClient c(h.port());
  for (const std::string& request : EveryFixtureRequest()) {
    auto r = c.SendRaw(request);
    ASSERT_TRUE(r.ok());
  }
  h.Settle();
  const std::string_view reader = "Authorization: Bearer reader\r\n";
  auto refused = c.Send("GET", "/api/v1/events?reveal=secrets", "", "", reader);
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ(refused->status, 403);
  std::string list = GetClean(c, "/api/v1/sessions?limit=1000", reader);
  json::value sessions = json::parse(list);
  ASSERT_TRUE(sessions.as_object().contains("sessions")) << list;
  ASSERT_FALSE(sessions.at("sessions").as_array().empty()) << list;
  for (const json::value& s : sessions.at("sessions").as_array()) {
    GetClean(c, "/api/v1/sessions/" + std::to_string(s.at("id").as_int64()),
             reader);
  }
  GetClean(c, "/api/v1/events?limit=1000", "Authorization: Bearer admin\r\n");
}

std::string Progress(const std::string& device, int i) {
  return fmt::format(
      R"({{"deviceIdentifier":"{}","apiSecret":"pw-{}","topic":"Print Progress",)"
      R"("extra":{{"progress":{}}},"currentTime":{}}})",
      device, device, i % 100, 1722000000 + i);
}

TEST(SecretsTest, ASessionsEventsComeAPageAtATime) {
  TempDir dir;
  Harness h(dir.path());
  h.Start({}, {}, /*with_api=*/true);
  TestClient c(h.port());
  constexpr int kEvents = 250;
  for (int i = 0; i < kEvents; ++i) {
    auto r = c.Send("POST", "/webhook", "application/json", Progress("p1", i));
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->status, 200) << r->body;
  }
  h.Settle();
  json::value list = json::parse(GetClean(c, "/api/v1/sessions"));
  ASSERT_EQ(list.at("sessions").as_array().size(), 1u);
  std::string id =
      std::to_string(list.at("sessions").at(0).at("id").as_int64());

  std::vector<int64_t> seen;
  std::string target = "/api/v1/sessions/" + id + "?limit=100";
  int pages = 0;
  for (;;) {
    json::value page = json::parse(GetClean(c, target));
    ++pages;
    EXPECT_EQ(page.at("event_count").as_int64(), kEvents);
    const auto& events = page.at("events").as_array();
    EXPECT_LE(events.size(), 100u);
    for (const json::value& e : events) seen.push_back(e.at("id").as_int64());
    const json::value& next = page.at("events_next_cursor");
    if (next.is_null()) break;
    target = "/api/v1/sessions/" + id +
             "?limit=100&cursor=" + std::string(next.as_string());
    ASSERT_LT(pages, 10);
  }
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(seen.size(), static_cast<size_t>(kEvents));
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_EQ(std::set<int64_t>(seen.begin(), seen.end()).size(), seen.size());

  json::value first = json::parse(GetClean(c, "/api/v1/sessions/" + id));
  EXPECT_EQ(first.at("events").as_array().size(), 100u) << "default limit";
  for (std::string bad : {"?cursor=garbage", "?limit=0", "?limit=1001"}) {
    auto r = c.Send("GET", "/api/v1/sessions/" + id + bad, "", "");
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, 400) << bad;
    EXPECT_TRUE(Contains(r->body, "\"error\"")) << r->body;
  }
}

int Post(TestClient& c, const std::string& device, int i,
         std::string* body = nullptr) {
  auto r = c.Send("POST", "/webhook", "application/json", Progress(device, i));
  EXPECT_TRUE(r.ok());
  if (body && r.ok()) *body = r->body;
  return r.ok() ? r->status : 0;
}

TEST(SecretsTest, ARegistrationFloodIsBoundedPerHourAndInAll) {
  TempDir dir;
  Harness h(dir.path());
  IngestOptions options;
  options.registrations = {
      .max_devices = 8, .max_per_window = 5, .window = kHourMs};
  options.devices["configured"] = std::nullopt;
  h.Start(options, {}, /*with_api=*/true);
  TestClient c(h.port());
  int accepted = 0;
  std::string last;
  for (int i = 0; i < 200; ++i) {
    int status = Post(c, fmt::format("made-up-{}", i), i, &last);
    ASSERT_TRUE(status == 200 || status == 429) << status << " " << last;
    accepted += status == 200;
  }
  EXPECT_EQ(accepted, 5);
  EXPECT_TRUE(Contains(last, "registrations_per_hour")) << last;
  // Known and configured printers are never held up by the flood.
  EXPECT_EQ(Post(c, "made-up-0", 1000), 200);
  EXPECT_EQ(Post(c, "configured", 1001), 200);
  json::value printers = json::parse(GetClean(c, "/api/v1/printers"));
  EXPECT_EQ(printers.at("printers").as_array().size(), 6u);
  std::string metrics = GetClean(c, "/metrics");
  EXPECT_TRUE(Contains(metrics, "result=\"rate_limited\"")) << metrics;

  // An hour later the window has room again, up to the cap of 8 in all.
  h.clock.Advance(kHourMs + 1);
  accepted = 0;
  for (int i = 200; i < 400; ++i) {
    int status = Post(c, fmt::format("made-up-{}", i), i, &last);
    ASSERT_TRUE(status == 200 || status == 403) << status << " " << last;
    accepted += status == 200;
  }
  EXPECT_EQ(accepted, 2);  // 6 known + 2 = 8
  EXPECT_TRUE(Contains(last, "max_devices")) << last;
  printers = json::parse(GetClean(c, "/api/v1/printers"));
  EXPECT_EQ(printers.at("printers").as_array().size(), 8u);
  std::cout << "reliability-figure: SecretsTest."
               "ARegistrationFloodIsBoundedPerHourAndInAll: made-up devices "
               "sent, printers listed after: 400, "
            << printers.at("printers").as_array().size() << "\n";
}

}  // namespace
}  // namespace pm

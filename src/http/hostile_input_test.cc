// Hostile requests over real HTTP on loopback, one table row each with the
// answers it must get. After every row the server still answers, and what
// is stored equals what was acknowledged: the events in the store are
// exactly as many as the 2xx answers so far. Prints its figures as
// `reliability-figure:` lines for `make reliability`.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <functional>
#include <string>
#include <vector>

#include "http/test_harness.h"

namespace pm {
namespace {

using testing::AllEvents;
using testing::Harness;
using testing::TempDir;
using namespace std::string_literals;

const std::string kDevice = "delta";
const std::string kSqlDevice = "robert'); DROP TABLE events;--";
const std::string kSecret = "abc";

std::string Webhook(const std::string& device, const std::string& extra = "",
                    const std::string& secret = kSecret) {
  return R"({"deviceIdentifier":)" +
         boost::json::serialize(boost::json::value(device)) +
         R"(,"apiSecret":")" + secret +
         R"(","topic":"Print Started","extra":{)" + extra + "}}";
}

std::string Json(const std::string& body,
                 const std::string& target = "/webhook") {
  return BuildRequest("POST", target, "application/json", body);
}

std::string Head(const std::string& lines) {
  return "POST /webhook HTTP/1.1\r\nHost: x\r\n" + lines + "\r\n";
}

std::string Repeat(const std::string& s, size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

std::string ManyHeaders(size_t n) {
  std::string h;
  for (size_t i = 0; i < n; ++i) h += "X-H" + std::to_string(i) + ": v\r\n";
  return h;
}

std::string Multipart(size_t fields, bool closed) {
  std::string body;
  body +=
      "--B\r\nContent-Disposition: form-data; name=\"deviceIdentifier\""
      "\r\n\r\ndelta\r\n--B\r\nContent-Disposition: form-data; "
      "name=\"apiSecret\"\r\n\r\nabc\r\n";
  for (size_t i = 0; i < fields; ++i) {
    body += "--B\r\nContent-Disposition: form-data; name=\"f" +
            std::to_string(i) + "\"\r\n\r\nx\r\n";
  }
  body += closed ? "--B--\r\n" : "--B\r\nContent-Disp";
  return BuildRequest("POST", "/webhook", "multipart/form-data; boundary=B",
                      body);
}

std::string Form(size_t fields) {
  std::string body = "deviceIdentifier=delta&apiSecret=abc";
  for (size_t i = 0; i < fields; ++i) body += "&f" + std::to_string(i) + "=1";
  return BuildRequest("POST", "/webhook", "application/x-www-form-urlencoded",
                      body);
}

// What a row checks in the store beyond the count (may be empty).
using StoredCheck = std::function<void(const std::vector<EventRecord>&)>;

struct Row {
  std::string name;
  std::string bytes;            // sent in one write, on a fresh connection
  std::vector<int> statuses;    // the answers, in order
  std::string words;            // in the last answer's body ("" no check)
  StoredCheck check = nullptr;  // on the events after the row
};

const std::string kSqlUser = "x'); DELETE FROM sessions; --\"";
const std::string kSqlFile = "part\"; DROP TABLE events; --.gcode";
const std::string kEscapes = "\x1b[2J\x1b]0;pwned\x07\x1b[31mred\x1b[0m";

std::vector<Row> Rows() {
  std::string ok = Webhook(kDevice);
  std::string ok_body_head =
      "Content-Type: application/json\r\nContent-Length: " +
      std::to_string(ok.size()) + "\r\n";
  return {
      {"a well-formed webhook", Json(ok), {200}, "stored"},
      {"header block over 16 KiB",
       Head(Repeat("X-Filler: " + std::string(500, 'h') + "\r\n", 40)),
       {431},
       "request headers are larger than 16384 bytes"},
      {"one header line of 1 MiB",
       Head("X-Long: " + std::string(1 << 20, 'a') + "\r\n"),
       {431},
       "request headers are larger than 16384 bytes"},
      {"10,000 headers", Head(ManyHeaders(10'000)), {431}, "headers"},
      {"target of 9 KiB",
       "GET /webhook?x=" + std::string(9 << 10, 'a') +
           " HTTP/1.1\r\nHost: x\r\n\r\n",
       {414},
       "request target is longer than 8192 bytes"},
      {"target of 1 MiB",
       "GET /webhook?x=" + std::string(1 << 20, 'a') +
           " HTTP/1.1\r\nHost: x\r\n\r\n",
       {414},
       "request target is longer than 8192 bytes"},
      {"conflicting Content-Length",
       Head("Content-Type: application/json\r\nContent-Length: 5\r\n"
            "Content-Length: 7\r\n") +
           "{}     ",
       {400},
       "malformed HTTP request"},
      {"negative Content-Length",
       Head("Content-Type: application/json\r\nContent-Length: -5\r\n"),
       {400},
       "malformed HTTP request"},
      {"Content-Length beyond 64 bits",
       Head("Content-Type: application/json\r\nContent-Length: "
            "99999999999999999999999\r\n"),
       {400},
       "malformed HTTP request"},
      {"chunk size of 2^64-1",
       Head("Content-Type: application/json\r\nTransfer-Encoding: "
            "chunked\r\n") +
           "ffffffffffffffff\r\n{}\r\n0\r\n\r\n",
       {413},
       "larger than"},
      {"chunk size of 20 MiB",
       Head("Content-Type: application/json\r\nTransfer-Encoding: "
            "chunked\r\n") +
           "1400000\r\n{}",
       {413},
       "larger than"},
      {"chunked body, well-formed",
       Head("Content-Type: application/json\r\nTransfer-Encoding: "
            "chunked\r\n") +
           fmt::format("{:x}\r\n{}\r\n0\r\n\r\n", ok.size(), ok),
       {200},
       "stored"},
      {"two pipelined webhooks in one write",
       Json(ok) + Json(ok),
       {200, 200},
       "stored"},
      {"Expect: 100-continue",
       Head(ok_body_head + "Expect: 100-continue\r\n") + ok,
       {100, 200},
       "stored"},
      {"HTTP/1.0 without Host",
       "POST /webhook HTTP/1.0\r\n" + ok_body_head + "\r\n" + ok,
       {200},
       "stored"},
      {"absolute-form target",
       "POST http://printmeter.local:8080/webhook HTTP/1.1\r\nHost: "
       "printmeter.local\r\n" +
           ok_body_head + "\r\n" + ok,
       {200},
       "stored"},
      {"NUL in the target",
       "GET /webhook?deviceIdentifier=d\0x HTTP/1.1\r\nHost: x\r\n\r\n"s,
       {400},
       "malformed HTTP request"},
      {"NUL in a header value",
       Head("X-Bad: a\0b\r\n"s + ok_body_head) + ok,
       {400},
       "malformed HTTP request"},
      {"NUL in a header name",
       Head("X-B\0d: ab\r\n"s + ok_body_head) + ok,
       {400},
       "malformed HTTP request"},
      {"a header line without a colon",
       Head("NoColonHere\r\n"),
       {400},
       "malformed HTTP request"},
      {"garbage instead of a request line",
       "\x16\x03\x01\x02\x00\r\n\r\n",
       {400},
       "malformed HTTP request"},
      {"an unknown method",
       "BREW /webhook HTTP/1.1\r\nHost: x\r\n\r\n",
       {405},
       "POST"},
      {"100,000-deep JSON",
       Json(std::string(100'000, '[')),
       {400},
       "nested deeper than the limit of 64 levels"},
      {"JSON with NaN",
       Json(R"({"deviceIdentifier":"delta","x":NaN})"),
       {400},
       "NaN"},
      {"a form with 100,000 fields",
       Form(100'000),
       {400},
       "1024 fields (the limit)"},
      {"multipart with 10,000 parts",
       Multipart(10'000, true),
       {400},
       "256 parts (the limit)"},
      {"multipart with no end", Multipart(3, false), {400}, "multipart"},
      {"a JSON body over 1 MiB",
       Json(Webhook(kDevice, R"("pad":")" + std::string(1 << 20, 'p') + "\"")),
       {413},
       "larger than 1 MiB"},
      {"a wrong secret", Json(Webhook(kDevice, "", "guess")), {401}, "delta"},
      {"an unknown device in strict mode",
       Json(Webhook("stranger")),
       {403},
       "devices add"},
      {"a control character in the device",
       Json(Webhook("de\x1b[2Jlta")),
       {400},
       "control character"},
      {"SQL metacharacters in names",
       Json(Webhook(kSqlDevice,
                    R"("user":)" +
                        boost::json::serialize(boost::json::value(kSqlUser)) +
                        R"(,"name":)" +
                        boost::json::serialize(boost::json::value(kSqlFile)))),
       {200},
       "stored",
       [](const std::vector<EventRecord>& events) {
         const Event& e = events.back().event;
         EXPECT_EQ(e.device, kSqlDevice);
         EXPECT_EQ(e.user, kSqlUser);
         EXPECT_EQ(e.file.name, kSqlFile);
       }},
      {"terminal escapes in names",
       Json(Webhook(kDevice,
                    R"("user":)" +
                        boost::json::serialize(boost::json::value(kEscapes)) +
                        R"(,"name":)" +
                        boost::json::serialize(boost::json::value(kEscapes)))),
       {200},
       "stored",
       [](const std::vector<EventRecord>& events) {
         const Event& e = events.back().event;
         EXPECT_EQ(e.user, kEscapes);
         EXPECT_EQ(e.file.name, kEscapes);
       }},
  };
}

bool Is2xx(int status) { return status >= 200 && status < 300; }

TEST(HostileInput, EveryRowAnsweredAndTheStoreMatchesTheAcknowledgements) {
  TempDir dir;
  Harness h(dir.path());
  IngestOptions ingest;
  ingest.auth = AuthMode::kStrict;
  ingest.devices[kDevice] = kSecret;
  ingest.devices[kSqlDevice] = kSecret;
  h.Start(ingest, {});
  size_t acknowledged = 0, rows = 0;
  for (const Row& row : Rows()) {
    SCOPED_TRACE(row.name);
    ++rows;
    TestClient client(h.port());
    client.SetTimeout(5000);
    ASSERT_TRUE(client.Write(row.bytes).ok());
    for (size_t i = 0; i < row.statuses.size(); ++i) {
      auto reply = client.ReadReply();
      ASSERT_TRUE(reply.ok())
          << "answer " << i << ": " << reply.error().message;
      EXPECT_EQ(reply->status, row.statuses[i]) << reply->body;
      if (Is2xx(reply->status)) ++acknowledged;
      bool last = i + 1 == row.statuses.size();
      if (last && !row.words.empty()) {
        EXPECT_NE(reply->body.find(row.words), std::string::npos)
            << reply->body;
      }
      if (last && !Is2xx(reply->status) && reply->status != 405) {
        EXPECT_NE(reply->body.find("\"error\":"), std::string::npos);
      }
    }
    // The server still answers, and stored exactly what it acknowledged.
    TestClient health(h.port());
    health.SetTimeout(2000);
    auto alive = health.Send("GET", "/healthz", "", "");
    ASSERT_TRUE(alive.ok()) << alive.error().message;
    EXPECT_EQ(alive->status, 200);
    auto events = AllEvents(*h.store);
    EXPECT_EQ(events.size(), acknowledged);
    if (row.check && !events.empty()) row.check(events);
  }
  std::printf("reliability-figure: HostileInput.%s: hostile rows tried: %zu\n",
              "EveryRowAnsweredAndTheStoreMatchesTheAcknowledgements", rows);
  std::printf(
      "reliability-figure: HostileInput.%s: acknowledged and stored: "
      "%zu\n",
      "EveryRowAnsweredAndTheStoreMatchesTheAcknowledgements", acknowledged);
}

}  // namespace
}  // namespace pm

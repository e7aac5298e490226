// End to end, on the built `printmeter` binary with a [[forward]] target: a
// real receiver that stalls while the printers post (every webhook is still
// answered), then SIGKILL of printmeter, then a restart with the receiver
// accepting: every acknowledged event arrives, in order per printer,
// signed, and GET /api/v1/forwarding shows the target caught up.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/json/parse.hpp>
#include <chrono>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "binary_harness.h"
#include "forward/test_receiver.h"
#include "http/test_client.h"
#include "http/test_harness.h"

namespace pm {
namespace {

using std::chrono::milliseconds;
using testing::ReceivedRequest;
using testing::Hmac;
using testing::TempDir;
using testing::TestReceiver;

uint16_t Serve(Child& child, const std::string& db, const std::string& config) {
  child = Spawn({Binary(), "serve", "--listen", "127.0.0.1:0", "--db", db,
                 "--config", config, "--auth", "open"});
  std::string line = child.WaitFor("listening on 127.0.0.1:");
  if (line.empty()) return 0;
  return static_cast<uint16_t>(std::stoi(line.substr(line.rfind(':') + 1)));
}

std::string Body(const std::string& printer, int i) {
  return fmt::format(
      R"({{"deviceIdentifier":"{}","topic":"{}","extra":{{"name":"part.gcode"}},)"
      R"("currentTime":{}}})",
      printer, i % 5 == 0 ? "Print Started" : "Print Progress",
      1722000000 + i);
}

TEST(ForwardBinaryTest, EveryAcknowledgedEventArrivesAcrossASigkill) {
  TempDir dir;
  TestReceiver receiver;
  receiver.set_mode(TestReceiver::Mode::kStall);
  std::string db = "sqlite:" + (dir.path() / "pm.db").string();
  std::string config = (dir.path() / "printmeter.toml").string();
  std::ofstream(config) << fmt::format(
      "[[forward]]\nname = \"e2e\"\nurl = \"{}\"\nsecret = \"k3y\"\n"
      "timeout = \"1s\"\n",
      receiver.url());

  Child server;
  uint16_t port = Serve(server, db, config);
  ASSERT_NE(port, 0) << server.log;
  // The printers post while the target stalls: each answered, stored.
  const std::vector<std::string> printers = {"alpha", "bravo", "charlie"};
  std::map<int64_t, std::string> acked;  // event id -> printer
  {
    TestClient client(port);
    for (int i = 0; i < 20; ++i) {
      for (const std::string& p : printers) {
        auto r = client.Send("POST", "/webhook", "application/json",
                             Body(p, i));
        ASSERT_TRUE(r.ok()) << r.error().message;
        ASSERT_EQ(r->status, 200) << r->body;
        acked[boost::json::parse(r->body).at("event").as_int64()] = p;
      }
    }
  }
  ASSERT_TRUE(receiver.WaitFor(1)) << server.log;  // one stalls in flight
  ASSERT_EQ(kill(server.pid, SIGKILL), 0);
  EXPECT_EQ(server.Wait(), 128 + SIGKILL);

  receiver.set_mode(TestReceiver::Mode::kAccept);
  port = Serve(server, db, config);
  ASSERT_NE(port, 0) << server.log;
  auto all_arrived = [&] {
    std::set<int64_t> seen;
    for (const ReceivedRequest& r : receiver.accepted()) {
      seen.insert(std::stoll(r.header("x-printmeter-event")));
    }
    for (const auto& [id, printer] : acked) {
      if (!seen.count(id)) return false;
    }
    return true;
  };
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!all_arrived() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(20));
  }
  ASSERT_TRUE(all_arrived()) << server.log;

  // In order per printer (first arrivals), signed, the body as posted.
  std::map<std::string, int64_t> last;
  std::set<int64_t> first;
  for (const ReceivedRequest& r : receiver.requests()) {
    int64_t id = std::stoll(r.header("x-printmeter-event"));
    EXPECT_EQ(r.header("x-printmeter-signature"),
              "sha256=" + Hmac("k3y", r.header("x-printmeter-timestamp") +
                                          "." + r.body));
    std::string printer = r.header("x-printmeter-device");
    EXPECT_EQ(acked.at(id), printer);
    EXPECT_NE(r.body.find(printer), std::string::npos);
    if (!first.insert(id).second) continue;  // a repeat of one in flight
    EXPECT_GT(id, last[printer]) << "out of order for " << printer;
    last[printer] = id;
  }
  EXPECT_EQ(first.size(), acked.size());

  TestClient client(port);
  bool caught_up = false;
  for (int i = 0; i < 100 && !caught_up; ++i) {
    auto status = client.Send("GET", "/api/v1/forwarding", "", "");
    ASSERT_TRUE(status.ok());
    ASSERT_EQ(status->status, 200) << status->body;
    auto target = boost::json::parse(status->body).at("targets").at(0);
    EXPECT_EQ(target.at("name"), "e2e");
    caught_up = target.at("state") == "idle" && target.at("backlog") == 0;
    if (!caught_up) std::this_thread::sleep_for(milliseconds(50));
  }
  EXPECT_TRUE(caught_up);
  EXPECT_EQ(server.log.find("k3y"), std::string::npos) << "a secret logged";
  ASSERT_EQ(kill(server.pid, SIGTERM), 0);
  EXPECT_EQ(server.Wait(), 0) << server.log;
}

}  // namespace
}  // namespace pm

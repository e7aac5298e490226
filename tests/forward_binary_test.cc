// End to end, on the built `printmeter` binary with a [[forward]] target: a
// real receiver that stalls while the printers post (every webhook is still
// answered), then SIGKILL of printmeter, then a restart with the receiver
// accepting: every acknowledged event arrives, in order per printer,
// signed, and GET /api/v1/forwarding shows the target caught up. And a
// maintenance item crossing its threshold in the folded history: one
// maintenance_due notice, none again after a SIGKILL, a new one once it is
// marked done and crosses again.
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

// Each printer presents a secret (registered on first contact, tofu).
std::string Secret(const std::string& printer) { return printer + "-s3cret"; }

std::string Body(const std::string& printer, int i) {
  return fmt::format(
      R"({{"deviceIdentifier":"{}","apiSecret":"{}","topic":"{}",)"
      R"("extra":{{"name":"part.gcode"}},"currentTime":{}}})",
      printer, Secret(printer),
      i % 5 == 0 ? "Print Started" : "Print Progress", 1722000000 + i);
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

  // In order per printer (first arrivals), signed, the body as posted but
  // for the printer's secret, which never leaves printmeter.
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
    EXPECT_EQ(r.body.find("s3cret"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find(R"("apiSecret":"********")"), std::string::npos)
        << r.body;
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

std::string PrintBody(const std::string& topic, int64_t at_s) {
  return fmt::format(
      R"({{"deviceIdentifier":"delta","topic":"{}","extra":{{"name":"part.gcode"}},)"
      R"("currentTime":{}}})",
      topic, at_s);
}

// A print of `hours` on delta from `start_s` (unix seconds), both webhooks
// answered 200.
void Print(uint16_t port, int64_t start_s, double hours) {
  TestClient client(port);
  for (auto [topic, at] :
       {std::pair<const char*, int64_t>{"Print Started", start_s},
        {"Print Done", start_s + static_cast<int64_t>(hours * 3600)}}) {
    auto r = client.Send("POST", "/webhook", "application/json",
                         PrintBody(topic, at));
    ASSERT_TRUE(r.ok()) << r.error().message;
    ASSERT_EQ(r->status, 200) << r->body;
  }
}

int Notices(const TestReceiver& receiver, const std::string& key) {
  int n = 0;
  for (const ReceivedRequest& r : receiver.accepted()) {
    n += r.header("x-printmeter-event") == key;
  }
  return n;
}

// What is due is looked at every 10 s: each step waits up to 40 s.
bool WaitForNotice(const TestReceiver& receiver, const std::string& key) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(40);
  while (Notices(receiver, key) == 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(50));
  }
  return Notices(receiver, key) > 0;
}

TEST(ForwardBinaryTest, AMaintenanceItemDueIsForwardedOncePerCrossing) {
  TempDir dir;
  TestReceiver receiver;
  std::string db = "sqlite:" + (dir.path() / "pm.db").string();
  std::string config = (dir.path() / "printmeter.toml").string();
  std::ofstream(config) << fmt::format(
      "[devices.delta]\n"
      "[[devices.delta.maintenance]]\nitem = \"nozzle\"\nevery = \"1h\"\n"
      "[[devices.delta.maintenance]]\nitem = \"belts\"\nevery = \"3h\"\n"
      "[[forward]]\nname = \"chat\"\nurl = \"{}\"\nsecret = \"k3y\"\n"
      "events = [\"maintenance_due\"]\n",
      receiver.url());
  const int64_t t0 = 1722000000;  // 2024-07-26, seconds
  const std::string first_contact = std::to_string(t0 * 1000);
  const std::string nozzle = "maintenance:delta:nozzle:" + first_contact;
  const std::string belts = "maintenance:delta:belts:" + first_contact;

  Child server;
  uint16_t port = Serve(server, db, config);
  ASSERT_NE(port, 0) << server.log;
  Print(port, t0, 1.05);  // nozzle: 1.05 of 1 h; belts 1.05 of 3 h
  ASSERT_TRUE(WaitForNotice(receiver, nozzle)) << server.log;
  ReceivedRequest got = receiver.accepted().at(0);
  EXPECT_EQ(got.header("idempotency-key"), nozzle);
  EXPECT_EQ(got.header("x-printmeter-signature"),
            "sha256=" + Hmac("k3y", got.header("x-printmeter-timestamp") + "." +
                                        got.body));
  auto body = boost::json::parse(got.body);
  EXPECT_EQ(body.at("kind"), "maintenance_due");
  EXPECT_EQ(body.at("item"), "nozzle");
  EXPECT_EQ(body.at("state"), "due");
  EXPECT_EQ(receiver.accepted().size(), 1u) << "print events sent too";
  // Recorded as sent (a kill between the answer and the record sends it
  // again after the restart: at least once, the receiver dropping the
  // repeat by its Idempotency-Key).
  ASSERT_FALSE(server.WaitFor("forwarded " + nozzle).empty()) << server.log;

  ASSERT_EQ(kill(server.pid, SIGKILL), 0);
  EXPECT_EQ(server.Wait(), 128 + SIGKILL);
  port = Serve(server, db, config);
  ASSERT_NE(port, 0) << server.log;
  // belts crosses after the restart: its notice shows the restarted
  // instance looked at what is due, and nozzle was not sent again.
  Print(port, t0 + 2 * 3600, 2);  // belts: 3.05 of 3 h
  ASSERT_TRUE(WaitForNotice(receiver, belts)) << server.log;
  EXPECT_EQ(Notices(receiver, nozzle), 1);

  // Marked done after the second print, and 1.1 h printed since: a new
  // crossing, under the mark's time.
  const int64_t done_s = t0 + 5 * 3600;
  {
    TestClient client(port);
    auto r = client.Send(
        "POST", "/api/v1/printers/delta/maintenance/nozzle/done",
        "application/json",
        fmt::format(R"({{"by":"ana","at":"{}"}})", "2024-07-26T18:20:00Z"));
    ASSERT_TRUE(r.ok()) << r.error().message;
    ASSERT_EQ(r->status, 200) << r->body;
  }
  Print(port, done_s + 600, 1.1);
  const std::string again =
      "maintenance:delta:nozzle:" + std::to_string(done_s * 1000);
  ASSERT_TRUE(WaitForNotice(receiver, again)) << server.log;
  EXPECT_EQ(Notices(receiver, nozzle), 1);
  EXPECT_EQ(Notices(receiver, belts), 1);
  ASSERT_EQ(kill(server.pid, SIGTERM), 0);
  EXPECT_EQ(server.Wait(), 0) << server.log;
}

// https on the binary: a receiver whose CA is not trusted shows why in
// GET /api/v1/forwarding; a ca_file that cannot be read stops serve naming
// it; with the receiver's CA as ca_file the event arrives.
TEST(ForwardBinaryTest,
     AnHttpsTargetShowsAVerifyFailureAndDeliversOnceTrusted) {
  TempDir dir;
  auto certs = testing::MakeTestCertificates(dir.path().string(), "e2e",
                                             "DNS:localhost,IP:127.0.0.1");
  TestReceiver receiver(certs);
  std::string db = "sqlite:" + (dir.path() / "pm.db").string();
  std::string config = (dir.path() / "printmeter.toml").string();
  auto write_config = [&](const std::string& ca_line) {
    std::ofstream(config) << fmt::format(
        "[[forward]]\nname = \"chat\"\nurl = \"{}\"\ntimeout = \"2s\"\n{}",
        receiver.url("/hook", "localhost"), ca_line);
  };
  write_config("");
  Child server;
  uint16_t port = Serve(server, db, config);
  ASSERT_NE(port, 0) << server.log;
  int64_t event = 0;
  {
    TestClient client(port);
    auto r =
        client.Send("POST", "/webhook", "application/json", Body("alpha", 0));
    ASSERT_TRUE(r.ok()) << r.error().message;
    ASSERT_EQ(r->status, 200) << r->body;
    event = boost::json::parse(r->body).at("event").as_int64();
  }
  std::string last_error;
  for (int i = 0; i < 200 && last_error.empty(); ++i) {
    TestClient client(port);
    auto status = client.Send("GET", "/api/v1/forwarding", "", "");
    ASSERT_TRUE(status.ok());
    auto target = boost::json::parse(status->body).at("targets").at(0);
    if (target.at("last_error").is_string()) {
      last_error = std::string(target.at("last_error").as_string());
    } else {
      std::this_thread::sleep_for(milliseconds(50));
    }
  }
  EXPECT_NE(last_error.find("certificate verify failed"), std::string::npos)
      << last_error;
  EXPECT_NE(last_error.find("for host localhost"), std::string::npos)
      << last_error;
  EXPECT_TRUE(receiver.requests().empty());
  ASSERT_EQ(kill(server.pid, SIGTERM), 0);
  EXPECT_EQ(server.Wait(), 0) << server.log;

  const std::string missing = (dir.path() / "no-such-ca.pem").string();
  write_config(fmt::format("ca_file = \"{}\"\n", missing));
  EXPECT_EQ(Serve(server, db, config), 0);
  server.Wait();
  EXPECT_NE(server.log.find(missing), std::string::npos) << server.log;

  write_config(fmt::format("ca_file = \"{}\"\n", certs.ca));
  port = Serve(server, db, config);
  ASSERT_NE(port, 0) << server.log;
  ASSERT_TRUE(receiver.WaitFor(1)) << server.log;
  EXPECT_EQ(std::stoll(receiver.requests().at(0).header("x-printmeter-event")),
            event);
  ASSERT_EQ(kill(server.pid, SIGTERM), 0);
  EXPECT_EQ(server.Wait(), 0) << server.log;
}

}  // namespace
}  // namespace pm

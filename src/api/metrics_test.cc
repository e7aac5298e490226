// /metrics: the exposition text parsed back; values and labels checked.
#include "api/metrics.h"

#include <gtest/gtest.h>

#include <map>
#include <sstream>

#include "api/api_testing.h"
#include "store/write_batch.h"

namespace pm {
namespace {

using testing::ApiFixture;
using testing::ClosedSession;
using testing::Ingester;
using testing::kAug1;
using testing::MakeEvent;

// "name{a="x",b="y"}" -> value, from the text format (comments skipped).
std::map<std::string, double> ParseExposition(const std::string& text) {
  std::map<std::string, double> series;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    size_t space = line.rfind(' ');
    EXPECT_NE(space, std::string::npos) << line;
    series[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return series;
}

struct MetricsTest : ::testing::Test {
  MetricsTest() : f(MakeOptions()) {}
  static ApiOptions MakeOptions() {
    ApiOptions o;
    o.devices["echo"].name = "Echo";
    return o;
  }
  std::map<std::string, double> Scrape() {
    auto r = f.Get("/metrics");
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.content_type.rfind("text/plain; version=0.0.4", 0), 0u);
    return ParseExposition(r.body);
  }
  ApiFixture f;
};

TEST_F(MetricsTest, LedgerFiguresPerDevice) {
  // Two completed prints of 60 and 30 minutes on delta, one failed of 15 on
  // foxtrot, and delta printing since 20 minutes before now.
  Session a = ClosedSession(10, "delta", kAug1, 60);
  a.job_filament_mm = 2000;
  Session b = ClosedSession(20, "delta", kAug1 + kDayMs, 30);
  b.pauses = {
      {kAug1 + kDayMs + 5 * kMinuteMs, kAug1 + kDayMs + 15 * kMinuteMs}};
  Session c = ClosedSession(30, "foxtrot", kAug1, 15, SessionStatus::kFailed);
  c.job_filament_mm = 1000;
  c.progress_pct = 50;
  testing::CommitSessions(*f.store, {a, b, c});
  Ingester in(*f.store);
  Event start =
      MakeEvent("delta", Kind::kStarted, f.clock.Now() - 20 * kMinuteMs);
  int64_t open_id = in.Ingest(start);
  Event progress =
      MakeEvent("delta", Kind::kProgress, f.clock.Now() - kMinuteMs);
  progress.progress_pct = 12.5;
  in.Ingest(progress);
  f.api->metrics().RecordWebhook("delta", "stored", 0.003);
  f.api->metrics().RecordWebhook("delta", "stored", 0.02);
  f.api->metrics().RecordWebhook("zulu", "unauthorized", 0.001);
  ASSERT_GT(open_id, 0);

  auto m = Scrape();
  EXPECT_EQ(m[R"(printmeter_printer_state{device="delta",state="printing"})"],
            1);
  EXPECT_EQ(m[R"(printmeter_printer_state{device="delta",state="idle"})"], 0);
  EXPECT_EQ(m[R"(printmeter_printer_state{device="echo",state="idle"})"], 1);
  EXPECT_EQ(m[R"(printmeter_printer_state{device="echo",state="printing"})"],
            0);
  EXPECT_EQ(m[R"(printmeter_printer_progress_ratio{device="delta"})"], 0.125);
  EXPECT_EQ(m[R"(printmeter_printer_needs_attention{device="delta"})"], 0);
  EXPECT_EQ(
      m[R"(printmeter_sessions_total{device="delta",status="completed"})"], 2);
  // An open print is a gauge: it goes back to 0 when the print ends.
  EXPECT_EQ(m[R"(printmeter_open_sessions{device="delta",status="printing"})"],
            1);
  EXPECT_EQ(
      m.count(R"(printmeter_sessions_total{device="delta",status="printing"})"),
      0u);
  EXPECT_EQ(m[R"(printmeter_sessions_total{device="delta",status="failed"})"],
            0);
  EXPECT_EQ(m[R"(printmeter_sessions_total{device="foxtrot",status="failed"})"],
            1);
  EXPECT_EQ(m[R"(printmeter_busy_seconds_total{device="delta"})"],
            (60 + 30 + 20) * 60);
  EXPECT_EQ(m[R"(printmeter_print_seconds_total{device="delta"})"],
            (60 + 20 + 20) * 60);
  EXPECT_EQ(m[R"(printmeter_busy_seconds_total{device="foxtrot"})"], 15 * 60);
  EXPECT_EQ(m[R"(printmeter_filament_metres_total{device="delta"})"], 2);
  EXPECT_EQ(m[R"(printmeter_filament_metres_total{device="foxtrot"})"], 0.5);
  EXPECT_EQ(
      m[R"(printmeter_webhook_requests_total{device="delta",result="stored"})"],
      2);
  EXPECT_EQ(
      m[R"(printmeter_webhook_requests_total{device="zulu",result="unauthorized"})"],
      1);
  EXPECT_EQ(m["printmeter_webhook_request_duration_seconds_count"], 3);
  EXPECT_EQ(
      m[R"(printmeter_webhook_request_duration_seconds_bucket{le="0.005"})"],
      2);
  EXPECT_NEAR(m["printmeter_webhook_request_duration_seconds_sum"], 0.024,
              1e-9);

  // Time passes: the open print's busy seconds grow; nothing resets.
  f.clock.Advance(10 * kMinuteMs);
  auto later = Scrape();
  EXPECT_EQ(later[R"(printmeter_busy_seconds_total{device="delta"})"],
            (60 + 30 + 30) * 60);
}

TEST_F(MetricsTest, TotalsSurviveARestartAndFollowNewSessions) {
  testing::CommitSessions(*f.store, {ClosedSession(10, "delta", kAug1, 60)});
  EXPECT_EQ(Scrape()[R"(printmeter_busy_seconds_total{device="delta"})"], 3600);
  // A new session lands after the first scrape (the settled totals are kept
  // between scrapes; recent sessions are read each time).
  testing::CommitSessions(
      *f.store, {ClosedSession(20, "delta", f.clock.Now() - kHourMs, 30)});
  EXPECT_EQ(Scrape()[R"(printmeter_busy_seconds_total{device="delta"})"], 5400);
  // A new Api over the same store (a restart) reports the same totals.
  auto restarted = MakeApi(*f.store, f.options, f.clock);
  ApiRequest request;
  request.method = "GET";
  request.target = "/metrics";
  auto m = ParseExposition(restarted->Handle(request).body);
  EXPECT_EQ(m[R"(printmeter_busy_seconds_total{device="delta"})"], 5400);
  // After the rescan period, a full rescan gives the same figure.
  f.clock.Advance(LedgerTotals::kRescan + kMinuteMs);
  EXPECT_EQ(Scrape()[R"(printmeter_busy_seconds_total{device="delta"})"], 5400);
}

// Stores `events` as received requests (swept ones without a request).
void StoreRequests(Store& store, std::vector<EventRecord> events) {
  auto first = store.AllocateEventIds(static_cast<int64_t>(events.size()));
  ASSERT_TRUE(first.ok());
  WriteBatch batch;
  for (size_t i = 0; i < events.size(); ++i) {
    EventRecord& r = events[i];
    r.event.id = *first + static_cast<int64_t>(i);
    if (r.event.kind != Kind::kSwept) {
      r.request = StoredRequest{"POST", "/webhook", "application/json", "{}"};
    }
    batch.events.push_back(std::move(r));
  }
  ASSERT_TRUE(CommitBatch(store, batch).ok());
}

EventRecord Request(const std::string& device, Kind kind, bool duplicate,
                    bool test) {
  EventRecord r;
  r.event = MakeEvent(device, kind, kAug1);
  r.event.test = test;
  r.duplicate = duplicate;
  return r;
}

TEST_F(MetricsTest, StoredRequestCountsComeFromTheLogAndSurviveARestart) {
  const std::string stored =
      R"(printmeter_webhook_requests_total{device="delta",result="stored"})";
  const std::string duplicate =
      R"(printmeter_webhook_requests_total{device="delta",result="duplicate"})";
  const std::string test =
      R"(printmeter_webhook_requests_total{device="delta",result="test"})";
  const std::string unauthorized =
      R"(printmeter_webhook_requests_total{device="zulu",result="unauthorized"})";
  StoreRequests(*f.store, {Request("delta", Kind::kStarted, false, false),
                           Request("delta", Kind::kProgress, false, false),
                           Request("delta", Kind::kProgress, true, false),
                           Request("delta", Kind::kStarted, false, true),
                           Request("delta", Kind::kDone, true, true),
                           Request("foxtrot", Kind::kSwept, false, false)});
  // The receiver reports what it answered: stored results only feed the
  // latency (the log counts them), rejections are counted here.
  f.api->metrics().RecordWebhook("delta", "stored", 0.002);
  f.api->metrics().RecordWebhook("zulu", "unauthorized", 0.001);
  auto m = Scrape();
  EXPECT_EQ(m[stored], 2);
  EXPECT_EQ(m[duplicate], 1);
  EXPECT_EQ(m[test], 2);
  EXPECT_EQ(m[unauthorized], 1);
  EXPECT_EQ(m["printmeter_webhook_request_duration_seconds_count"], 2);
  // A swept event is no request.
  EXPECT_EQ(
      m.count(
          R"(printmeter_webhook_requests_total{device="foxtrot",result="stored"})"),
      0u);

  // Requests stored after a scrape are added to the kept counts.
  StoreRequests(*f.store, {Request("delta", Kind::kDone, false, false),
                           Request("echo", Kind::kStarted, false, false)});
  m = Scrape();
  EXPECT_EQ(m[stored], 3);
  EXPECT_EQ(
      m[R"(printmeter_webhook_requests_total{device="echo",result="stored"})"],
      1);

  // A restart (a new Api over the same store) reports the same stored
  // counts; the rejections were this process's and start again from zero.
  auto restarted = MakeApi(*f.store, f.options, f.clock);
  ApiRequest request;
  request.method = "GET";
  request.target = "/metrics";
  auto after = ParseExposition(restarted->Handle(request).body);
  EXPECT_EQ(after[stored], 3);
  EXPECT_EQ(after[duplicate], 1);
  EXPECT_EQ(after[test], 2);
  EXPECT_EQ(after.count(unauthorized), 0u);
  for (const auto& [series, value] : after) {
    if (series.starts_with("printmeter_webhook_requests_total")) {
      EXPECT_EQ(value, m[series]) << series;
    }
  }
}

TEST(WebhookMetricsTest, DeviceLabelsAreCapped) {
  WebhookMetrics metrics;
  for (size_t i = 0; i < WebhookMetrics::kMaxDeviceLabels + 50; ++i) {
    metrics.RecordWebhook("dev" + std::to_string(i), "unauthorized", 0.001);
  }
  metrics.RecordWebhook("bad\xff", "invalid", 0.001);
  size_t series = 0;
  double other = 0;
  for (const auto& family : metrics.Collect()) {
    if (family.name != "printmeter_webhook_requests_total") continue;
    for (const auto& metric : family.metric) {
      ++series;
      for (const auto& label : metric.label) {
        if (label.name == "device" && label.value == "(other)") {
          other += metric.counter.value;
        }
      }
    }
  }
  // 1000 devices, plus "(other)" with two results.
  EXPECT_EQ(series, WebhookMetrics::kMaxDeviceLabels + 2);
  EXPECT_EQ(other, 51);
}

}  // namespace
}  // namespace pm

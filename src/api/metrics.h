// /metrics: the Prometheus text exposition of printmeter.
//
// Two kinds of figures. Ledger figures (printer state, sessions by status,
// busy/print seconds, filament) and the webhook requests that were stored
// (results stored, duplicate, test: counted from the event log, imports
// included) are computed on scrape from the store, so a restart resets
// nothing. The rest of the receiver's figures (rejected requests by reason,
// the latency of every request) are counters of this process, fed through
// ReceiverMetrics, and start from zero with it.
//
// Series, every one with a `device` label except the latency histogram:
//   printmeter_printer_state{device,state}            gauge, 1 for the
//       printer's state among idle/printing/paused, 0 for the others
//   printmeter_printer_needs_attention{device}        gauge 0/1
//   printmeter_printer_progress_ratio{device}         gauge 0-1, open prints
//   printmeter_open_sessions{device,status}           gauge, printing/paused
//   printmeter_sessions_total{device,status}          counter, ended ones:
//       completed/cancelled/failed/interrupted/restarted
//   printmeter_busy_seconds_total{device}             counter
//   printmeter_print_seconds_total{device}            counter
//   printmeter_filament_metres_total{device}          counter
// Names are in base units (seconds, metres, ratios), as `promtool check
// metrics` wants; README.md lists the names earlier versions used.
//   printmeter_webhook_requests_total{device,result}  counter
//   printmeter_webhook_request_duration_seconds       histogram
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

#include "api/api.h"
#include "api/options.h"
#include "common/result.h"
#include "store/store.h"

namespace pm {

// The receiver's counters. Thread-safe. A client can put anything in a
// device id, so the number of distinct `device` label values is capped
// (kMaxDeviceLabels; later ones count under "(other)"). The results of
// stored requests (kStoredResults) only feed the latency histogram here:
// their counts come from the store (LedgerTotals::Requests).
class WebhookMetrics final : public ReceiverMetrics {
 public:
  static constexpr size_t kMaxDeviceLabels = 1000;
  static constexpr std::array<std::string_view, 3> kStoredResults{
      "stored", "duplicate", "test"};

  WebhookMetrics();
  void RecordWebhook(std::string_view device, std::string_view result,
                     double latency_s) override;
  std::vector<prometheus::MetricFamily> Collect() const;

 private:
  std::string DeviceLabel(std::string_view device);

  prometheus::Registry registry_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Histogram& latency_;
  std::mutex mu_;
  std::set<std::string, std::less<>> devices_;  // GUARDED_BY(mu_)
};

// A device's figures over every stored session.
struct DeviceTotals {
  std::array<int64_t, 7> sessions{};  // by SessionStatus
  double busy_s = 0;
  double print_s = 0;
  double filament_mm = 0;
};
using TotalsByDevice = std::map<std::string, DeviceTotals, std::less<>>;

// All-time totals per device, cheap enough for every scrape. Sessions that
// ended more than kSettled ago rarely change (only a late event re-folds
// them), so their totals are kept between scrapes and recomputed from the
// whole ledger once per kRescan; each scrape reads only the sessions of the
// recent past (and open ones). Thread-safe.
class LedgerTotals {
 public:
  static constexpr TimeMs kSettled = 7 * kDayMs;
  static constexpr TimeMs kRescan = kHourMs;

  Result<TotalsByDevice> Compute(Store& store, TimeMs now);

  // The stored webhook requests by device and result, all time. Kept between
  // scrapes; each scrape counts only the events stored since the last one
  // (events are appended, and only `rebuild`, which runs without a server,
  // rewrites them).
  Result<RequestTally> Requests(Store& store);

 private:
  std::mutex mu_;
  bool scanned_ = false;    // GUARDED_BY(mu_)
  TimeMs scanned_at_ = 0;   // GUARDED_BY(mu_)
  TimeMs watermark_ = 0;    // GUARDED_BY(mu_): settled = ended before it
  TotalsByDevice settled_;  // GUARDED_BY(mu_)
  RequestTally requests_;   // GUARDED_BY(mu_)
};

// The whole exposition text, or the store's error. The configured devices
// (options.devices) have a state before they are first heard from.
Result<std::string> RenderMetrics(Store& store, const ApiOptions& options,
                                  TimeMs now, LedgerTotals& totals,
                                  const WebhookMetrics& webhooks);

}  // namespace pm

#include "api/metrics.h"

#include <prometheus/gauge.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <limits>
#include <sstream>

#include "api/forwarding.h"
#include "api/text.h"
#include "maintenance/fleet.h"

namespace pm {

namespace {

using prometheus::Counter;
using prometheus::Gauge;
using prometheus::Labels;

using Labels = std::map<std::string, std::string>;

constexpr SessionStatus kAllStatuses[] = {
    SessionStatus::kPrinting,  SessionStatus::kPaused,
    SessionStatus::kCompleted, SessionStatus::kCancelled,
    SessionStatus::kFailed,    SessionStatus::kInterrupted,
    SessionStatus::kRestarted,
};

constexpr std::string_view kRequestsFamily =
    "printmeter_webhook_requests_total";
constexpr std::string_view kRequestsHelp =
    "Webhook requests by device and result. stored, duplicate and test are "
    "counted from the event log (all time, imports included); the rejections "
    "(invalid, unauthorized, forbidden, too_large, unsupported, unavailable, "
    "error) since this printmeter started";

std::string LabelValue(std::string_view text) {
  constexpr size_t kMaxLabelBytes = 128;
  return CleanUtf8(text.substr(0, kMaxLabelBytes));
}

}  // namespace

WebhookMetrics::WebhookMetrics()
    : requests_(prometheus::BuildCounter()
                    .Name(std::string(kRequestsFamily))
                    .Help(std::string(kRequestsHelp))
                    .Register(registry_)),
      latency_(prometheus::BuildHistogram()
                   .Name("printmeter_webhook_request_duration_seconds")
                   .Help("Time from a webhook request's arrival to its answer")
                   .Register(registry_)
                   .Add({}, prometheus::Histogram::BucketBoundaries{
                                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                0.25, 0.5, 1, 2.5, 5})) {}

std::string WebhookMetrics::DeviceLabel(std::string_view device) {
  std::string label = LabelValue(device);
  std::lock_guard lock(mu_);
  if (devices_.count(label)) return label;
  if (devices_.size() >= kMaxDeviceLabels) return "(other)";
  devices_.insert(label);
  return label;
}

void WebhookMetrics::RecordWebhook(std::string_view device,
                                   std::string_view result, double latency_s) {
  try {
    bool stored = std::find(kStoredResults.begin(), kStoredResults.end(),
                            result) != kStoredResults.end();
    if (!stored) {
      requests_
          .Add(
              {{"device", DeviceLabel(device)}, {"result", LabelValue(result)}})
          .Increment();
    }
    latency_.Observe(latency_s);
  } catch (...) {
    // Metrics never take the receiver down.
  }
}

std::vector<prometheus::MetricFamily> WebhookMetrics::Collect() const {
  return registry_.Collect();
}

namespace {

void AddSession(TotalsByDevice& totals, const Session& s, TimeMs now) {
  DeviceTotals& t = totals[s.device];
  t.sessions[static_cast<size_t>(s.status)] += 1;
  t.busy_s += DurationMs(s, now) / 1000.0;
  t.print_s += PrintMs(s, now) / 1000.0;
  t.filament_mm += FilamentMm(s).value_or(0);
}

void Merge(TotalsByDevice& into, const TotalsByDevice& from) {
  for (const auto& [device, t] : from) {
    DeviceTotals& d = into[device];
    for (size_t i = 0; i < d.sessions.size(); ++i)
      d.sessions[i] += t.sessions[i];
    d.busy_s += t.busy_s;
    d.print_s += t.print_s;
    d.filament_mm += t.filament_mm;
  }
}

constexpr TimeMs kEndOfTime = std::numeric_limits<TimeMs>::max() / 4;
constexpr TimeMs kBeginningOfTime = std::numeric_limits<TimeMs>::min() / 4;

}  // namespace

Result<TotalsByDevice> LedgerTotals::Compute(Store& store, TimeMs now) {
  std::lock_guard lock(mu_);
  bool rescan = !scanned_ || now - scanned_at_ >= kRescan || now < scanned_at_;
  // A day of slack below the watermark: whatever the store's notion of
  // "overlapping" at the boundary, no session falls between the two parts.
  TimeMs from = rescan ? kBeginningOfTime : watermark_ - kDayMs;
  auto sessions = store.SessionsOverlapping(from, kEndOfTime);
  if (!sessions) return sessions.error();
  if (rescan) {
    settled_.clear();
    watermark_ = now - kSettled;
    scanned_at_ = now;
    scanned_ = true;
  }
  TotalsByDevice totals;
  for (const Session& s : *sessions) {
    bool settled = s.ended_at && *s.ended_at < watermark_;
    if (settled && rescan) AddSession(settled_, s, now);
    if (!settled) AddSession(totals, s, now);
  }
  Merge(totals, settled_);
  return totals;
}

Result<RequestTally> LedgerTotals::Requests(Store& store) {
  std::lock_guard lock(mu_);
  auto fresh = store.CountRequests(requests_.last_id);
  if (!fresh) return fresh.error();
  for (const auto& [device, c] : fresh->by_device) {
    RequestCounts& into = requests_.by_device[device];
    into.stored += c.stored;
    into.duplicate += c.duplicate;
    into.test += c.test;
  }
  requests_.last_id = fresh->last_id;
  return requests_;
}

namespace {

prometheus::ClientMetric RequestCounter(const std::string& device,
                                        std::string_view result,
                                        int64_t count) {
  prometheus::ClientMetric m;
  m.label = {{"device", device}, {"result", std::string(result)}};
  m.counter.value = static_cast<double>(count);
  return m;
}

// Adds the stored requests' series to the receiver's family, with the same
// cap on distinct devices as WebhookMetrics.
void AddStoredRequests(std::vector<prometheus::MetricFamily>& families,
                       const RequestTally& tally) {
  auto family =
      std::find_if(families.begin(), families.end(),
                   [](const auto& f) { return f.name == kRequestsFamily; });
  if (family == families.end()) {  // no rejection yet
    prometheus::MetricFamily f;
    f.name = std::string(kRequestsFamily);
    f.help = std::string(kRequestsHelp);
    f.type = prometheus::MetricType::Counter;
    families.push_back(std::move(f));
    family = families.end() - 1;
  }
  std::map<std::string, RequestCounts> by_label;
  for (const auto& [device, c] : tally.by_device) {
    std::string label = LabelValue(device);
    if (!by_label.count(label) &&
        by_label.size() >= WebhookMetrics::kMaxDeviceLabels) {
      label = "(other)";
    }
    RequestCounts& into = by_label[label];
    into.stored += c.stored;
    into.duplicate += c.duplicate;
    into.test += c.test;
  }
  for (const auto& [label, c] : by_label) {
    family->metric.push_back(RequestCounter(label, "stored", c.stored));
    family->metric.push_back(RequestCounter(label, "duplicate", c.duplicate));
    family->metric.push_back(RequestCounter(label, "test", c.test));
  }
}

// The ledger's families, built fresh for one scrape.
struct LedgerFamilies {
  prometheus::Registry registry;
  prometheus::Family<Gauge>& state =
      prometheus::BuildGauge()
          .Name("printmeter_printer_state")
          .Help(
              "1 for the printer's current state (idle, printing, "
              "paused), 0 for the others")
          .Register(registry);
  prometheus::Family<Gauge>& attention =
      prometheus::BuildGauge()
          .Name("printmeter_printer_needs_attention")
          .Help("1 while the printer's latest event was User Action Needed")
          .Register(registry);
  prometheus::Family<Gauge>& progress =
      prometheus::BuildGauge()
          .Name("printmeter_printer_progress_ratio")
          .Help(
              "Progress of the print in progress, 0 to 1, as OctoPrint "
              "reported it")
          .Register(registry);
  // Open sessions end, so they are a gauge; the counter counts only how
  // prints ended, which never un-happens.
  prometheus::Family<Gauge>& open_sessions =
      prometheus::BuildGauge()
          .Name("printmeter_open_sessions")
          .Help(
              "Print sessions in progress, by device and status (printing, "
              "paused)")
          .Register(registry);
  prometheus::Family<Counter>& sessions =
      prometheus::BuildCounter()
          .Name("printmeter_sessions_total")
          .Help(
              "Print sessions that ended, by device and status (completed, "
              "cancelled, failed, interrupted, restarted)")
          .Register(registry);
  prometheus::Family<Counter>& busy =
      prometheus::BuildCounter()
          .Name("printmeter_busy_seconds_total")
          .Help("Time the printer spent in print sessions (pauses included)")
          .Register(registry);
  prometheus::Family<Counter>& print =
      prometheus::BuildCounter()
          .Name("printmeter_print_seconds_total")
          .Help("Time the printer spent printing (pauses excluded)")
          .Register(registry);
  prometheus::Family<Counter>& filament =
      prometheus::BuildCounter()
          .Name("printmeter_filament_metres_total")
          .Help(
              "Filament used by print sessions (scaled by progress for "
              "prints that did not complete)")
          .Register(registry);
  // The ledger is a projection of the request log and trails it a moment.
  prometheus::Family<Gauge>& lag_events =
      prometheus::BuildGauge()
          .Name("printmeter_projection_lag_events")
          .Help(
              "Stored webhooks not yet folded into the ledger (the figures "
              "here leave them out until they are)")
          .Register(registry);
  prometheus::Family<Gauge>& lag_seconds =
      prometheus::BuildGauge()
          .Name("printmeter_projection_lag_seconds")
          .Help("Age of the oldest stored webhook not yet in the ledger")
          .Register(registry);
  // Maintenance (maintenance/maintenance.h): how far along each item is.
  prometheus::Family<Gauge>& maintenance_used =
      prometheus::BuildGauge()
          .Name("printmeter_maintenance_used_ratio")
          .Help(
              "Share of a maintenance item's threshold used since it was "
              "last done (1 = due, from 1.1 overdue)")
          .Register(registry);
  prometheus::Family<Gauge>& maintenance_due =
      prometheus::BuildGauge()
          .Name("printmeter_maintenance_due_items")
          .Help("Maintenance items of the printer that are due or overdue")
          .Register(registry);
};

Status AddProjectionLag(LedgerFamilies& f, LedgerReader& store, TimeMs now) {
  auto lag = store.Lag();
  if (!lag) return lag.error();
  f.lag_events.Add({}).Set(static_cast<double>(lag->events()));
  double seconds = 0;
  if (lag->oldest_unprojected) {
    seconds = std::max<TimeMs>(0, now - *lag->oldest_unprojected) / 1000.0;
  }
  f.lag_seconds.Add({}).Set(seconds);
  return {};
}

Status AddPrinterStates(LedgerFamilies& f, Store& store,
                        const ApiOptions& options) {
  auto states = store.LoadDeviceStates();
  if (!states) return states.error();
  std::map<std::string, const DeviceState*, std::less<>> by_device;
  for (const auto& [device, dc] : options.devices) by_device[device] = nullptr;
  for (const DeviceState& s : *states) by_device[s.device] = &s;
  for (const auto& [device, s] : by_device) {
    std::string label = LabelValue(device);
    PrinterState current = s ? s->state : PrinterState::kIdle;
    for (auto state : {PrinterState::kIdle, PrinterState::kPrinting,
                       PrinterState::kPaused}) {
      f.state
          .Add({{"device", label},
                {"state", std::string(PrinterStateName(state))}})
          .Set(state == current ? 1 : 0);
    }
    f.attention.Add({{"device", label}}).Set(s && s->needs_attention ? 1 : 0);
    if (s && s->open && s->open->progress_pct) {
      f.progress.Add({{"device", label}}).Set(*s->open->progress_pct / 100);
    }
  }
  return {};
}

void AddTotals(LedgerFamilies& f, const TotalsByDevice& totals) {
  for (const auto& [device, t] : totals) {
    std::string label = LabelValue(device);
    for (SessionStatus status : kAllStatuses) {
      Labels labels{{"device", label},
                    {"status", std::string(StatusName(status))}};
      auto count = static_cast<double>(t.sessions[static_cast<size_t>(status)]);
      if (IsOpen(status)) {
        f.open_sessions.Add(labels).Set(count);
      } else {
        f.sessions.Add(labels).Increment(count);
      }
    }
    f.busy.Add({{"device", label}}).Increment(t.busy_s);
    f.print.Add({{"device", label}}).Increment(t.print_s);
    f.filament.Add({{"device", label}}).Increment(t.filament_mm / 1000);
  }
}

Status AddMaintenance(LedgerFamilies& f, Store& store,
                      const ApiOptions& options, TimeMs now) {
  auto fleet = LoadFleetMaintenance(store, options.maintenance, now);
  if (!fleet) return fleet.error();
  for (const DeviceMaintenance& d : *fleet) {
    std::string label = LabelValue(d.device);
    double due = 0;
    for (const ItemStatus& st : d.items) {
      f.maintenance_used
          .Add({{"device", label}, {"item", LabelValue(st.item.item)}})
          .Set(st.fraction);
      if (st.due()) ++due;
    }
    f.maintenance_due.Add({{"device", label}}).Set(due);
  }
  return {};
}

}  // namespace

Result<std::string> RenderMetrics(Store& store, const ApiOptions& options,
                                  TimeMs now, LedgerTotals& totals,
                                  const WebhookMetrics& webhooks) {
  try {
    LedgerFamilies families;
    if (auto s = AddPrinterStates(families, store, options); !s) {
      return s.error();
    }
    if (auto s = AddProjectionLag(families, store, now); !s) return s.error();
    if (auto s = AddMaintenance(families, store, options, now); !s) {
      return s.error();
    }
    auto t = totals.Compute(store, now);
    if (!t) return t.error();
    AddTotals(families, *t);
    auto requests = totals.Requests(store);
    if (!requests) return requests.error();
    auto collected = families.registry.Collect();
    for (auto& family : webhooks.Collect()) {
      collected.push_back(std::move(family));
    }
    AddStoredRequests(collected, *requests);
    if (options.forwarding) {
      for (auto& family : ForwardingMetrics(options.forwarding())) {
        collected.push_back(std::move(family));
      }
    }
    std::ostringstream out;
    prometheus::TextSerializer().Serialize(out, collected);
    return out.str();
  } catch (const std::exception& e) {
    return Internal(std::string("could not render the metrics: ") + e.what());
  }
}

}  // namespace pm

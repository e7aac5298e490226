#include "api/forwarding.h"

#include <prometheus/client_metric.h>

#include <boost/json/serialize.hpp>

#include "api/handlers.h"
#include "api/text.h"

namespace pm {

namespace {

boost::json::value TimeJson(const std::optional<TimeMs>& t) {
  if (!t) return nullptr;
  return boost::json::value(FormatIso(*t));
}

prometheus::MetricFamily Family(std::string name, std::string help,
                                prometheus::MetricType type) {
  prometheus::MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

}  // namespace

boost::json::object ForwardingJson(
    const std::vector<ForwardTargetStatus>& targets) {
  boost::json::array list;
  for (const ForwardTargetStatus& t : targets) {
    boost::json::object o;
    o["name"] = t.name;
    o["url"] = t.url;
    o["state"] = ForwardStateName(t.state);
    o["position"] = t.position;
    o["log_end"] = t.log_end;
    o["backlog"] = t.backlog();
    o["delivered"] = t.delivered;
    o["failed"] = t.failed;
    o["last_error"] = t.last_error.empty()
                          ? boost::json::value(nullptr)
                          : boost::json::value(CleanUtf8(t.last_error));
    o["failing_since"] = TimeJson(t.failing_since);
    o["next_attempt"] = TimeJson(t.next_attempt);
    list.push_back(std::move(o));
  }
  boost::json::object out;
  out["targets"] = std::move(list);
  return out;
}

std::vector<prometheus::MetricFamily> ForwardingMetrics(
    const std::vector<ForwardTargetStatus>& targets) {
  using prometheus::MetricType;
  auto delivered = Family("printmeter_forward_delivered_total",
                          "Events delivered to a forward target (2xx) since "
                          "this printmeter started",
                          MetricType::Counter);
  auto failed = Family("printmeter_forward_failed_total",
                       "Failed delivery attempts to a forward target (no "
                       "answer in time, or not 2xx) since this printmeter "
                       "started",
                       MetricType::Counter);
  auto backlog = Family("printmeter_forward_backlog_events",
                        "Events of the log past a forward target's position",
                        MetricType::Gauge);
  for (const ForwardTargetStatus& t : targets) {
    std::vector<prometheus::ClientMetric::Label> labels{
        {"target", CleanUtf8(t.name)}};
    prometheus::ClientMetric m;
    m.label = labels;
    m.counter.value = static_cast<double>(t.delivered);
    delivered.metric.push_back(m);
    m.counter.value = static_cast<double>(t.failed);
    failed.metric.push_back(m);
    prometheus::ClientMetric g;
    g.label = labels;
    g.gauge.value = static_cast<double>(t.backlog());
    backlog.metric.push_back(g);
  }
  return {delivered, failed, backlog};
}

// Every target's state, backlog and last error; no targets when nothing
// is forwarded.
Result<ApiResponse> GetForwarding(ApiContext& ctx, const ApiCall&) {
  std::vector<ForwardTargetStatus> targets;
  if (ctx.options.forwarding) targets = ctx.options.forwarding();
  ApiResponse r;
  r.body = boost::json::serialize(ForwardingJson(targets));
  return r;
}

}  // namespace pm

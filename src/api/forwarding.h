// Forwarding as the read side shows it: GET /api/v1/forwarding (admin) and
// the printmeter_forward_* metrics, from ApiOptions::forwarding.
#pragma once

#include <prometheus/metric_family.h>

#include <boost/json/object.hpp>
#include <vector>

#include "forward/status.h"

namespace pm {

// {"targets":[{"name","url","state","position","log_end","backlog",
// "delivered","failed","last_error","failing_since","next_attempt"}]}:
// times ISO 8601 or null, last_error null when none.
boost::json::object ForwardingJson(
    const std::vector<ForwardTargetStatus>& targets);

// printmeter_forward_delivered_total, printmeter_forward_failed_total and
// printmeter_forward_backlog_events, by target.
std::vector<prometheus::MetricFamily> ForwardingMetrics(
    const std::vector<ForwardTargetStatus>& targets);

}  // namespace pm

// GET /metrics of the proxy's API: Prometheus text of what every proxy is doing now (issue 6
// "Metrics").
#pragma once

#include "bombarder/proxy/proxy_server.h"
#include "bombarder/proxy/proxy_state.h"

namespace bombarder::proxy {

// Text format 0.0.4 (prometheus-cpp, common/metrics.h): each proxy's state, connections and
// toxics, and each toxic's toxicity and attributes.
ApiResult proxy_metrics(const ServerState& state);

}  // namespace bombarder::proxy

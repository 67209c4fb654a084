// --metrics-port, --metrics-host, --metrics-linger (metrics_server.h MetricsFlags), shared by the
// load commands and `scenario run`.
#pragma once

#include <CLI/CLI.hpp>

#include "bombarder/load/metrics_server.h"

namespace bombarder {

void add_metrics_flags(CLI::App* command, MetricsFlags& flags);

}  // namespace bombarder

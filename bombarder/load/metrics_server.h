// The load generator's Prometheus endpoint (issue 6 "Metrics"): `--metrics-port` on flood,
// burst, mixed, storm and `scenario run` serves GET /metrics from a LoadMetrics while the
// command runs (and for --metrics-linger seconds after, so a scrape sees the final counts).
//
// The HTTP server of both binaries (common/http_server.h) on its own thread and io_context:
// scrapes never share a thread with the load. Routes: GET|HEAD /metrics (text format 0.0.4),
// GET / (a pointer to /metrics); anything else is answered by the router with JSON
// {"error": CODE, "message": TEXT} (404 not_found, 405 method_not_allowed), as stress_node's API.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <thread>

namespace bombarder {

class LoadMetrics;

class MetricsServer {
 public:
  using Render = std::function<std::string()>;
  // Binds host:port (0: any free port) and starts serving. Throws Error(kEnvironment)
  // when the address cannot be bound.
  MetricsServer(const std::string& host, uint16_t port, Render render);
  ~MetricsServer();  // stops serving and joins the thread
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  [[nodiscard]] uint16_t port() const { return port_; }
  [[nodiscard]] std::string url() const;  // http://HOST:PORT/metrics

  struct State;  // the io_context, router and server; defined in the .cc

 private:
  std::shared_ptr<State> state_;
  uint16_t port_ = 0;
  std::thread thread_;
};

// The command-line side, shared by the load commands and `scenario run` (the flags are
// registered by commands/metrics_flags.h).
struct MetricsFlags {
  int port = -1;  // -1: no metrics endpoint
  std::string host = "127.0.0.1";
  double linger_s = 0;
};
// Refuses combinations CLI11 cannot (--metrics-linger without --metrics-port, a host that is not
// an IP address) with Error(kInvalidInput); commands call it before touching the cluster.
void check_metrics_flags(const MetricsFlags& flags);

// Starts the endpoint when --metrics-port was given (nullptr otherwise) and prints
// "metrics: http://HOST:PORT/metrics" to `announce` unless it is null. Throws Error for a
// bad flag value (kInvalidInput) or an address that cannot be bound (kEnvironment).
[[nodiscard]] std::unique_ptr<MetricsServer> start_metrics_server(const MetricsFlags& flags,
                                                                  const LoadMetrics& metrics,
                                                                  std::FILE* announce);

// After the command's work: keeps `server` up for --metrics-linger seconds or until
// `interrupted` turns true (Ctrl-C). Returns at once without a server.
void linger_metrics(const MetricsFlags& flags, const MetricsServer* server,
                    const std::atomic<bool>& interrupted);

}  // namespace bombarder

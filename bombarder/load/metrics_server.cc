#include "bombarder/load/metrics_server.h"

#include <chrono>
#include <nlohmann/json.hpp>

#include "bombarder/base/errors.h"
#include "bombarder/load/load_metrics.h"
#include "common/asio.h"
#include "common/http_server.h"
#include "common/metrics.h"

namespace bombarder {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using namespace std::chrono_literals;

struct MetricsServer::State {
  asio::io_context io{1};
  common::Router router;
  std::unique_ptr<common::HttpServer> server;
  std::string host;
};

namespace {

// GET|HEAD /metrics and GET / (a pointer to /metrics). Anything else is the router's JSON 404 or
// 405 (with Allow).
void add_routes(common::Router& router, MetricsServer::Render render) {
  const auto metrics = [render](bool head) {
    return [render, head](common::Request, common::Respond respond) {
      common::Response response;
      response.content_type = common::metrics::kContentType;
      if (!head) response.body = render();
      respond(std::move(response));
    };
  };
  router.add(http::verb::get, "/metrics", metrics(false));
  router.add(http::verb::head, "/metrics", metrics(true));
  router.add(http::verb::get, "/", [](common::Request, common::Respond respond) {
    common::Response response;
    response.content_type = "text/plain; charset=utf-8";
    response.body = "bombarder load generator: Prometheus metrics at /metrics\n";
    respond(std::move(response));
  });
}

}  // namespace

MetricsServer::MetricsServer(const std::string& host, uint16_t port, Render render)
    : state_(std::make_shared<State>()) {
  state_->host = host;
  boost::system::error_code ec;
  (void)asio::ip::make_address(host, ec);
  if (ec) invalid_input("--metrics-host: '" + host + "' is not an IP address");
  add_routes(state_->router, std::move(render));
  // A scrape is small; an idle or stuck scraper does not keep a connection long.
  common::HttpServerOptions options;
  options.host = host;
  options.port = port;
  options.body_limit_bytes = 64 << 10;
  options.idle_timeout = 30s;
  options.read_timeout = 30s;
  options.write_timeout = 30s;
  options.connections_max = 64;
  options.peer_connections_max = 0;
  options.server_name = "bombarder";
  state_->server =
      std::make_unique<common::HttpServer>(state_->io, state_->router, std::move(options));
  if (const auto error = state_->server->listen()) {
    environment_failure("cannot serve metrics on " + host + ":" + std::to_string(port) + ": " +
                        error.message());
  }
  port_ = state_->server->port();
  state_->server->start();
  thread_ = std::thread([state = state_.get()] { state->io.run(); });
}

MetricsServer::~MetricsServer() {
  // Raw pointers: the State outlives the thread (joined here); a shared_ptr kept in the server's
  // stop callback would make a cycle through the io_context that holds it.
  asio::post(state_->io,
             [state = state_.get()] { state->server->stop(0ms, [state] { state->io.stop(); }); });
  thread_.join();
  state_->server.reset();
}

std::string MetricsServer::url() const {
  const bool v6 = state_->host.find(':') != std::string::npos;
  return "http://" + (v6 ? "[" + state_->host + "]" : state_->host) + ":" + std::to_string(port_) +
         "/metrics";
}

void check_metrics_flags(const MetricsFlags& flags) {
  if (flags.port < 0 && flags.linger_s > 0) invalid_input("--metrics-linger needs --metrics-port");
  boost::system::error_code ec;
  (void)asio::ip::make_address(flags.host, ec);
  if (ec) invalid_input("--metrics-host: '" + flags.host + "' is not an IP address");
}

std::unique_ptr<MetricsServer> start_metrics_server(const MetricsFlags& flags,
                                                    const LoadMetrics& metrics,
                                                    std::FILE* announce) {
  check_metrics_flags(flags);
  if (flags.port < 0) return nullptr;
  auto server = std::make_unique<MetricsServer>(flags.host, static_cast<uint16_t>(flags.port),
                                                [&metrics] { return metrics.render(); });
  if (announce != nullptr) {
    std::fprintf(announce, "metrics: %s\n", server->url().c_str());
    std::fflush(announce);
  }
  return server;
}

void linger_metrics(const MetricsFlags& flags, const MetricsServer* server,
                    const std::atomic<bool>& interrupted) {
  if (server == nullptr || flags.linger_s <= 0) return;
  const auto until = std::chrono::steady_clock::now() +
                     std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                         std::chrono::duration<double>(flags.linger_s));
  // Polled: a signal handler can only set the flag.
  while (!interrupted && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(50ms);
  }
}

}  // namespace bombarder

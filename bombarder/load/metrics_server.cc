#include "bombarder/load/metrics_server.h"

#include <chrono>
#include <nlohmann/json.hpp>

#include "bombarder/base/errors.h"
#include "bombarder/load/load_metrics.h"
#include "common/asio.h"

namespace bombarder {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

struct MetricsServer::State {
  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::string host;
  Render render;
};

namespace {

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

Response answer(const MetricsServer::Render& render, const Request& req) {
  Response res;
  res.version(req.version());
  res.set(http::field::server, "bombarder");
  const auto error = [&](http::status status, const char* code, const std::string& message) {
    res.result(status);
    res.set(http::field::content_type, "application/json");
    res.body() = nlohmann::json{{"error", code}, {"message", message}}.dump();
  };
  std::string_view target(req.target().data(), req.target().size());
  if (const size_t q = target.find('?'); q != std::string_view::npos) target = target.substr(0, q);
  const bool get = req.method() == http::verb::get || req.method() == http::verb::head;
  if (target == "/metrics" || target == "/") {
    if (!get) {
      error(http::status::method_not_allowed, "method_not_allowed",
            std::string(req.method_string()) + " " + std::string(target) + ": only GET");
      res.set(http::field::allow, "GET, HEAD");
    } else if (target == "/metrics") {
      res.result(http::status::ok);
      res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
      res.body() = render();
    } else {
      res.result(http::status::ok);
      res.set(http::field::content_type, "text/plain; charset=utf-8");
      res.body() = "bombarder load generator: Prometheus metrics at /metrics\n";
    }
  } else {
    error(http::status::not_found, "not_found",
          "no route " + std::string(target) + "; metrics are at /metrics");
  }
  res.keep_alive(req.keep_alive());
  res.prepare_payload();
  if (req.method() == http::verb::head) res.body().clear();
  return res;
}

// The coroutines take the State by plain pointer: a shared_ptr in their frames would keep the
// io_context that holds those frames alive (a cycle, reported by LeakSanitizer). The State
// outlives them: destroying it destroys its io_context, which destroys every pending frame.
asio::awaitable<void> serve(MetricsServer::State* state, tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  for (;;) {
    boost::system::error_code ec;
    Request req;
    // An idle or stuck scraper does not keep a connection forever.
    stream.expires_after(30s);
    co_await http::async_read(stream, buffer, req, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    Response res = answer(state->render, req);
    const bool keep_alive = res.keep_alive();
    co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
    if (ec || !keep_alive) break;
  }
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
}

asio::awaitable<void> accept_loop(MetricsServer::State* state) {
  while (state->acceptor.is_open()) {
    boost::system::error_code ec;
    tcp::socket socket =
        co_await state->acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (!state->acceptor.is_open() || ec == asio::error::operation_aborted) co_return;
      continue;
    }
    asio::co_spawn(state->io, serve(state, std::move(socket)), asio::detached);
  }
}

}  // namespace

MetricsServer::MetricsServer(const std::string& host, uint16_t port, Render render)
    : state_(std::make_shared<State>()) {
  state_->host = host;
  state_->render = std::move(render);
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) usage_error("--metrics-host: '" + host + "' is not an IP address");
  const tcp::endpoint ep(address, port);
  tcp::acceptor& acceptor = state_->acceptor;
  acceptor.open(ep.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(ep, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    environment_error("cannot serve metrics on " + host + ":" + std::to_string(port) + ": " +
                      ec.message());
  }
  port_ = acceptor.local_endpoint().port();
  asio::co_spawn(state_->io, accept_loop(state_.get()), asio::detached);
  thread_ = std::thread([state = state_] { state->io.run(); });
}

MetricsServer::~MetricsServer() {
  asio::post(state_->io, [state = state_] {
    boost::system::error_code ignored;
    state->acceptor.close(ignored);
    state->io.stop();  // ends the connections' coroutines too
  });
  thread_.join();
}

std::string MetricsServer::url() const {
  const bool v6 = state_->host.find(':') != std::string::npos;
  return "http://" + (v6 ? "[" + state_->host + "]" : state_->host) + ":" + std::to_string(port_) +
         "/metrics";
}

void check_metrics_flags(const MetricsFlags& flags) {
  if (flags.port < 0 && flags.linger_s > 0) usage_error("--metrics-linger needs --metrics-port");
  boost::system::error_code ec;
  (void)asio::ip::make_address(flags.host, ec);
  if (ec) usage_error("--metrics-host: '" + flags.host + "' is not an IP address");
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

// ProxyServer: the proxies' state (proxy_state.h), Toxiproxy's REST API over it (proxy_api.h)
// and that API served on the HTTP server of both binaries (common/http_server.h). The rest of
// the proxy: toxic.h (a toxic's configuration), link.h (a proxied connection; its toxic chain,
// one function per toxic kind, in toxic_chain.cc), proxy_metrics.h (GET /metrics).
#include "bombarder/proxy/proxy_server.h"

#include "bombarder/proxy/proxy_api.h"
#include "bombarder/proxy/proxy_state.h"
#include "common/http_server.h"

namespace bombarder::proxy {

namespace {

// One API request as Toxiproxy answers it.
common::Response serve_api(ServerState& state, const common::Request& request) {
  ApiResult result;
  if (request.header("User-Agent").starts_with("Mozilla/")) {
    // Toxiproxy refuses browsers so that a web page cannot drive the API (CSRF); same text.
    result = {403, "User agent not allowed\n", "text/plain; charset=utf-8"};
  } else {
    const auto method = boost::beast::http::to_string(request.method);
    result = answer_api(state, std::string_view(method.data(), method.size()), request.target,
                        request.body);
  }
  common::Response response;
  response.status = static_cast<unsigned>(result.status);
  response.body = std::move(result.body);
  response.content_type = std::move(result.content_type);
  return response;
}

}  // namespace

struct ProxyServer::Impl {
  std::shared_ptr<ServerState> state;
  // The REST API on common's HTTP server: one fallback handler takes every request to
  // answer_api, which answers in Toxiproxy's own error format. Declared after `state`, so the
  // server is destroyed before the proxies.
  common::Router api_router;
  std::unique_ptr<common::HttpServer> api_server;
  bool api_stopped = false;
};

ProxyServer::ProxyServer(asio::io_context& io, uint64_t seed) : impl_(std::make_shared<Impl>()) {
  impl_->state = std::make_shared<ServerState>(io, seed);
}

ProxyServer::~ProxyServer() { shutdown(); }

ApiResult ProxyServer::handle(std::string_view method, std::string_view target,
                              std::string_view body) {
  return answer_api(*impl_->state, method, target, body);
}

uint16_t ProxyServer::listen_api(const std::string& host, uint16_t port) {
  ServerState* state = impl_->state.get();
  (void)asio::ip::make_address(host);  // throws for a host that is not an IP address
  impl_->api_router.set_fallback([state](common::Request request, common::Respond respond) {
    respond(serve_api(*state, request));
  });
  common::HttpServerOptions options;
  options.host = host;
  options.port = port;
  options.peer_connections_max = 0;
  options.server_name = "bombarder-proxy";
  impl_->api_server = std::make_unique<common::HttpServer>(state->io, impl_->api_router, options);
  if (const auto ec = impl_->api_server->listen()) throw boost::system::system_error(ec);
  impl_->api_server->start();
  return impl_->api_server->port();
}

void ProxyServer::shutdown() {
  if (impl_->api_server && !impl_->api_stopped) {
    // Idle API connections close now, the others once answered.
    impl_->api_stopped = true;
    impl_->api_server->stop(std::chrono::milliseconds(0), [] {});
  }
  for (auto& [name, p] : impl_->state->proxies) p->stop();
}

}  // namespace bombarder::proxy

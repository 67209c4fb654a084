#include "bombarder/proxy/proxy_state.h"

#include <boost/asio/redirect_error.hpp>

#include "bombarder/proxy/address.h"

namespace bombarder::proxy {

using asio::ip::tcp;

namespace {

// Go's net.Listen binds "localhost" to 127.0.0.1; getaddrinfo may list ::1 first.
tcp::endpoint listen_endpoint(asio::io_context& io, const std::string& listen) {
  auto [host, port] = split_host_port(listen);
  boost::system::error_code ec;
  tcp::resolver resolver(io);
  auto results = resolver.resolve(host.empty() ? "0.0.0.0" : host, port, ec);
  if (ec || results.empty()) {
    throw ApiError("listen tcp " + listen + ": " + (ec ? ec.message() : "no address"), 500);
  }
  for (const auto& entry : results) {
    if (entry.endpoint().address().is_v4()) return entry.endpoint();
  }
  return results.begin()->endpoint();
}

}  // namespace

json ProxyState::to_json() const {
  json toxics = json::array();
  for (const auto& chain : chains) {
    for (const auto& t : chain) toxics.push_back(t->to_json());
  }
  return {{"name", name},
          {"listen", listen},
          {"upstream", upstream},
          {"enabled", enabled},
          {"toxics", toxics}};
}

ToxicPtr ProxyState::find_toxic(const std::string& toxic_name) const {
  for (const auto& chain : chains) {
    for (const auto& t : chain) {
      if (t->name == toxic_name) return t;
    }
  }
  return nullptr;
}

void ProxyState::notify_links() {
  auto copy = links;  // a link may close, and leave `links`, while it looks
  for (const auto& link : copy) link->toxics_changed();
}

void ProxyState::start() {
  if (acceptor) return;
  const tcp::endpoint ep = listen_endpoint(server->io, listen);
  boost::system::error_code ec;
  auto a = std::make_shared<tcp::acceptor>(server->io);
  a->open(ep.protocol(), ec);
  if (!ec) a->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) a->bind(ep, ec);
  if (!ec) a->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw ApiError("listen tcp " + listen + ": bind: " + ec.message(), 500);
  listen = endpoint_text(a->local_endpoint());
  acceptor = a;
  asio::co_spawn(server->io, accept_loop(shared_from_this(), a), asio::detached);
}

void ProxyState::stop() {
  if (acceptor) {
    boost::system::error_code ec;
    acceptor->close(ec);
    acceptor.reset();
  }
  auto copy = links;
  for (const auto& link : copy) link->close();
  links.clear();
}

asio::awaitable<void> ProxyState::accept_loop(std::shared_ptr<ProxyState> self,
                                              std::shared_ptr<tcp::acceptor> acceptor) {
  while (acceptor->is_open()) {
    boost::system::error_code ec;
    tcp::socket socket =
        co_await acceptor->async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (!acceptor->is_open() || ec == asio::error::operation_aborted) co_return;
      continue;
    }
    if (self->acceptor != acceptor) co_return;
    auto link = std::make_shared<Link>(self, std::move(socket), self->server->rng());
    self->links.insert(link);
    link->start();
  }
}

}  // namespace bombarder::proxy

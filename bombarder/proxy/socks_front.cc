#include "bombarder/proxy/socks_front.h"

#include <array>
#include <boost/asio/redirect_error.hpp>
#include <set>

#include "bombarder/base/errors.h"

namespace bombarder::proxy {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

// RFC 1928 reply codes.
constexpr uint8_t kReplyOk = 0;
constexpr uint8_t kReplyNotAllowed = 2;
constexpr uint8_t kReplyRefused = 5;
constexpr uint8_t kReplyCommandNotSupported = 7;
constexpr std::chrono::seconds kHandshakeTimeout{5};

tcp::endpoint parse_ip_endpoint(const std::string& text, const std::string& what) {
  const size_t colon = text.rfind(':');
  error_code ec;
  const asio::ip::address ip = asio::ip::make_address(text.substr(0, colon), ec);
  if (colon == std::string::npos || ec) {
    invalid_input("--socks-config: " + what + " '" + text + "' is not IP:PORT");
  }
  const std::string port = text.substr(colon + 1);
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos || std::stoi(port) > 65535) {
    invalid_input("--socks-config: " + what + " '" + text + "' has no valid port");
  }
  return {ip, static_cast<uint16_t>(std::stoi(port))};
}

}  // namespace

std::vector<SocksFrontConfig> parse_socks_config(const nlohmann::json& config) {
  if (!config.is_array()) invalid_input("--socks-config must hold a JSON array");
  std::vector<SocksFrontConfig> fronts;
  for (const nlohmann::json& entry : config) {
    if (!entry.is_object() || !entry.contains("name") || !entry["name"].is_string() ||
        !entry.contains("listen") || !entry["listen"].is_string() || !entry.contains("routes") ||
        !entry["routes"].is_object()) {
      invalid_input("--socks-config: each entry needs \"name\", \"listen\" and \"routes\": " +
                    entry.dump());
    }
    SocksFrontConfig front{entry["name"], entry["listen"], {}};
    (void)parse_ip_endpoint(front.listen, "listen");
    for (const auto& [dest, upstream] : entry["routes"].items()) {
      if (!upstream.is_string()) invalid_input("--socks-config: route " + dest + " is no string");
      (void)parse_ip_endpoint(upstream.get<std::string>(), "route " + dest);
      front.routes[dest] = upstream.get<std::string>();
    }
    fronts.push_back(std::move(front));
  }
  return fronts;
}

struct SocksFront::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& io, SocksFrontConfig c) : config(std::move(c)), acceptor(io) {}

  SocksFrontConfig config;
  tcp::acceptor acceptor;
  std::set<std::shared_ptr<tcp::socket>> sockets;  // open ones, closed by stop()
  bool stopped = false;

  asio::awaitable<void> accept_loop(std::shared_ptr<Impl> self);
  asio::awaitable<void> serve(std::shared_ptr<Impl> self, std::shared_ptr<tcp::socket> client);
  asio::awaitable<std::string> read_destination(tcp::socket& client, error_code& ec);
  asio::awaitable<void> copy(std::shared_ptr<Impl> self, std::shared_ptr<tcp::socket> from,
                             std::shared_ptr<tcp::socket> to);
  void forget(const std::shared_ptr<tcp::socket>& socket) {
    error_code ignored;
    socket->close(ignored);
    sockets.erase(socket);
  }
};

asio::awaitable<void> SocksFront::Impl::accept_loop(std::shared_ptr<Impl> self) {
  while (!stopped) {
    error_code ec;
    tcp::socket socket =
        co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (stopped || ec == asio::error::operation_aborted) co_return;
      continue;  // a failed accept (EMFILE, aborted handshake) ends only that connection
    }
    if (sockets.size() >= kConnectionsMax) continue;  // closed as `socket` goes
    auto client = std::make_shared<tcp::socket>(std::move(socket));
    sockets.insert(client);
    asio::co_spawn(acceptor.get_executor(), serve(self, client), asio::detached);
  }
}

// "host:port" from the greeting and the CONNECT request; "" after answering a request it does
// not serve (ec set when the connection failed).
asio::awaitable<std::string> SocksFront::Impl::read_destination(tcp::socket& client,
                                                                error_code& ec) {
  auto token = asio::redirect_error(asio::use_awaitable, ec);
  std::array<uint8_t, 262> buffer{};
  co_await asio::async_read(client, asio::buffer(buffer.data(), 2), token);
  if (ec || buffer[0] != 5) co_return "";
  co_await asio::async_read(client, asio::buffer(buffer.data(), buffer[1]), token);
  const std::array<uint8_t, 2> no_auth{5, 0};
  co_await asio::async_write(client, asio::buffer(no_auth), token);
  co_await asio::async_read(client, asio::buffer(buffer.data(), 4), token);
  if (ec) co_return "";
  const uint8_t command = buffer[1];
  const uint8_t address_type = buffer[3];
  std::string host;
  if (address_type == 3) {
    co_await asio::async_read(client, asio::buffer(buffer.data(), 1), token);
    const size_t length = buffer[0];
    co_await asio::async_read(client, asio::buffer(buffer.data(), length), token);
    host.assign(reinterpret_cast<const char*>(buffer.data()), length);
  } else if (address_type == 1) {
    co_await asio::async_read(client, asio::buffer(buffer.data(), 4), token);
    host = std::to_string(buffer[0]) + "." + std::to_string(buffer[1]) + "." +
           std::to_string(buffer[2]) + "." + std::to_string(buffer[3]);
  } else {
    co_return "";  // IPv6 destinations: never an etcd peer name here
  }
  co_await asio::async_read(client, asio::buffer(buffer.data(), 2), token);
  if (ec) co_return "";
  const unsigned port = (static_cast<unsigned>(buffer[0]) << 8) | buffer[1];
  if (command != 1) {
    const std::array<uint8_t, 10> reply{5, kReplyCommandNotSupported, 0, 1, 0, 0, 0, 0, 0, 0};
    co_await asio::async_write(client, asio::buffer(reply), token);
    co_return "";
  }
  co_return host + ":" + std::to_string(port);
}

asio::awaitable<void> SocksFront::Impl::serve(std::shared_ptr<Impl> self,
                                              std::shared_ptr<tcp::socket> client) {
  error_code ec;
  auto token = asio::redirect_error(asio::use_awaitable, ec);
  // A client that stalls in the handshake is closed: its socket counts against the bound.
  auto deadline = std::make_shared<asio::steady_timer>(acceptor.get_executor(), kHandshakeTimeout);
  deadline->async_wait([client](const error_code& expired) {
    error_code ignored;
    if (!expired) client->close(ignored);
  });
  const std::string destination = co_await read_destination(*client, ec);
  deadline->cancel();
  const auto route = config.routes.find(destination);
  if (ec || destination.empty() || route == config.routes.end()) {
    if (!ec && !destination.empty()) {
      const std::array<uint8_t, 10> reply{5, kReplyNotAllowed, 0, 1, 0, 0, 0, 0, 0, 0};
      co_await asio::async_write(*client, asio::buffer(reply), token);
    }
    forget(client);
    co_return;
  }
  auto upstream = std::make_shared<tcp::socket>(acceptor.get_executor());
  const tcp::endpoint target = parse_ip_endpoint(route->second, "route");
  co_await upstream->async_connect(target, token);
  const bool connected = !ec;
  std::array<uint8_t, 10> reply{5, connected ? kReplyOk : kReplyRefused, 0, 1, 0, 0, 0, 0, 0, 0};
  ec.clear();
  co_await asio::async_write(*client, asio::buffer(reply), token);
  if (!connected || ec || stopped) {
    forget(client);
    co_return;
  }
  sockets.insert(upstream);
  asio::co_spawn(acceptor.get_executor(), copy(self, upstream, client), asio::detached);
  co_await copy(self, client, upstream);
}

// Bytes from `from` to `to` until either ends; then both are closed, which ends the other
// direction's copy too.
asio::awaitable<void> SocksFront::Impl::copy(std::shared_ptr<Impl> self,
                                             std::shared_ptr<tcp::socket> from,
                                             std::shared_ptr<tcp::socket> to) {
  std::array<char, 16384> buffer{};
  error_code ec;
  auto token = asio::redirect_error(asio::use_awaitable, ec);
  while (true) {
    const size_t n = co_await from->async_read_some(asio::buffer(buffer), token);
    if (ec) break;
    co_await asio::async_write(*to, asio::buffer(buffer.data(), n), token);
    if (ec) break;
  }
  self->forget(from);
  self->forget(to);
}

SocksFront::SocksFront(asio::io_context& io, SocksFrontConfig config)
    : impl_(std::make_shared<Impl>(io, std::move(config))) {}

SocksFront::~SocksFront() { stop(); }

void SocksFront::start() {
  const tcp::endpoint listen = parse_ip_endpoint(impl_->config.listen, "listen");
  impl_->acceptor.open(listen.protocol());
  impl_->acceptor.set_option(tcp::acceptor::reuse_address(true));
  impl_->acceptor.bind(listen);
  impl_->acceptor.listen();
  asio::co_spawn(impl_->acceptor.get_executor(), impl_->accept_loop(impl_), asio::detached);
}

uint16_t SocksFront::port() const { return impl_->acceptor.local_endpoint().port(); }

void SocksFront::stop() {
  impl_->stopped = true;
  error_code ignored;
  impl_->acceptor.close(ignored);
  for (const auto& socket : impl_->sockets) socket->close(ignored);
  impl_->sockets.clear();
}

}  // namespace bombarder::proxy

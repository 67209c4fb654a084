// `bombarder proxy`: serves the Toxiproxy-compatible fault proxy's REST API (proxy_server.h)
// until SIGINT/SIGTERM, like `toxiproxy-server`. See docs/proxy.md.
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "bombarder/commands/commands.h"
#include "bombarder/commands/exit_codes.h"
#include "bombarder/proxy/proxy_server.h"
#include "bombarder/proxy/socks_front.h"
#include "common/asio.h"

namespace bombarder {

namespace {

struct ProxyFlags {
  std::string host = "127.0.0.1";
  uint16_t port = 8474;
  std::string config;
  std::string socks_config;
  uint64_t seed = 0;
  bool seed_given = false;
};

// --socks-config: the SOCKS5 fronts (socks_front.h) that route etcd members' peer connections
// to their links.
std::vector<std::unique_ptr<proxy::SocksFront>> start_socks_fronts(boost::asio::io_context& io,
                                                                   const ProxyFlags& flags) {
  std::vector<std::unique_ptr<proxy::SocksFront>> fronts;
  if (flags.socks_config.empty()) return fronts;
  std::ifstream in(flags.socks_config);
  if (!in) invalid_input("cannot read --socks-config " + flags.socks_config);
  const nlohmann::json config = nlohmann::json::parse(in, nullptr, false);
  for (proxy::SocksFrontConfig& front : proxy::parse_socks_config(config)) {
    const std::string listen = front.listen;
    const std::string name = front.name;
    fronts.push_back(std::make_unique<proxy::SocksFront>(io, std::move(front)));
    try {
      fronts.back()->start();
    } catch (const boost::system::system_error& e) {
      environment_failure("cannot serve the SOCKS5 front " + name + " on " + listen + ": " +
                          e.code().message());
    }
    std::printf("SOCKS5 front %s on %s\n", name.c_str(), listen.c_str());
  }
  return fronts;
}

int run_proxy(const ProxyFlags& flags) {
  boost::system::error_code bad_host;
  (void)boost::asio::ip::make_address(flags.host, bad_host);
  if (bad_host) invalid_input("--host '" + flags.host + "' is not an IP address");
  boost::asio::io_context io;
  uint64_t seed = flags.seed_given ? flags.seed : std::random_device{}();
  proxy::ProxyServer server(io, seed);

  if (!flags.config.empty()) {
    std::ifstream in(flags.config);
    if (!in) invalid_input("cannot read --config " + flags.config);
    std::stringstream text;
    text << in.rdbuf();
    auto result = server.handle("POST", "/populate", text.str());
    if (result.status != 201) {
      // 400: the file is wrong; anything else (a port in use): the environment refused.
      throw Error(result.status == 400 ? ErrorKind::kInvalidInput : ErrorKind::kEnvironment,
                  "--config " + flags.config + ": " + result.body);
    }
    std::printf("populated proxies from %s: %s\n", flags.config.c_str(), result.body.c_str());
  }

  const std::vector<std::unique_ptr<proxy::SocksFront>> fronts = start_socks_fronts(io, flags);

  uint16_t port = 0;
  try {
    port = server.listen_api(flags.host, flags.port);
  } catch (const boost::system::system_error& e) {
    environment_failure("cannot serve the API on " + flags.host + ":" + std::to_string(flags.port) +
                        ": " + e.code().message());
  }
  std::printf("bombarder proxy: API on http://%s:%u (Toxiproxy-compatible; seed %llu)\n",
              flags.host.c_str(), static_cast<unsigned>(port),
              static_cast<unsigned long long>(seed));
  std::fflush(stdout);

  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    std::printf("bombarder proxy: signal %d, shutting down\n", signal);
    std::fflush(stdout);
    for (const auto& front : fronts) front->stop();
    server.shutdown();
    io.stop();
  });
  io.run();
  return kExitOk;
}

}  // namespace

void add_proxy_command(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<ProxyFlags>();
  auto* cmd = app.add_subcommand(
      "proxy",
      "Serve a Toxiproxy-compatible TCP fault proxy: REST API (Toxiproxy's routes, fields and "
      "errors) for proxies and toxics (latency, bandwidth, slow_close, timeout, reset_peer, "
      "slicer, limit_data, packet_loss). Runs until SIGINT/SIGTERM. See docs/proxy.md.");
  cmd->add_option("--host", flags->host, "API listen address (an IP literal)")
      ->capture_default_str();
  cmd->add_option("--port", flags->port, "API listen port (0 = any)")->capture_default_str();
  cmd->add_option("--config", flags->config,
                  "JSON file with an array of proxies to create at start (like toxiproxy -config)");
  cmd->add_option("--socks-config", flags->socks_config,
                  "JSON file with SOCKS5 fronts that route by destination name: an array of "
                  "{\"name\", \"listen\", \"routes\": {\"HOST:PORT\": \"IP:PORT\"}} "
                  "(`cluster start --system etcd --proxied` writes one; docs/proxy.md)");
  cmd->add_option("--seed", flags->seed,
                  "Seed for toxicity, jitter, slicer and packet_loss randomness (default: random)")
      ->each([flags](const std::string&) { flags->seed_given = true; });
  cmd->callback([flags, &exit_code] { exit_code = run_proxy(*flags); });
}

}  // namespace bombarder

#include "bombarder/agent/simulated_fleet.h"

#include "bombarder/agent/ws_link.h"
// (ws_link.h includes common/asio.h first: design.md §6.)
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <fstream>
#include <functional>
#include <optional>
#include <random>
#include <sstream>
#include <thread>

#include "bombarder/agent/agent.h"
#include "bombarder/base/errors.h"
#include "bombarder/base/text.h"
#include "bombarder/fleet/base64url.h"
#include "bombarder/fleet/ed25519_key.h"
#include "bombarder/fleet/protocol.h"
#include "common/histogram.h"
#include "common/http_client.h"
#include "common/tls.h"

namespace bombarder {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
using asio::use_awaitable;
using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kTick = std::chrono::milliseconds(100);
constexpr auto kStatsEvery = std::chrono::seconds(1);
constexpr auto kEnrolTimeout = std::chrono::seconds(60);
constexpr size_t kEnrolConnections = 8;

int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string read_token_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) invalid_input("cannot read " + path.string());
  std::string token;
  in >> token;
  if (token.empty()) invalid_input(path.string() + " holds no token");
  return token;
}

Ed25519Key load_or_make_key(const std::filesystem::path& dir, size_t index) {
  const std::filesystem::path path = dir / printf_text("sim-%05zu.pem", index);
  if (std::filesystem::exists(path)) return Ed25519Key::load_private_file(path);
  Ed25519Key key = Ed25519Key::generate();
  key.save_private_file(path);
  return key;
}

double ms(uint64_t us) { return static_cast<double>(us) / 1000.0; }

}  // namespace

// One simulated agent: its key and the state of its current connection.
struct SimAgent {
  SimAgent(size_t index_in, Ed25519Key key_in)
      : index(index_in), key(std::move(key_in)), id(key.fingerprint()) {}
  size_t index;
  Ed25519Key key;
  std::string id;
  std::optional<Ed25519Key> pinned_key;  // the first welcome's, as a real agent pins it
  std::shared_ptr<Link> link;            // welcomed, or null
  std::string token;
  int64_t heartbeat_seq = 0;
  int64_t pending_seq = 0;  // the heartbeat whose answer is awaited (0: none)
  Clock::time_point pending_sent;
};

struct SimulatedFleet::Impl {
  explicit Impl(SimulatedFleetOptions options_in);

  void enrol();
  asio::awaitable<void> connect_loop(SimAgent& agent, const std::atomic<bool>& stop);
  asio::awaitable<void> connect_once(SimAgent& agent);
  template <typename Ws>
  asio::awaitable<void> session(SimAgent& agent, std::shared_ptr<WsLink<Ws>> link);
  template <typename Ws>
  asio::awaitable<Message> read_message(WsLink<Ws>& link, beast::flat_buffer& buffer);
  asio::awaitable<void> heartbeat_loop(SimAgent& agent, std::shared_ptr<Link> link,
                                       std::chrono::milliseconds every);
  asio::awaitable<void> watch(const std::atomic<bool>& stop);
  void handle(SimAgent& agent, const Message& message);
  void on_assign(SimAgent& agent, const Json& body);
  void send(SimAgent& agent, Json message);
  [[nodiscard]] bool command_valid(SimAgent& agent, const Json& body);
  void write_stats_file();
  [[nodiscard]] Json stats_json() const;

  SimulatedFleetOptions options;
  OrchestratorUrl url;
  std::shared_ptr<asio::ssl::context> tls;
  // Before `agents`: their links' sockets belong to it, so it must be destroyed after them.
  asio::io_context io;
  asio::io_context file_io;  // the stats file's writes, on their own thread
  std::vector<std::unique_ptr<SimAgent>> agents;
  std::mt19937_64 rng{std::random_device()()};

  Clock::time_point started;
  std::optional<std::chrono::milliseconds> all_registered;
  size_t registered = 0;
  uint64_t connections = 0, assigns = 0, results = 0, aborts = 0, refusals = 0;
  std::optional<int64_t> first_assign_unix_ms, last_assign_unix_ms;
  common::Histogram heartbeat_rtt;
  common::Histogram heartbeat_rtt_steady;  // once every agent was welcomed: no connect storm
};

SimulatedFleet::Impl::Impl(SimulatedFleetOptions options_in)
    : options(std::move(options_in)), url(parse_orchestrator_url(options.orchestrator_url)) {
  if (options.agents < 1 || options.agents > kSimulatedAgentsMax) {
    invalid_input("--simulate: between 1 and " + std::to_string(kSimulatedAgentsMax) + " agents");
  }
  if (options.key_dir.empty()) invalid_input("--simulate needs --key-dir DIR (the agents' keys)");
  std::error_code ec;
  std::filesystem::create_directories(options.key_dir, ec);
  if (ec) environment_failure("cannot create " + options.key_dir.string() + ": " + ec.message());
  if (url.tls) {
    std::string error;
    tls = common::make_client_tls_context({"", "", options.cacert}, &error);
    if (!tls) invalid_input("--cacert: " + error);
  }
  for (size_t i = 0; i < options.agents; ++i) {
    agents.push_back(std::make_unique<SimAgent>(i, load_or_make_key(options.key_dir, i)));
  }
}

// POST /agents for every key, kEnrolConnections at a time; 201 and 409 "exists" both do, a 429
// (the orchestrator's REST rate limit) is retried after its Retry-After.
void SimulatedFleet::Impl::enrol() {
  const std::string token = read_token_file(options.enroll_token_file);
  asio::io_context enrol_io;
  common::HttpClientPool pool(enrol_io, kEnrolConnections, agents.size() + 1, 1 << 20, tls);
  std::string failure;
  size_t answered = 0;
  std::function<void(size_t)> post = [&](size_t index) {
    common::HttpRequest request;
    request.method = boost::beast::http::verb::post;
    request.target = "/agents";
    request.body =
        Json{{"public_key", agents[index]->key.public_pem()}, {"labels", options.labels}}.dump();
    request.headers.emplace_back("Authorization", "Bearer " + token);
    pool.request(
        {url.host, url.port}, std::move(request), kEnrolTimeout,
        [&, index](boost::system::error_code ec, common::HttpResponse response) {
          if (!ec && response.status == 429 && failure.empty()) {
            auto timer = std::make_shared<asio::steady_timer>(enrol_io, std::chrono::seconds(1));
            timer->async_wait([&, index, timer](boost::system::error_code) { post(index); });
            return;
          }
          // The pool keeps its idle connections (and run()) alive until it is closed.
          if (++answered == agents.size()) pool.close();
          if (!failure.empty()) return;
          if (ec) {
            failure = ec.message();
          } else if (response.status != 201 && response.status != 409) {
            failure = "HTTP " + std::to_string(response.status) + ": " + response.body;
          } else if (response.status == 409 &&
                     Json::parse(response.body, nullptr, false).value("error", "") != "exists") {
            failure = response.body;
          }
        });
  };
  for (size_t i = 0; i < agents.size(); ++i) post(i);
  enrol_io.run();
  if (!failure.empty()) environment_failure("enrolling the simulated agents: " + failure);
}

asio::awaitable<void> SimulatedFleet::Impl::connect_loop(SimAgent& agent,
                                                         const std::atomic<bool>& stop) {
  std::chrono::milliseconds backoff = options.backoff_min;
  asio::steady_timer timer(io);
  while (!stop.load()) {
    const Clock::time_point began = Clock::now();
    try {
      co_await connect_once(agent);
    } catch (const std::exception& e) {
      spdlog::debug("simulated agent {}: connection ended: {}", agent.index, e.what());
    }
    if (agent.link) {
      agent.link.reset();
      --registered;
    }
    if (stop.load()) break;
    if (Clock::now() - began > options.backoff_max) backoff = options.backoff_min;
    std::uniform_int_distribution<int64_t> jitter(0, backoff.count() / 2);
    timer.expires_after(backoff + std::chrono::milliseconds(jitter(rng)));
    backoff = std::min(backoff * 2, options.backoff_max);
    boost::system::error_code ignored;
    co_await timer.async_wait(asio::redirect_error(use_awaitable, ignored));
  }
}

asio::awaitable<void> SimulatedFleet::Impl::connect_once(SimAgent& agent) {
  asio::ip::tcp::resolver resolver(io);
  const auto endpoints =
      co_await resolver.async_resolve(url.host, std::to_string(url.port), use_awaitable);
  ++connections;
  if (!url.tls) {
    auto link = std::make_shared<WsLink<websocket::stream<beast::tcp_stream>>>(io);
    beast::get_lowest_layer(link->ws).expires_after(std::chrono::seconds(10));
    co_await beast::get_lowest_layer(link->ws).async_connect(endpoints, use_awaitable);
    co_await session(agent, link);
    co_return;
  }
  auto link = std::make_shared<WsLink<websocket::stream<common::TlsStream>>>(io, *tls);
  std::string error;
  if (!common::prepare_client_tls(link->ws.next_layer().native_handle(), url.host, &error)) {
    environment_failure("TLS: " + error);
  }
  beast::get_lowest_layer(link->ws).expires_after(std::chrono::seconds(10));
  co_await beast::get_lowest_layer(link->ws).async_connect(endpoints, use_awaitable);
  co_await link->ws.next_layer().async_handshake(asio::ssl::stream_base::client, use_awaitable);
  co_await session(agent, link);
}

template <typename Ws>
asio::awaitable<Message> SimulatedFleet::Impl::read_message(WsLink<Ws>& link,
                                                            beast::flat_buffer& buffer) {
  buffer.consume(buffer.size());
  co_await link.ws.async_read(buffer, use_awaitable);
  co_return parse_message(beast::buffers_to_string(buffer.data()));
}

// The registration handshake of agent.cc's session, then messages until the link closes.
template <typename Ws>
asio::awaitable<void> SimulatedFleet::Impl::session(SimAgent& agent,
                                                    std::shared_ptr<WsLink<Ws>> link) {
  auto& ws = link->ws;
  beast::get_lowest_layer(ws).expires_never();
  ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
  ws.read_message_max(kMessageBytesMax);
  co_await ws.async_handshake(url.host + ":" + std::to_string(url.port), url.path, use_awaitable);
  beast::flat_buffer buffer;
  const Json capabilities = {
      {"simulated", true}, {"plugins", Json::array()}, {"fault_types", Json::array()}};
  link->send(make_message(MessageType::kRegister, {{"public_key", agent.key.public_pem()},
                                                   {"labels", options.labels},
                                                   {"capabilities", capabilities}})
                 .dump());
  const Message challenge = co_await read_message(*link, buffer);
  if (challenge.type != MessageType::kChallenge) {
    environment_failure("registration refused: " + challenge.body.dump());
  }
  const std::string nonce = challenge.body["nonce"].get<std::string>();
  link->send(make_message(MessageType::kProof,
                          {{"signature", base64url_encode(agent.key.sign(challenge_input(nonce)))}})
                 .dump());
  const Message welcome = co_await read_message(*link, buffer);
  if (welcome.type != MessageType::kWelcome) {
    environment_failure("registration refused: " + welcome.body.dump());
  }
  const Ed25519Key offered =
      Ed25519Key::from_public_pem(welcome.body["orchestrator_key"].get<std::string>());
  if (agent.pinned_key && agent.pinned_key->public_pem() != offered.public_pem()) {
    environment_failure("the orchestrator's key changed: refusing it");
  }
  agent.pinned_key = offered;
  agent.token = welcome.body["token"].get<std::string>();
  agent.pending_seq = 0;
  agent.link = link;
  if (++registered == agents.size() && !all_registered) {
    all_registered = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
  }
  const auto every = std::chrono::milliseconds(welcome.body["heartbeat_ms"].get<int64_t>());
  asio::co_spawn(io, heartbeat_loop(agent, link, std::max(every, std::chrono::milliseconds(50))),
                 asio::detached);
  while (!link->closed()) {
    Message message;
    try {
      message = co_await read_message(*link, buffer);
    } catch (const ProtocolError& e) {
      ++refusals;
      continue;
    }
    handle(agent, message);
  }
}

asio::awaitable<void> SimulatedFleet::Impl::heartbeat_loop(SimAgent& agent,
                                                           std::shared_ptr<Link> link,
                                                           std::chrono::milliseconds every) {
  asio::steady_timer timer(io);
  // A random phase: N agents welcomed together would otherwise beat in step.
  std::uniform_int_distribution<int64_t> phase(0, every.count());
  timer.expires_after(std::chrono::milliseconds(phase(rng)));
  boost::system::error_code ignored;
  co_await timer.async_wait(asio::redirect_error(use_awaitable, ignored));
  while (!link->closed()) {
    agent.pending_seq = ++agent.heartbeat_seq;
    agent.pending_sent = Clock::now();
    link->send(
        make_message(MessageType::kHeartbeat, {{"token", agent.token}, {"seq", agent.pending_seq}})
            .dump());
    timer.expires_after(every);
    co_await timer.async_wait(asio::redirect_error(use_awaitable, ignored));
  }
}

void SimulatedFleet::Impl::send(SimAgent& agent, Json message) {
  message["token"] = agent.token;
  if (agent.link && !agent.link->closed()) agent.link->send(message.dump());
}

bool SimulatedFleet::Impl::command_valid(SimAgent& agent, const Json& body) {
  const char* refusal = nullptr;
  if (!agent.pinned_key || !verify_command(body, *agent.pinned_key)) {
    refusal = "bad_signature";
  } else if (body["agent"] != agent.id) {
    refusal = "not_for_me";
  }
  if (refusal == nullptr) return true;
  Json error = error_message(refusal, "simulated agent: command refused");
  if (body.contains("run") && body["run"].is_string()) error["run"] = body["run"];
  send(agent, std::move(error));
  return false;
}

void SimulatedFleet::Impl::handle(SimAgent& agent, const Message& message) {
  switch (message.type) {
    case MessageType::kHeartbeatAck:
      agent.token = message.body["token"].get<std::string>();
      if (agent.pending_seq != 0 && message.body["seq"] == agent.pending_seq) {
        {
          const auto rtt_us =
              static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                        Clock::now() - agent.pending_sent)
                                        .count());
          heartbeat_rtt.record(rtt_us);
          if (all_registered) heartbeat_rtt_steady.record(rtt_us);
        }
        agent.pending_seq = 0;
      }
      return;
    case MessageType::kAssign: return on_assign(agent, message.body);
    case MessageType::kAbort:
      if (!command_valid(agent, message.body)) return;
      ++aborts;
      return send(agent, make_message(MessageType::kRevertDone,
                                      {{"run", message.body["run"]}, {"reverted", Json::array()}}));
    case MessageType::kError: ++refusals; return;
    default: ++refusals; return;
  }
}

// Acknowledges every step without running it (see the header).
void SimulatedFleet::Impl::on_assign(SimAgent& agent, const Json& body) {
  if (!command_valid(agent, body)) return;
  ++assigns;
  const int64_t now = unix_ms_now();
  if (!first_assign_unix_ms) first_assign_unix_ms = now;
  last_assign_unix_ms = now;
  const Json run = body["run"];
  Json steps = Json::array();
  const Json& spec_steps = body["experiment"]["steps"];
  for (size_t i = 0; i < spec_steps.size(); ++i) {
    const Json kind = spec_steps[i].value("kind", Json("unknown"));
    const Json detail = {{"kind", kind}, {"simulated", true}};
    send(agent,
         make_message(MessageType::kProgress,
                      {{"run", run}, {"step", i}, {"event", "step_started"}, {"detail", detail}}));
    send(agent,
         make_message(MessageType::kProgress,
                      {{"run", run}, {"step", i}, {"event", "step_done"}, {"detail", detail}}));
    steps.push_back(detail);
  }
  send(agent,
       make_message(MessageType::kResult, {{"run", run}, {"state", "done"}, {"steps", steps}}));
  ++results;
}

// The stop flag every kTick; the stats file every kStatsEvery.
asio::awaitable<void> SimulatedFleet::Impl::watch(const std::atomic<bool>& stop) {
  asio::steady_timer timer(io);
  Clock::time_point last_stats = Clock::now();
  while (!stop.load()) {
    if (!options.stats_file.empty() && Clock::now() - last_stats >= kStatsEvery) {
      write_stats_file();
      last_stats = Clock::now();
    }
    timer.expires_after(kTick);
    boost::system::error_code ignored;
    co_await timer.async_wait(asio::redirect_error(use_awaitable, ignored));
  }
  for (auto& agent : agents) {
    if (agent->link) agent->link->close();
    agent->link.reset();
  }
  if (!options.stats_file.empty()) write_stats_file();
  io.stop();
}

// On the file thread: a write that stalls on a busy disk must not hold up the agents' loop (it
// did, and showed as heartbeat round trips of seconds).
void SimulatedFleet::Impl::write_stats_file() {
  asio::post(file_io, [path = options.stats_file, text = stats_json().dump()] {
    const std::filesystem::path temp = path.string() + ".tmp";
    {
      std::ofstream out(temp, std::ios::trunc);
      out << text << "\n";
      if (!out) return spdlog::warn("cannot write {}", temp.string());
    }
    std::error_code ec;
    std::filesystem::rename(temp, path, ec);
  });
}

Json SimulatedFleet::Impl::stats_json() const {
  const auto optional_ms = [](const std::optional<int64_t>& value) {
    return value ? Json(*value) : Json(nullptr);
  };
  const auto percentiles = [](const common::Histogram& h) {
    return Json{{"count", h.count()},
                {"p50", ms(h.percentile(50))},
                {"p90", ms(h.percentile(90))},
                {"p99", ms(h.percentile(99))},
                {"max", ms(h.max_us())}};
  };
  return {{"agents", agents.size()},
          {"registered", registered},
          {"all_registered_ms", all_registered ? Json(all_registered->count()) : Json(nullptr)},
          {"connections", connections},
          {"heartbeat_rtt_ms", percentiles(heartbeat_rtt)},
          {"heartbeat_rtt_steady_ms", percentiles(heartbeat_rtt_steady)},
          {"assigns_received", assigns},
          {"results_sent", results},
          {"aborts_received", aborts},
          {"refusals_received", refusals},
          {"first_assign_at_ms", optional_ms(first_assign_unix_ms)},
          {"last_assign_at_ms", optional_ms(last_assign_unix_ms)}};
}

SimulatedFleet::SimulatedFleet(SimulatedFleetOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

SimulatedFleet::~SimulatedFleet() = default;

void SimulatedFleet::run(const std::atomic<bool>& stop) {
  if (!impl_->options.enroll_token_file.empty()) impl_->enrol();
  impl_->started = Clock::now();
  for (auto& agent : impl_->agents) {
    asio::co_spawn(impl_->io, impl_->connect_loop(*agent, stop), asio::detached);
  }
  asio::co_spawn(impl_->io, impl_->watch(stop), asio::detached);
  auto file_work = asio::make_work_guard(impl_->file_io);
  std::thread file_thread([this] { impl_->file_io.run(); });
  impl_->io.run();
  file_work.reset();  // the last write (at stop) is done before run() returns
  file_thread.join();
}

Json SimulatedFleet::stats() const { return impl_->stats_json(); }

}  // namespace bombarder

#include "bombarder/agent/agent.h"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <deque>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "bombarder/agent/experiment_runner.h"
#include "bombarder/agent/ws_link.h"
#include "bombarder/base/errors.h"
#include "bombarder/base/output.h"
#include "bombarder/base/text.h"
#include "bombarder/cluster/cluster_record.h"
#include "bombarder/fleet/base64url.h"
#include "bombarder/fleet/ed25519_key.h"
#include "bombarder/fleet/protocol.h"
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

constexpr size_t kUnsentMax = 64;  // results and revert_done waiting for a connection
constexpr auto kTick = std::chrono::milliseconds(100);
constexpr size_t kPollBatchMax = 64;  // messages in one POST /agent/poll/send (its bound)
// A request's own allowance on top of the long poll's wait.
constexpr auto kPollRequestSlack = std::chrono::seconds(10);

bool is_loopback(const std::string& host) {
  if (host == "localhost" || host == "::1" || host == "[::1]") return true;
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  return !ec && address.is_loopback();
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) invalid_input("cannot read " + path.string());
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

OrchestratorUrl parse_orchestrator_url(std::string_view url) {
  OrchestratorUrl out;
  std::string_view rest;
  if (url.starts_with("wss://") || url.starts_with("https://")) {
    out.tls = true;
    rest = url.substr(url.find("://") + 3);
  } else if (url.starts_with("ws://") || url.starts_with("http://")) {
    rest = url.substr(url.find("://") + 3);
  } else {
    invalid_input("--orchestrator must be ws://HOST:PORT or wss://HOST:PORT, not '" +
                  std::string(url) + "'");
  }
  const size_t slash = rest.find('/');
  if (slash != std::string_view::npos) {
    out.path = std::string(rest.substr(slash));
    rest = rest.substr(0, slash);
  }
  std::string error;
  const std::optional<common::Endpoint> endpoint = common::Endpoint::parse(rest, "", &error);
  if (!endpoint) invalid_input("--orchestrator: " + error);
  out.host = endpoint->host;
  out.port = endpoint->port;
  if (!out.tls && !is_loopback(out.host)) {
    invalid_input(
        "--orchestrator: plain ws:// (or http://) only to a loopback address; use wss:// (with "
        "--cacert) to reach " +
        out.host);
  }
  return out;
}

// What a polling agent has to send: messages wait here until the sender (poll_sender) posts
// them, kPollBatchMax at a time. Bounded like a WebSocket link's queue.
class PollLink : public Link {
 public:
  explicit PollLink(asio::io_context& io) : wake(io, Clock::time_point::max()) {}
  void send(std::string text) override {
    if (closed_) return;
    if (outbox.size() >= kLinkQueueMax) return close();
    outbox.push_back(std::move(text));
    wake.cancel();
  }
  void close() override {
    closed_ = true;
    wake.cancel();
  }
  [[nodiscard]] bool closed() const override { return closed_; }
  std::deque<std::string> outbox;
  asio::steady_timer wake;  // never expires: cancelled when there is something to send

 private:
  bool closed_ = false;
};

struct Agent::Impl {
  explicit Impl(AgentOptions options_in)
      : options(std::move(options_in)),
        url(parse_orchestrator_url(options.orchestrator_url)),
        key(Ed25519Key::load_private_file(options.key_file)),
        rng(std::random_device()()) {
    if (!options.orchestrator_key_file.empty()) {
      pinned_key = Ed25519Key::from_public_pem(read_file(options.orchestrator_key_file));
    }
    if (url.tls) {
      std::string error;
      tls = common::make_client_tls_context({"", "", options.cacert}, &error);
      if (!tls) invalid_input("--cacert: " + error);
    }
    plugin = make_fault_plugin(options.plugin, {});
    // Two requests at once: the held poll and a send.
    if (options.poll) http_pool = std::make_unique<common::HttpClientPool>(io, 2, 16, 4 << 20, tls);
  }

  // --- connection
  asio::awaitable<void> connect_loop(const std::atomic<bool>& stop);
  asio::awaitable<void> connect_once();
  template <typename Ws>
  asio::awaitable<void> session(std::shared_ptr<WsLink<Ws>> link);
  template <typename Ws>
  asio::awaitable<Message> read_message(WsLink<Ws>& link, beast::flat_buffer& buffer);
  asio::awaitable<void> heartbeat_loop(std::shared_ptr<Link> link, std::chrono::milliseconds every);
  // The welcome taken (the orchestrator's key checked and pinned, the token kept, what waited
  // sent on `link`); the heartbeat interval it names.
  std::chrono::milliseconds accept_welcome(const Message& welcome, std::shared_ptr<Link> link);
  Json registration() const;

  // --- polling (--poll)
  asio::awaitable<void> poll_session();
  asio::awaitable<common::HttpResponse> http(boost::beast::http::verb method, std::string target,
                                             std::string body, std::chrono::milliseconds timeout,
                                             bool authenticated);
  asio::awaitable<void> poll_sender(std::shared_ptr<PollLink> link);
  asio::awaitable<void> watchdog(const std::atomic<bool>& stop);

  // --- messages
  void handle(const Message& message);
  void on_assign(const Json& body);
  void on_abort(const Json& body);
  [[nodiscard]] bool command_valid(const Json& body, const char* what);
  void send(Json message);
  void send_final(Json message);
  void report_refusal(const std::string& code, const std::string& message, const Json& run);

  // --- runs
  void start_run(const std::string& run_id, Experiment experiment);
  void finish_run(const std::string& run_id, RunOutcome outcome);
  void abort_run(const std::string& why);

  AgentOptions options;
  OrchestratorUrl url;
  Ed25519Key key;
  std::optional<Ed25519Key> pinned_key;  // --orchestrator-key, else the first welcome's
  std::shared_ptr<asio::ssl::context> tls;
  std::unique_ptr<FaultPlugin> plugin;
  std::mt19937_64 rng;
  asio::io_context io;
  std::unique_ptr<common::HttpClientPool> http_pool;  // --poll only
  std::string poll_session_id;

  std::shared_ptr<Link> link;  // the welcomed connection, or null
  std::string token;
  std::string agent_id;
  int64_t heartbeat_seq = 0;
  Clock::time_point last_heard = Clock::now();
  std::deque<Json> unsent;  // results and revert_done, kept until a connection takes them

  std::thread worker;
  std::string run_id;  // the active run, "" when none
  std::atomic<bool> run_abort{false};
  bool abort_requested = false;  // by the orchestrator: revert_done is due
  std::string abort_reason;
};

// ---------------------------------------------------------------------------------------------
// Connection

asio::awaitable<void> Agent::Impl::connect_loop(const std::atomic<bool>& stop) {
  std::chrono::milliseconds backoff = options.backoff_min;
  asio::steady_timer timer(io);
  while (!stop.load()) {
    const Clock::time_point began = Clock::now();
    try {
      co_await connect_once();
    } catch (const std::exception& e) {
      spdlog::warn("agent: connection to {}:{} ended: {}", url.host, url.port, e.what());
    }
    link.reset();
    if (stop.load()) break;
    // A connection that lived a while starts the backoff over; jitter spreads a fleet's
    // reconnections after an orchestrator restart.
    if (Clock::now() - began > options.backoff_max) backoff = options.backoff_min;
    std::uniform_int_distribution<int64_t> jitter(0, backoff.count() / 2);
    const auto delay = backoff + std::chrono::milliseconds(jitter(rng));
    backoff = std::min(backoff * 2, options.backoff_max);
    timer.expires_after(delay);
    boost::system::error_code ignored;
    co_await timer.async_wait(asio::redirect_error(use_awaitable, ignored));
  }
}

asio::awaitable<void> Agent::Impl::connect_once() {
  if (options.poll) co_return co_await poll_session();
  asio::ip::tcp::resolver resolver(io);
  const auto endpoints =
      co_await resolver.async_resolve(url.host, std::to_string(url.port), use_awaitable);
  if (!url.tls) {
    auto ws_link = std::make_shared<WsLink<websocket::stream<beast::tcp_stream>>>(io);
    beast::get_lowest_layer(ws_link->ws).expires_after(std::chrono::seconds(10));
    co_await beast::get_lowest_layer(ws_link->ws).async_connect(endpoints, use_awaitable);
    co_await session(ws_link);
    co_return;
  }
  auto ws_link = std::make_shared<WsLink<websocket::stream<common::TlsStream>>>(io, *tls);
  std::string error;
  if (!common::prepare_client_tls(ws_link->ws.next_layer().native_handle(), url.host, &error)) {
    environment_failure("TLS: " + error);
  }
  beast::get_lowest_layer(ws_link->ws).expires_after(std::chrono::seconds(10));
  co_await beast::get_lowest_layer(ws_link->ws).async_connect(endpoints, use_awaitable);
  co_await ws_link->ws.next_layer().async_handshake(asio::ssl::stream_base::client, use_awaitable);
  co_await session(ws_link);
}

template <typename Ws>
asio::awaitable<Message> Agent::Impl::read_message(WsLink<Ws>& ws_link,
                                                   beast::flat_buffer& buffer) {
  buffer.consume(buffer.size());
  co_await ws_link.ws.async_read(buffer, use_awaitable);
  last_heard = Clock::now();
  co_return parse_message(beast::buffers_to_string(buffer.data()));
}

template <typename Ws>
asio::awaitable<void> Agent::Impl::session(std::shared_ptr<WsLink<Ws>> ws_link) {
  auto& ws = ws_link->ws;
  beast::get_lowest_layer(ws).expires_never();
  ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
  ws.read_message_max(kMessageBytesMax);
  const std::string host = url.host + ":" + std::to_string(url.port);
  co_await ws.async_handshake(host, url.path, use_awaitable);
  beast::flat_buffer buffer;
  Json hello = registration();
  ws_link->send(hello.dump());
  Message challenge = co_await read_message(*ws_link, buffer);
  if (challenge.type != MessageType::kChallenge) {
    environment_failure("registration refused: " + challenge.body.dump());
  }
  const std::string nonce = challenge.body["nonce"].get<std::string>();
  Json proof = make_message(MessageType::kProof,
                            {{"signature", base64url_encode(key.sign(challenge_input(nonce)))}});
  ws_link->send(proof.dump());
  Message welcome = co_await read_message(*ws_link, buffer);
  const std::chrono::milliseconds every = accept_welcome(welcome, ws_link);
  asio::co_spawn(io, heartbeat_loop(ws_link, every), asio::detached);
  while (!ws_link->closed()) {
    Message message;
    try {
      message = co_await read_message(*ws_link, buffer);
    } catch (const ProtocolError& e) {
      report_refusal(e.code(), e.what(), nullptr);
      continue;
    }
    handle(message);
  }
}

Json Agent::Impl::registration() const {
  Json capabilities = {{"plugins", Json::array({plugin->name()})},
                       {"fault_types", {"kill", "pause", "memory", "disk", "cpu", "network"}},
                       {"cluster", load_cluster_record().has_value()}};
  return make_message(MessageType::kRegister, {{"public_key", key.public_pem()},
                                               {"labels", options.labels},
                                               {"capabilities", capabilities}});
}

std::chrono::milliseconds Agent::Impl::accept_welcome(const Message& welcome,
                                                      std::shared_ptr<Link> new_link) {
  if (welcome.type != MessageType::kWelcome) {
    environment_failure("registration refused: " + welcome.body.dump());
  }
  const Ed25519Key offered =
      Ed25519Key::from_public_pem(welcome.body["orchestrator_key"].get<std::string>());
  if (pinned_key && pinned_key->public_pem() != offered.public_pem()) {
    environment_failure(
        "the orchestrator's key changed: refusing it (restart the agent, or "
        "check --orchestrator-key)");
  }
  pinned_key = offered;
  agent_id = welcome.body["agent_id"].get<std::string>();
  token = welcome.body["token"].get<std::string>();
  link = std::move(new_link);
  const std::string host = url.host + ":" + std::to_string(url.port);
  spdlog::info("agent: registered with {} as {}{}", host, agent_id,
               options.poll ? " (polling)" : "");
  status_line(false, "agent " + agent_id + " connected to " + host);
  while (!unsent.empty()) {
    Json message = std::move(unsent.front());
    unsent.pop_front();
    send(std::move(message));
  }
  const auto every = std::chrono::milliseconds(welcome.body["heartbeat_ms"].get<int64_t>());
  return std::max(every, std::chrono::milliseconds(50));
}

asio::awaitable<void> Agent::Impl::heartbeat_loop(std::shared_ptr<Link> beat_link,
                                                  std::chrono::milliseconds every) {
  asio::steady_timer timer(io);
  while (!beat_link->closed()) {
    Json beat = make_message(MessageType::kHeartbeat, {{"token", token}, {"seq", ++heartbeat_seq}});
    beat_link->send(beat.dump());
    timer.expires_after(every);
    boost::system::error_code ignored;
    co_await timer.async_wait(asio::redirect_error(use_awaitable, ignored));
  }
}

// ---------------------------------------------------------------------------------------------
// Polling (--poll)

asio::awaitable<common::HttpResponse> Agent::Impl::http(beast::http::verb method,
                                                        std::string target, std::string body,
                                                        std::chrono::milliseconds timeout,
                                                        bool authenticated) {
  common::HttpRequest request;
  request.method = method;
  request.target = std::move(target);
  request.body = std::move(body);
  if (authenticated) {
    request.headers.emplace_back("Authorization", "Bearer " + token);
    request.headers.emplace_back("X-Poll-Session", poll_session_id);
  }
  const common::Endpoint to{url.host, url.port};
  common::HttpClientPool& pool = *http_pool;
  // The pool's callback is copied (std::function): the awaitable's handler is held by a
  // shared_ptr.
  auto initiate = [&pool, to, timeout](auto handler, common::HttpRequest r) {
    auto shared = std::make_shared<decltype(handler)>(std::move(handler));
    pool.request(to, std::move(r), timeout,
                 [shared](boost::system::error_code ec, common::HttpResponse response) {
                   (*shared)(ec, std::move(response));
                 });
  };
  common::HttpResponse response =
      co_await asio::async_initiate<decltype(use_awaitable),
                                    void(boost::system::error_code, common::HttpResponse)>(
          initiate, use_awaitable, std::move(request));
  if (response.status == 200) last_heard = Clock::now();
  co_return response;
}

asio::awaitable<void> Agent::Impl::poll_session() {
  const auto post = beast::http::verb::post;
  const auto timeout = kPollRequestSlack;
  // Named arguments: g++ 12 mishandles temporaries inside a co_await expression.
  std::string target = "/agent/poll/register";
  std::string body = registration().dump();
  common::HttpResponse r = co_await http(post, std::move(target), std::move(body), timeout, false);
  if (r.status != 200) environment_failure("registration refused: " + r.body);
  const Message challenge = parse_message(r.body);
  const std::string nonce = challenge.body.value("nonce", "");
  Json proof = make_message(
      MessageType::kProof,
      {{"signature", base64url_encode(key.sign(challenge_input(nonce)))}, {"nonce", nonce}});
  target = "/agent/poll/proof";
  body = proof.dump();
  r = co_await http(post, std::move(target), std::move(body), timeout, false);
  if (r.status != 200) environment_failure("registration refused: " + r.body);
  const Json answer = Json::parse(r.body, nullptr, false);
  if (!answer.is_object() || !answer.contains("messages") || answer["messages"].empty()) {
    environment_failure("the orchestrator's proof answer is not a poll session: " + r.body);
  }
  poll_session_id = answer.value("poll_session", "");
  auto poll_link = std::make_shared<PollLink>(io);
  // However the session ends (a refusal, a transport error), its heartbeats and sender stop.
  struct CloseOnExit {
    std::shared_ptr<PollLink> link;
    ~CloseOnExit() { link->close(); }
  } close_on_exit{poll_link};
  const std::chrono::milliseconds every =
      accept_welcome(parse_message(answer["messages"][0].dump()), poll_link);
  asio::co_spawn(io, heartbeat_loop(poll_link, every), asio::detached);
  asio::co_spawn(io, poll_sender(poll_link), asio::detached);
  Json messages = answer["messages"];
  messages.erase(messages.begin());
  while (!poll_link->closed()) {
    for (const Json& m : messages) {
      try {
        handle(parse_message(m.dump()));
      } catch (const ProtocolError& e) {
        report_refusal(e.code(), e.what(), nullptr);
      }
    }
    // Held at most one heartbeat interval: the answer, even empty, is the orchestrator's word
    // the dead man's switch listens for.
    target = "/agent/poll/commands?wait=" + std::to_string(every.count());
    body.clear();
    r = co_await http(beast::http::verb::get, std::move(target), std::move(body),
                      every + kPollRequestSlack, true);
    if (r.status != 200) {
      poll_link->close();
      environment_failure("poll refused: " + std::to_string(r.status) + " " + r.body);
    }
    messages = Json::parse(r.body, nullptr, false).value("messages", Json::array());
  }
}

// Posts what the agent sends, a batch at a time, as it comes; a refused or failed post ends the
// session (the agent registers again; results and revert_done wait in `unsent`).
asio::awaitable<void> Agent::Impl::poll_sender(std::shared_ptr<PollLink> poll_link) {
  while (!poll_link->closed()) {
    if (poll_link->outbox.empty()) {
      boost::system::error_code ignored;
      poll_link->wake.expires_at(Clock::time_point::max());
      co_await poll_link->wake.async_wait(asio::redirect_error(use_awaitable, ignored));
      continue;
    }
    Json batch = Json::array();
    while (!poll_link->outbox.empty() && batch.size() < kPollBatchMax) {
      batch.push_back(Json::parse(poll_link->outbox.front()));
      poll_link->outbox.pop_front();
    }
    common::HttpResponse r;
    // Named arguments: g++ 12 mishandles temporaries inside a co_await expression.
    std::string target = "/agent/poll/send";
    std::string body = Json{{"messages", batch}}.dump();
    try {
      r = co_await http(beast::http::verb::post, std::move(target), std::move(body),
                        kPollRequestSlack, true);
    } catch (const std::exception& e) {
      r.status = 0;
      r.body = e.what();
    }
    if (r.status == 200) continue;
    spdlog::warn("agent: poll send failed: {} {}", r.status, r.body);
    for (Json& m : batch) {
      const std::string type = m.value("type", "");
      if (type == "result" || type == "revert_done") {
        if (unsent.size() >= kUnsentMax) unsent.pop_front();
        unsent.push_back(std::move(m));
      }
    }
    poll_link->close();
  }
}

// The dead man's switch and the stop flag, every kTick.
asio::awaitable<void> Agent::Impl::watchdog(const std::atomic<bool>& stop) {
  asio::steady_timer timer(io);
  while (true) {
    if (stop.load()) {
      abort_run("the agent is stopping");
      if (link) link->close();
      if (run_id.empty()) {
        io.stop();
        co_return;
      }
    } else if (!run_id.empty() && !run_abort.load() &&
               Clock::now() - last_heard > options.dead_man_timeout) {
      abort_run("dead-man timeout: no word from the orchestrator for " +
                format_seconds(options.dead_man_timeout));
    }
    timer.expires_after(kTick);
    boost::system::error_code ignored;
    co_await timer.async_wait(asio::redirect_error(use_awaitable, ignored));
  }
}

}  // namespace bombarder

namespace bombarder {

// ---------------------------------------------------------------------------------------------
// Messages

void Agent::Impl::send(Json message) {
  message["token"] = token;
  if (link && !link->closed()) link->send(message.dump());
}

// Results and revert_done must reach the orchestrator: kept until a connection takes them.
void Agent::Impl::send_final(Json message) {
  if (link && !link->closed()) return send(std::move(message));
  if (unsent.size() >= kUnsentMax) unsent.pop_front();
  unsent.push_back(std::move(message));
}

void Agent::Impl::report_refusal(const std::string& code, const std::string& message,
                                 const Json& run) {
  spdlog::warn("agent: refused: {}: {}", code, message);
  stamped_status_line(false, "refused: " + code + ": " + message);
  Json error = error_message(code, message);
  if (run.is_string()) error["run"] = run;
  send(std::move(error));
}

void Agent::Impl::handle(const Message& message) {
  switch (message.type) {
    case MessageType::kHeartbeatAck: token = message.body["token"].get<std::string>(); return;
    case MessageType::kAssign: return on_assign(message.body);
    case MessageType::kAbort: return on_abort(message.body);
    case MessageType::kError:
      spdlog::warn("agent: the orchestrator refused a message: {}: {}",
                   message.body["code"].get<std::string>(),
                   message.body["message"].get<std::string>());
      return;
    default:
      return report_refusal("unexpected_type",
                            std::string(to_string(message.type)) + " is not for an agent", nullptr);
  }
}

bool Agent::Impl::command_valid(const Json& body, const char* what) {
  if (!pinned_key || !verify_command(body, *pinned_key)) {
    report_refusal("bad_signature", std::string(what) + " not signed by the orchestrator",
                   body["run"]);
    return false;
  }
  if (body["agent"] != agent_id) {
    report_refusal("not_for_me", std::string(what) + " addressed to " + body["agent"].dump(),
                   body["run"]);
    return false;
  }
  return true;
}

void Agent::Impl::on_assign(const Json& body) {
  if (!command_valid(body, "assign")) return;
  const std::string run = body["run"].get<std::string>();
  if (!run_id.empty()) {
    return report_refusal("busy", "run " + run_id + " is still running", body["run"]);
  }
  Experiment experiment;
  try {
    experiment = parse_experiment(body["experiment"]);
  } catch (const Error& e) {
    return report_refusal("invalid_experiment", e.what(), body["run"]);
  }
  start_run(run, std::move(experiment));
}

void Agent::Impl::on_abort(const Json& body) {
  if (!command_valid(body, "abort")) return;
  const std::string run = body["run"].get<std::string>();
  if (run != run_id) {
    // Not running here (finished, or begun before this process): nothing of it is active.
    return send_final(make_message(
        MessageType::kRevertDone,
        {{"run", run}, {"reverted", Json::array()}, {"note", "not running on this agent"}}));
  }
  abort_requested = true;
  abort_run(body["reason"].get<std::string>());
}

// ---------------------------------------------------------------------------------------------
// Runs

void Agent::Impl::start_run(const std::string& run, Experiment experiment) {
  if (worker.joinable()) worker.join();
  run_id = run;
  run_abort = false;
  abort_requested = false;
  abort_reason.clear();
  stamped_status_line(false, "run " + run + ": " + experiment.name + " (" +
                                 std::to_string(experiment.steps.size()) + " steps)");
  RunTargets targets;
  if (const std::optional<ClusterRecord> record = load_cluster_record()) {
    targets.nodes = record->endpoints();
    targets.system = to_string(record->system);
  }
  targets.proxy_api = options.proxy_api;
  worker = std::thread([this, run, experiment = std::move(experiment), targets] {
    const auto on_event = [this, run](RunEvent event) {
      asio::post(io, [this, run, event = std::move(event)] {
        send(make_message(MessageType::kProgress, {{"run", run},
                                                   {"step", event.step},
                                                   {"event", event.event},
                                                   {"detail", event.detail}}));
      });
    };
    RunOutcome outcome;
    if (targets.nodes.empty()) {
      outcome.state = "failed";
      outcome.steps = Json::array();
      outcome.error = "no cluster recorded in " + cluster_record_path().string();
    } else {
      outcome = run_experiment(experiment, *plugin, targets, run_abort, on_event);
    }
    asio::post(io, [this, run, outcome = std::move(outcome)]() mutable {
      finish_run(run, std::move(outcome));
    });
  });
}

void Agent::Impl::finish_run(const std::string& run, RunOutcome outcome) {
  if (worker.joinable()) worker.join();
  stamped_status_line(false, "run " + run + " " + outcome.state +
                                 (abort_reason.empty() ? "" : " (" + abort_reason + ")"));
  Json result = make_message(MessageType::kResult,
                             {{"run", run}, {"state", outcome.state}, {"steps", outcome.steps}});
  if (!outcome.error.empty()) result["error"] = outcome.error;
  if (!abort_reason.empty()) result["error"] = abort_reason;
  send_final(std::move(result));
  if (abort_requested) {
    send_final(
        make_message(MessageType::kRevertDone, {{"run", run}, {"reverted", outcome.reverted}}));
  }
  run_id.clear();
}

void Agent::Impl::abort_run(const std::string& why) {
  if (run_id.empty() || run_abort.load()) return;
  abort_reason = why;
  stamped_status_line(false, "run " + run_id + ": aborting: " + why);
  run_abort = true;
}

// ---------------------------------------------------------------------------------------------
// Agent

Agent::Agent(AgentOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

Agent::~Agent() {
  if (impl_->worker.joinable()) {
    impl_->run_abort = true;
    impl_->worker.join();
  }
}

std::string Agent::id() const { return impl_->key.fingerprint(); }

void Agent::run(const std::atomic<bool>& stop) {
  asio::co_spawn(impl_->io, impl_->connect_loop(stop), asio::detached);
  asio::co_spawn(impl_->io, impl_->watchdog(stop), asio::detached);
  impl_->io.run();
}

}  // namespace bombarder

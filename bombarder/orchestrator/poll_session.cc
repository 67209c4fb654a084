#include "bombarder/orchestrator/poll_session.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "bombarder/base/errors.h"
#include "bombarder/fleet/base64url.h"
#include "bombarder/fleet/fleet_token.h"
#include "bombarder/orchestrator/orchestrator_state.h"

namespace bombarder {

namespace {

using Json = nlohmann::json;
using common::Request;
using common::Respond;
using common::Response;
namespace http = boost::beast::http;

Json messages_answer(Json messages) { return {{"messages", std::move(messages)}}; }

}  // namespace

PollSession::PollSession(boost::asio::io_context& io, SessionHost& host, std::string agent_id,
                         Json labels, Json capabilities)
    : AgentConnection(host),
      id_(random_token_text(18)),
      wait_timer_(io),
      idle_timer_(io),
      last_request_(std::chrono::steady_clock::now()) {
  agent_id_ = std::move(agent_id);
  labels_ = std::move(labels);
  capabilities_ = std::move(capabilities);
}

void PollSession::start() { arm_idle_timer(); }

void PollSession::send(const Json& message) {
  if (closed_) return;
  if (queue_.size() >= kSendQueueMax) {
    spdlog::warn("orchestrator: {} polls too slowly ({} messages queued): session closed", who(),
                 queue_.size());
    return close();
  }
  queue_.push_back(message);
  if (waiting_) answer_poll();
}

void PollSession::close() {
  if (closed_) return;
  closed_ = true;
  wait_timer_.cancel();
  idle_timer_.cancel();
  if (waiting_) {
    (*waiting_)(Response::error(410, "session_closed", "register again"));
    waiting_.reset();
  }
  host_.on_closed(shared_from_this());
}

std::string PollSession::authenticate(const std::string& token) {
  last_request_ = std::chrono::steady_clock::now();
  return check_token(token);
}

void PollSession::receive(const Json& messages) {
  for (const Json& m : messages) {
    if (closed_) return;
    Message message;
    try {
      message = parse_message(m.dump());
    } catch (const ProtocolError& e) {
      refuse_message(e.code(), e.what());
      continue;
    }
    handle_ready(shared_from_this(), message);
  }
}

void PollSession::poll(Respond respond, std::chrono::milliseconds wait) {
  if (waiting_) {  // a second poll replaces the first: the agent gave up on it
    (*waiting_)(Response::json(200, messages_answer(Json::array())));
    waiting_.reset();
  }
  waiting_ = std::move(respond);
  if (!queue_.empty() || wait.count() <= 0) return answer_poll();
  wait_timer_.expires_after(wait);
  wait_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (!ec && self->waiting_) self->answer_poll();
  });
}

Json PollSession::take_queued() {
  Json out = Json::array();
  for (Json& m : queue_) out.push_back(std::move(m));
  queue_.clear();
  return out;
}

void PollSession::answer_poll() {
  wait_timer_.cancel();
  last_request_ = std::chrono::steady_clock::now();
  Respond respond = std::move(*waiting_);
  waiting_.reset();
  respond(Response::json(200, messages_answer(take_queued())));
}

// Three heartbeat intervals without a request (a held poll is one) end the session, as three of
// silence end a WebSocket.
void PollSession::arm_idle_timer() {
  idle_timer_.expires_after(host_.heartbeat_interval());
  idle_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (ec || self->closed_) return;
    const auto idle = std::chrono::steady_clock::now() - self->last_request_;
    if (!self->waiting_ && idle > 3 * self->host_.heartbeat_interval()) return self->close();
    self->arm_idle_timer();
  });
}

// ---------------------------------------------------------------------------------------------
// Routes

namespace {

Response refusal(Orchestrator::State& s, unsigned status, const std::string& who,
                 const std::string& code, const std::string& message) {
  s.on_refusal(who, code, message);
  return Response::error(status, code, message);
}

// The body as one protocol message of `type`, or nullopt with the refusal sent.
std::optional<Message> read_message(Orchestrator::State& s, const Request& r, MessageType type,
                                    const Respond& respond) {
  try {
    Message m = parse_message(r.body);
    if (m.type == type) return m;
    respond(refusal(s, 400, "unauthenticated agent", "unexpected_type",
                    std::string("expected ") + to_string(type)));
  } catch (const ProtocolError& e) {
    respond(refusal(s, 400, "unauthenticated agent", e.code(), e.what()));
  }
  return std::nullopt;
}

void on_register(Orchestrator::State& s, const Request& r, const Respond& respond) {
  const std::optional<Message> m = read_message(s, r, MessageType::kRegister, respond);
  if (!m) return;
  const auto now = std::chrono::steady_clock::now();
  std::erase_if(s.poll_challenges, [&](const auto& c) { return c.second.expires < now; });
  if (s.poll_challenges.size() >= kChallengesMax) {
    return respond(refusal(s, 429, "unauthenticated agent", "too_many_challenges",
                           "too many registrations at once: retry"));
  }
  std::string why;
  const std::string pem = m->body["public_key"].get<std::string>();
  const std::string agent = s.enrolled_agent(pem, &why);
  if (agent.empty()) {
    return respond(refusal(s, 403, "unauthenticated agent", why, "registration refused: " + why));
  }
  Json labels = m->body.value("labels", Json::object());
  if (!labels.is_object() || labels.size() > kLabelsMax) labels = Json::object();
  Json capabilities = m->body.value("capabilities", Json::object());
  if (!capabilities.is_object()) capabilities = Json::object();
  const std::string nonce = random_token_text(32);
  s.poll_challenges[nonce] = {agent, pem, std::move(labels), std::move(capabilities),
                              now + kChallengeTtl};
  respond(Response::json(200, make_message(MessageType::kChallenge, {{"nonce", nonce}})));
}

void on_proof(Orchestrator::State& s, const Request& r, const Respond& respond) {
  const std::optional<Message> m = read_message(s, r, MessageType::kProof, respond);
  if (!m) return;
  const std::string nonce = m->body.value("nonce", "");
  auto challenge = s.poll_challenges.find(nonce);
  if (challenge == s.poll_challenges.end() ||
      challenge->second.expires < std::chrono::steady_clock::now()) {
    return respond(refusal(s, 401, "unauthenticated agent", "bad_proof",
                           "no such challenge (or it expired): register again"));
  }
  const PollChallenge claimed = std::move(challenge->second);
  s.poll_challenges.erase(challenge);
  const std::optional<std::string> signature =
      base64url_decode(m->body["signature"].get<std::string>());
  if (!signature ||
      !Ed25519Key::from_public_pem(claimed.pem).verify(challenge_input(nonce), *signature)) {
    return respond(refusal(s, 401, "unauthenticated agent", "bad_proof",
                           "the challenge's signature does not verify with the key"));
  }
  if (s.sessions.size() + s.pending.size() >= s.options.connections_max) {
    ++s.refusals["too_many_connections"];
    return respond(
        Response::error(429, "too_many_connections", "agent connections are at their limit"));
  }
  auto session =
      std::make_shared<PollSession>(s.io, s, claimed.agent, claimed.labels, claimed.capabilities);
  s.poll_sessions[session->id()] = session;
  session->start();
  s.on_authenticated(session);  // queues the welcome (and aborts it is owed)
  respond(
      Response::json(200, {{"poll_session", session->id()}, {"messages", session->take_queued()}}));
}

// The session the request names, its bearer token checked; nullptr with a 401 sent otherwise.
std::shared_ptr<PollSession> authenticated(Orchestrator::State& s, const Request& r,
                                           const Respond& respond) {
  auto it = s.poll_sessions.find(std::string(r.header("X-Poll-Session")));
  if (it == s.poll_sessions.end() || it->second->closed()) {
    respond(refusal(s, 401, "unauthenticated agent", "unknown_session",
                    "no such poll session: register again"));
    return nullptr;
  }
  const std::string_view auth = r.header("Authorization");
  const std::string_view prefix = "Bearer ";
  const std::string token(auth.starts_with(prefix) ? auth.substr(prefix.size()) : "");
  const std::string verdict = token.empty() ? "missing_token" : it->second->authenticate(token);
  if (!verdict.empty()) {
    respond(refusal(s, 401, it->second->agent_id(), verdict, "token refused: " + verdict));
    return nullptr;
  }
  return it->second;
}

void on_send(Orchestrator::State& s, const Request& r, const Respond& respond) {
  auto session = authenticated(s, r, respond);
  if (!session) return;
  const Json body = Json::parse(r.body, nullptr, false);
  if (!body.is_object() || !body.contains("messages") || !body["messages"].is_array() ||
      body["messages"].size() > kPollMessagesMax) {
    return respond(refusal(
        s, 400, session->agent_id(), "malformed",
        "the body is {\"messages\": [at most " + std::to_string(kPollMessagesMax) + " messages]}"));
  }
  session->receive(body["messages"]);
  respond(Response::json(200, {{"accepted", body["messages"].size()}}));
}

void on_commands(Orchestrator::State& s, const Request& r, const Respond& respond) {
  auto session = authenticated(s, r, respond);
  if (!session) return;
  long wait_ms = 0;
  try {
    wait_ms = std::stol(r.query_param("wait").value_or("0"));
  } catch (const std::exception&) {
    return respond(Response::error(400, "malformed", "wait is a whole number of milliseconds"));
  }
  const auto wait =
      std::clamp(std::chrono::milliseconds(wait_ms), std::chrono::milliseconds(0), kPollWaitMax);
  session->poll(respond, wait);
}

}  // namespace

void add_poll_routes(common::Router& router, Orchestrator::State& s) {
  const common::RouteOptions limit{.body_limit_bytes = kMessageBytesMax};
  router.add(
      http::verb::post, "/agent/poll/register",
      [&s](Request r, Respond respond) { on_register(s, r, respond); }, limit);
  router.add(
      http::verb::post, "/agent/poll/proof",
      [&s](Request r, Respond respond) { on_proof(s, r, respond); }, limit);
  router.add(
      http::verb::post, "/agent/poll/send",
      [&s](Request r, Respond respond) { on_send(s, r, respond); }, limit);
  router.add(http::verb::get, "/agent/poll/commands",
             [&s](Request r, Respond respond) { on_commands(s, r, respond); });
}

}  // namespace bombarder

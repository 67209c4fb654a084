#include "bombarder/orchestrator/agent_session.h"

#include <spdlog/spdlog.h>

#include "bombarder/base/errors.h"
#include "bombarder/fleet/base64url.h"
#include "bombarder/fleet/fleet_token.h"

namespace bombarder {

namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;

namespace {

uint64_t next_connection_id = 1;  // the orchestrator's one thread

int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

template <typename Ws>
void configure(Ws& ws, std::chrono::milliseconds heartbeat) {
  ws.read_message_max(kMessageBytesMax);
  websocket::stream_base::timeout timeout{};
  timeout.handshake_timeout = std::chrono::seconds(10);
  // An agent heartbeats; three intervals of silence means it is gone (or stopped).
  timeout.idle_timeout = heartbeat * 3;
  timeout.keep_alive_pings = false;
  ws.set_option(timeout);
}

}  // namespace

AgentConnection::AgentConnection(SessionHost& host)
    : host_(host), connection_id_(next_connection_id++) {}

std::string AgentConnection::who() const {
  return agent_id_.empty() ? std::string("unauthenticated agent") : agent_id_;
}

void AgentConnection::refuse_message(const std::string& code, const std::string& message) {
  host_.on_refusal(who(), code, message);
  send(error_message(code, message));
}

std::string AgentConnection::check_token(const std::string& token) {
  if (token == verified_token_ && now_seconds() < verified_exp_) return {};
  int64_t exp = 0;
  const std::string verdict = host_.check_token(token, agent_id_, connection_id_, &exp);
  if (!verdict.empty()) return verdict;
  verified_token_ = token;
  verified_exp_ = exp;
  return {};
}

void AgentConnection::handle_ready(const std::shared_ptr<AgentConnection>& self,
                                   const Message& message) {
  const MessageType type = message.type;
  if (type != MessageType::kHeartbeat && type != MessageType::kProgress &&
      type != MessageType::kResult && type != MessageType::kRevertDone &&
      type != MessageType::kError) {
    return refuse_message("unexpected_type",
                          std::string(to_string(type)) + " is not a message an agent sends");
  }
  if (!host_.message_allowed(agent_id_)) {
    return refuse_message("rate_limited", "over this agent's message rate: message dropped");
  }
  auto token = message.body.find("token");
  if (token == message.body.end() || !token->is_string()) {
    return refuse_message("missing_token", "every message after the welcome carries its token");
  }
  const std::string verdict = check_token(token->get_ref<const std::string&>());
  if (!verdict.empty()) return refuse_message(verdict, "token refused: " + verdict);
  host_.on_message(self, message);
}

AgentSession::AgentSession(std::shared_ptr<common::UpgradedConnection> connection,
                           SessionHost& host)
    : AgentConnection(host),
      ws_(std::visit(
          [](auto& stream) -> std::variant<PlainWs, TlsWs> {
            using S = std::decay_t<decltype(stream)>;
            if constexpr (std::is_same_v<S, beast::tcp_stream>) {
              return std::variant<PlainWs, TlsWs>(std::in_place_type<PlainWs>, std::move(stream));
            } else {
              return std::variant<PlainWs, TlsWs>(std::in_place_type<TlsWs>, std::move(stream));
            }
          },
          connection->stream)),
      upgrade_request_(std::move(connection->request)),
      handshake_timer_(std::visit([](auto& ws) { return ws.get_executor(); }, ws_)) {}

void AgentSession::start() {
  handshake_timer_.expires_after(host_.handshake_timeout());
  handshake_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
    if (ec || self->phase_ == Phase::kReady || self->closed_) return;
    self->host_.on_refusal(self->who(), "handshake_timeout", "no proof of key in time");
    self->close();
  });
  std::visit(
      [this](auto& ws) {
        configure(ws, host_.heartbeat_interval());
        ws.async_accept(upgrade_request_, [self = shared_from_this()](beast::error_code ec) {
          if (ec) return self->close();
          self->read();
        });
      },
      ws_);
}

void AgentSession::read() {
  if (closed_) return;
  std::visit(
      [this](auto& ws) {
        ws.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, size_t) {
          self->on_read(ec);
        });
      },
      ws_);
}

void AgentSession::on_read(beast::error_code ec) {
  if (closed_) return;
  if (ec) {
    if (ec == websocket::error::message_too_big) {
      host_.on_refusal(
          who(), "too_large",
          "a frame over " + std::to_string(kMessageBytesMax) + " bytes: connection closed");
    }
    return close();
  }
  const std::string text = beast::buffers_to_string(buffer_.data());
  buffer_.consume(buffer_.size());
  handle(text);
  read();
}

void AgentSession::refuse(const std::string& code, const std::string& message, bool close_after) {
  host_.on_refusal(who(), code, message);
  send(error_message(code, message));
  if (close_after) close_after_write_ = true;
}

void AgentSession::handle(std::string_view text) {
  Message message;
  try {
    message = parse_message(text);
  } catch (const ProtocolError& e) {
    return refuse(e.code(), e.what(), phase_ != Phase::kReady);
  }
  if (phase_ == Phase::kAwaitRegister) {
    if (message.type != MessageType::kRegister) {
      return refuse("unexpected_type", "register first", true);
    }
    return on_register(message);
  }
  if (phase_ == Phase::kAwaitProof) {
    if (message.type != MessageType::kProof) return refuse("unexpected_type", "proof next", true);
    return on_proof(message);
  }
  handle_ready(shared_from_this(), message);
}

void AgentSession::on_register(const Message& message) {
  std::string refusal;
  const std::string pem = message.body["public_key"].get<std::string>();
  claimed_agent_ = host_.enrolled_agent(pem, &refusal);
  if (claimed_agent_.empty()) {
    return refuse(refusal, "registration refused: " + refusal, true);
  }
  claimed_key_ = Ed25519Key::from_public_pem(pem);
  const auto labels = message.body.find("labels");
  if (labels != message.body.end() && labels->is_object() && labels->size() <= kLabelsMax) {
    labels_ = *labels;
  }
  const auto capabilities = message.body.find("capabilities");
  if (capabilities != message.body.end() && capabilities->is_object()) {
    capabilities_ = *capabilities;
  }
  nonce_ = random_token_text(32);
  phase_ = Phase::kAwaitProof;
  send(make_message(MessageType::kChallenge, {{"nonce", nonce_}}));
}

void AgentSession::on_proof(const Message& message) {
  const std::optional<std::string> signature =
      base64url_decode(message.body["signature"].get<std::string>());
  if (!signature || !claimed_key_->verify(challenge_input(nonce_), *signature)) {
    return refuse("bad_proof", "the challenge's signature does not verify with the key", true);
  }
  agent_id_ = claimed_agent_;
  phase_ = Phase::kReady;
  handshake_timer_.cancel();
  host_.on_authenticated(shared_from_this());
}

void AgentSession::send(const nlohmann::json& message) {
  if (closed_) return;
  if (!queue_.push(shared_from_this(), message.dump())) {
    spdlog::warn("orchestrator: {} reads too slowly ({} messages queued): disconnected", who(),
                 queue_.size());
    close();
  }
}

void AgentSession::on_queue_drained() {
  if (close_after_write_) close();
}

void AgentSession::write_one(const std::string& text, WriteDone done) {
  std::visit(
      [&](auto& ws) {
        ws.text(true);
        ws.async_write(boost::asio::buffer(text), std::move(done));
      },
      ws_);
}

void AgentSession::close() {
  if (closed_) return;
  closed_ = true;
  handshake_timer_.cancel();
  // No closing handshake: the agent learns from the cut, and a misbehaving peer cannot hold
  // the connection open by not answering one.
  std::visit(
      [](auto& ws) {
        beast::error_code ignored;
        beast::get_lowest_layer(ws).socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both,
                                                      ignored);
        beast::get_lowest_layer(ws).close();
      },
      ws_);
  host_.on_closed(shared_from_this());
}

}  // namespace bombarder

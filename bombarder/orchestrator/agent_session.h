// One agent's WebSocket connection to the orchestrator (issue 17): the registration handshake
// (register -> challenge -> proof -> welcome, fleet/protocol.h), then token-checked messages
// handed to the SessionHost, and an outgoing queue.
//
// Bounds: frames over kMessageBytesMax end the connection (Beast's read_message_max); at most
// kSendQueueMax messages wait to be written (a slower reader is disconnected: it would otherwise
// hold the orchestrator's memory); the handshake must finish within the host's timeout; a
// connection silent for three heartbeat intervals is closed (Beast's idle timeout).
//
// Threads: all on the orchestrator's io_context thread.
#pragma once

#include <boost/beast/websocket.hpp>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "bombarder/base/write_queue.h"
#include "bombarder/fleet/ed25519_key.h"
#include "bombarder/fleet/protocol.h"
#include "common/http_upgrade.h"

namespace bombarder {

inline constexpr size_t kSendQueueMax = 256;

class AgentConnection;

// What a session needs from the orchestrator.
class SessionHost {
 public:
  virtual ~SessionHost() = default;
  // The enrolled, not revoked agent whose public key is `pem`, or an error code for the refusal
  // ("unknown_key", "revoked", "bad_key").
  [[nodiscard]] virtual std::string enrolled_agent(std::string_view pem, std::string* refusal) = 0;
  // The agent proved its key: send the welcome, replace an older session of the same agent.
  virtual void on_authenticated(const std::shared_ptr<AgentConnection>& session) = 0;
  // A message after the welcome whose token verified for this agent.
  virtual void on_message(const std::shared_ptr<AgentConnection>& session,
                          const Message& message) = 0;
  // A refusal (bad token, malformed frame, unexpected type): counted and audited.
  virtual void on_refusal(const std::string& who, const std::string& code,
                          const std::string& message) = 0;
  // Checks the token of a message from `agent_id` on `connection`: "" when it is valid (and
  // *exp is its expiry, seconds since the epoch), else the verdict ("replayed" when the token
  // was first used on another connection).
  [[nodiscard]] virtual std::string check_token(std::string_view token, const std::string& agent_id,
                                                uint64_t connection, int64_t* exp) = 0;
  // False when the agent is over its message rate.
  [[nodiscard]] virtual bool message_allowed(const std::string& agent_id) = 0;
  virtual void on_closed(const std::shared_ptr<AgentConnection>& session) = 0;
  [[nodiscard]] virtual std::chrono::milliseconds heartbeat_interval() const = 0;
  [[nodiscard]] virtual std::chrono::milliseconds handshake_timeout() const = 0;
};

// One agent as the orchestrator talks to it: over a WebSocket (AgentSession, below) or by
// polling over plain HTTPS requests (PollSession, poll_session.h). What both do after the
// welcome is here, once.
class AgentConnection {
 public:
  virtual ~AgentConnection() = default;
  // Queues a message; closes the connection when the queue is full.
  virtual void send(const nlohmann::json& message) = 0;
  virtual void close() = 0;

  [[nodiscard]] const std::string& agent_id() const { return agent_id_; }  // "" until proven
  [[nodiscard]] const nlohmann::json& labels() const { return labels_; }
  [[nodiscard]] const nlohmann::json& capabilities() const { return capabilities_; }
  [[nodiscard]] bool closed() const { return closed_; }

 protected:
  explicit AgentConnection(SessionHost& host);
  // A message after the welcome: its type, the agent's rate and its token are checked, then it
  // goes to the host; otherwise it is refused with an error message (the connection stays).
  void handle_ready(const std::shared_ptr<AgentConnection>& self, const Message& message);
  // "" when `token` is valid for this agent on this connection, else the verdict.
  [[nodiscard]] std::string check_token(const std::string& token);
  // Counted, audited and answered with an error message.
  void refuse_message(const std::string& code, const std::string& message);
  [[nodiscard]] std::string who() const;

  SessionHost& host_;
  bool closed_ = false;
  std::string agent_id_;
  nlohmann::json labels_ = nlohmann::json::object();
  nlohmann::json capabilities_ = nlohmann::json::object();
  const uint64_t connection_id_;  // unique in the process: what a token's first use binds to
  // The last token that verified on this connection: the same one again (every message until
  // the next heartbeat answer) needs only its expiry checked, not its signature again.
  std::string verified_token_;
  int64_t verified_exp_ = 0;
};

class AgentSession final : public AgentConnection,
                           public std::enable_shared_from_this<AgentSession> {
 public:
  AgentSession(std::shared_ptr<common::UpgradedConnection> connection, SessionHost& host);
  // Answers the upgrade and starts reading.
  void start();
  void send(const nlohmann::json& message) override;
  void close() override;

  // WriteQueue's owner interface (base/write_queue.h).
  using WriteDone = std::function<void(boost::beast::error_code, size_t)>;
  void on_queue_drained();
  void write_one(const std::string& text, WriteDone done);

 private:
  using PlainWs = boost::beast::websocket::stream<boost::beast::tcp_stream>;
  using TlsWs = boost::beast::websocket::stream<common::TlsStream>;

  void read();
  void on_read(boost::beast::error_code ec);
  void handle(std::string_view text);
  void on_register(const Message& message);
  void on_proof(const Message& message);
  void refuse(const std::string& code, const std::string& message, bool close_after);

  std::variant<PlainWs, TlsWs> ws_;
  boost::beast::http::request<boost::beast::http::string_body> upgrade_request_;
  boost::beast::flat_buffer buffer_;
  boost::asio::steady_timer handshake_timer_;
  WriteQueue queue_{kSendQueueMax};
  bool close_after_write_ = false;
  enum class Phase { kAwaitRegister, kAwaitProof, kReady } phase_ = Phase::kAwaitRegister;
  std::string nonce_;
  std::optional<Ed25519Key> claimed_key_;
  std::string claimed_agent_;
};

}  // namespace bombarder

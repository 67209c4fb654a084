// The polling fallback (`bombarder agent --poll`, issue 17): an agent on a network that cannot
// hold a socket speaks the same protocol (fleet/protocol.h) over plain HTTPS requests and
// answers on the orchestrator's port:
//
//   POST /agent/poll/register  a register message     -> 200 a challenge message
//   POST /agent/poll/proof     a proof message + the challenge's "nonce"
//                                                      -> 200 {"poll_session": ID, "messages":
//                                                         [welcome, ...]}
//   POST /agent/poll/send      {"messages": [agent messages, each with its token, as on the
//                              WebSocket]}             -> 200 {"accepted": N}
//   GET  /agent/poll/commands?wait=MS                  -> 200 {"messages": [...]} at once when
//                              any wait, else when one comes or after MS (at most 30 s)
//
// send and commands need `Authorization: Bearer <the agent's current token>` and
// `X-Poll-Session: ID`; a missing, unknown or refused one is 401 JSON ({"error": the verdict}),
// counted and audited. The session is the connection the replay guard binds a token's first use
// to, so a token copied elsewhere is refused `replayed` as on the WebSocket. A challenge lives
// kChallengeTtl; a session with no request for three heartbeat intervals (a held poll counts)
// is closed, and a newer session or WebSocket of the same agent replaces it (its held poll is
// answered 410 session_closed, as the agent re-registers).
//
// Bounds: kSendQueueMax messages wait for the agent (more: the session is closed), at most
// kPollMessagesMax messages in one send, bodies at most kMessageBytesMax, kChallengesMax
// challenges outstanding (more: 429).
//
// Threads: the orchestrator's io_context thread.
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "bombarder/orchestrator/agent_session.h"
#include "common/http_server.h"

namespace bombarder {

inline constexpr size_t kPollMessagesMax = 64;
inline constexpr size_t kChallengesMax = 1000;
inline constexpr std::chrono::seconds kChallengeTtl{10};
inline constexpr std::chrono::milliseconds kPollWaitMax{30000};

class PollSession final : public AgentConnection, public std::enable_shared_from_this<PollSession> {
 public:
  PollSession(boost::asio::io_context& io, SessionHost& host, std::string agent_id,
              nlohmann::json labels, nlohmann::json capabilities);
  [[nodiscard]] const std::string& id() const { return id_; }
  // Starts the idle timer.
  void start();
  void send(const nlohmann::json& message) override;
  void close() override;
  // "" when `token` (the request's bearer) is valid for this session, else the verdict.
  [[nodiscard]] std::string authenticate(const std::string& token);
  // POST /agent/poll/send: each message as a WebSocket frame after the welcome.
  void receive(const nlohmann::json& messages);
  // GET /agent/poll/commands: what waits, at once, or the next message within `wait`.
  void poll(common::Respond respond, std::chrono::milliseconds wait);
  // Everything queued, taken out (the proof's answer).
  [[nodiscard]] nlohmann::json take_queued();

 private:
  void answer_poll();
  void arm_idle_timer();

  const std::string id_;
  std::deque<nlohmann::json> queue_;
  std::optional<common::Respond> waiting_;
  boost::asio::steady_timer wait_timer_;
  boost::asio::steady_timer idle_timer_;
  std::chrono::steady_clock::time_point last_request_;
};

}  // namespace bombarder

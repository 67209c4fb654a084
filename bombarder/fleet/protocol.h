// The messages between `bombarder agent` and `bombarder orchestrator` (issue 17), one JSON object
// per WebSocket text frame, its kind in "type". docs/orchestrator.md has the sequence diagram;
// in short:
//
//   agent                              orchestrator
//   register {public_key, labels, capabilities}  ->
//                                      <- challenge {nonce}
//   proof {signature: sign(challenge_input(nonce))} ->
//                                      <- welcome {agent_id, token, orchestrator_key, heartbeat_ms}
//   heartbeat {token, seq}            ->
//                                      <- heartbeat_ack {seq, token (a fresh one)}
//                                      <- assign {run, agent, experiment, issued_at, signature}
//   progress {token, run, step, event, detail} ->
//   result {token, run, state, steps} ->
//                                      <- abort {run, agent, reason, issued_at, signature}
//   revert_done {token, run, reverted} ->
//   error {code, message [, run]}     <->   (a refusal; the connection stays open)
//
// Every agent message after the welcome carries its token (fleet_token.h), checked each time.
// Commands (assign, abort) carry the orchestrator's Ed25519 signature over their canonical form
// (the object without "signature", members ordered by name, nlohmann's dump); an agent runs
// nothing that is not signed by its orchestrator and addressed to it.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "bombarder/fleet/ed25519_key.h"

namespace bombarder {

// Bounds of the protocol: a frame larger than this is refused and the connection closed.
inline constexpr size_t kMessageBytesMax = 64 << 10;
inline constexpr size_t kLabelsMax = 32;
inline constexpr size_t kLabelBytesMax = 128;  // key or value

enum class MessageType {
  kRegister,
  kChallenge,
  kProof,
  kWelcome,
  kHeartbeat,
  kHeartbeatAck,
  kAssign,
  kProgress,
  kResult,
  kAbort,
  kRevertDone,
  kError,
};
[[nodiscard]] const char* to_string(MessageType type);  // "register", "heartbeat_ack", ...

// A frame that breaks the protocol: `code` is the error code sent back ("malformed",
// "too_large", "unknown_type", "missing_field").
class ProtocolError : public std::runtime_error {
 public:
  ProtocolError(std::string code, const std::string& message)
      : std::runtime_error(message), code_(std::move(code)) {}
  [[nodiscard]] const std::string& code() const { return code_; }

 private:
  std::string code_;
};

struct Message {
  MessageType type = MessageType::kError;
  nlohmann::json body;  // the whole object, "type" included
};

// Parses and checks one frame: size, a JSON object, a known type, the fields its type requires
// with their JSON types. Throws ProtocolError.
[[nodiscard]] Message parse_message(std::string_view text);
// {"type": ..., members of `fields`}.
[[nodiscard]] nlohmann::json make_message(MessageType type, nlohmann::json fields);
[[nodiscard]] nlohmann::json error_message(std::string_view code, std::string_view message);

// What an agent signs to prove it holds its key: a domain prefix and the nonce, so that a
// signature made for the fleet is never valid for anything else.
[[nodiscard]] std::string challenge_input(std::string_view nonce);

// `command` with "signature" set over its canonical form.
[[nodiscard]] nlohmann::json sign_command(nlohmann::json command, const Ed25519Key& key);
// True when "signature" is `key`'s signature of the rest of `command`.
[[nodiscard]] bool verify_command(const nlohmann::json& command, const Ed25519Key& key);

}  // namespace bombarder

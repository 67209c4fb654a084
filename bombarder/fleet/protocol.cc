#include "bombarder/fleet/protocol.h"

#include <array>
#include <utility>
#include <vector>

#include "bombarder/fleet/base64url.h"

namespace bombarder {

namespace {

using Json = nlohmann::json;

enum class Kind { kString, kInteger, kObject, kArray, kBoolean };

struct Field {
  const char* name;
  Kind kind;
};

struct TypeSpec {
  MessageType type;
  const char* name;
  std::vector<Field> required;
};

const std::vector<TypeSpec>& specs() {
  static const std::vector<TypeSpec> table = {
      {MessageType::kRegister, "register", {{"public_key", Kind::kString}}},
      {MessageType::kChallenge, "challenge", {{"nonce", Kind::kString}}},
      {MessageType::kProof, "proof", {{"signature", Kind::kString}}},
      {MessageType::kWelcome,
       "welcome",
       {{"agent_id", Kind::kString},
        {"token", Kind::kString},
        {"orchestrator_key", Kind::kString},
        {"heartbeat_ms", Kind::kInteger}}},
      {MessageType::kHeartbeat, "heartbeat", {{"token", Kind::kString}, {"seq", Kind::kInteger}}},
      {MessageType::kHeartbeatAck,
       "heartbeat_ack",
       {{"seq", Kind::kInteger}, {"token", Kind::kString}}},
      {MessageType::kAssign,
       "assign",
       {{"run", Kind::kString},
        {"agent", Kind::kString},
        {"experiment", Kind::kObject},
        {"issued_at", Kind::kInteger},
        {"signature", Kind::kString}}},
      {MessageType::kProgress,
       "progress",
       {{"token", Kind::kString},
        {"run", Kind::kString},
        {"step", Kind::kInteger},
        {"event", Kind::kString}}},
      {MessageType::kResult,
       "result",
       {{"token", Kind::kString},
        {"run", Kind::kString},
        {"state", Kind::kString},
        {"steps", Kind::kArray}}},
      {MessageType::kAbort,
       "abort",
       {{"run", Kind::kString},
        {"agent", Kind::kString},
        {"reason", Kind::kString},
        {"issued_at", Kind::kInteger},
        {"signature", Kind::kString}}},
      {MessageType::kRevertDone,
       "revert_done",
       {{"token", Kind::kString}, {"run", Kind::kString}, {"reverted", Kind::kArray}}},
      {MessageType::kError, "error", {{"code", Kind::kString}, {"message", Kind::kString}}},
  };
  return table;
}

bool has_kind(const Json& value, Kind kind) {
  switch (kind) {
    case Kind::kString: return value.is_string();
    case Kind::kInteger: return value.is_number_integer();
    case Kind::kObject: return value.is_object();
    case Kind::kArray: return value.is_array();
    case Kind::kBoolean: return value.is_boolean();
  }
  return false;
}

const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::kString: return "a string";
    case Kind::kInteger: return "an integer";
    case Kind::kObject: return "an object";
    case Kind::kArray: return "an array";
    case Kind::kBoolean: return "a boolean";
  }
  return "?";
}

std::string canonical_form(const Json& command) {
  Json unsigned_part = command;
  unsigned_part.erase("signature");
  return unsigned_part.dump();
}

}  // namespace

const char* to_string(MessageType type) {
  for (const TypeSpec& spec : specs()) {
    if (spec.type == type) return spec.name;
  }
  return "unknown";
}

Message parse_message(std::string_view text) {
  if (text.size() > kMessageBytesMax) {
    throw ProtocolError("too_large", "message of " + std::to_string(text.size()) +
                                         " bytes exceeds " + std::to_string(kMessageBytesMax));
  }
  Json body = Json::parse(text, nullptr, false);
  if (!body.is_object()) throw ProtocolError("malformed", "a message must be a JSON object");
  auto type = body.find("type");
  if (type == body.end() || !type->is_string()) {
    throw ProtocolError("malformed", "a message needs a string \"type\"");
  }
  for (const TypeSpec& spec : specs()) {
    if (*type != spec.name) continue;
    for (const Field& field : spec.required) {
      auto it = body.find(field.name);
      if (it == body.end() || !has_kind(*it, field.kind)) {
        throw ProtocolError("missing_field", std::string(spec.name) + " needs \"" + field.name +
                                                 "\" as " + kind_name(field.kind));
      }
    }
    return {spec.type, std::move(body)};
  }
  throw ProtocolError("unknown_type", "unknown message type \"" + type->get<std::string>() + "\"");
}

Json make_message(MessageType type, Json fields) {
  Json out = fields.is_object() ? std::move(fields) : Json::object();
  out["type"] = to_string(type);
  return out;
}

Json error_message(std::string_view code, std::string_view message) {
  return make_message(MessageType::kError, {{"code", code}, {"message", message}});
}

std::string challenge_input(std::string_view nonce) {
  return "bombarder-fleet-challenge:" + std::string(nonce);
}

Json sign_command(Json command, const Ed25519Key& key) {
  command["signature"] = base64url_encode(key.sign(canonical_form(command)));
  return command;
}

bool verify_command(const Json& command, const Ed25519Key& key) {
  auto it = command.find("signature");
  if (!command.is_object() || it == command.end() || !it->is_string()) return false;
  const std::optional<std::string> signature = base64url_decode(it->get<std::string>());
  return signature && key.verify(canonical_form(command), *signature);
}

}  // namespace bombarder

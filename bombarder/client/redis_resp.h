// RESP, Redis's wire protocol, for the Redis adapter (redis_adapter.h), the load connections
// (load/load_connection.h in RESP framing) and the control commands (cluster start, verify).
// Parsing and the blocking client are hiredis's (Debian's libhiredis-dev, the well-kept C client
// issue 18 names); this header keeps hiredis's types out of every includer.
//
// A reply is parsed whole into a RespReply (bounded: one reply at most kRespReplyBytesMax
// bytes, replies nest at most hiredis's 7 levels). A protocol error (bytes that are not RESP,
// e.g. an HTTP server's "HTTP/1.1 400") is a value, never an exception.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/endpoint.h"

namespace bombarder {

inline constexpr size_t kRespReplyBytesMax = 64 << 20;

struct RespReply {
  enum class Type : uint8_t { kStatus, kError, kInteger, kString, kNil, kArray };
  Type type = Type::kNil;
  std::string text;  // kStatus, kError, kString
  int64_t integer = 0;
  std::vector<RespReply> elements;  // kArray

  [[nodiscard]] bool is_error() const { return type == Type::kError; }
  // The error's code, its first word ("READONLY", "ERR", "NOAUTH"); "" when not an error.
  [[nodiscard]] std::string error_code() const;
  // One line for messages: "+OK", "-ERR ...", ":1", "'value'", "(nil)", "[3 elements]".
  [[nodiscard]] std::string describe() const;
};

// Appends one command as a RESP array of bulk strings (what every Redis accepts).
void append_resp_command(std::string& out, const std::vector<std::string_view>& args);

// An incremental reader of replies: bytes in as they arrive, whole replies out.
class RespReader {
 public:
  enum class Result : uint8_t { kReply, kIncomplete, kProtocolError };
  RespReader();
  ~RespReader();
  RespReader(const RespReader&) = delete;
  RespReader& operator=(const RespReader&) = delete;
  void feed(std::string_view bytes);
  // kReply: `*reply` holds the next reply. kProtocolError: `*error` says why; the reader is
  // then unusable (the connection must be closed).
  [[nodiscard]] Result next(RespReply* reply, std::string* error);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The single reply in `bytes` (a whole answer as the load connection read it); nullopt and
// *error when the bytes are not one complete reply.
[[nodiscard]] std::optional<RespReply> parse_resp(std::string_view bytes, std::string* error);

// A blocking connection for control commands (not the load's hot path). Connect and every
// command are bounded by `timeout`.
class RedisSession {
 public:
  // Connects; *error says why not ("connection refused", "timed out") and the session is not
  // usable then (ok() false).
  RedisSession(const common::Endpoint& node, std::chrono::milliseconds timeout);
  ~RedisSession();
  RedisSession(const RedisSession&) = delete;
  RedisSession& operator=(const RedisSession&) = delete;
  [[nodiscard]] bool ok() const { return error_.empty(); }
  [[nodiscard]] const std::string& error() const { return error_; }
  // One command's reply (an error reply is a reply); nullopt when the transport or the protocol
  // failed (error() says why, and the session is no longer usable).
  [[nodiscard]] std::optional<RespReply> command(const std::vector<std::string>& args);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string error_;
};

// "field:value" lines of an INFO reply (sections and comments left out), in order of text.
[[nodiscard]] std::vector<std::pair<std::string, std::string>> parse_info(std::string_view info);
[[nodiscard]] std::optional<std::string> info_field(std::string_view info, std::string_view field);

}  // namespace bombarder

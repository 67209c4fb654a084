// The fleet's tokens (issue 17): JWTs (RFC 7519) signed by the orchestrator's Ed25519 key, alg
// "EdDSA" (RFC 8037). The header and payload are base64url JSON, written here; the signature is
// OpenSSL's (ed25519_key.h). Debian's libcpp-jwt-dev 1.4 knows HS/RS/ES only, not EdDSA.
//
// A token names its holder (`sub`: an agent id, or "operator"), who it is for (`aud`), when it
// was issued and when it ends (`iat`, `exp`, seconds since the epoch) and a unique id (`jti`).
// Tokens are short-lived (kTokenLifetime); the agent gets a fresh one with each heartbeat reply.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "bombarder/fleet/ed25519_key.h"

namespace bombarder {

inline constexpr std::chrono::seconds kTokenLifetime{300};
inline constexpr size_t kTokenBytesMax = 2048;
// Clock skew tolerated on `iat` between the machines (not on `exp`: a token ends on time).
inline constexpr int64_t kTokenSkewSeconds = 30;
inline constexpr std::string_view kAgentAudience = "bombarder-agent";

struct TokenClaims {
  std::string sub;
  std::string aud;
  std::string jti;
  int64_t iat = 0;
  int64_t exp = 0;
};

enum class TokenVerdict {
  kOk,
  kMalformed,      // not three base64url parts of JSON, a claim missing or of the wrong type
  kBadAlgorithm,   // header alg is not EdDSA (alg "none" included)
  kBadSignature,   // forged or altered, or signed by another key
  kExpired,        // now >= exp
  kNotYetValid,    // iat in the future by more than the skew
  kWrongAudience,  // aud is not the expected one
  kRevoked,        // the subject was revoked
};
// "ok", "malformed", "bad_algorithm", "bad_signature", "expired", "not_yet_valid",
// "wrong_audience", "revoked": the `error` code of a refusal.
[[nodiscard]] const char* to_string(TokenVerdict verdict);

// A new token for `claims` (jti filled with 16 random bytes when empty).
[[nodiscard]] std::string issue_token(const Ed25519Key& key, TokenClaims claims);
// Claims for `sub` and `aud` valid for `lifetime` from `now`.
[[nodiscard]] TokenClaims make_claims(std::string sub, std::string_view aud,
                                      std::chrono::system_clock::time_point now,
                                      std::chrono::seconds lifetime = kTokenLifetime);

struct TokenCheck {
  TokenVerdict verdict = TokenVerdict::kMalformed;
  TokenClaims claims;  // filled once the signature verified
};
// Checks in this order: form, algorithm, signature, audience, times, revocation (so nothing
// about an unsigned token is believed). `revoked(sub)` may be empty.
[[nodiscard]] TokenCheck verify_token(std::string_view token, const Ed25519Key& key,
                                      std::string_view audience,
                                      std::chrono::system_clock::time_point now,
                                      const std::function<bool(const std::string&)>& revoked);

// Random bytes from OpenSSL's RAND_bytes, base64url: nonces and ids.
[[nodiscard]] std::string random_token_text(size_t bytes);

}  // namespace bombarder

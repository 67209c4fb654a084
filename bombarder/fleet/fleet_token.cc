#include "bombarder/fleet/fleet_token.h"

#include <openssl/rand.h>

#include <nlohmann/json.hpp>

#include "bombarder/base/errors.h"
#include "bombarder/fleet/base64url.h"

namespace bombarder {

namespace {

using Json = nlohmann::json;

int64_t seconds_of(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

std::optional<Json> decode_part(std::string_view part) {
  const std::optional<std::string> text = base64url_decode(part);
  if (!text) return std::nullopt;
  Json json = Json::parse(*text, nullptr, false);
  if (!json.is_object()) return std::nullopt;
  return json;
}

bool read_claims(const Json& payload, TokenClaims& claims) {
  const auto text = [&](const char* name, std::string& out) {
    auto it = payload.find(name);
    if (it == payload.end() || !it->is_string()) return false;
    out = it->get<std::string>();
    return true;
  };
  const auto number = [&](const char* name, int64_t& out) {
    auto it = payload.find(name);
    if (it == payload.end() || !it->is_number_integer()) return false;
    out = it->get<int64_t>();
    return true;
  };
  return text("sub", claims.sub) && text("aud", claims.aud) && text("jti", claims.jti) &&
         number("iat", claims.iat) && number("exp", claims.exp);
}

}  // namespace

const char* to_string(TokenVerdict verdict) {
  switch (verdict) {
    case TokenVerdict::kOk: return "ok";
    case TokenVerdict::kMalformed: return "malformed";
    case TokenVerdict::kBadAlgorithm: return "bad_algorithm";
    case TokenVerdict::kBadSignature: return "bad_signature";
    case TokenVerdict::kExpired: return "expired";
    case TokenVerdict::kNotYetValid: return "not_yet_valid";
    case TokenVerdict::kWrongAudience: return "wrong_audience";
    case TokenVerdict::kRevoked: return "revoked";
  }
  return "unknown";
}

std::string random_token_text(size_t bytes) {
  std::string raw(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1) {
    environment_failure("OpenSSL RAND_bytes failed");
  }
  return base64url_encode(raw);
}

TokenClaims make_claims(std::string sub, std::string_view aud,
                        std::chrono::system_clock::time_point now, std::chrono::seconds lifetime) {
  TokenClaims claims;
  claims.sub = std::move(sub);
  claims.aud = std::string(aud);
  claims.iat = seconds_of(now);
  claims.exp = claims.iat + lifetime.count();
  return claims;
}

std::string issue_token(const Ed25519Key& key, TokenClaims claims) {
  if (claims.jti.empty()) claims.jti = random_token_text(16);
  // nlohmann::json orders members by name: the same claims always give the same bytes.
  const Json header = {{"alg", "EdDSA"}, {"typ", "JWT"}};
  const Json payload = {{"sub", claims.sub},
                        {"aud", claims.aud},
                        {"iat", claims.iat},
                        {"exp", claims.exp},
                        {"jti", claims.jti}};
  const std::string signing_input =
      base64url_encode(header.dump()) + "." + base64url_encode(payload.dump());
  return signing_input + "." + base64url_encode(key.sign(signing_input));
}

TokenCheck verify_token(std::string_view token, const Ed25519Key& key, std::string_view audience,
                        std::chrono::system_clock::time_point now,
                        const std::function<bool(const std::string&)>& revoked) {
  TokenCheck check;
  if (token.empty() || token.size() > kTokenBytesMax) return check;
  const size_t first = token.find('.');
  const size_t second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) {
    return check;
  }
  const std::optional<Json> header = decode_part(token.substr(0, first));
  const std::optional<Json> payload = decode_part(token.substr(first + 1, second - first - 1));
  const std::optional<std::string> signature = base64url_decode(token.substr(second + 1));
  if (!header || !payload || !signature) return check;
  auto alg = header->find("alg");
  if (alg == header->end() || !alg->is_string() || alg->get<std::string>() != "EdDSA") {
    check.verdict = TokenVerdict::kBadAlgorithm;
    return check;
  }
  if (!key.verify(token.substr(0, second), *signature)) {
    check.verdict = TokenVerdict::kBadSignature;
    return check;
  }
  if (!read_claims(*payload, check.claims)) return check;
  const int64_t now_s = seconds_of(now);
  if (check.claims.aud != audience) {
    check.verdict = TokenVerdict::kWrongAudience;
  } else if (now_s >= check.claims.exp) {
    check.verdict = TokenVerdict::kExpired;
  } else if (check.claims.iat > now_s + kTokenSkewSeconds) {
    check.verdict = TokenVerdict::kNotYetValid;
  } else if (revoked && revoked(check.claims.sub)) {
    check.verdict = TokenVerdict::kRevoked;
  } else {
    check.verdict = TokenVerdict::kOk;
  }
  return check;
}

}  // namespace bombarder

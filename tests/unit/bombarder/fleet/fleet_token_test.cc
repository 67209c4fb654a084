// Tokens of the fleet (fleet_token.h): an EdDSA JWT is accepted only when it is well formed,
// signed by the orchestrator's key, for the expected audience, in its lifetime and of a subject
// that is not revoked. One test per refusal.
#include "bombarder/fleet/fleet_token.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "bombarder/fleet/base64url.h"

namespace bombarder {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::system_clock;

class FleetTokenTest : public ::testing::Test {
 protected:
  Ed25519Key key_ = Ed25519Key::generate();
  Clock::time_point now_ = Clock::now();
  std::function<bool(const std::string&)> none_revoked_ = [](const std::string&) { return false; };

  TokenVerdict check(const std::string& token, const Ed25519Key& key) {
    return verify_token(token, key, kAgentAudience, now_, none_revoked_).verdict;
  }
  std::string token_for(const std::string& sub) {
    return issue_token(key_, make_claims(sub, kAgentAudience, now_));
  }
  // The token with its payload replaced by `payload`, keeping the original signature.
  static std::string with_payload(const std::string& token, const nlohmann::json& payload) {
    const size_t first = token.find('.');
    const size_t second = token.find('.', first + 1);
    return token.substr(0, first + 1) + base64url_encode(payload.dump()) + token.substr(second);
  }
};

TEST_F(FleetTokenTest, AFreshTokenVerifiesWithItsClaims) {
  const TokenCheck check =
      verify_token(token_for("ed25519:0011"), key_, kAgentAudience, now_, none_revoked_);
  ASSERT_EQ(check.verdict, TokenVerdict::kOk);
  EXPECT_EQ(check.claims.sub, "ed25519:0011");
  EXPECT_EQ(check.claims.aud, kAgentAudience);
  EXPECT_EQ(check.claims.exp - check.claims.iat, kTokenLifetime.count());
  EXPECT_FALSE(check.claims.jti.empty());
}

TEST_F(FleetTokenTest, TwoTokensForTheSameSubjectHaveDistinctIds) {
  const TokenCheck a = verify_token(token_for("x"), key_, kAgentAudience, now_, none_revoked_);
  const TokenCheck b = verify_token(token_for("x"), key_, kAgentAudience, now_, none_revoked_);
  EXPECT_NE(a.claims.jti, b.claims.jti);
}

TEST_F(FleetTokenTest, ATokenSignedByAnotherKeyIsABadSignature) {
  const Ed25519Key forger = Ed25519Key::generate();
  const std::string forged = issue_token(forger, make_claims("x", kAgentAudience, now_));
  EXPECT_EQ(check(forged, key_), TokenVerdict::kBadSignature);
}

TEST_F(FleetTokenTest, AnAlteredPayloadIsABadSignature) {
  const std::string token = token_for("agent-a");
  nlohmann::json payload = {
      {"sub", "agent-b"}, {"aud", kAgentAudience}, {"iat", 0}, {"exp", 9999999999LL}, {"jti", "x"}};
  EXPECT_EQ(check(with_payload(token, payload), key_), TokenVerdict::kBadSignature);
}

TEST_F(FleetTokenTest, AnExpiredTokenIsRefused) {
  const std::string token = issue_token(key_, make_claims("x", kAgentAudience, now_ - 10min, 5min));
  EXPECT_EQ(check(token, key_), TokenVerdict::kExpired);
}

TEST_F(FleetTokenTest, ATokenEndsExactlyAtItsExpiry) {
  const std::string token = issue_token(key_, make_claims("x", kAgentAudience, now_, 60s));
  EXPECT_EQ(verify_token(token, key_, kAgentAudience, now_ + 59s, none_revoked_).verdict,
            TokenVerdict::kOk);
  EXPECT_EQ(verify_token(token, key_, kAgentAudience, now_ + 60s, none_revoked_).verdict,
            TokenVerdict::kExpired);
}

TEST_F(FleetTokenTest, ATokenIssuedInTheFutureBeyondTheSkewIsNotYetValid) {
  const std::string token = issue_token(key_, make_claims("x", kAgentAudience, now_ + 10min));
  EXPECT_EQ(check(token, key_), TokenVerdict::kNotYetValid);
}

TEST_F(FleetTokenTest, ATokenForAnotherAudienceIsRefused) {
  const std::string token = issue_token(key_, make_claims("x", "someone-else", now_));
  EXPECT_EQ(check(token, key_), TokenVerdict::kWrongAudience);
}

TEST_F(FleetTokenTest, ARevokedSubjectIsRefusedThoughTheTokenIsValid) {
  const TokenCheck check = verify_token(token_for("gone"), key_, kAgentAudience, now_,
                                        [](const std::string& sub) { return sub == "gone"; });
  EXPECT_EQ(check.verdict, TokenVerdict::kRevoked);
}

TEST_F(FleetTokenTest, AlgNoneIsRefusedBeforeAnythingElse) {
  const std::string header = base64url_encode(R"({"alg":"none","typ":"JWT"})");
  const std::string payload = base64url_encode(nlohmann::json{
      {"sub", "x"}, {"aud", kAgentAudience}, {"iat", 0}, {"exp", 9999999999LL}, {"jti", "j"}}
                                                   .dump());
  EXPECT_EQ(check(header + "." + payload + ".", key_), TokenVerdict::kBadAlgorithm);
}

TEST_F(FleetTokenTest, MalformedTokensAreRefused) {
  const std::string good = token_for("x");
  for (const std::string& bad :
       {std::string(), std::string("abc"), std::string("a.b"), good + ".extra",
        std::string("!!!.???.***"), std::string(kTokenBytesMax + 1, 'a')}) {
    EXPECT_EQ(check(bad, key_), TokenVerdict::kMalformed) << bad.substr(0, 40);
  }
}

TEST_F(FleetTokenTest, ASignedTokenMissingAClaimIsMalformed) {
  // Signed by the right key but without `jti`: the claims are read only after the signature.
  const std::string header = base64url_encode(R"({"alg":"EdDSA","typ":"JWT"})");
  const std::string payload = base64url_encode(
      nlohmann::json{{"sub", "x"}, {"aud", kAgentAudience}, {"iat", 0}, {"exp", 1}}.dump());
  const std::string input = header + "." + payload;
  EXPECT_EQ(check(input + "." + base64url_encode(key_.sign(input)), key_),
            TokenVerdict::kMalformed);
}

}  // namespace
}  // namespace bombarder

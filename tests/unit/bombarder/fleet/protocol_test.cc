// The fleet's messages (protocol.h): frames are checked for size, form, type and the members
// their type requires; commands verify only with the orchestrator's key and unaltered.
#include "bombarder/fleet/protocol.h"

#include <gtest/gtest.h>

namespace bombarder {
namespace {

std::string code_of(std::string_view text) {
  try {
    (void)parse_message(text);
  } catch (const ProtocolError& e) {
    return e.code();
  }
  return "ok";
}

TEST(ProtocolTest, AWellFormedHeartbeatParses) {
  const Message m = parse_message(R"({"type":"heartbeat","token":"t","seq":3})");
  EXPECT_EQ(m.type, MessageType::kHeartbeat);
  EXPECT_EQ(m.body["seq"], 3);
}

TEST(ProtocolTest, BadFramesAreRefusedWithTheirCode) {
  EXPECT_EQ(code_of("not json"), "malformed");
  EXPECT_EQ(code_of("[1,2]"), "malformed");
  EXPECT_EQ(code_of(R"({"seq":1})"), "malformed");
  EXPECT_EQ(code_of(R"({"type":7})"), "malformed");
  EXPECT_EQ(code_of(R"({"type":"launch_missiles"})"), "unknown_type");
  EXPECT_EQ(code_of(R"({"type":"heartbeat","token":"t"})"), "missing_field");
  EXPECT_EQ(code_of(R"({"type":"heartbeat","token":"t","seq":"1"})"), "missing_field");
  EXPECT_EQ(code_of(R"({"type":"register"})"), "missing_field");
}

TEST(ProtocolTest, AFrameOverTheLimitIsRefusedUnparsed) {
  std::string big = R"({"type":"error","code":"x","message":")";
  big += std::string(kMessageBytesMax, 'a') + "\"}";
  EXPECT_EQ(code_of(big), "too_large");
}

TEST(ProtocolTest, MakeMessageRoundTripsThroughParse) {
  const nlohmann::json m = make_message(MessageType::kChallenge, {{"nonce", "abc"}});
  EXPECT_EQ(parse_message(m.dump()).type, MessageType::kChallenge);
}

TEST(ProtocolTest, ASignedCommandVerifiesOnlyUnalteredAndWithTheSigningKey) {
  const Ed25519Key key = Ed25519Key::generate();
  const nlohmann::json command = sign_command(
      make_message(MessageType::kAbort,
                   {{"run", "r1"}, {"agent", "a1"}, {"reason", "x"}, {"issued_at", 1}}),
      key);
  EXPECT_TRUE(verify_command(command, key));
  EXPECT_TRUE(verify_command(nlohmann::json::parse(command.dump()), key));
  nlohmann::json altered = command;
  altered["agent"] = "a2";
  EXPECT_FALSE(verify_command(altered, key));
  EXPECT_FALSE(verify_command(command, Ed25519Key::generate()));
  nlohmann::json unsigned_command = command;
  unsigned_command.erase("signature");
  EXPECT_FALSE(verify_command(unsigned_command, key));
}

TEST(ProtocolTest, TheChallengeInputIsDomainSeparated) {
  EXPECT_EQ(challenge_input("n"), "bombarder-fleet-challenge:n");
}

}  // namespace
}  // namespace bombarder

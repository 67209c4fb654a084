// The agent's --orchestrator URL (agent.h): plain ws:// only to loopback.
#include <gtest/gtest.h>

#include "bombarder/agent/agent.h"
#include "error_message.h"

namespace bombarder {
namespace {

TEST(OrchestratorUrlTest, LoopbackWsAndAnyWssAreAccepted) {
  const OrchestratorUrl a = parse_orchestrator_url("ws://127.0.0.1:8480");
  EXPECT_FALSE(a.tls);
  EXPECT_EQ(a.host, "127.0.0.1");
  EXPECT_EQ(a.port, 8480);
  EXPECT_EQ(a.path, "/agent/ws");
  EXPECT_EQ(parse_orchestrator_url("ws://localhost:1/x").path, "/x");
  const OrchestratorUrl b = parse_orchestrator_url("wss://orchestrator.example:443");
  EXPECT_TRUE(b.tls);
  EXPECT_EQ(b.host, "orchestrator.example");
}

TEST(OrchestratorUrlTest, HttpAndHttpsNameTheSameAsWsAndWss) {
  EXPECT_FALSE(parse_orchestrator_url("http://127.0.0.1:8480").tls);
  const OrchestratorUrl https = parse_orchestrator_url("https://orchestrator.example:8480");
  EXPECT_TRUE(https.tls);
  EXPECT_EQ(https.port, 8480);
}

TEST(OrchestratorUrlTest, PlainWsOffLoopbackAndOtherSchemesAreRefused) {
  const std::string off =
      test::runtime_error_message([] { (void)parse_orchestrator_url("ws://10.0.0.5:8480"); });
  EXPECT_NE(off.find("loopback"), std::string::npos) << off;
  EXPECT_NE(test::runtime_error_message([] { (void)parse_orchestrator_url("ftp://127.0.0.1:1"); }),
            test::kNoError);
  // http:// is ws:// (the polling agent's spelling): loopback only as well.
  EXPECT_NE(test::runtime_error_message([] { (void)parse_orchestrator_url("http://x:1"); }),
            test::kNoError);
  EXPECT_NE(test::runtime_error_message([] { (void)parse_orchestrator_url("ws://127.0.0.1"); }),
            test::kNoError);
}

}  // namespace
}  // namespace bombarder

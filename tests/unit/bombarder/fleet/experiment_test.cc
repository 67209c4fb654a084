// Experiments (experiment.h): what the orchestrator accepts at creation and the agent parses at
// assignment.
#include "bombarder/fleet/experiment.h"

#include <gtest/gtest.h>

#include "error_message.h"

namespace bombarder {
namespace {

using Json = nlohmann::json;

std::string refusal(const Json& body) {
  return test::runtime_error_message([&] { (void)parse_experiment(body); });
}

Json kill_load_verify() {
  return Json::parse(R"({"name": "kill the leader",
    "steps": [
      {"kind": "fault", "type": "kill", "node": "leader", "at": "0s", "down_for": "2s"},
      {"kind": "load", "duration": "1s", "concurrency": 2},
      {"kind": "verify", "timeout": "20s", "deep": true}]})");
}

TEST(ExperimentTest, KillLoadVerifyParsesIntoItsSteps) {
  const Experiment e = parse_experiment(kill_load_verify());
  EXPECT_EQ(e.name, "kill the leader");
  ASSERT_EQ(e.steps.size(), 3u);
  EXPECT_EQ(e.steps[0].kind, StepKind::kFault);
  EXPECT_EQ(e.steps[0].fault.type, FaultType::kKill);
  EXPECT_EQ(e.steps[0].fault.node, "leader");
  EXPECT_EQ(e.steps[0].fault.duration, std::chrono::milliseconds(2000));
  EXPECT_EQ(e.steps[1].load.duration, std::chrono::milliseconds(1000));
  EXPECT_EQ(e.steps[1].load.concurrency, 2u);
  EXPECT_EQ(e.steps[2].verify.timeout, std::chrono::milliseconds(20000));
  EXPECT_TRUE(e.steps[2].verify.deep);
}

TEST(ExperimentTest, EveryFaultKindOfInjectIsAccepted) {
  Json body = {{"name", "all"}, {"steps", Json::array()}};
  body["steps"].push_back(
      {{"kind", "fault"}, {"type", "pause"}, {"node", "1"}, {"duration", "1s"}});
  body["steps"].push_back(
      {{"kind", "fault"}, {"type", "memory"}, {"node", "1"}, {"duration", "1s"}, {"mib", 16u}});
  body["steps"].push_back(
      {{"kind", "fault"}, {"type", "disk"}, {"node", "1"}, {"duration", "1s"}, {"mib_per_s", 1u}});
  body["steps"].push_back(
      {{"kind", "fault"}, {"type", "cpu"}, {"node", "1"}, {"duration", "1s"}, {"workers", 1u}});
  body["steps"].push_back({{"kind", "fault"},
                           {"type", "network"},
                           {"node", "node1"},
                           {"duration", "1s"},
                           {"toxic", "latency"},
                           {"attributes", {{"latency", 100}}}});
  EXPECT_EQ(parse_experiment(body).steps.size(), 5u);
}

TEST(ExperimentTest, BadExperimentsAreRefusedNamingTheStep) {
  EXPECT_NE(refusal(Json::array()), test::kNoError);
  EXPECT_NE(refusal({{"steps", Json::array({{{"kind", "verify"}}})}}).find("name"),
            std::string::npos);
  EXPECT_NE(refusal({{"name", "x"}, {"steps", Json::array()}}).find("non-empty"),
            std::string::npos);
  Json e = kill_load_verify();
  e["steps"][1]["kind"] = "launch";
  EXPECT_NE(refusal(e).find("steps[1]"), std::string::npos);
  e = kill_load_verify();
  e["steps"][1]["concurrency"] = 0;
  EXPECT_NE(refusal(e).find("steps[1].concurrency"), std::string::npos);
  e = kill_load_verify();
  e["steps"][0]["type"] = "meteor";
  EXPECT_NE(refusal(e).find("steps[0]"), std::string::npos);
  e = kill_load_verify();
  e["steps"][2]["colour"] = "red";
  EXPECT_NE(refusal(e).find("unknown member \"colour\""), std::string::npos);
  e = kill_load_verify();
  e["steps"][1]["duration"] = "11m";
  EXPECT_NE(refusal(e).find("at most"), std::string::npos);
}

TEST(ExperimentTest, MoreStepsThanTheBoundAreRefused) {
  Json body = {{"name", "long"}, {"steps", Json::array()}};
  for (size_t i = 0; i <= kExperimentStepsMax; ++i) body["steps"].push_back({{"kind", "verify"}});
  EXPECT_NE(refusal(body).find("at most"), std::string::npos);
}

}  // namespace
}  // namespace bombarder

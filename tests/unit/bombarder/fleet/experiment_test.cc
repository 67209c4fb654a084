// Experiments (experiment.h): what the orchestrator accepts at creation and the agent parses at
// assignment; load steps through the load commands' own parser (load_step.h), installed as
// main() installs it.
#include "bombarder/fleet/experiment.h"

#include <gtest/gtest.h>

#include "bombarder/commands/commands.h"
#include "error_message.h"

namespace bombarder {
namespace {

using Json = nlohmann::json;

std::string refusal(const Json& body) {
  return test::runtime_error_message([&] { (void)parse_experiment(body); });
}

// As main() does, for every test of this binary (the orchestrator's and the agent's tests parse
// experiments too); SetUp installs them again after a test that replaced them with a stand-in.
[[maybe_unused]] const bool kLoadStepsInstalled = (install_load_steps(), true);

class ExperimentTest : public ::testing::Test {
 protected:
  void SetUp() override { install_load_steps(); }
};

Json kill_load_verify() {
  return Json::parse(R"({"name": "kill the leader",
    "steps": [
      {"kind": "fault", "type": "kill", "node": "leader", "at": "0s", "down_for": "2s"},
      {"kind": "load", "duration": "1s", "concurrency": 2},
      {"kind": "verify", "timeout": "20s", "deep": true}]})");
}

TEST_F(ExperimentTest, KillLoadVerifyParsesIntoItsSteps) {
  const Experiment e = parse_experiment(kill_load_verify());
  EXPECT_EQ(e.name, "kill the leader");
  ASSERT_EQ(e.steps.size(), 3u);
  EXPECT_EQ(e.steps[0].kind, StepKind::kFault);
  EXPECT_EQ(e.steps[0].fault.type, FaultType::kKill);
  EXPECT_EQ(e.steps[0].fault.node, "leader");
  EXPECT_EQ(e.steps[0].fault.duration, std::chrono::milliseconds(2000));
  // The original load form is a flood with those flags.
  EXPECT_EQ(e.steps[1].load.command, "flood");
  EXPECT_TRUE(e.steps[1].load.engine_form);
  const std::vector<std::string> flood = {"--duration",    "1000ms", "--concurrency", "2",
                                          "--value-bytes", "64",     "--timeout",     "1s",
                                          "--deadline",    "3s",     "--min-success", "0"};
  EXPECT_EQ(e.steps[1].load.args, flood);
  EXPECT_EQ(e.steps[2].verify.timeout, std::chrono::milliseconds(20000));
  EXPECT_TRUE(e.steps[2].verify.deep);
}

TEST_F(ExperimentTest, EveryFaultKindOfInjectIsAccepted) {
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

TEST_F(ExperimentTest, BadExperimentsAreRefusedNamingTheStep) {
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

TEST_F(ExperimentTest, MoreStepsThanTheBoundAreRefused) {
  Json body = {{"name", "long"}, {"steps", Json::array()}};
  for (size_t i = 0; i <= kExperimentStepsMax; ++i) body["steps"].push_back({{"kind", "verify"}});
  EXPECT_NE(refusal(body).find("at most"), std::string::npos);
}

Json with_load(const Json& load) {
  return {{"name", "load"},
          {"steps", Json::array({load, {{"kind", "check"}}, {{"kind", "verify"}}})}};
}

Json load_step(const std::string& command, const std::vector<std::string>& args) {
  return {{"kind", "load"}, {"command", command}, {"args", args}};
}

std::string load_refusal(const std::string& command, const std::vector<std::string>& args) {
  return refusal(with_load(load_step(command, args)));
}

TEST_F(ExperimentTest, LoadStepsTakeEveryLoadCommandWithItsOwnFlags) {
  const Experiment e = parse_experiment(
      with_load(load_step("storm", {"--duration", "20s", "--concurrency", "20", "--check",
                                    "--read-pct", "40", "--chaos", "--kill-interval", "5s"})));
  ASSERT_EQ(e.steps.size(), 3u);
  EXPECT_EQ(e.steps[0].kind, StepKind::kLoad);
  EXPECT_EQ(e.steps[0].load.command, "storm");
  EXPECT_FALSE(e.steps[0].load.engine_form);
  EXPECT_EQ(e.steps[0].load.args.size(), 10u);
  EXPECT_EQ(e.steps[1].kind, StepKind::kCheck);
  EXPECT_EQ(e.steps[1].check.timeout, std::chrono::milliseconds(60000));
  EXPECT_EQ(e.steps[2].kind, StepKind::kVerify);
  EXPECT_EQ(load_refusal("flood", {"--count", "100", "--value-bytes=128"}), test::kNoError);
  EXPECT_EQ(load_refusal("burst", {"--size", "10", "--bursts", "3", "--pause", "100"}),
            test::kNoError);
  EXPECT_EQ(load_refusal("mixed", {"--list-pct", "10", "--duration", "2s"}), test::kNoError);
  EXPECT_EQ(load_refusal("storm", {}), test::kNoError);  // the command's defaults
}

TEST_F(ExperimentTest, BadLoadFlagsAreRefusedByTheLoadCommandsParserNamingStepAndFlag) {
  std::string why = load_refusal("storm", {"--bogus"});
  EXPECT_NE(why.find("steps[0]: storm:"), std::string::npos) << why;
  EXPECT_NE(why.find("--bogus"), std::string::npos) << why;
  why = load_refusal("storm", {"--concurrency", "0"});
  EXPECT_NE(why.find("--concurrency"), std::string::npos) << why;
  why = load_refusal("flood", {"--count", "5", "--duration", "2s"});  // they exclude each other
  EXPECT_NE(why.find("--count"), std::string::npos) << why;
  why = load_refusal("storm", {"--kill-signal", "nine"});
  EXPECT_NE(why.find("--kill-signal must be kill, term or random"), std::string::npos) << why;
  why = load_refusal("storm", {"--duration", "soon"});
  EXPECT_NE(why.find("--duration"), std::string::npos) << why;
  why = load_refusal("flood", {"--read-pct", "40"});  // storm's flag, not flood's
  EXPECT_NE(why.find("--read-pct"), std::string::npos) << why;
  why = load_refusal("flood", {"--count", "10", "stray"});
  EXPECT_NE(why.find("stray"), std::string::npos) << why;
}

TEST_F(ExperimentTest, AnUnknownLoadCommandIsRefusedNamingTheKnownOnes) {
  const std::string why = load_refusal("launch", {"--duration", "2s"});
  EXPECT_NE(why.find("unknown load command 'launch': flood, burst, mixed or storm"),
            std::string::npos)
      << why;
  Json step = load_step("storm", {});
  step["command"] = 7;
  EXPECT_NE(refusal(with_load(step)).find("steps[0].command"), std::string::npos);
  step = load_step("storm", {});
  step["args"] = "--duration 2s";  // not an array
  EXPECT_NE(refusal(with_load(step)).find("steps[0].args"), std::string::npos);
  step = load_step("storm", {});
  step["duration"] = "2s";  // the two forms do not mix
  EXPECT_NE(refusal(with_load(step)).find("unknown member \"duration\""), std::string::npos);
}

TEST_F(ExperimentTest, FlagsTheAgentSetsOrThatWriteOnItsMachineAreRefusedWithTheReason) {
  for (const std::string flag : {"--nodes", "--system", "--json", "--csv", "--history", "--report",
                                 "--metrics-port", "--cacert", "--help"}) {
    const std::string why = load_refusal("storm", {flag, "x"});
    EXPECT_NE(why.find("storm " + flag + " is not taken in a load step: "), std::string::npos)
        << why;
  }
  // The --flag=value form too.
  EXPECT_NE(load_refusal("flood", {"--nodes=127.0.0.1:1"}).find("recorded in its own data root"),
            std::string::npos);
}

TEST_F(ExperimentTest, LoadStepsAreBoundedInTimeRequestsAndConcurrency) {
  EXPECT_NE(load_refusal("storm", {"--duration", "11m"}).find("--duration is at most"),
            std::string::npos);
  EXPECT_NE(load_refusal("flood", {"--count", "20000000"}).find("at most 10000000 requests"),
            std::string::npos);
  EXPECT_NE(load_refusal("burst", {"--size", "100000", "--bursts", "1000"}).find("requests"),
            std::string::npos);
  EXPECT_NE(load_refusal("storm", {"--concurrency", "300"}).find("--concurrency is at most 256"),
            std::string::npos);
  EXPECT_NE(load_refusal("storm", {"--chaos", "--kill-interval", "5m"}).find("chaos storm"),
            std::string::npos);
  Json too_many = load_step("flood", {});
  for (size_t i = 0; i <= kLoadStepArgsMax; ++i) too_many["args"].push_back("--check");
  EXPECT_NE(refusal(with_load(too_many)).find("at most"), std::string::npos);
}

TEST_F(ExperimentTest, ACheckStepNeedsALoadStepBeforeItAndABoundedTimeout) {
  Json body = {{"name", "check first"},
               {"steps", Json::array({{{"kind", "check"}}, load_step("storm", {})})}};
  EXPECT_NE(refusal(body).find("steps[0]: a check step checks the histories of the load steps"),
            std::string::npos);
  body = with_load(load_step("storm", {}));
  body["steps"][1]["timeout"] = "90s";
  EXPECT_EQ(parse_experiment(body).steps[1].check.timeout, std::chrono::milliseconds(90000));
  body["steps"][1]["timeout"] = "11m";
  EXPECT_NE(refusal(body).find("steps[1].timeout"), std::string::npos);
  body["steps"][1] = {{"kind", "check"}, {"deep", true}};
  EXPECT_NE(refusal(body).find("unknown member \"deep\""), std::string::npos);
}

}  // namespace
}  // namespace bombarder

// The experiment runner's load and check steps (experiment_runner.h), without a cluster: the load
// commands (fleet/load_step.h) are replaced by a stand-in that hands back histories the test
// wrote, so the checker's verdict and the smallest failing sub-history are known in advance.
#include "bombarder/agent/experiment_runner.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "bombarder/base/errors.h"
#include "bombarder/commands/commands.h"
#include "bombarder/history/history.h"

namespace bombarder {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

HistoryOp op(OpKind kind, const std::string& id, const std::string& value, int64_t from_ns,
             int64_t to_ns) {
  HistoryOp o;
  o.kind = kind;
  o.id = id;
  o.key = "k-" + id;
  o.invoke_ns = from_ns;
  o.complete_ns = to_ns;
  o.status = 200;
  o.attempts = 1;
  if (kind == OpKind::kRead) {
    o.read_value = value;
  } else {
    o.value = value;
  }
  return o;
}

class ExperimentRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("experiment_runner_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    // A stand-in for the load commands: each run hands back the next prepared history.
    install_load_commands({[](const LoadStep&) {},
                           [this](const LoadStep& step, const LoadStepContext&) {
                             if (step.command == "broken") environment_failure("no leader");
                             LoadStepOutcome out;
                             out.history = histories_.at(runs_++);
                             out.summary = {{"succeeded", 3}, {"passed", true}};
                             out.passed = true;
                             return out;
                           }});
  }
  void TearDown() override {
    install_load_steps();  // the real ones, for the tests that follow in this process
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  // A history file of `ops`, as a load step would have recorded it.
  void add_history(const std::vector<HistoryOp>& ops) {
    std::string text;
    for (const HistoryOp& o : ops) append_history_line(text, o);
    const fs::path path = dir_ / ("history-" + std::to_string(histories_.size()) + ".jsonl");
    std::ofstream(path) << text;
    histories_.push_back(path);
  }

  RunOutcome run(const Json& spec) {
    const Experiment experiment = parse_experiment(spec);
    std::unique_ptr<FaultPlugin> plugin = make_fault_plugin("process", {});
    RunTargets targets;
    targets.nodes = {common::Endpoint{"127.0.0.1", 1}};
    const std::atomic<bool> abort{false};
    return run_experiment(experiment, *plugin, targets, abort, [](const RunEvent&) {});
  }

  static Json load(const std::string& command = "storm") {
    return {{"kind", "load"}, {"command", command}};
  }

  fs::path dir_;
  std::vector<fs::path> histories_;
  size_t runs_ = 0;
};

TEST_F(ExperimentRunnerTest, ACheckStepFindsTheLoadStepsHistoriesLinearizable) {
  add_history({op(OpKind::kCreate, "a", "1", 0, 10), op(OpKind::kRead, "a", "1", 20, 30)});
  add_history({op(OpKind::kCreate, "b", "1", 0, 10), op(OpKind::kUpdate, "b", "2", 20, 30),
               op(OpKind::kRead, "b", "2", 40, 50)});
  const RunOutcome out =
      run({{"name", "two loads"}, {"steps", {load(), load(), {{"kind", "check"}}}}});
  EXPECT_EQ(out.state, "done") << out.steps.dump(2);
  const Json& check = out.steps[2]["check"];
  EXPECT_EQ(check["verdict"], "linearizable");
  EXPECT_EQ(check["histories"], 2u);
  EXPECT_EQ(check["ops"], 5u);
  EXPECT_EQ(check["per_step"][1]["step"], 1u);
  EXPECT_FALSE(check.contains("smallest_failure"));
}

TEST_F(ExperimentRunnerTest, ACheckStepReportsTheSmallestFailingSubHistoryAndFailsTheRun) {
  // History 0: id "a" read a value nobody wrote, after three updates (5 ops for "a").
  add_history({op(OpKind::kCreate, "a", "1", 0, 10), op(OpKind::kUpdate, "a", "2", 20, 30),
               op(OpKind::kUpdate, "a", "3", 40, 50), op(OpKind::kUpdate, "a", "4", 60, 70),
               op(OpKind::kRead, "a", "9", 80, 90)});
  // History 1: id "b" read its old value after an update completed (2 + 1 ops): smaller.
  add_history({op(OpKind::kCreate, "b", "1", 0, 10), op(OpKind::kUpdate, "b", "2", 20, 30),
               op(OpKind::kRead, "b", "1", 40, 50)});
  const RunOutcome out =
      run({{"name", "two loads"}, {"steps", {load(), load(), {{"kind", "check"}}}}});
  EXPECT_EQ(out.state, "failed");
  const Json& check = out.steps[2]["check"];
  EXPECT_EQ(check["verdict"], "violation") << check.dump(2);
  EXPECT_FALSE(check["linearizable"].get<bool>());
  EXPECT_EQ(check["ids_violation"], 2u);
  const Json& smallest = check["smallest_failure"];
  EXPECT_EQ(smallest["id"], "b") << smallest.dump(2);
  EXPECT_EQ(smallest["step"], 1u);
  EXPECT_EQ(smallest["ops_total"], 3u);
  EXPECT_EQ(smallest["history"], histories_[1].string());
  EXPECT_EQ(smallest["ops"].size(), 3u);
}

TEST_F(ExperimentRunnerTest, ALoadStepThatCannotRunIsAFailedStepAndTheNextStepsStillRun) {
  add_history({op(OpKind::kCreate, "a", "1", 0, 10)});
  const RunOutcome out =
      run({{"name", "broken"}, {"steps", {load("broken"), load(), {{"kind", "check"}}}}});
  EXPECT_EQ(out.state, "failed");
  EXPECT_EQ(out.steps[0].value("error", ""), "no leader") << out.steps.dump(2);
  EXPECT_EQ(out.steps[2]["check"]["verdict"], "linearizable") << out.steps.dump(2);
  EXPECT_EQ(out.steps[2]["check"]["histories"], 1u);
  EXPECT_TRUE(out.error.empty()) << out.error;
}

}  // namespace
}  // namespace bombarder

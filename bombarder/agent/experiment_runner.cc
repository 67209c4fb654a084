#include "bombarder/agent/experiment_runner.h"

#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include "bombarder/base/errors.h"
#include "bombarder/cluster/verify.h"
#include "bombarder/faults/fault_action.h"
#include "bombarder/fleet/load_step.h"
#include "bombarder/history/history.h"
#include "bombarder/history/linearizability.h"

namespace bombarder {

namespace {

using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;
using std::chrono::milliseconds;

constexpr milliseconds kFaultTick{50};
constexpr milliseconds kLoadProgressEvery{1000};
constexpr size_t kFailureOpsShown = 32;

// A history a load step of the run recorded, for the check steps after it.
struct RecordedHistory {
  size_t step = 0;
  std::filesystem::path path;
};

struct ScheduledFault {
  size_t step = 0;
  AppliedFault applied;
  Clock::time_point start;
  std::optional<Clock::time_point> end;  // none: a kill without down_for, until the run ends
  bool fired = false;
  bool done = false;  // reverted (or failed to apply)
};

// The run's faults and the thread that fires and reverts them on time.
class FaultClock {
 public:
  FaultClock(FaultPlugin& plugin, const RunTargets& targets, const std::atomic<bool>& abort,
             const std::function<void(RunEvent)>& on_event, Json& results)
      : plugin_(plugin), targets_(targets), abort_(abort), on_event_(on_event), results_(results) {}
  ~FaultClock() { finish(); }

  void add(size_t step, const Fault& fault, Clock::time_point origin) {
    std::lock_guard lock(mutex_);
    ScheduledFault s;
    s.step = step;
    s.applied.fault = fault;
    s.applied.toxic_name = "bombarder-agent-" + std::to_string(step);
    s.start = origin + fault.at;
    if (fault.duration.count() > 0) s.end = s.start + fault.duration;
    faults_.push_back(std::move(s));
    if (!thread_.joinable()) thread_ = std::thread([this] { loop(); });
  }

  // Until every fault added so far with an end has ended and was reverted (or `abort`); a kill
  // without down_for ends with the run (finish()).
  void wait_all_done() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] {
      if (abort_.load() || stopping_) return true;
      for (const ScheduledFault& s : faults_) {
        if (!s.done && s.end) return false;
      }
      return true;
    });
  }

  // Stops the thread; whatever is still active is reverted. Returns the faults reverted before
  // their end (abort, the run's end).
  Json finish() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    changed_.notify_all();
    if (thread_.joinable()) thread_.join();
    for (ScheduledFault& s : faults_) {
      if (s.applied.active) revert(s, "the run ended");
    }
    return early_reverted_;
  }

  [[nodiscard]] bool any_failed() const { return failed_; }

 private:
  void loop() {
    std::unique_lock lock(mutex_);
    while (!stopping_ && !abort_.load()) {
      const Clock::time_point now = Clock::now();
      for (ScheduledFault& s : faults_) {
        if (!s.fired && now >= s.start) fire(s);
        if (s.fired && s.applied.active && s.end && now >= *s.end) revert(s, "its end");
      }
      changed_.notify_all();
      changed_.wait_for(lock, kFaultTick);
    }
    for (ScheduledFault& s : faults_) {
      if (s.applied.active) revert(s, abort_.load() ? "abort" : "the run ended");
    }
    changed_.notify_all();
  }

  void fire(ScheduledFault& s) {
    s.fired = true;
    const ActionResult r = apply_fault(plugin_, targets_.proxy_api, s.applied);
    if (!r.ok) failed_ = true;
    s.done = !s.applied.active;
    Json detail = {{"fault", s.applied.fault.describe()},
                   {"node", s.applied.node},
                   {"ok", r.ok},
                   {"detail", r.detail}};
    results_[s.step]["applied"] = detail;
    on_event_({s.step, "fault_applied", detail});
  }

  Json revert(ScheduledFault& s, const std::string& why) {
    const ActionResult r = revert_fault(plugin_, targets_.proxy_api, s.applied);
    if (!r.ok) failed_ = true;
    s.done = true;
    Json detail = {{"node", s.applied.node}, {"ok", r.ok}, {"detail", r.detail}, {"why", why}};
    results_[s.step]["reverted"] = detail;
    if (why != "its end") early_reverted_.push_back(detail);
    on_event_({s.step, "fault_reverted", detail});
    return detail;
  }

  FaultPlugin& plugin_;
  const RunTargets& targets_;
  const std::atomic<bool>& abort_;
  const std::function<void(RunEvent)>& on_event_;
  Json& results_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<ScheduledFault> faults_;
  std::thread thread_;
  bool stopping_ = false;
  bool failed_ = false;
  Json early_reverted_ = Json::array();  // reverted before their end: abort, the run's end
};

// What a load step's result keeps of the run's summary: its counters, not every operation's
// latencies or every chaos action, so that a result of many steps fits one protocol message
// (fleet/protocol.h kMessageBytesMax); the whole summary stays in the agent's run record.
Json compact_load_summary(const Json& summary, const LoadStep& step) {
  Json out = {{"command", step.command}, {"args", step.args}};
  for (const char* key :
       {"run_id", "passed", "requests", "succeeded", "failed", "success_pct", "retries",
        "creates_unknown", "interrupted", "throughput_rps", "latency", "failures", "history"}) {
    if (summary.contains(key)) out[key] = summary[key];
  }
  out["elapsed_ms"] = static_cast<int64_t>(summary.value("elapsed_s", 0.0) * 1000);
  out["chaos_actions"] = summary.contains("chaos") ? summary["chaos"].size() : 0;
  if (summary.contains("check")) {
    const Json& check = summary["check"];
    out["check"] = {{"verdict", check["verdict"]},
                    {"linearizable", check["linearizable"]},
                    {"ids_violation", check["ids_violation"]},
                    {"ids_unknown", check["ids_unknown"]}};
  }
  return out;
}

// A load step: the load command with its flags, through the load commands' own code
// (fleet/load_step.h). Its history is kept for the check steps that follow.
Json run_load_step(const LoadStep& step, size_t index, const RunTargets& targets,
                   const std::atomic<bool>& abort, const std::function<void(RunEvent)>& on_event,
                   std::vector<RecordedHistory>& histories, bool& failed) {
  LoadStepContext context;
  context.nodes = targets.nodes;
  context.system = targets.system;
  context.stop_requested = [&abort] { return abort.load(); };
  // The engine reports every 250 ms; the orchestrator records every event durably, so one a
  // second is plenty.
  Clock::time_point last_sent{};
  context.on_progress = [&](uint64_t completed, uint64_t succeeded, uint64_t failed_now) {
    if (Clock::now() - last_sent < kLoadProgressEvery) return;
    last_sent = Clock::now();
    on_event({index,
              "load_progress",
              {{"completed", completed}, {"succeeded", succeeded}, {"failed", failed_now}}});
  };
  const LoadStepOutcome outcome = load_commands().run(step, context);
  if (!outcome.history.empty()) histories.push_back({index, outcome.history});
  const uint64_t succeeded = outcome.summary.value("succeeded", uint64_t{0});
  // The original form passes on one success, as it always did; a load command as its exit code.
  failed = failed || succeeded == 0 || (!step.engine_form && !outcome.passed);
  return compact_load_summary(outcome.summary, step);
}

// The smallest failing sub-history of one checked history, trimmed to kFailureOpsShown ops.
Json failing_summary(const History& history, const CheckResult& result, size_t step,
                     const std::filesystem::path& path) {
  Json failing = Json::parse(check_json(history, result))["failing_id"];
  const size_t ops_total = failing["ops"].size();
  if (ops_total > kFailureOpsShown) {
    failing["ops"].erase(failing["ops"].begin() + kFailureOpsShown, failing["ops"].end());
  }
  failing["ops_total"] = ops_total;
  failing["step"] = step;
  failing["history"] = path.string();
  return failing;
}

// A check step: each load step's history checked on its own. Their ids are disjoint (a load run
// reads and changes only the entries it created), so by P-compositionality (linearizability.h)
// the run's operations are linearizable iff each history is.
Json run_check_step(const CheckStep& step, const std::vector<RecordedHistory>& histories,
                    bool& failed) {
  Json per_step = Json::array();
  Json smallest;
  size_t ops = 0, violations = 0, unknown = 0;
  for (const RecordedHistory& recorded : histories) {
    const History history = load_history(recorded.path);
    CheckOptions options;
    options.timeout = step.timeout;
    const CheckResult r = check_history(history, options);
    per_step.push_back({{"step", recorded.step},
                        {"history", recorded.path.string()},
                        {"verdict", to_string(r.verdict)},
                        {"ops", r.ops},
                        {"ids", r.ids},
                        {"ids_violation", r.ids_violation},
                        {"ids_unknown", r.ids_unknown},
                        {"seconds", r.seconds}});
    ops += r.ops;
    violations += r.ids_violation;
    unknown += r.ids_unknown;
    if (r.verdict == Verdict::kViolation &&
        (smallest.is_null() || r.failures.front().ops.size() < smallest["ops_total"])) {
      smallest = failing_summary(history, r, recorded.step, recorded.path);
    }
  }
  const Verdict verdict = violations > 0 ? Verdict::kViolation
                          : unknown > 0  ? Verdict::kUnknown
                                         : Verdict::kOk;
  failed = failed || verdict != Verdict::kOk;
  Json out = {{"verdict", to_string(verdict)},  {"linearizable", verdict == Verdict::kOk},
              {"histories", histories.size()},  {"ops", ops},
              {"ids_violation", violations},    {"ids_unknown", unknown},
              {"per_step", std::move(per_step)}};
  if (!smallest.is_null()) out["smallest_failure"] = std::move(smallest);
  return out;
}

// The foreground steps (load, check, verify) of one run, in order. A load or check step that
// throws (no leader, an unreadable history, a flag the agent's cluster refuses) is a failed step
// with its "error"; the run goes on, so that its verify steps still look at the cluster.
struct StepRunner {
  const RunTargets& targets;
  const std::atomic<bool>& abort;
  const std::function<void(RunEvent)>& on_event;
  FaultClock& faults;
  std::vector<RecordedHistory> histories{};
  bool failed = false;

  // False when the run was aborted while the step waited.
  bool run(const ExperimentStep& step, size_t i, Json& result) {
    try {
      if (step.kind == StepKind::kLoad) {
        result["load"] = run_load_step(step.load, i, targets, abort, on_event, histories, failed);
      } else if (step.kind == StepKind::kCheck) {
        result["check"] = run_check_step(step.check, histories, failed);
      } else {
        faults.wait_all_done();
        if (abort.load()) return false;
        result["verify"] = verify(step.verify);
      }
    } catch (const Error& e) {
      result["error"] = e.what();
      failed = true;
    }
    return true;
  }

  Json verify(const VerifyStep& step) {
    VerifyOptions options;
    options.nodes = targets.nodes;
    options.timeout = step.timeout;
    options.deep = step.deep;
    const VerifyOutcome v = verify_cluster(options);
    failed = failed || !v.passed;
    return {{"passed", v.passed}, {"report", v.report}};
  }
};

}  // namespace

RunOutcome run_experiment(const Experiment& experiment, FaultPlugin& plugin,
                          const RunTargets& targets, const std::atomic<bool>& abort,
                          const std::function<void(RunEvent)>& on_event) {
  RunOutcome out;
  out.steps = Json::array();
  for (const ExperimentStep& step : experiment.steps) {
    out.steps.push_back({{"kind", to_string(step.kind)}});
  }
  const Clock::time_point origin = Clock::now();
  FaultClock faults(plugin, targets, abort, on_event, out.steps);
  StepRunner steps{targets, abort, on_event, faults};
  try {
    for (size_t i = 0; i < experiment.steps.size() && !abort.load(); ++i) {
      const ExperimentStep& step = experiment.steps[i];
      on_event({i, "step_started", {{"kind", to_string(step.kind)}}});
      if (step.kind == StepKind::kFault) {
        faults.add(i, step.fault, origin);
        continue;  // it fires and ends in the background
      }
      if (!steps.run(step, i, out.steps[i])) break;  // aborted
      on_event({i, "step_done", out.steps[i]});
    }
    // Faults still to come or still active end on their own schedule unless the run is aborted;
    // a kill without down_for is resurrected now, at the run's end.
    faults.wait_all_done();
  } catch (const std::exception& e) {
    out.error = e.what();
    steps.failed = true;
  }
  const Json reverted = faults.finish();
  if (abort.load()) {
    out.state = "aborted";
    out.reverted = reverted;
  } else {
    out.state = steps.failed || faults.any_failed() ? "failed" : "done";
  }
  return out;
}

}  // namespace bombarder

#include "bombarder/agent/experiment_runner.h"

#include <condition_variable>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include "bombarder/base/errors.h"
#include "bombarder/base/text.h"
#include "bombarder/cluster/verify.h"
#include "bombarder/faults/fault_action.h"
#include "bombarder/load/load_engine.h"

namespace bombarder {

namespace {

using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;
using std::chrono::milliseconds;

constexpr milliseconds kFaultTick{50};
constexpr milliseconds kLoadProgressEvery{1000};

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

Json run_load_step(const LoadStep& step, size_t index, const RunTargets& targets,
                   const std::atomic<bool>& abort, const std::function<void(RunEvent)>& on_event) {
  LoadSpec spec;
  spec.name = "agent-load";
  spec.nodes = targets.nodes;
  spec.duration = step.duration;
  spec.concurrency = step.concurrency;
  spec.value_bytes = step.value_bytes;
  spec.key_prefix = printf_text("agent-%08x-", std::random_device()());
  spec.attempt_timeout = milliseconds(1000);
  spec.deadline = milliseconds(3000);
  spec.stop_requested = [&abort] { return abort.load(); };
  // The engine reports every 250 ms; the orchestrator records every event durably, so one a
  // second is plenty.
  Clock::time_point last_sent{};
  spec.on_progress = [&](const LoadProgress& p) {
    if (Clock::now() - last_sent < kLoadProgressEvery) return;
    last_sent = Clock::now();
    on_event({index,
              "load_progress",
              {{"completed", p.completed}, {"succeeded", p.succeeded}, {"failed", p.failed}}});
  };
  const LoadResult r = run_load(spec);
  return {
      {"requests", r.requests}, {"succeeded", r.succeeded},        {"failed", r.failed},
      {"retries", r.retries},   {"elapsed_ms", r.elapsed.count()}, {"interrupted", r.interrupted}};
}

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
  bool failed = false;
  try {
    for (size_t i = 0; i < experiment.steps.size() && !abort.load(); ++i) {
      const ExperimentStep& step = experiment.steps[i];
      on_event({i, "step_started", {{"kind", to_string(step.kind)}}});
      if (step.kind == StepKind::kFault) {
        faults.add(i, step.fault, origin);
        continue;  // it fires and ends in the background
      }
      if (step.kind == StepKind::kLoad) {
        out.steps[i]["load"] = run_load_step(step.load, i, targets, abort, on_event);
        failed = failed || out.steps[i]["load"]["succeeded"] == 0;
      } else {
        faults.wait_all_done();
        if (abort.load()) break;
        VerifyOptions options;
        options.nodes = targets.nodes;
        options.timeout = step.verify.timeout;
        options.deep = step.verify.deep;
        const VerifyOutcome v = verify_cluster(options);
        out.steps[i]["verify"] = {{"passed", v.passed}, {"report", v.report}};
        failed = failed || !v.passed;
      }
      on_event({i, "step_done", out.steps[i]});
    }
    // Faults still to come or still active end on their own schedule unless the run is aborted;
    // a kill without down_for is resurrected now, at the run's end.
    faults.wait_all_done();
  } catch (const std::exception& e) {
    out.error = e.what();
    failed = true;
  }
  const Json reverted = faults.finish();
  if (abort.load()) {
    out.state = "aborted";
    out.reverted = reverted;
  } else {
    out.state = failed || faults.any_failed() ? "failed" : "done";
  }
  return out;
}

}  // namespace bombarder

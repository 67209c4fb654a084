#include "bombarder/faults/chaos.h"

#include <signal.h>

#include <algorithm>

#include "bombarder/base/process.h"
#include "bombarder/client/api_client.h"
#include "bombarder/client/store_adapter.h"
#include "bombarder/cluster/node_restart.h"

namespace bombarder {

using Clock = std::chrono::steady_clock;

ChaosMonkey::ChaosMonkey(ClusterRecord record, ChaosSpec spec,
                         std::function<void(const ChaosEvent&)> on_event)
    : record_(std::move(record)), spec_(spec), on_event_(std::move(on_event)), rng_(spec.seed) {}

ChaosMonkey::~ChaosMonkey() { (void)stop(); }

void ChaosMonkey::start() {
  started_ = Clock::now();
  thread_ = std::thread([this] { loop(); });
}

std::vector<ChaosEvent> ChaosMonkey::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mutex_);
  return events_;
}

bool ChaosMonkey::all_restarted() const { return !restart_failed_; }

bool ChaosMonkey::pause(std::chrono::milliseconds duration) {
  std::unique_lock lock(mutex_);
  return !wake_.wait_for(lock, duration, [this] { return stopping_; });
}

void ChaosMonkey::emit(const std::string& action, const NodeRecord& node,
                       const std::string& detail) {
  ChaosEvent event;
  event.at_s = std::chrono::duration<double>(Clock::now() - started_).count();
  event.action = action;
  event.node_id = node.id;
  event.address = node.endpoint.to_string();
  event.detail = detail;
  {
    std::lock_guard lock(mutex_);
    events_.push_back(event);
  }
  if (on_event_) on_event_(event);
}

void ChaosMonkey::trigger() {
  {
    std::lock_guard lock(mutex_);
    ++triggers_;
  }
  wake_.notify_all();
}

bool ChaosMonkey::wait_for_turn() {
  std::unique_lock lock(mutex_);
  const auto ready = [this] { return stopping_ || triggers_ > 0; };
  if (spec_.scheduled) {
    wake_.wait_for(lock, spec_.kill_interval, ready);
  } else {
    wake_.wait(lock, ready);
  }
  if (stopping_) return false;
  if (triggers_ > 0) --triggers_;
  return true;
}

void ChaosMonkey::loop() {
  while (wait_for_turn()) kill_one();
}

void ChaosMonkey::kill_one() {
  // Someone else (a supervisor, an injector) may have restarted a node meanwhile: follow the
  // PIDs cluster.json names now.
  try {
    if (const std::optional<ClusterRecord> current = load_cluster_record()) {
      for (NodeRecord& node : record_.nodes) {
        if (const NodeRecord* now = current->find(node.endpoint)) node.pid = now->pid;
      }
    }
  } catch (const std::exception&) {
    // An unreadable record: keep the PIDs we know.
  }
  // Who leads right now decides what a "leader" or "follower" target means.
  ApiClient client;
  const ClusterView view = survey(*make_store_adapter(record_.system, false), client,
                                  record_.endpoints(), std::chrono::milliseconds(1000));
  std::vector<size_t> candidates;
  for (size_t i = 0; i < record_.nodes.size(); ++i) {
    const NodeRecord& node = record_.nodes[i];
    if (!is_node_process(node.pid, node.node_port(), node.program())) continue;
    if (std::find(spec_.exclude.begin(), spec_.exclude.end(), node.id) != spec_.exclude.end()) {
      continue;
    }
    const bool leads = view.leader && view.nodes[*view.leader].endpoint == node.endpoint;
    if (spec_.target == ChaosSpec::Target::kLeader && !leads) continue;
    if (spec_.target == ChaosSpec::Target::kFollower && leads) continue;
    candidates.push_back(i);
  }
  if (candidates.empty()) {
    NodeRecord none;
    emit("skip", none, "no running node matches the target");
    return;
  }
  NodeRecord& victim =
      record_
          .nodes[candidates[std::uniform_int_distribution<size_t>(0, candidates.size() - 1)(rng_)]];
  const bool leads = view.leader && view.nodes[*view.leader].endpoint == victim.endpoint;
  bool use_term = spec_.signal == ChaosSpec::Signal::kTerm;
  if (spec_.signal == ChaosSpec::Signal::kRandom) use_term = (rng_() & 1) != 0;
  const std::string role = leads ? "leader" : "follower";
  const auto t0 = Clock::now();
  StopOutcome outcome;
  if (use_term) {
    outcome = stop_process(victim.pid, spec_.term_grace);
  } else {
    outcome = kill_process(victim.pid);
  }
  const auto took =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
  emit(use_term ? "sigterm" : "sigkill", victim,
       role + " pid " + std::to_string(victim.pid) + ": " + to_string(outcome) + " in " +
           std::to_string(took) + " ms");
  pause(spec_.downtime);  // a stop() cuts the downtime short: the node is restarted either way
  restart(victim);
}

void ChaosMonkey::restart(NodeRecord& node) {
  const auto t0 = Clock::now();
  Respawned respawned;
  try {
    respawned = respawn_recorded_node(node);
  } catch (const std::exception& e) {
    restart_failed_ = true;
    emit("restart-failed", node, e.what());
    return;
  }
  node.pid = respawned.pid;
  if (!respawned.record_error.empty()) emit("record-failed", node, respawned.record_error);
  const NodeReady ready = wait_node_ready(node, respawned.pid, t0, spec_.restart_timeout);
  if (ready.ready) {
    emit("restart", node,
         "pid " + std::to_string(respawned.pid) + " serving with a leader after " +
             std::to_string(ready.took.count()) + " ms");
    return;
  }
  restart_failed_ = true;
  emit("restart-failed", node, ready.why);
}

}  // namespace bombarder

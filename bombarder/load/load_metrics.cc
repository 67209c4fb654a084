#include "bombarder/load/load_metrics.h"

#include <algorithm>

namespace bombarder {

using common::prometheus::escape_label_value;
using common::prometheus::format_value;

void LoadMetrics::Slot::answered(int status) {
  const size_t at =
      status > 0 && static_cast<size_t>(status) < kStatusMax ? static_cast<size_t>(status) : 0;
  std::lock_guard lock(mutex_);
  ++statuses_[at];
}

void LoadMetrics::Slot::retried() {
  std::lock_guard lock(mutex_);
  ++retries_;
}

void LoadMetrics::Slot::completed(OpKind kind, std::optional<FailureKind> failure,
                                  uint64_t latency_us) {
  const auto k = static_cast<size_t>(kind);
  std::lock_guard lock(mutex_);
  latency_[k].record(latency_us);
  if (failure) {
    ++failed_[k];
    ++failures_[static_cast<size_t>(*failure)];
  } else {
    ++ok_[k];
  }
}

void LoadMetrics::BreakerTotals::add(const CircuitBreaker& breaker) {
  const BreakerCounters c = breaker.counters();
  counters.opened += c.opened;
  counters.half_opened += c.half_opened;
  counters.closed += c.closed;
  counters.rejected += c.rejected;
  last_state = breaker.state();
}

LoadMetrics::LoadMetrics(std::string command) : command_(std::move(command)) {}

LoadMetrics::Slot& LoadMetrics::slot(size_t index) { return slots_[index % kSlotCount]; }

LoadMetrics::Node& LoadMetrics::node(const common::Endpoint& endpoint) {
  const std::string address = endpoint.to_string();
  std::lock_guard lock(mutex_);
  for (Node& n : nodes_) {
    if (n.address == address) return n;
  }
  Node& added = nodes_.emplace_back();
  added.address = address;
  return added;
}

void LoadMetrics::run_started(const std::vector<common::Endpoint>& nodes, size_t concurrency,
                              std::vector<std::shared_ptr<const CircuitBreaker>> breakers) {
  for (const common::Endpoint& n : nodes) (void)node(n);  // every node shows from the start
  std::lock_guard lock(mutex_);
  ++runs_started_;
  running_ = true;
  workers_ = concurrency;
  live_breakers_.clear();
  for (size_t i = 0; i < std::min(nodes.size(), breakers.size()); ++i) {
    live_breakers_[nodes[i].to_string()] = std::move(breakers[i]);
  }
}

void LoadMetrics::run_finished() {
  const uint64_t ok = succeeded_total();
  std::lock_guard lock(mutex_);
  for (const auto& [address, breaker] : live_breakers_) {
    finished_breakers_[address].add(*breaker);
  }
  live_breakers_.clear();
  running_ = false;
  workers_ = 0;
  samples_.emplace_back(Clock::now(), ok);
}

void LoadMetrics::sample(Clock::time_point now) {
  const uint64_t ok = succeeded_total();
  std::lock_guard lock(mutex_);
  samples_.emplace_back(now, ok);
  while (samples_.size() > 2 && now - samples_.front().first > std::chrono::seconds(5)) {
    samples_.pop_front();
  }
}

void LoadMetrics::set_scenario_phase(const std::string& scenario, ScenarioPhase phase) {
  std::lock_guard lock(mutex_);
  phases_[scenario] = phase;
}

void LoadMetrics::set_scenario_toxic(const std::string& scenario, const std::string& proxy,
                                     const std::string& type, const nlohmann::json& attributes,
                                     bool active) {
  std::lock_guard lock(mutex_);
  Toxic& toxic = toxics_[{scenario, proxy, type}];
  toxic.active = active;
  if (active) toxic.attributes = attributes;
}

void LoadMetrics::clear_scenario_toxics(const std::string& scenario) {
  std::lock_guard lock(mutex_);
  for (auto& [key, toxic] : toxics_) {
    if (std::get<0>(key) == scenario) toxic.active = false;
  }
}

uint64_t LoadMetrics::succeeded_total() const {
  uint64_t total = 0;
  for (const Slot& s : slots_) {
    std::lock_guard lock(s.mutex_);
    for (uint64_t n : s.ok_) total += n;
  }
  return total;
}

namespace {

std::string label(const char* key, std::string_view value) {
  return std::string(key) + "=\"" + escape_label_value(value) + "\"";
}

double breaker_state_value(BreakerState state) {
  switch (state) {
    case BreakerState::kClosed: return 0;
    case BreakerState::kHalfOpen: return 1;
    case BreakerState::kOpen: return 2;
  }
  return 0;
}

}  // namespace

std::string LoadMetrics::render() const {
  // Totals over the slots first (their mutexes), then the shared part (mutex_): never both held.
  std::array<common::Histogram, kOpKindCount> latency;
  std::array<uint64_t, kOpKindCount> ok{};
  std::array<uint64_t, kOpKindCount> failed{};
  std::array<uint64_t, kFailureKindCount> failures{};
  std::array<uint64_t, Slot::kStatusMax> statuses{};
  uint64_t retries = 0;
  for (const Slot& s : slots_) {
    std::lock_guard lock(s.mutex_);
    for (size_t k = 0; k < kOpKindCount; ++k) {
      latency[k].merge(s.latency_[k]);
      ok[k] += s.ok_[k];
      failed[k] += s.failed_[k];
    }
    for (size_t k = 0; k < kFailureKindCount; ++k) failures[k] += s.failures_[k];
    for (size_t k = 0; k < Slot::kStatusMax; ++k) statuses[k] += s.statuses_[k];
    retries += s.retries_;
  }

  std::string out;
  const auto family = [&out](const char* name, const char* type, const char* help) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  };
  const auto line = [&out](const char* name, const std::string& labels, double value) {
    out += name;
    if (!labels.empty()) out += "{" + labels + "}";
    out += " " + format_value(value) + "\n";
  };

  std::lock_guard lock(mutex_);
  family("bombarder_run_info", "gauge", "Always 1; names the command that generates the load.");
  line("bombarder_run_info", label("command", command_), 1);
  family("bombarder_uptime_seconds", "gauge", "Seconds since the command started.");
  line("bombarder_uptime_seconds", "",
       std::chrono::duration<double>(Clock::now() - created_).count());
  family("bombarder_load_running", "gauge", "1 while a load run is going, 0 between and after.");
  line("bombarder_load_running", "", running_ ? 1 : 0);
  family("bombarder_load_runs_total", "counter", "Load runs started (bursts count one each).");
  line("bombarder_load_runs_total", "", static_cast<double>(runs_started_));
  family("bombarder_load_workers", "gauge", "Requests in flight at once (--concurrency).");
  line("bombarder_load_workers", "", static_cast<double>(workers_));

  family("bombarder_requests_total", "counter",
         "Requests completed, each once whatever its retries; outcome ok or failed.");
  for (size_t k = 0; k < kOpKindCount; ++k) {
    const std::string op = label("op", to_string(static_cast<OpKind>(k)));
    line("bombarder_requests_total", op + "," + label("outcome", "ok"), static_cast<double>(ok[k]));
    line("bombarder_requests_total", op + "," + label("outcome", "failed"),
         static_cast<double>(failed[k]));
  }
  family("bombarder_request_duration_seconds", "histogram",
         "Latency of completed requests, retries included, by operation.");
  for (size_t k = 0; k < kOpKindCount; ++k) {
    out += common::prometheus::histogram_lines("bombarder_request_duration_seconds",
                                               label("op", to_string(static_cast<OpKind>(k))),
                                               latency[k]);
  }
  family("bombarder_failures_total", "counter",
         "Failed requests by why they failed after their retries (docs/bombarder.md).");
  for (size_t k = 0; k < kFailureKindCount; ++k) {
    line("bombarder_failures_total", label("kind", to_string(static_cast<FailureKind>(k))),
         static_cast<double>(failures[k]));
  }
  family("bombarder_retries_total", "counter", "Attempts that were retries of a request.");
  line("bombarder_retries_total", "", static_cast<double>(retries));
  family("bombarder_responses_total", "counter",
         "Attempts by HTTP status; status=\"transport_error\" when no answer came.");
  for (size_t k = 0; k < Slot::kStatusMax; ++k) {
    if (statuses[k] == 0) continue;
    line("bombarder_responses_total",
         label("status", k == 0 ? std::string("transport_error") : std::to_string(k)),
         static_cast<double>(statuses[k]));
  }
  family("bombarder_ops_per_second", "gauge",
         "Successful requests per second over the last second of the run going on; 0 when idle.");
  double rate = 0;
  if (running_ && samples_.size() >= 2) {
    const auto& newest = samples_.back();
    auto oldest = samples_.begin();
    while (std::next(oldest) != samples_.end() - 1 &&
           newest.first - std::next(oldest)->first >= std::chrono::seconds(1)) {
      ++oldest;
    }
    const double dt = std::chrono::duration<double>(newest.first - oldest->first).count();
    if (dt > 0 && newest.second >= oldest->second) {
      rate = static_cast<double>(newest.second - oldest->second) / dt;
    }
  }
  line("bombarder_ops_per_second", "", rate);

  family("bombarder_attempts_total", "counter", "HTTP attempts sent to the node.");
  for (const Node& n : nodes_) {
    line("bombarder_attempts_total", label("node", n.address),
         static_cast<double>(n.attempts.load(std::memory_order_relaxed)));
  }
  family("bombarder_attempt_failures_total", "counter",
         "Attempts the node failed: transport error, timeout or 5xx (what breakers count).");
  for (const Node& n : nodes_) {
    line("bombarder_attempt_failures_total", label("node", n.address),
         static_cast<double>(n.attempt_failures.load(std::memory_order_relaxed)));
  }
  family("bombarder_pool_connections", "gauge", "Keep-alive connections open to the node now.");
  for (const Node& n : nodes_) {
    line("bombarder_pool_connections", label("node", n.address),
         static_cast<double>(n.connections.open_now()));
  }
  family("bombarder_pool_connects_total", "counter", "Connections opened to the node.");
  for (const Node& n : nodes_) {
    line("bombarder_pool_connects_total", label("node", n.address),
         static_cast<double>(n.connections.opened.load(std::memory_order_relaxed)));
  }
  family("bombarder_pool_connect_failures_total", "counter",
         "Connects to the node that failed or timed out.");
  for (const Node& n : nodes_) {
    line("bombarder_pool_connect_failures_total", label("node", n.address),
         static_cast<double>(n.connections.connect_failed.load(std::memory_order_relaxed)));
  }
  family("bombarder_pool_closes_total", "counter",
         "Open connections to the node that were closed (errors, timeouts, end of run).");
  for (const Node& n : nodes_) {
    line("bombarder_pool_closes_total", label("node", n.address),
         static_cast<double>(n.connections.closed.load(std::memory_order_relaxed)));
  }

  // Breakers: the finished runs' totals plus the live run's breakers, by node.
  std::map<std::string, BreakerTotals> breakers = finished_breakers_;
  for (const auto& [address, breaker] : live_breakers_) breakers[address].add(*breaker);
  family("bombarder_breaker_state", "gauge",
         "The node's circuit breaker: 0 closed, 1 half-open, 2 open (--circuit-breaker).");
  for (const auto& [address, b] : breakers) {
    line("bombarder_breaker_state", label("node", address), breaker_state_value(b.last_state));
  }
  family("bombarder_breaker_transitions_total", "counter",
         "Circuit breaker transitions by the state entered.");
  for (const auto& [address, b] : breakers) {
    const std::string node = label("node", address);
    line("bombarder_breaker_transitions_total", node + "," + label("to", "open"),
         static_cast<double>(b.counters.opened));
    line("bombarder_breaker_transitions_total", node + "," + label("to", "half_open"),
         static_cast<double>(b.counters.half_opened));
    line("bombarder_breaker_transitions_total", node + "," + label("to", "closed"),
         static_cast<double>(b.counters.closed));
  }
  family("bombarder_breaker_rejected_total", "counter",
         "Attempts the node's open breaker turned away.");
  for (const auto& [address, b] : breakers) {
    line("bombarder_breaker_rejected_total", label("node", address),
         static_cast<double>(b.counters.rejected));
  }

  family("bombarder_scenario_phase", "gauge",
         "The scenario's phase: 0 none (not started or over), 1 stabilization, 2 testing, "
         "3 recovery.");
  for (const auto& [scenario, phase] : phases_) {
    line("bombarder_scenario_phase", label("scenario", scenario), static_cast<double>(phase));
  }
  family("bombarder_scenario_toxic_active", "gauge",
         "1 while the scenario has this fault on the proxy (type \"disabled\": proxy switched "
         "off), 0 once removed.");
  for (const auto& [key, toxic] : toxics_) {
    const auto& [scenario, proxy, type] = key;
    line("bombarder_scenario_toxic_active",
         label("scenario", scenario) + "," + label("proxy", proxy) + "," + label("type", type),
         toxic.active ? 1 : 0);
  }
  family("bombarder_scenario_toxic_value", "gauge",
         "A numeric attribute of an active scenario toxic (latency ms, probability, ...).");
  for (const auto& [key, toxic] : toxics_) {
    if (!toxic.active || !toxic.attributes.is_object()) continue;
    const auto& [scenario, proxy, type] = key;
    for (const auto& [attribute, value] : toxic.attributes.items()) {
      if (!value.is_number()) continue;
      line("bombarder_scenario_toxic_value",
           label("scenario", scenario) + "," + label("proxy", proxy) + "," + label("type", type) +
               "," + label("attribute", attribute),
           value.get<double>());
    }
  }
  return out;
}

}  // namespace bombarder

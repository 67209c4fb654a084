#include "bombarder/load/load_metrics.h"

#include <algorithm>

namespace bombarder {

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

using common::metrics::add_latency_histogram;
using common::metrics::add_value;
using prometheus::MetricFamily;
using prometheus::MetricType;

double breaker_state_value(BreakerState state) {
  switch (state) {
    case BreakerState::kClosed: return 0;
    case BreakerState::kHalfOpen: return 1;
    case BreakerState::kOpen: return 2;
  }
  return 0;
}

// Adds a family to `families` and returns it for its series (a deque: stays valid as more are
// added).
MetricFamily& add_family(std::deque<MetricFamily>& families, const char* name, MetricType type,
                         const char* help) {
  return families.emplace_back(common::metrics::family(name, help, type));
}

}  // namespace

LoadMetrics::Totals LoadMetrics::slot_totals() const {
  Totals t;
  for (const Slot& s : slots_) {
    std::lock_guard lock(s.mutex_);
    for (size_t k = 0; k < kOpKindCount; ++k) {
      t.latency[k].merge(s.latency_[k]);
      t.ok[k] += s.ok_[k];
      t.failed[k] += s.failed_[k];
    }
    for (size_t k = 0; k < kFailureKindCount; ++k) t.failures[k] += s.failures_[k];
    for (size_t k = 0; k < Slot::kStatusMax; ++k) t.statuses[k] += s.statuses_[k];
    t.retries += s.retries_;
  }
  return t;
}

void LoadMetrics::add_request_families(const Totals& t, std::deque<MetricFamily>& out) {
  auto& requests = add_family(out, "bombarder_requests_total", MetricType::Counter,
                              "Requests completed, each once whatever its retries; outcome ok or "
                              "failed.");
  auto& duration = add_family(out, "bombarder_request_duration_seconds", MetricType::Histogram,
                              "Latency of completed requests, retries included, by operation.");
  for (size_t k = 0; k < kOpKindCount; ++k) {
    const std::string op = to_string(static_cast<OpKind>(k));
    add_value(requests, {{"op", op}, {"outcome", "ok"}}, static_cast<double>(t.ok[k]));
    add_value(requests, {{"op", op}, {"outcome", "failed"}}, static_cast<double>(t.failed[k]));
    add_latency_histogram(duration, {{"op", op}}, t.latency[k]);
  }
  auto& failures = add_family(out, "bombarder_failures_total", MetricType::Counter,
                              "Failed requests by why they failed after their retries "
                              "(docs/bombarder.md).");
  for (size_t k = 0; k < kFailureKindCount; ++k) {
    add_value(failures, {{"kind", to_string(static_cast<FailureKind>(k))}},
              static_cast<double>(t.failures[k]));
  }
  add_value(add_family(out, "bombarder_retries_total", MetricType::Counter,
                       "Attempts that were retries of a request."),
            {}, static_cast<double>(t.retries));
  auto& responses = add_family(out, "bombarder_responses_total", MetricType::Counter,
                               "Attempts by HTTP status; status=\"transport_error\" when no "
                               "answer came.");
  for (size_t k = 0; k < Slot::kStatusMax; ++k) {
    if (t.statuses[k] == 0) continue;
    add_value(responses, {{"status", k == 0 ? std::string("transport_error") : std::to_string(k)}},
              static_cast<double>(t.statuses[k]));
  }
}

double LoadMetrics::ops_per_second() const {
  if (!running_ || samples_.size() < 2) return 0;
  const auto& newest = samples_.back();
  auto oldest = samples_.begin();
  while (std::next(oldest) != samples_.end() - 1 &&
         newest.first - std::next(oldest)->first >= std::chrono::seconds(1)) {
    ++oldest;
  }
  const double dt = std::chrono::duration<double>(newest.first - oldest->first).count();
  if (dt <= 0 || newest.second < oldest->second) return 0;
  return static_cast<double>(newest.second - oldest->second) / dt;
}

void LoadMetrics::add_node_families(std::deque<MetricFamily>& out) const {
  struct PerNode {
    const char* name;
    MetricType type;
    const char* help;
    double (*value)(const Node&);
  };
  static constexpr auto relaxed = [](const std::atomic<uint64_t>& v) {
    return static_cast<double>(v.load(std::memory_order_relaxed));
  };
  static const PerNode kFamilies[] = {
      {"bombarder_attempts_total", MetricType::Counter, "HTTP attempts sent to the node.",
       [](const Node& n) { return relaxed(n.attempts); }},
      {"bombarder_attempt_failures_total", MetricType::Counter,
       "Attempts the node failed: transport error, timeout or 5xx (what breakers count).",
       [](const Node& n) { return relaxed(n.attempt_failures); }},
      {"bombarder_pool_connections", MetricType::Gauge,
       "Keep-alive connections open to the node now.",
       [](const Node& n) { return static_cast<double>(n.connections.open_now()); }},
      {"bombarder_pool_connects_total", MetricType::Counter, "Connections opened to the node.",
       [](const Node& n) { return relaxed(n.connections.opened); }},
      {"bombarder_pool_connect_failures_total", MetricType::Counter,
       "Connects to the node that failed or timed out.",
       [](const Node& n) { return relaxed(n.connections.connect_failed); }},
      {"bombarder_pool_closes_total", MetricType::Counter,
       "Open connections to the node that were closed (errors, timeouts, end of run).",
       [](const Node& n) { return relaxed(n.connections.closed); }},
  };
  for (const PerNode& f : kFamilies) {
    auto& family = add_family(out, f.name, f.type, f.help);
    for (const Node& n : nodes_) add_value(family, {{"node", n.address}}, f.value(n));
  }
}

void LoadMetrics::add_breaker_families(std::deque<MetricFamily>& out) const {
  // The finished runs' totals plus the live run's breakers, by node.
  std::map<std::string, BreakerTotals> breakers = finished_breakers_;
  for (const auto& [address, breaker] : live_breakers_) breakers[address].add(*breaker);
  auto& state = add_family(out, "bombarder_breaker_state", MetricType::Gauge,
                           "The node's circuit breaker: 0 closed, 1 half-open, 2 open "
                           "(--circuit-breaker).");
  auto& transitions = add_family(out, "bombarder_breaker_transitions_total", MetricType::Counter,
                                 "Circuit breaker transitions by the state entered.");
  auto& rejected = add_family(out, "bombarder_breaker_rejected_total", MetricType::Counter,
                              "Attempts the node's open breaker turned away.");
  for (const auto& [address, b] : breakers) {
    add_value(state, {{"node", address}}, breaker_state_value(b.last_state));
    add_value(transitions, {{"node", address}, {"to", "open"}},
              static_cast<double>(b.counters.opened));
    add_value(transitions, {{"node", address}, {"to", "half_open"}},
              static_cast<double>(b.counters.half_opened));
    add_value(transitions, {{"node", address}, {"to", "closed"}},
              static_cast<double>(b.counters.closed));
    add_value(rejected, {{"node", address}}, static_cast<double>(b.counters.rejected));
  }
}

void LoadMetrics::add_scenario_families(std::deque<MetricFamily>& out) const {
  auto& phase = add_family(out, "bombarder_scenario_phase", MetricType::Gauge,
                           "The scenario's phase: 0 none (not started or over), 1 stabilization, "
                           "2 testing, 3 recovery.");
  for (const auto& [scenario, p] : phases_) {
    add_value(phase, {{"scenario", scenario}}, static_cast<double>(p));
  }
  auto& active = add_family(out, "bombarder_scenario_toxic_active", MetricType::Gauge,
                            "1 while the scenario has this fault on the proxy (type \"disabled\": "
                            "proxy switched off), 0 once removed.");
  auto& values = add_family(out, "bombarder_scenario_toxic_value", MetricType::Gauge,
                            "A numeric attribute of an active scenario toxic (latency ms, "
                            "probability, ...).");
  for (const auto& [key, toxic] : toxics_) {
    const auto& [scenario, proxy, type] = key;
    const common::metrics::Labels labels = {
        {"scenario", scenario}, {"proxy", proxy}, {"type", type}};
    add_value(active, labels, toxic.active ? 1 : 0);
    if (!toxic.active || !toxic.attributes.is_object()) continue;
    for (const auto& [attribute, value] : toxic.attributes.items()) {
      if (!value.is_number()) continue;
      common::metrics::Labels with_attribute = labels;
      with_attribute["attribute"] = attribute;
      add_value(values, with_attribute, value.get<double>());
    }
  }
}

std::string LoadMetrics::render() const {
  // Totals over the slots first (their mutexes), then the shared part (mutex_): never both held.
  const Totals totals = slot_totals();
  std::deque<MetricFamily> out;
  add_request_families(totals, out);

  std::lock_guard lock(mutex_);
  add_value(add_family(out, "bombarder_run_info", MetricType::Gauge,
                       "Always 1; names the command that generates the load."),
            {{"command", command_}}, 1);
  add_value(add_family(out, "bombarder_uptime_seconds", MetricType::Gauge,
                       "Seconds since the command started."),
            {}, std::chrono::duration<double>(Clock::now() - created_).count());
  add_value(add_family(out, "bombarder_load_running", MetricType::Gauge,
                       "1 while a load run is going, 0 between and after."),
            {}, running_ ? 1 : 0);
  add_value(add_family(out, "bombarder_load_runs_total", MetricType::Counter,
                       "Load runs started (bursts count one each)."),
            {}, static_cast<double>(runs_started_));
  add_value(add_family(out, "bombarder_load_workers", MetricType::Gauge,
                       "Requests in flight at once (--concurrency)."),
            {}, static_cast<double>(workers_));
  add_value(add_family(out, "bombarder_ops_per_second", MetricType::Gauge,
                       "Successful requests per second over the last second of the run going on; "
                       "0 when idle."),
            {}, ops_per_second());
  add_node_families(out);
  add_breaker_families(out);
  add_scenario_families(out);
  return common::metrics::serialize(
      {std::make_move_iterator(out.begin()), std::make_move_iterator(out.end())});
}

}  // namespace bombarder

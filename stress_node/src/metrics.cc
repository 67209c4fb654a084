#include "metrics.h"

#include <cstdio>
#include <cstdlib>

#include "raft_node.h"

namespace node {

namespace {

bool is_valid_name(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    const bool digit = c >= '0' && c <= '9';
    if (!letter && !(digit && i > 0)) return false;
  }
  return true;
}

// Metric and label names are compile-time choices of this program: a bad one is a bug.
void check_name(std::string_view name) {
  if (is_valid_name(name)) return;
  std::fprintf(stderr, "metrics: invalid metric or label name '%.*s'\n",
               static_cast<int>(name.size()), name.data());
  std::abort();
}

using common::prometheus::escape_help;
using common::prometheus::escape_label_value;

const char* type_name(int type) {
  switch (type) {
    case 0: return "counter";
    case 1: return "gauge";
    case 2: return "histogram";
    default: return "summary";
  }
}

std::string braced(const Labels& labels) {
  if (labels.empty()) return {};
  // Appends rather than `"{" + ... + "}"`: g++ 12 reports a bogus -Wrestrict on the latter.
  std::string out = "{";
  out += format_labels(labels);
  out += '}';
  return out;
}

}  // namespace

void LatencyHistogram::observe(std::chrono::nanoseconds duration) {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(duration).count();
  observe_us(us < 0 ? 0 : static_cast<uint64_t>(us));
}

void SummaryTotals::set(uint64_t count, double sum) {
  std::lock_guard lock(mutex_);
  count_ = count;
  sum_ = sum;
}

std::pair<uint64_t, double> SummaryTotals::value() const {
  std::lock_guard lock(mutex_);
  return {count_, sum_};
}

std::string format_labels(const Labels& labels) {
  std::string out;
  for (const auto& [name, value] : labels) {
    if (!out.empty()) out += ',';
    out += name + "=\"" + escape_label_value(value) + "\"";
  }
  return out;
}

Registry::Family& Registry::family(std::string_view name, std::string_view help, Type type) {
  check_name(name);
  auto it = families_.find(name);
  if (it == families_.end()) {
    it =
        families_.emplace(std::string(name), Family{type, std::string(help), {}, {}, {}, {}}).first;
  }
  if (it->second.type != type) {
    std::fprintf(stderr, "metrics: '%.*s' registered with two types\n",
                 static_cast<int>(name.size()), name.data());
    std::abort();
  }
  return it->second;
}

Labels Registry::bounded(const Family& /*family*/, size_t series_count,
                         const Labels& labels) const {
  for (const auto& label : labels) check_name(label.first);
  if (series_count < series_per_family_max_) return labels;
  Labels other = labels;
  for (auto& label : other) label.second = "_other";
  return other;
}

template <typename T>
T& Registry::series(std::map<Labels, std::unique_ptr<T>>& map, const Family& family,
                    const Labels& labels) {
  if (auto it = map.find(labels); it != map.end()) return *it->second;
  const Labels key = bounded(family, map.size(), labels);
  auto& slot = map[key];
  if (!slot) slot = std::make_unique<T>();
  return *slot;
}

Counter& Registry::counter(std::string_view name, std::string_view help, const Labels& labels) {
  std::lock_guard lock(mutex_);
  Family& f = family(name, help, Type::kCounter);
  return series(f.counters, f, labels);
}

Gauge& Registry::gauge(std::string_view name, std::string_view help, const Labels& labels) {
  std::lock_guard lock(mutex_);
  Family& f = family(name, help, Type::kGauge);
  return series(f.gauges, f, labels);
}

LatencyHistogram& Registry::histogram(std::string_view name, std::string_view help,
                                      const Labels& labels) {
  std::lock_guard lock(mutex_);
  Family& f = family(name, help, Type::kHistogram);
  return series(f.histograms, f, labels);
}

SummaryTotals& Registry::summary(std::string_view name, std::string_view help,
                                 const Labels& labels) {
  std::lock_guard lock(mutex_);
  Family& f = family(name, help, Type::kSummary);
  return series(f.summaries, f, labels);
}

void Registry::render_family(const std::string& name, const Family& family, std::string& out) {
  out += "# HELP " + name + " " + escape_help(family.help) + "\n";
  out += "# TYPE " + name + " " + type_name(static_cast<int>(family.type)) + "\n";
  for (const auto& [labels, counter] : family.counters) {
    out += name + braced(labels) + " " + std::to_string(counter->value()) + "\n";
  }
  for (const auto& [labels, gauge] : family.gauges) {
    out += name + braced(labels) + " " + common::prometheus::format_value(gauge->value()) + "\n";
  }
  for (const auto& [labels, histogram] : family.histograms) {
    out += common::prometheus::histogram_lines(name, format_labels(labels), histogram->snapshot());
  }
  for (const auto& [labels, summary] : family.summaries) {
    const auto [count, sum] = summary->value();
    out += name + "_sum" + braced(labels) + " " + common::prometheus::format_value(sum) + "\n";
    out += name + "_count" + braced(labels) + " " + std::to_string(count) + "\n";
  }
}

std::string Registry::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& [name, family] : families_) render_family(name, family, out);
  return out;
}

void record_http_request(Registry& registry, const std::string& route, unsigned status,
                         std::chrono::nanoseconds duration) {
  registry
      .counter("http_requests_total", "HTTP requests answered, by route pattern and status code.",
               {{"route", route}, {"code", std::to_string(status)}})
      .inc();
  registry
      .histogram("http_request_duration_seconds",
                 "Time from a request's arrival to its answer, by route pattern.",
                 {{"route", route}})
      .observe(duration);
}

void update_node_metrics(Registry& registry, const NodeStatus& status) {
  const raft::CoreStatus& core = status.core;
  const auto gauge = [&](std::string_view name, std::string_view help, double value) {
    registry.gauge(name, help).set(value);
  };
  gauge("raft_term", "Current term (Raft paper §5.1).", static_cast<double>(core.soft.term));
  gauge("raft_role", "Role: 0 follower, 1 pre-candidate, 2 candidate, 3 leader.",
        static_cast<double>(core.soft.role));
  gauge("raft_is_leader", "1 if this node is the leader.",
        core.soft.role == raft::Role::kLeader ? 1 : 0);
  gauge("raft_commit_index", "Highest log index known committed.",
        static_cast<double>(core.hard.commit_index));
  gauge("raft_applied_index", "Highest log index applied to the state machine.",
        static_cast<double>(core.applied_index));
  gauge("raft_last_index", "Index of the last log entry.", static_cast<double>(core.last_index));
  gauge("raft_first_index", "Index of the first log entry still stored (after compaction).",
        static_cast<double>(core.first_index));
  gauge("raft_snapshot_index", "Index of the current snapshot.",
        static_cast<double>(status.snapshot.index));
  gauge("kv_entries", "Entries in the state machine.", static_cast<double>(status.entry_count));
  gauge("raft_pending_writes", "Client writes waiting for commit.",
        static_cast<double>(status.pending_writes));
  gauge("raft_pending_reads", "Linearizable reads waiting for their read index.",
        static_cast<double>(status.pending_reads));
  gauge("raft_inbox_bytes", "Peer payload bytes queued for the raft thread.",
        static_cast<double>(status.inbox_bytes));
  registry
      .counter("raft_inbox_rejected_total",
               "Inputs the raft thread's inbox refused, by the bound that was hit (tasks: "
               "inbox_max queued inputs; bytes: inbox_bytes_max queued peer payload bytes).",
               {{"reason", "tasks"}})
      .set_total(status.inbox_rejected_full_tasks);
  registry
      .counter("raft_inbox_rejected_total",
               "Inputs the raft thread's inbox refused, by the bound that was hit (tasks: "
               "inbox_max queued inputs; bytes: inbox_bytes_max queued peer payload bytes).",
               {{"reason", "bytes"}})
      .set_total(status.inbox_rejected_full_bytes);

  const raft::CoreCounters& c = status.counters;
  const auto counter = [&](std::string_view name, std::string_view help, uint64_t value) {
    registry.counter(name, help).set_total(value);
  };
  counter("raft_leader_changes_total", "Times the known leader changed.", c.leader_changes);
  counter("raft_elections_started_total", "Elections this node started.", c.elections_started);
  counter("raft_proposals_total", "Proposals accepted into the leader's log.",
          c.proposals_accepted);
  counter("raft_proposals_dropped_total", "Proposals refused (not leader, busy, transfer).",
          c.proposals_dropped);
  counter("raft_messages_ignored_total", "Messages ignored: stale term, wrong recipient.",
          c.messages_ignored);
  counter("raft_snapshots_sent_total", "Snapshots sent to followers.", c.snapshots_sent);
  counter("raft_snapshots_installed_total", "Snapshots received and installed.",
          c.snapshots_installed);
  counter("raft_snapshot_bytes_sent_total", "Snapshot bytes sent.", c.snapshot_bytes_sent);
  counter("raft_snapshot_bytes_received_total", "Snapshot bytes received.",
          c.snapshot_bytes_received);
  counter("raft_batches_total", "Ready batches executed by the raft thread.", status.batches);

  const kv::LogStats& log = status.log;
  counter("raft_log_entries_persisted_total", "Log entries made durable.", log.entries_persisted);
  counter("raft_log_bytes_persisted_total", "Bytes written to the log.", log.bytes_persisted);
  counter("raft_fsyncs_total", "Synced log writes.", log.sync_count);
  // The storage keeps only a total and the latest value, so this is a summary (sum/count),
  // not a histogram: rate(_sum)/rate(_count) is the mean persist latency. The distribution is
  // raft_log_persist_duration_seconds, observed by the raft thread around each persist.
  registry
      .summary("raft_fsync_latency_seconds",
               "Time to persist one batch to the log, fsync included (sum and count).")
      .set(log.persist_count, static_cast<double>(log.persist_latency_us_total) / 1e6);
  gauge("raft_fsync_last_latency_seconds", "Latency of the most recent log persist.",
        static_cast<double>(log.last_persist_latency_us) / 1e6);
}

void update_idempotency_metrics(Registry& registry, const kv::IdempotencyStats& stats) {
  registry.gauge("kv_idempotency_keys", "Idempotency keys recorded (live, not yet expired).")
      .set(static_cast<double>(stats.keys));
  registry
      .gauge("kv_idempotency_bytes",
             "Bytes the idempotency table counts against --idempotency-table-bytes.")
      .set(static_cast<double>(stats.bytes));
  registry
      .gauge("kv_idempotency_clock_ms",
             "The state machine's clock: the largest leader stamp applied (Unix ms).")
      .set(static_cast<double>(stats.clock_ms));
  constexpr std::string_view kEvictions = "kv_idempotency_evictions_total";
  constexpr std::string_view kHelp =
      "Idempotency records forgotten by this node's applies: ttl (the stamped clock reached "
      "their expiry) or bytes (the table bound).";
  registry.counter(kEvictions, kHelp, {{"reason", "ttl"}}).set_total(stats.evicted_ttl_total);
  registry.counter(kEvictions, kHelp, {{"reason", "bytes"}}).set_total(stats.evicted_bytes_total);
}

}  // namespace node

#include "metrics.h"

#include <cstdio>
#include <cstdlib>

#include "raft_node.h"

namespace stress_node {

namespace {

using prometheus::MetricType;

[[noreturn]] void two_types(std::string_view name) {
  std::fprintf(stderr, "metrics: '%.*s' registered with two types\n", static_cast<int>(name.size()),
               name.data());
  std::abort();
}

}  // namespace

void LatencyHistogram::observe(std::chrono::nanoseconds duration) {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(duration).count();
  observe_us(us < 0 ? 0 : static_cast<uint64_t>(us));
}

Registry::Registry(size_t series_per_family_max)
    : series_per_family_max_(series_per_family_max),
      registry_(std::make_shared<prometheus::Registry>()) {}

Registry::Family& Registry::family(std::string_view name, std::string_view help, Type type) {
  common::metrics::check_metric_name(name);
  auto it = families_.find(name);
  if (it == families_.end()) {
    Family added;
    added.type = type;
    added.help = std::string(help);
    const std::string escaped = common::metrics::escape_help(help);
    switch (type) {
      case Type::kCounter:
        added.counters =
            &prometheus::BuildCounter().Name(std::string(name)).Help(escaped).Register(*registry_);
        break;
      case Type::kGauge:
        added.gauges =
            &prometheus::BuildGauge().Name(std::string(name)).Help(escaped).Register(*registry_);
        break;
      case Type::kHistogram:
        added.histograms = &prometheus::BuildHistogram()
                                .Name(std::string(name))
                                .Help(escaped)
                                .Register(*registry_);
        break;
      case Type::kMirroredCounter:
      case Type::kSummary: break;
    }
    it = families_.emplace(std::string(name), std::move(added)).first;
  }
  if (it->second.type != type) two_types(name);
  return it->second;
}

Labels Registry::bounded(Family& family, bool exists, const Labels& labels) const {
  common::metrics::check_label_names(labels);
  if (exists) return labels;
  if (family.series < series_per_family_max_) {
    ++family.series;
    return labels;
  }
  Labels other = labels;
  for (auto& label : other) label.second = "_other";
  return other;
}

prometheus::Counter& Registry::counter(std::string_view name, std::string_view help,
                                       const Labels& labels) {
  std::lock_guard lock(mutex_);
  Family& f = family(name, help, Type::kCounter);
  return f.counters->Add(bounded(f, f.counters->Has(labels), labels));
}

prometheus::Gauge& Registry::gauge(std::string_view name, std::string_view help,
                                   const Labels& labels) {
  std::lock_guard lock(mutex_);
  Family& f = family(name, help, Type::kGauge);
  return f.gauges->Add(bounded(f, f.gauges->Has(labels), labels));
}

LatencyHistogram& Registry::histogram(std::string_view name, std::string_view help,
                                      const Labels& labels) {
  std::lock_guard lock(mutex_);
  Family& f = family(name, help, Type::kHistogram);
  prometheus::Histogram& series = f.histograms->Add(bounded(f, f.histograms->Has(labels), labels),
                                                    common::metrics::latency_bucket_boundaries());
  auto& wrapper = histograms_[&series];
  if (!wrapper) wrapper = std::make_unique<LatencyHistogram>(series);
  return *wrapper;
}

void Registry::set_counter(std::string_view name, std::string_view help, const Labels& labels,
                           uint64_t total) {
  std::lock_guard lock(mutex_);
  Family& f = family(name, help, Type::kMirroredCounter);
  f.values[bounded(f, f.values.contains(labels), labels)] = static_cast<double>(total);
}

void Registry::set_summary(std::string_view name, std::string_view help, const Labels& labels,
                           uint64_t count, double sum) {
  std::lock_guard lock(mutex_);
  Family& f = family(name, help, Type::kSummary);
  f.summaries[bounded(f, f.summaries.contains(labels), labels)] = {count, sum};
}

std::string Registry::render() const {
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  std::lock_guard lock(mutex_);
  for (const auto& [name, f] : families_) {
    if (f.type == Type::kMirroredCounter) {
      auto& family =
          families.emplace_back(common::metrics::family(name, f.help, MetricType::Counter));
      for (const auto& [labels, value] : f.values) {
        common::metrics::add_value(family, labels, value);
      }
    } else if (f.type == Type::kSummary) {
      auto& family =
          families.emplace_back(common::metrics::family(name, f.help, MetricType::Summary));
      for (const auto& [labels, value] : f.summaries) {
        common::metrics::add_summary(family, labels, value.first, value.second);
      }
    }
  }
  return common::metrics::serialize(std::move(families));
}

void HttpMetrics::record(const std::string& route, unsigned status,
                         std::chrono::nanoseconds duration) {
  auto it = routes_.find(route);
  if (it == routes_.end()) {
    RouteSeries series;
    series.duration = &registry_.histogram(
        "http_request_duration_seconds",
        "Time from a request's arrival to its answer, by route pattern.", {{"route", route}});
    it = routes_.emplace(route, std::move(series)).first;
  }
  prometheus::Counter*& requests = it->second.requests[status];
  if (requests == nullptr) {
    requests = &registry_.counter("http_requests_total",
                                  "HTTP requests answered, by route pattern and status code.",
                                  {{"route", route}, {"code", std::to_string(status)}});
  }
  requests->Increment();
  it->second.duration->observe(duration);
}

void update_node_metrics(Registry& registry, const NodeStatus& status) {
  const raft::CoreStatus& core = status.core;
  const auto gauge = [&](std::string_view name, std::string_view help, double value) {
    registry.gauge(name, help).Set(value);
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
  constexpr std::string_view kInboxRejectedHelp =
      "Inputs the raft thread's inbox refused, by the bound that was hit (tasks: inbox_max "
      "queued inputs; bytes: inbox_bytes_max queued peer payload bytes).";
  registry.set_counter("raft_inbox_rejected_total", kInboxRejectedHelp, {{"reason", "tasks"}},
                       status.inbox_rejected_full_tasks);
  registry.set_counter("raft_inbox_rejected_total", kInboxRejectedHelp, {{"reason", "bytes"}},
                       status.inbox_rejected_full_bytes);

  const raft::CoreCounters& c = status.counters;
  const auto counter = [&](std::string_view name, std::string_view help, uint64_t value) {
    registry.set_counter(name, help, {}, value);
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
  registry.set_summary("raft_fsync_latency_seconds",
                       "Time to persist one batch to the log, fsync included (sum and count).", {},
                       log.persist_count, static_cast<double>(log.persist_latency_us_total) / 1e6);
  gauge("raft_fsync_last_latency_seconds", "Latency of the most recent log persist.",
        static_cast<double>(log.last_persist_latency_us) / 1e6);
}

void update_idempotency_metrics(Registry& registry, const kv::IdempotencyStats& stats) {
  registry.gauge("kv_idempotency_keys", "Idempotency keys recorded (live, not yet expired).")
      .Set(static_cast<double>(stats.keys));
  registry
      .gauge("kv_idempotency_bytes",
             "Bytes the idempotency table counts against --idempotency-table-bytes.")
      .Set(static_cast<double>(stats.bytes));
  registry
      .gauge("kv_idempotency_clock_seconds",
             "The state machine's clock: the largest leader stamp applied (Unix seconds, "
             "millisecond resolution).")
      .Set(static_cast<double>(stats.clock_ms) / 1e3);
  constexpr std::string_view kEvictions = "kv_idempotency_evictions_total";
  constexpr std::string_view kHelp =
      "Idempotency records forgotten by this node's applies: ttl (the stamped clock reached "
      "their expiry) or bytes (the table bound).";
  registry.set_counter(kEvictions, kHelp, {{"reason", "ttl"}}, stats.evicted_ttl_total);
  registry.set_counter(kEvictions, kHelp, {{"reason", "bytes"}}, stats.evicted_bytes_total);
}

}  // namespace stress_node

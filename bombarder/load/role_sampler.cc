#include "bombarder/load/role_sampler.h"

#include "bombarder/client/api_client.h"

namespace bombarder {

RoleSampler::RoleSampler(std::vector<Node> nodes, HistoryWriter& history,
                         std::chrono::milliseconds period,
                         std::chrono::milliseconds attempt_timeout, const StoreAdapter* store)
    : nodes_(std::move(nodes)),
      history_(history),
      period_(period),
      attempt_timeout_(attempt_timeout),
      store_(store),
      last_(nodes_.size()) {}

RoleSampler::~RoleSampler() { stop(); }

void RoleSampler::start() {
  thread_ = std::thread([this] { loop(); });
}

void RoleSampler::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    stopped_ = true;
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  sample_once();
}

size_t RoleSampler::lines_written() const {
  std::lock_guard lock(mutex_);
  return lines_written_;
}

void RoleSampler::loop() {
  while (true) {
    const auto next = std::chrono::steady_clock::now() + period_;
    sample_once();
    std::unique_lock lock(mutex_);
    if (wake_.wait_until(lock, next, [this] { return stopping_; })) return;
  }
}

std::vector<std::pair<std::string, std::optional<uint64_t>>> RoleSampler::ask_nodes() {
  // One client per round keeps no connection to a node across its restart; a round costs one
  // GET per node (two POSTs through an etcd adapter), every period.
  ApiClient client;
  std::vector<common::Endpoint> endpoints;
  endpoints.reserve(nodes_.size());
  for (const Node& node : nodes_) endpoints.push_back(node.endpoint);
  std::vector<std::pair<std::string, std::optional<uint64_t>>> seen(
      nodes_.size(), {std::string("down"), std::nullopt});
  if (store_ != nullptr) {
    const std::vector<NodeStatusAnswer> answers =
        store_->node_statuses(client, endpoints, attempt_timeout_);
    for (size_t i = 0; i < nodes_.size(); ++i) {
      if (answers[i].status) seen[i] = {answers[i].status->role, answers[i].status->term};
    }
    return seen;
  }
  const std::vector<ApiResponse> answers =
      client.get_all(endpoints, "/_raft/health", attempt_timeout_);
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (answers[i].status != 200) continue;
    const Json body = answers[i].json();
    if (!body.is_object() || !body.contains("role") || !body["role"].is_string()) continue;
    seen[i].first = body["role"].get<std::string>();
    if (body.contains("term") && body["term"].is_number_unsigned()) {
      seen[i].second = body["term"].get<uint64_t>();
    }
  }
  return seen;
}

void RoleSampler::sample_once() {
  const int64_t at_ns = history_.ns_since_origin(HistoryWriter::Clock::now());
  std::vector<std::pair<std::string, std::optional<uint64_t>>> answers = ask_nodes();
  std::string lines;
  size_t written = 0;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (last_[i] && *last_[i] == answers[i]) continue;
    HistoryRole sample;
    sample.node = nodes_[i].id;
    sample.address = nodes_[i].endpoint.to_string();
    sample.at_ns = at_ns;
    sample.role = answers[i].first;
    sample.term = answers[i].second;
    last_[i] = std::move(answers[i]);
    append_history_line(lines, sample);
    ++written;
  }
  history_.write(lines);
  std::lock_guard lock(mutex_);
  lines_written_ += written;
}

}  // namespace bombarder

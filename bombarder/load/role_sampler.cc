#include "bombarder/load/role_sampler.h"

#include "bombarder/client/api_client.h"

namespace bombarder {

RoleSampler::RoleSampler(std::vector<Node> nodes, HistoryWriter& history,
                         std::chrono::milliseconds period,
                         std::chrono::milliseconds attempt_timeout)
    : nodes_(std::move(nodes)),
      history_(history),
      period_(period),
      attempt_timeout_(attempt_timeout),
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

void RoleSampler::sample_once() {
  // One client per round keeps no connection to a node across its restart; a round costs one
  // GET per node, every period.
  ApiClient client;
  std::vector<common::Endpoint> endpoints;
  endpoints.reserve(nodes_.size());
  for (const Node& node : nodes_) endpoints.push_back(node.endpoint);
  const int64_t at_ns = history_.ns_since_origin(HistoryWriter::Clock::now());
  const std::vector<ApiResponse> answers =
      client.get_all(endpoints, "/_raft/health", attempt_timeout_);
  std::string lines;
  size_t written = 0;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    HistoryRole sample;
    sample.node = nodes_[i].id;
    sample.address = nodes_[i].endpoint.to_string();
    sample.at_ns = at_ns;
    sample.role = "down";
    if (answers[i].status == 200) {
      const Json body = answers[i].json();
      if (body.is_object() && body.contains("role") && body["role"].is_string()) {
        sample.role = body["role"].get<std::string>();
        if (body.contains("term") && body["term"].is_number_unsigned()) {
          sample.term = body["term"].get<uint64_t>();
        }
      }
    }
    auto seen = std::make_pair(sample.role, sample.term);
    if (last_[i] && *last_[i] == seen) continue;
    last_[i] = std::move(seen);
    append_history_line(lines, sample);
    ++written;
  }
  history_.write(lines);
  std::lock_guard lock(mutex_);
  lines_written_ += written;
}

}  // namespace bombarder

#include "bombarder/faults/interval_load.h"

#include <algorithm>
#include <fstream>
#include <map>

#include "bombarder/base/errors.h"

namespace bombarder {

using Clock = std::chrono::steady_clock;

namespace {

bool in_window(const LoadSample& s, const std::vector<LoadTarget>& targets,
               const std::vector<NodeFaultWindow>& windows) {
  for (const NodeFaultWindow& w : windows) {
    if (w.node == targets[s.target].name && s.scheduled_ms >= w.start_ms &&
        s.scheduled_ms < w.end_ms) {
      return true;
    }
  }
  return false;
}

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

}  // namespace

LoadSummary summarize(const std::vector<LoadSample>& samples,
                      const std::vector<LoadTarget>& targets,
                      const std::vector<NodeFaultWindow>& windows) {
  LoadSummary out;
  std::map<std::string, uint64_t> by_code;
  for (const LoadSample& s : samples) {
    ++out.total;
    const bool windowed = in_window(s, targets, windows);
    if (windowed) ++out.expected_failures;
    if (s.ok()) {
      ++out.ok;
      continue;
    }
    ++by_code[s.status == 0 ? std::string("no answer") : std::to_string(s.status)];
    ++(windowed ? out.failures_in_windows : out.failures_outside);
  }
  out.failures_by_code.assign(by_code.begin(), by_code.end());
  return out;
}

IntervalLoad::IntervalLoad(std::vector<LoadTarget> targets, std::chrono::milliseconds interval,
                           std::chrono::milliseconds timeout)
    : targets_(std::move(targets)), interval_(interval), timeout_(timeout) {}

IntervalLoad::~IntervalLoad() { stop(); }

void IntervalLoad::start(Clock::time_point origin) {
  origin_ = origin;
  const int64_t per_node_ms = std::max<int64_t>(1, interval_.count()) *
                              static_cast<int64_t>(std::max<size_t>(1, targets_.size()));
  const size_t lanes =
      std::min(kThreadsPerNodeMax, static_cast<size_t>(timeout_.count() / per_node_ms) + 1);
  for (size_t i = 0; i < targets_.size(); ++i) {
    for (size_t lane = 0; lane < lanes; ++lane) {
      threads_.emplace_back([this, i, lane, lanes] { run(i, lane, lanes); });
    }
  }
}

void IntervalLoad::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

std::vector<LoadSample> IntervalLoad::samples() {
  std::lock_guard lock(mutex_);
  std::vector<LoadSample> out = samples_;
  std::sort(out.begin(), out.end(),
            [](const LoadSample& a, const LoadSample& b) { return a.seq < b.seq; });
  return out;
}

void IntervalLoad::run(size_t target, size_t lane, size_t lanes) {
  const size_t n = targets_.size();
  // This lane sends every `lanes`-th request of its node.
  for (uint64_t seq = target + n * lane;; seq += n * lanes) {
    const auto scheduled = origin_ + interval_ * static_cast<int64_t>(seq);
    {
      std::unique_lock lock(mutex_);
      if (wake_.wait_until(lock, scheduled, [this] { return stopping_; })) return;
    }
    const std::string body =
        Json{{"key", "inject-" + std::to_string(seq)}, {"value", "load-" + std::to_string(seq)}}
            .dump();
    const auto sent = Clock::now();
    const ApiResponse r = client_.call(targets_[target].endpoint, boost::beast::http::verb::post,
                                       "/api/kv", body, timeout_);
    LoadSample s;
    s.seq = seq;
    s.scheduled_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(scheduled - origin_).count();
    s.target = target;
    s.status = r.status;
    s.latency_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - sent).count();
    if (!r.ok()) s.error = r.describe();
    std::lock_guard lock(mutex_);
    samples_.push_back(std::move(s));
  }
}

void write_load_csv(const std::filesystem::path& path, const std::vector<LoadSample>& samples,
                    const std::vector<LoadTarget>& targets,
                    const std::vector<NodeFaultWindow>& windows) {
  std::ofstream out(path, std::ios::trunc);
  out << "seq,scheduled_ms,node,address,status,latency_ms,in_fault_window,error\n";
  for (const LoadSample& s : samples) {
    out << s.seq << ',' << s.scheduled_ms << ',' << csv_field(targets[s.target].name) << ','
        << targets[s.target].endpoint.to_string() << ',' << s.status << ',' << s.latency_ms << ','
        << (in_window(s, targets, windows) ? 1 : 0) << ',' << csv_field(s.error) << '\n';
  }
  out.flush();
  if (!out) environment_failure("cannot write " + path.string());
}

}  // namespace bombarder

#include "watchdog.h"

#include <spdlog/spdlog.h>

#include <cstdlib>

namespace stress_node {

namespace {

using Clock = std::chrono::steady_clock;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
      .count();
}

}  // namespace

Watchdog::Watchdog(std::chrono::milliseconds limit, std::vector<WatchedLoop> loops,
                   StallAction on_stall)
    : limit_(std::max(limit, std::chrono::milliseconds(10))),
      loops_(std::move(loops)),
      on_stall_(std::move(on_stall)) {
  for (size_t i = 0; i < loops_.size(); ++i) beats_.push_back(std::make_shared<Beat>());
}

Watchdog::~Watchdog() { stop(); }

void Watchdog::start() {
  for (auto& beat : beats_) beat->last_ms = now_ms();
  thread_ = std::thread([this] { run(); });
}

void Watchdog::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void Watchdog::run() {
  const auto period = std::max(limit_ / 4, std::chrono::milliseconds(2));
  std::unique_lock lock(mutex_);
  while (!cv_.wait_for(lock, period, [this] { return stopping_; })) {
    const int64_t now = now_ms();
    for (size_t i = 0; i < loops_.size(); ++i) {
      const std::shared_ptr<Beat>& beat = beats_[i];
      const auto late = std::chrono::milliseconds(now - beat->last_ms.load());
      if (late > limit_) {
        on_stall_(loops_[i].name, late);
        beat->last_ms = now;  // reached only when the action returns (tests): report once per limit
        continue;
      }
      // One heartbeat in flight per loop: a stuck loop must not fill its own queue with them.
      if (beat->outstanding.exchange(true)) continue;
      const bool queued = loops_[i].post([beat] {
        beat->last_ms = now_ms();
        beat->outstanding = false;
      });
      if (!queued) beat->outstanding = false;
    }
  }
}

void Watchdog::abort_process(const std::string& loop, std::chrono::milliseconds late) {
  spdlog::critical("watchdog: the {} loop made no progress for {} ms: aborting", loop,
                   late.count());
  spdlog::default_logger()->flush();
  std::abort();
}

}  // namespace stress_node

// Per-node circuit breakers for the load generator (issue 6 "Scenarios"): a node that keeps
// failing stops receiving attempts for a while instead of eating every client's retries.
//
//   closed --(failures_to_open consecutive failed attempts)--> open
//   open --(open_for elapsed, at the next allow())--> half-open
//   half-open: one probe attempt at a time; its success --> closed, its failure --> open
//
// A failed attempt is one that says nothing good about the node: a transport error, a timeout,
// 503, 504 or another 5xx. A 4xx is the node working. Thread-safe: the shards of one run share one
// breaker per node. Time is passed in, so tests need no clock.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>

namespace bombarder {

enum class BreakerState : uint8_t { kClosed, kOpen, kHalfOpen };
[[nodiscard]] const char* to_string(BreakerState state);  // "closed", "open", "half_open"

struct BreakerOptions {
  uint32_t failures_to_open = 5;             // consecutive failed attempts, >= 1
  std::chrono::milliseconds open_for{1000};  // before a half-open probe, > 0
};

struct BreakerCounters {
  uint64_t opened = 0;       // closed or half-open -> open
  uint64_t half_opened = 0;  // open -> half-open
  uint64_t closed = 0;       // half-open -> closed
  uint64_t rejected = 0;     // allow() answered false
};

class CircuitBreaker {
 public:
  using Clock = std::chrono::steady_clock;
  explicit CircuitBreaker(BreakerOptions options = {});

  // May an attempt go to the node now? In half-open, true for one probe until its outcome is
  // reported; a true answer obliges the caller to report the attempt's outcome.
  [[nodiscard]] bool allow(Clock::time_point now);
  void on_success();
  void on_failure(Clock::time_point now);

  [[nodiscard]] BreakerState state() const;
  [[nodiscard]] BreakerCounters counters() const;

 private:
  void open(Clock::time_point now);  // mutex_ held

  const BreakerOptions options_;
  mutable std::mutex mutex_;
  BreakerState state_ = BreakerState::kClosed;
  uint32_t consecutive_failures_ = 0;
  Clock::time_point opened_at_{};
  bool probe_in_flight_ = false;
  BreakerCounters counters_;
};

}  // namespace bombarder

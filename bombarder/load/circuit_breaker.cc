#include "bombarder/load/circuit_breaker.h"

namespace bombarder {

const char* to_string(BreakerState state) {
  switch (state) {
    case BreakerState::kClosed: return "closed";
    case BreakerState::kOpen: return "open";
    case BreakerState::kHalfOpen: return "half_open";
  }
  return "?";
}

CircuitBreaker::CircuitBreaker(BreakerOptions options) : options_(options) {}

bool CircuitBreaker::allow(Clock::time_point now) {
  std::lock_guard lock(mutex_);
  switch (state_) {
    case BreakerState::kClosed: return true;
    case BreakerState::kOpen:
      if (now - opened_at_ < options_.open_for) {
        ++counters_.rejected;
        return false;
      }
      state_ = BreakerState::kHalfOpen;
      ++counters_.half_opened;
      probe_in_flight_ = true;
      return true;
    case BreakerState::kHalfOpen:
      if (probe_in_flight_) {
        ++counters_.rejected;
        return false;
      }
      probe_in_flight_ = true;
      return true;
  }
  return false;
}

void CircuitBreaker::on_success() {
  std::lock_guard lock(mutex_);
  consecutive_failures_ = 0;
  if (state_ == BreakerState::kHalfOpen) {
    state_ = BreakerState::kClosed;
    probe_in_flight_ = false;
    ++counters_.closed;
  }
  // Open: a late answer to an attempt let through before the breaker opened changes nothing;
  // the node gets its chance with the half-open probe.
}

void CircuitBreaker::on_failure(Clock::time_point now) {
  std::lock_guard lock(mutex_);
  switch (state_) {
    case BreakerState::kClosed:
      if (++consecutive_failures_ >= options_.failures_to_open) open(now);
      break;
    case BreakerState::kHalfOpen: open(now); break;
    case BreakerState::kOpen: break;  // a late failure: already open
  }
}

void CircuitBreaker::open(Clock::time_point now) {
  state_ = BreakerState::kOpen;
  opened_at_ = now;
  probe_in_flight_ = false;
  consecutive_failures_ = 0;
  ++counters_.opened;
}

BreakerState CircuitBreaker::state() const {
  std::lock_guard lock(mutex_);
  return state_;
}

BreakerCounters CircuitBreaker::counters() const {
  std::lock_guard lock(mutex_);
  return counters_;
}

}  // namespace bombarder

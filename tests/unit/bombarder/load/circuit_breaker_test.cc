// The load generator's per-node circuit breaker (circuit_breaker.h): every transition, with time
// passed in.
#include "bombarder/load/circuit_breaker.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace bombarder {
namespace {

using namespace std::chrono_literals;
using Clock = CircuitBreaker::Clock;

TEST(CircuitBreaker, OpensAfterConsecutiveFailuresOnly) {
  CircuitBreaker breaker({3, 1000ms});
  const auto t = Clock::now();
  breaker.on_failure(t);
  breaker.on_failure(t);
  breaker.on_success();  // resets the run of failures
  breaker.on_failure(t);
  breaker.on_failure(t);
  EXPECT_EQ(breaker.state(), BreakerState::kClosed);
  EXPECT_TRUE(breaker.allow(t));
  breaker.on_failure(t);
  EXPECT_EQ(breaker.state(), BreakerState::kOpen);
  EXPECT_EQ(breaker.counters().opened, 1u);
}

TEST(CircuitBreaker, OpenRejectsUntilTheCooldownThenLetsOneProbeThrough) {
  CircuitBreaker breaker({1, 1000ms});
  const auto t = Clock::now();
  breaker.on_failure(t);
  EXPECT_FALSE(breaker.allow(t + 999ms));
  EXPECT_TRUE(breaker.allow(t + 1000ms));
  EXPECT_EQ(breaker.state(), BreakerState::kHalfOpen);
  EXPECT_FALSE(breaker.allow(t + 1001ms)) << "one probe at a time";
  const BreakerCounters c = breaker.counters();
  EXPECT_EQ(c.rejected, 2u);
  EXPECT_EQ(c.half_opened, 1u);
}

TEST(CircuitBreaker, ProbeSuccessClosesProbeFailureReopens) {
  CircuitBreaker breaker({1, 100ms});
  auto t = Clock::now();
  breaker.on_failure(t);
  ASSERT_TRUE(breaker.allow(t += 100ms));
  breaker.on_failure(t);  // the probe failed: open again, for a full cooldown from now
  EXPECT_EQ(breaker.state(), BreakerState::kOpen);
  EXPECT_FALSE(breaker.allow(t + 99ms));
  ASSERT_TRUE(breaker.allow(t += 100ms));
  breaker.on_success();
  EXPECT_EQ(breaker.state(), BreakerState::kClosed);
  EXPECT_TRUE(breaker.allow(t));
  EXPECT_TRUE(breaker.allow(t)) << "closed lets everything through";
  const BreakerCounters c = breaker.counters();
  EXPECT_EQ(c.opened, 2u);
  EXPECT_EQ(c.half_opened, 2u);
  EXPECT_EQ(c.closed, 1u);
}

TEST(CircuitBreaker, LateAnswersWhileOpenChangeNothing) {
  CircuitBreaker breaker({1, 1000ms});
  const auto t = Clock::now();
  breaker.on_failure(t);
  breaker.on_success();  // an attempt allowed before the breaker opened answers late
  breaker.on_failure(t);
  EXPECT_EQ(breaker.state(), BreakerState::kOpen);
  EXPECT_EQ(breaker.counters().opened, 1u);
  EXPECT_EQ(breaker.counters().closed, 0u);
}

TEST(CircuitBreaker, ConcurrentCallersGetOneProbe) {
  CircuitBreaker breaker({1, 10ms});
  const auto t = Clock::now();
  breaker.on_failure(t);
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      for (int k = 0; k < 1000; ++k) allowed += breaker.allow(t + 20ms) ? 1 : 0;
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(allowed.load(), 1);
}

}  // namespace
}  // namespace bombarder

// The orchestrator's rate limits and replay detection (issue 17), with time passed in.
#include "bombarder/orchestrator/rate_limiter.h"

#include <gtest/gtest.h>

namespace bombarder {
namespace {

using namespace std::chrono_literals;
using Clock = RateLimiter::Clock;

TEST(RateLimiterTest, AKeySpendsItsBurstThenIsRefusedUntilTheRateRefillsIt) {
  RateLimiter limiter(10, 3, 100);
  const Clock::time_point t0{};
  EXPECT_TRUE(limiter.allow("a", t0));
  EXPECT_TRUE(limiter.allow("a", t0));
  EXPECT_TRUE(limiter.allow("a", t0));
  EXPECT_FALSE(limiter.allow("a", t0));
  EXPECT_FALSE(limiter.allow("a", t0 + 50ms));  // half a token
  EXPECT_TRUE(limiter.allow("a", t0 + 100ms));  // one token at 10/s
  EXPECT_FALSE(limiter.allow("a", t0 + 100ms));
  // Refill stops at the burst: a long idle time buys 3, not 100.
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.allow("a", t0 + 10s)) << i;
  EXPECT_FALSE(limiter.allow("a", t0 + 10s));
}

TEST(RateLimiterTest, KeysHaveTheirOwnBuckets) {
  RateLimiter limiter(1, 1, 100);
  const Clock::time_point t0{};
  EXPECT_TRUE(limiter.allow("a", t0));
  EXPECT_FALSE(limiter.allow("a", t0));
  EXPECT_TRUE(limiter.allow("b", t0));
}

TEST(RateLimiterTest, BucketsAreBoundedByDroppingTheLongestIdle) {
  RateLimiter limiter(1, 1, 2);
  const Clock::time_point t0{};
  EXPECT_TRUE(limiter.allow("old", t0));
  EXPECT_TRUE(limiter.allow("busy", t0 + 1ms));
  EXPECT_TRUE(limiter.allow("new", t0 + 2ms));  // "old" makes room
  EXPECT_EQ(limiter.keys(), 2u);
  EXPECT_FALSE(limiter.allow("busy", t0 + 3ms));  // still limited: its bucket was kept
}

TEST(RateLimiterTest, ZeroRateMeansNoLimit) {
  RateLimiter limiter(0, 1, 1);
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(limiter.allow("a", Clock::time_point{}));
  EXPECT_FALSE(limiter.enabled());
}

TEST(ReplayGuardTest, ATokenIsBoundToTheFirstConnectionThatUsesIt) {
  ReplayGuard guard(100);
  EXPECT_EQ(guard.use("j1", 7, 1000, 500), ReplayGuard::Use::kFirst);
  EXPECT_EQ(guard.use("j1", 7, 1000, 501), ReplayGuard::Use::kSameConnection);
  EXPECT_EQ(guard.use("j1", 8, 1000, 502), ReplayGuard::Use::kReplayed);
  EXPECT_EQ(guard.use("j2", 8, 1000, 502), ReplayGuard::Use::kFirst);
}

TEST(ReplayGuardTest, ATokenIdIsRememberedUntilItExpiresThenForgotten) {
  ReplayGuard guard(100);
  EXPECT_EQ(guard.use("j1", 1, 1000, 500), ReplayGuard::Use::kFirst);
  EXPECT_EQ(guard.use("j2", 1, 2000, 500), ReplayGuard::Use::kFirst);
  guard.forget_expired(999);
  EXPECT_EQ(guard.size(), 2u);
  guard.forget_expired(1000);  // j1 is refused as expired from 1000 on
  EXPECT_EQ(guard.size(), 1u);
  EXPECT_EQ(guard.use("j2", 2, 2000, 1000), ReplayGuard::Use::kReplayed);
}

TEST(ReplayGuardTest, WhenFullOfLiveTokensANewOneIsRefusedNotAnOldOneForgotten) {
  ReplayGuard guard(2);
  EXPECT_EQ(guard.use("j1", 1, 1000, 500), ReplayGuard::Use::kFirst);
  EXPECT_EQ(guard.use("j2", 1, 1000, 500), ReplayGuard::Use::kFirst);
  EXPECT_EQ(guard.use("j3", 1, 1000, 500), ReplayGuard::Use::kFull);
  EXPECT_EQ(guard.use("j1", 2, 1000, 500), ReplayGuard::Use::kReplayed);
  // Once they expire there is room again.
  EXPECT_EQ(guard.use("j3", 1, 3000, 1000), ReplayGuard::Use::kFirst);
  EXPECT_EQ(guard.size(), 1u);
}

}  // namespace
}  // namespace bombarder

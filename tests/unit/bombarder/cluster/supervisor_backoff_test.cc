#include <gtest/gtest.h>

#include "bombarder/cluster/supervisor.h"

namespace bombarder {
namespace {

using std::chrono::milliseconds;

TEST(SupervisorBackoff, FirstRestartAfterAStablePeriodIsImmediate) {
  EXPECT_EQ(restart_delay(SuperviseSpec{}, 0), milliseconds(0));
}

TEST(SupervisorBackoff, CrashLoopDoublesFromTheMinimumUpToTheCap) {
  SuperviseSpec spec;
  spec.backoff_min = milliseconds(1000);
  spec.backoff_max = milliseconds(5000);
  EXPECT_EQ(restart_delay(spec, 1), milliseconds(1000));
  EXPECT_EQ(restart_delay(spec, 2), milliseconds(2000));
  EXPECT_EQ(restart_delay(spec, 3), milliseconds(4000));
  EXPECT_EQ(restart_delay(spec, 4), milliseconds(5000));
  // Any count stays at the cap (no overflow of the doubling).
  EXPECT_EQ(restart_delay(spec, 1'000'000), milliseconds(5000));
}

}  // namespace
}  // namespace bombarder

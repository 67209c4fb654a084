#include "bombarder/base/signal_watch.h"

#include <gtest/gtest.h>
#include <signal.h>

#include "bombarder/base/errors.h"

namespace bombarder {
namespace {

using namespace std::chrono_literals;

TEST(SignalWatch, ASignalWakesTheWaitAndSetsTheFlag) {
  SignalWatch watch({SIGUSR1});
  EXPECT_FALSE(watch.interrupted());
  EXPECT_EQ(watch.wait(0ms), 0);
  ASSERT_EQ(::raise(SIGUSR1), 0);
  EXPECT_TRUE(watch.interrupted());
  EXPECT_TRUE(SignalWatch::flag().load());
  EXPECT_EQ(watch.wait(1000ms), SIGUSR1);
  // wait() consumed the signal; the flag stays set.
  EXPECT_EQ(watch.wait(0ms), 0);
  EXPECT_TRUE(watch.interrupted());
}

TEST(SignalWatch, ANewWatchStartsUninterrupted) {
  {
    SignalWatch watch({SIGUSR1});
    ASSERT_EQ(::raise(SIGUSR1), 0);
    EXPECT_TRUE(watch.interrupted());
  }
  SignalWatch again({SIGUSR1});
  EXPECT_FALSE(again.interrupted());
  EXPECT_EQ(again.wait(0ms), 0);
}

TEST(SignalWatch, OnlyOneWatchAtATime) {
  SignalWatch watch({SIGUSR1});
  EXPECT_THROW(SignalWatch({SIGUSR2}), Error);
}

TEST(SignalWatch, TheDestructorRestoresThePreviousDisposition) {
  struct sigaction before {};
  ::sigaction(SIGUSR2, nullptr, &before);
  { SignalWatch watch({SIGUSR2}); }
  struct sigaction after {};
  ::sigaction(SIGUSR2, nullptr, &after);
  EXPECT_EQ(after.sa_handler, before.sa_handler);
}

}  // namespace
}  // namespace bombarder

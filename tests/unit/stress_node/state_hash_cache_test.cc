// StateHashCache (stress_node/src/state_hash_cache.h): /status is served the latest hash at
// once, never a scan on the caller's thread (issue 13 bug 3).
#include "state_hash_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace stress_node {
namespace {

using namespace std::chrono_literals;

// A hash "computation" that blocks until released, standing in for a scan of a huge store.
class SlowHash {
 public:
  kv::StateHash compute() {
    std::unique_lock lock(mutex_);
    const raft::Index at = applied_.load();
    ++started_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return released_ >= started_; });
    return kv::StateHash{at, at, at * 1000};
  }
  void release_one() {
    std::lock_guard lock(mutex_);
    ++released_;
    cv_.notify_all();
  }
  bool wait_started(int n) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, 10s, [&] { return started_ >= n; });
  }
  std::atomic<raft::Index> applied_{7};

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  int started_ = 0;
  int released_ = 0;
};

template <typename Pred>
bool eventually(Pred done) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(1ms);
  }
  return done();
}

// The node starts serving while its first hash is computed elsewhere (issue 15: the scan held a
// 1M-entry node's start for 0.6 s); /status has no hash until then.
TEST(StateHashCache, HasNoHashUntilTheFirstIsComputedAndDoesNotHoldTheConstructor) {
  SlowHash slow;
  StateHashCache cache([&] { return slow.compute(); }, [&] { return slow.applied_.load(); });
  ASSERT_TRUE(slow.wait_started(1));  // the worker's first scan, blocked
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(cache.get().has_value());
  EXPECT_EQ(cache.computed(), 0u);
  slow.release_one();
  ASSERT_TRUE(eventually([&] { return cache.get().has_value(); }));
  EXPECT_EQ(cache.get()->applied_index, 7u);
  EXPECT_EQ(cache.get()->hash, 7000u);
  EXPECT_EQ(cache.computed(), 1u);
}

TEST(StateHashCache, ServesTheLastHashAtOnceWhileANewerOneIsComputedElsewhere) {
  SlowHash slow;
  StateHashCache cache([&] { return slow.compute(); }, [&] { return slow.applied_.load(); });
  slow.release_one();
  ASSERT_TRUE(eventually([&] { return cache.get().has_value(); }));
  EXPECT_EQ(cache.get()->applied_index, 7u);

  slow.applied_ = 9;
  // The state moved on: get() answers with the hash of index 7 and starts a scan, which is
  // blocked; get() keeps answering meanwhile, from this thread, without waiting for it.
  EXPECT_EQ(cache.get()->applied_index, 7u);
  ASSERT_TRUE(slow.wait_started(2));
  for (int i = 0; i < 100; ++i) {
    const std::optional<kv::StateHash> h = cache.get();
    ASSERT_TRUE(h.has_value());
    EXPECT_EQ(h->applied_index, 7u);
    EXPECT_EQ(h->hash, 7000u);
  }
  slow.release_one();
  ASSERT_TRUE(eventually([&] { return cache.get()->applied_index == 9u; }));
  EXPECT_EQ(cache.get()->hash, 9000u) << "the hash is the one of the index served with it";
  EXPECT_EQ(cache.computed(), 2u);
}

TEST(StateHashCache, ComputesNothingWhileTheStateStandsStill) {
  std::atomic<int> calls{0};
  StateHashCache cache(
      [&] {
        ++calls;
        return kv::StateHash{5, 1, 42};
      },
      [] { return raft::Index{5}; });
  ASSERT_TRUE(eventually([&] { return cache.get().has_value(); }));
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(cache.get()->hash, 42u);
  EXPECT_EQ(calls.load(), 1);
}

}  // namespace
}  // namespace stress_node

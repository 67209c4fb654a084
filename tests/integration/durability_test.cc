// Crash durability (design.md §4: "SIGKILL loses nothing acknowledged"): every node of the
// cluster is killed at once while clients write, then the cluster restarts from its disks.
// A kill keeps the page cache, so this passes even without any fsync (checked: it passes with
// LogStorage's sync off); power_loss_test.cc is the test that catches a missing fsync.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <iostream>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include "cluster_harness.h"

namespace integration {
namespace {

TEST(Durability, Kill9OfEveryNodeMidWriteLosesNothingAcknowledged) {
  const uint64_t seed = test_seed();
  Cluster cluster;
  cluster.note("seed " + std::to_string(seed));
  ASSERT_TRUE(cluster.wait_for_leader());

  constexpr size_t kWriters = 8;
  constexpr size_t kAckedBeforeKill = 300;
  std::mutex mutex;
  std::map<std::string, std::string> acked;  // id -> value
  std::atomic<size_t> acked_count{0};
  std::atomic<bool> stop{false};
  Workers writers(stop);
  for (size_t w = 0; w < kWriters; ++w) {
    writers.spawn([&, w] {
      for (size_t n = 0; !stop; ++n) {
        std::ostringstream key;
        key << "w" << w << "-" << n;
        const HttpResult r = cluster.create(n % cluster.size(), key.str(), key.str(), {}, 3s);
        if (!r.ok()) {
          std::this_thread::sleep_for(5ms);  // refusals come back at once
          continue;
        }
        std::lock_guard lock(mutex);
        acked[r.json().value("id", "")] = key.str();
        ++acked_count;
      }
    });
  }
  ASSERT_TRUE(wait_until([&] { return acked_count >= kAckedBeforeKill; }, 20s));
  // Kill in a random order, back to back, while writes are in flight.
  std::vector<size_t> order = {0, 1, 2};
  std::shuffle(order.begin(), order.end(), std::mt19937_64(seed));
  for (size_t i : order) cluster.kill(i);
  writers.join();
  std::cout << "[durability] " << acked.size() << " writes acknowledged before the kill"
            << std::endl;

  for (size_t i = 0; i < cluster.size(); ++i) cluster.restart(i);
  ASSERT_TRUE(cluster.wait_for_leader());
  ASSERT_TRUE(cluster.create_retrying("after-restart", "yes").ok());
  ASSERT_TRUE(cluster.wait_converged());
  for (size_t i = 0; i < cluster.size(); ++i) expect_all_present(cluster, i, acked);
}

}  // namespace
}  // namespace integration

#include "watchdog.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace stress_node {
namespace {

using namespace std::chrono_literals;

// A stand-in event loop: a thread running queued tasks, which a test can block at will.
class FakeLoop {
 public:
  FakeLoop() : thread_([this] { run(); }) {}
  ~FakeLoop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      blocked_ = false;
    }
    cv_.notify_all();
    thread_.join();
  }

  bool post(std::function<void()> task) {
    {
      std::lock_guard lock(mutex_);
      tasks_.push_back(std::move(task));
    }
    cv_.notify_all();
    return true;
  }
  void set_blocked(bool blocked) {
    {
      std::lock_guard lock(mutex_);
      blocked_ = blocked;
    }
    cv_.notify_all();
  }
  int ran() const { return ran_.load(); }

 private:
  void run() {
    std::unique_lock lock(mutex_);
    for (;;) {
      cv_.wait(lock, [this] { return stopping_ || (!blocked_ && !tasks_.empty()); });
      if (stopping_) return;
      auto task = std::move(tasks_.front());
      tasks_.pop_front();
      lock.unlock();
      task();
      ++ran_;
      lock.lock();
    }
  }

  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool blocked_ = false;
  bool stopping_ = false;
  std::atomic<int> ran_{0};
  std::thread thread_;
};

// What the watchdog reported, instead of aborting the test binary.
struct Stalls {
  std::mutex mutex;
  std::vector<std::string> loops;
  void add(const std::string& loop) {
    std::lock_guard lock(mutex);
    loops.push_back(loop);
  }
  std::vector<std::string> get() {
    std::lock_guard lock(mutex);
    return loops;
  }
};

bool poll_until(const std::function<bool()>& predicate, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (predicate()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return predicate();
}

WatchedLoop watch(const std::string& name, FakeLoop& loop) {
  return {name, [&loop](std::function<void()> task) { return loop.post(std::move(task)); }};
}

TEST(WatchdogTest, LoopsThatRunTheirHeartbeatsAreLeftAlone) {
  FakeLoop io, raft;
  Stalls stalls;
  Watchdog dog(100ms, {watch("io", io), watch("raft", raft)},
               [&](const std::string& loop, std::chrono::milliseconds) { stalls.add(loop); });
  dog.start();
  // Twenty heartbeats each span five limits: long enough for a false alarm to show.
  ASSERT_TRUE(poll_until([&] { return io.ran() >= 20 && raft.ran() >= 20; }, 10s));
  dog.stop();
  EXPECT_TRUE(stalls.get().empty());
}

TEST(WatchdogTest, ABlockedLoopIsReportedByNameAndTheOtherIsNot) {
  FakeLoop io, raft;
  Stalls stalls;
  Watchdog dog(100ms, {watch("io", io), watch("raft", raft)},
               [&](const std::string& loop, std::chrono::milliseconds late) {
                 EXPECT_GT(late, 100ms);
                 stalls.add(loop);
               });
  dog.start();
  ASSERT_TRUE(poll_until([&] { return raft.ran() >= 2; }, 5s));
  raft.set_blocked(true);
  ASSERT_TRUE(poll_until([&] { return !stalls.get().empty(); }, 5s));
  dog.stop();
  raft.set_blocked(false);
  for (const std::string& loop : stalls.get()) EXPECT_EQ(loop, "raft");
}

TEST(WatchdogTest, ALoopThatRefusesHeartbeatsIsStuckToo) {
  Stalls stalls;
  std::atomic<int> offered{0};
  Watchdog dog(100ms,
               {{"raft",
                 [&](std::function<void()>) {
                   ++offered;
                   return false;  // inbox full, every time
                 }}},
               [&](const std::string& loop, std::chrono::milliseconds) { stalls.add(loop); });
  dog.start();
  ASSERT_TRUE(poll_until([&] { return !stalls.get().empty(); }, 5s));
  dog.stop();
  EXPECT_EQ(stalls.get().front(), "raft");
  // Each refusal is retried on the next round rather than counted as in flight forever.
  EXPECT_GE(offered.load(), 2);
}

}  // namespace
}  // namespace stress_node

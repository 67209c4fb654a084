#include "state_hash_cache.h"

#include <sys/resource.h>
#include <unistd.h>

namespace stress_node {

namespace {
// Same niceness as the snapshot thread: a full scan must not compete with the raft and io
// threads for the cores. (Linux: nice is per thread.)
constexpr int kWorkerNice = 10;
}  // namespace

StateHashCache::StateHashCache(const kv::StateMachine& state)
    : StateHashCache([&state] { return state.state_hash(); },
                     [&state] { return state.applied_index(); }) {}

StateHashCache::StateHashCache(Compute compute, AppliedIndex applied_index)
    : compute_(std::move(compute)), applied_index_(std::move(applied_index)) {
  worker_ = std::thread([this] { run(); });
}

StateHashCache::~StateHashCache() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  worker_.join();
}

std::optional<kv::StateHash> StateHashCache::get() {
  const raft::Index applied = applied_index_();
  std::lock_guard lock(mutex_);
  if (latest_ && latest_->applied_index != applied && !wanted_) {
    wanted_ = true;
    cv_.notify_all();
  }
  return latest_;
}

uint64_t StateHashCache::computed() const {
  std::lock_guard lock(mutex_);
  return computed_;
}

void StateHashCache::run() {
  ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), kWorkerNice);
  std::unique_lock lock(mutex_);
  for (;;) {
    cv_.wait(lock, [this] { return wanted_ || stopping_; });
    if (stopping_) return;
    lock.unlock();
    const auto started = std::chrono::steady_clock::now();
    kv::StateHash hash = compute_();
    const auto took = std::chrono::steady_clock::now() - started;
    lock.lock();
    latest_ = hash;
    ++computed_;
    wanted_ = false;
    // Rest as long as the scan took (requests meanwhile are served the hash just made).
    if (cv_.wait_for(lock, took, [this] { return stopping_; })) return;
  }
}

}  // namespace stress_node

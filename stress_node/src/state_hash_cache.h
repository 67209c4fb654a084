// StateHashCache: serves the state machine's hash (kv::StateMachine::state_hash, O(entries))
// to /status without computing it on the caller's thread (the io thread, which also carries
// the peer traffic: a full scan there at 1M entries stalled heartbeats, issue 13 bug 3).
//
// A worker thread computes the hash on demand: get() returns the latest one at once, with the
// applied index it describes (kv::StateHash::applied_index), and asks the worker for a new one
// when the state machine has applied more since. Replicas at the same applied index still
// report the same hash; callers that compare replicas compare hashes of equal index (bombarder
// verify and the test harness wait until state_hash_index == applied_index).
//
// Bounds: one computation at a time; after each, the worker rests as long as it took, so it
// uses at most half a core however often /status is polled.
//
// The first hash is computed by the worker too, as soon as it starts: until it is done get()
// has none (/status serves null). Computing it in the constructor held the node's start behind
// a scan of the whole state: 37% of a 1M-entry node's time to its first /status (issue 15).
//
// Threads: get() from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "kv/state_machine.h"

namespace stress_node {

class StateHashCache {
 public:
  using Compute = std::function<kv::StateHash()>;
  using AppliedIndex = std::function<raft::Index()>;

  explicit StateHashCache(const kv::StateMachine& state);
  // For tests: any hash function and applied-index source.
  StateHashCache(Compute compute, AppliedIndex applied_index);
  ~StateHashCache();
  StateHashCache(const StateHashCache&) = delete;
  StateHashCache& operator=(const StateHashCache&) = delete;

  // O(1): the latest computed hash, none before the first is done. Wakes the worker if the
  // state has moved on since.
  [[nodiscard]] std::optional<kv::StateHash> get();
  // How many hashes the worker computed (the constructor's included).
  [[nodiscard]] uint64_t computed() const;

 private:
  void run();

  const Compute compute_;
  const AppliedIndex applied_index_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::optional<kv::StateHash> latest_;
  uint64_t computed_ = 0;
  bool wanted_ = true;  // the first hash
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace stress_node

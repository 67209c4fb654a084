// RaftNode: one Raft member's consensus thread. It owns the RaftCore and the kv::Store, runs
// ticks, steps peer messages, executes every Ready batch through raft::execute_ready (persist
// with fsync, send, apply) and completes client requests when their entries are applied or
// their reads are confirmed.
//
// Threads: every public method is thread-safe. Completion callbacks run exactly once each, on
// the raft thread (or on the calling thread when a request is refused at once because the
// inbox is full or the node is stopping); they must be short and must not call back into
// RaftNode synchronously (post the work to your own executor instead).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "kv/codec.h"
#include "kv/store.h"
#include "metrics.h"
#include "peer_sender.h"
#include "peer_validator.h"
#include "raft/batch.h"
#include "raft/raft_core.h"

namespace stress_node {

struct RaftNodeConfig {
  raft::NodeId id = 0;
  std::vector<raft::NodeId> voters;  // all members, self included
  int tick_ms = 25;
  int election_timeout_ticks = 6;  // randomized in [t, 2t) ticks: 150-300 ms by default
  int heartbeat_interval_ticks = 2;
  uint64_t snapshot_threshold_entries = 100000;  // snapshot once this many applied past the last
  // ... and at least this many times the live records of the state (snapshot_interval_entries).
  double snapshot_state_ratio = 1.0;
  uint64_t snapshot_keep_entries = 1000;           // log kept behind a snapshot for slow followers
  std::chrono::milliseconds commit_timeout{5000};  // past it a write's outcome is unknown (504)
  std::chrono::milliseconds read_timeout{3000};
  size_t pending_writes_max = 20000;  // client writes waiting for commit; more get kBusy
  size_t pending_reads_max = 20000;
  size_t inbox_max = 100000;  // queued inputs to the raft thread; more are refused (kBusy)
  // Peer payload bytes (entries, snapshot chunks) queued for the raft thread; past it peer
  // batches are dropped (Raft retransmits) so that a flood cannot grow the inbox without bound.
  uint64_t inbox_bytes_max = 256ull << 20;
  // Observes every log persist (one synced WriteBatch per Ready batch), when set.
  LatencyHistogram* persist_latency = nullptr;
};

enum class Outcome : uint8_t {
  kOk,
  kNotLeader,     // this node is not the leader; see `leader` (forward there)
  kNoLeader,      // no leader known right now (election); retry after a short wait
  kBusy,          // a bound was hit; retry later
  kLost,          // definitely not applied (leadership changed before commit); safe to retry
  kTimeout,       // not confirmed in time: the write may or may not be applied (504)
  kShuttingDown,  // the node is stopping and did not take the request: not applied (503)
  kStopped,       // proposed, then the node stopped before the commit was seen: unknown (504)
  kInvalid,       // the command breaks libkv's bounds (kv::encode_command refused it): 400
};
const char* to_string(Outcome outcome);

struct WriteOutcome {
  Outcome outcome = Outcome::kOk;
  raft::NodeId leader = raft::kNoNode;
  kv::ApplyResult result;  // kOk only
};

struct ReadOutcome {
  Outcome outcome = Outcome::kOk;  // kOk: the local state machine may now be read linearizably
  raft::NodeId leader = raft::kNoNode;
};

// A consistent copy of what /status, /_raft/health, /_raft/sync-status and /metrics show,
// refreshed by the raft thread after every batch.
// Count, total, last and longest of one kind of timed operation (milliseconds).
struct DurationStats {
  uint64_t count = 0;
  uint64_t total_ms = 0;
  uint64_t last_ms = 0;
  uint64_t max_ms = 0;
  void add(uint64_t ms) {
    ++count;
    total_ms += ms;
    last_ms = ms;
    max_ms = std::max(max_ms, ms);
  }
};

// How long snapshot work took (for /_raft/resync_stats), measured on the raft thread.
struct SnapshotTimings {
  DurationStats created;    // capture + serialize + commit of a local snapshot
  DurationStats installed;  // follower: installing a received snapshot into the store
  // Leader: from a follower entering snapshot progress until it replicates again at or past
  // the snapshot's index (the whole transfer, as the follower experienced it).
  DurationStats sent;
  uint64_t sends_abandoned = 0;  // left snapshot progress without reaching the index
  std::map<raft::NodeId, int64_t> sending_for_ms;  // transfers under way: ms so far
};

struct NodeStatus {
  raft::CoreStatus core;
  raft::CoreCounters counters;
  kv::LogStats log;
  raft::SnapshotMeta snapshot;
  uint64_t entry_count = 0;
  uint64_t pending_writes = 0;
  uint64_t pending_reads = 0;
  uint64_t batches = 0;
  // Follower last contact (leader only): ms since the last message from each peer.
  std::map<raft::NodeId, int64_t> last_contact_ms;
  std::map<raft::NodeId, uint64_t> send_failures;  // filled by the transport via note_*
  SnapshotTimings snapshot_timings;
  // Raft thread inbox (RaftNodeConfig::inbox_max, inbox_bytes_max).
  uint64_t inbox_bytes = 0;                // gauge: peer payload bytes queued now
  uint64_t inbox_rejected_full_tasks = 0;  // inputs refused: inbox_max tasks queued
  uint64_t inbox_rejected_full_bytes = 0;  // peer batches refused: inbox_bytes_max reached
};

// How many entries are applied past the last snapshot before the next one: at least
// `threshold_entries`, and at least `state_ratio` times the state's live records (entries and
// idempotency records). A snapshot writes the whole state, so with a fixed interval its cost per
// write grows with the store (at 1M entries, 100k-entry intervals spent half the leader's CPU
// writing snapshots, issue 15); an interval proportional to the state keeps it constant: each
// applied entry pays for about 1/state_ratio records written. The log kept between snapshots is
// then up to state_ratio times the state; a restart does not replay it (the state machine is
// durable on its own), so only disk space pays for it. state_ratio 0: the fixed interval alone.
[[nodiscard]] uint64_t snapshot_interval_entries(uint64_t threshold_entries, double state_ratio,
                                                 uint64_t live_records);

class RaftNode {
 public:
  using WriteDone = std::function<void(WriteOutcome)>;
  using ReadDone = std::function<void(ReadOutcome)>;

  RaftNode(RaftNodeConfig config, std::unique_ptr<kv::Store> store, PeerSender& sender);
  ~RaftNode();  // stops the thread if still running
  RaftNode(const RaftNode&) = delete;
  RaftNode& operator=(const RaftNode&) = delete;

  void start();
  // Hands leadership to the most up-to-date peer if we lead (bounded by `timeout`), then stops
  // the raft thread; pending writes complete with kStopped, pending reads with kShuttingDown.
  void stop(std::chrono::milliseconds transfer_timeout);

  // A replicated write. On a follower completes at once with kNotLeader + leader.
  void propose(kv::Command command, WriteDone done);
  // A linearizable read barrier (ReadIndex): completes kOk once the local state machine has
  // applied everything committed before the call. Works on followers too.
  void read_barrier(ReadDone done);
  // Messages from a peer (decoded by the transport).
  void receive(std::vector<raft::Message> messages);
  // Leader only: take a fresh snapshot (written on the snapshot thread, like the background
  // ones) and stream it to `target` as a forced snapshot: the follower installs it even if it
  // already holds everything it covers (raft_core.h, send_snapshot). `done` runs once the
  // transfer has started (kOk), or with kNotLeader, kInvalidArgument (not a peer) or kBusy
  // (nothing applied yet, too many waiting, the snapshot could not be written, stopping).
  void force_resync(raft::NodeId target, std::function<void(raft::Status)> done);

  // Runs `task` on the raft thread between batches: the watchdog's heartbeat and the debug
  // hang (debug_api.h). False if the inbox is full or the node is stopping.
  [[nodiscard]] bool run_on_raft_thread(std::function<void()> task) {
    return post(std::move(task));
  }

  [[nodiscard]] NodeStatus status() const;
  [[nodiscard]] const kv::StateMachine& state() const { return store_->state_machine(); }
  [[nodiscard]] raft::NodeId id() const { return config_.id; }

 private:
  struct PendingWrite {
    raft::Term term;
    WriteDone done;
    std::chrono::steady_clock::time_point deadline;
  };
  struct PendingRead {
    ReadDone done;
    std::chrono::steady_clock::time_point deadline;
    raft::Index index = 0;  // set once confirmed; served when applied >= index
    bool confirmed = false;
  };
  class Io;  // the raft::BatchIo

  void run();
  // Queues a task for the raft thread; false if the inbox is full (inbox_max tasks, or
  // inbox_bytes_max with this task's `bytes`) or the node is stopping.
  [[nodiscard]] bool post(std::function<void()> task, uint64_t bytes = 0);
  // Steps one peer message; a last snapshot chunk is verified first (issue 13 bug 5).
  void step_peer_message(const raft::Message& m);
  [[nodiscard]] bool stopping() const;
  void hand_over_leadership(std::chrono::milliseconds timeout);
  void expire_requests(std::chrono::steady_clock::time_point now);
  void fail_all_pending();  // at stop: writes kStopped (504), reads kShuttingDown (503)
  void on_applied(const std::vector<kv::ApplyResult>& results,
                  const std::vector<raft::Entry>& entries);
  void on_snapshot_installed(raft::Index index);
  void on_read_states(const std::vector<raft::ReadState>& reads);
  void on_leader_changed(raft::NodeId leader);
  void serve_reads();
  struct ForcedResync {
    raft::NodeId target;
    std::function<void(raft::Status)> done;
  };
  // Forced resyncs waiting for a snapshot thread to be free; more are refused (kBusy).
  static constexpr size_t kForcedResyncsWaitingMax = 16;
  void maybe_snapshot();
  // Captures the state now, writes it on snapshot_thread_, commits it back on this thread,
  // then starts the forced transfers in `forced`.
  void start_snapshot(std::vector<ForcedResync> forced);
  bool commit_snapshot(const kv::Result<kv::SnapshotFile>& file, int64_t took_ms);
  void send_forced_snapshot(ForcedResync& request, bool snapshot_committed);
  void refresh_status();

  const RaftNodeConfig config_;
  std::unique_ptr<kv::Store> store_;
  PeerSender& sender_;
  std::unique_ptr<raft::RaftCore> core_;
  std::unique_ptr<Io> io_;

  // Inbox: tasks for the raft thread.
  mutable std::mutex inbox_mutex_;
  std::condition_variable inbox_cv_;
  struct Task {
    std::function<void()> run;
    uint64_t bytes = 0;  // peer payload it carries (inbox_bytes_max)
  };
  std::deque<Task> inbox_;
  uint64_t inbox_bytes_ = 0;
  uint64_t inbox_rejected_tasks_ = 0;
  uint64_t inbox_rejected_bytes_ = 0;
  bool stopping_ = false;
  std::thread thread_;

  // Raft-thread state.
  // Client writes by the log index their entry was placed at. One index may hold several: a
  // leader whose uncommitted entries were truncated (it lost leadership, a new leader's entries
  // replaced them) and who leads again reuses those indexes for new proposals. Applying the
  // index decides each of them by term (ProposeResult): the one whose term the applied entry
  // carries committed, the others are lost. (A superseded record is not "lost" as soon as it
  // is superseded: another node holding its entry may still win an election and commit it.)
  std::multimap<raft::Index, PendingWrite> pending_writes_;
  std::map<uint64_t, PendingRead> pending_reads_;
  raft::NodeId known_leader_ = raft::kNoNode;  // as of the last soft state change
  // ReadIndex request ids count up from a random 64-bit value per process start, so that an
  // answer from before a restart (or a guess) cannot match a new request (issue 14).
  uint64_t next_read_id_;
  RateLimitedLog snapshot_reject_log_{std::chrono::milliseconds(1000)};  // bad snapshot bodies
  std::map<raft::NodeId, std::chrono::steady_clock::time_point> last_contact_;
  // Times snapshot transfers to followers from the progress states in `core` (raft thread).
  void track_snapshot_sends(const raft::CoreStatus& core,
                            std::chrono::steady_clock::time_point now);
  // Raft thread: snapshot timings, and the transfers under way (start time, snapshot index).
  SnapshotTimings snapshot_timings_;
  std::map<raft::NodeId, std::pair<std::chrono::steady_clock::time_point, raft::Index>>
      snapshot_sends_;
  // Set on the raft thread; cleared on the raft thread by the commit task, or on the snapshot
  // thread when that task cannot be queued (the node is stopping or the inbox is full).
  std::atomic<bool> snapshot_in_progress_{false};
  std::thread snapshot_thread_;  // serializes one snapshot at a time off the raft thread
  std::vector<ForcedResync> forced_waiting_;  // raft thread

  mutable std::mutex status_mutex_;
  std::condition_variable status_cv_;  // notified after every refresh
  NodeStatus status_;
};

}  // namespace stress_node

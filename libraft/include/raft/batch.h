// The one place where the ordering rule is written down and enforced. stress_node and the
// simulator both execute every Ready batch through execute_ready().
#pragma once

#include <vector>

#include "raft/raft_core.h"

namespace raft {

// What a host provides to execute a batch. Implementations do the work; the order is not theirs
// to choose.
class BatchIo {
 public:
  virtual ~BatchIo() = default;
  // Write, atomically, everything the batch asks to persist (called when
  // ready.must_persist()); return only once synced when ready.must_sync(). A host that cannot
  // persist must not return (abort): continuing would send promises it cannot keep.
  virtual void persist(const Ready& ready) = 0;
  // Hand messages to the transport. Called at most twice per batch: first with the leader's
  // replication messages (sendable_before_persist), before persist(); then with the rest, only
  // after persist() returned.
  virtual void send(std::vector<Message>&& messages) = 0;
  // Apply committed entries (or the installed snapshot, already persisted) to the state machine.
  virtual void apply(const Ready& ready) = 0;
  // Reads confirmed or failed; the host serves ok ones once applied >= index.
  virtual void reads(std::vector<ReadState>&& reads) = 0;
  // Role/leader/term changed (for logs and metrics).
  virtual void soft_state_changed(const SoftState& soft) = 0;
};

// Executes batches until the core has nothing more to do (bounded: at most `max_batches`).
// Returns the number of batches executed.
int execute_ready(RaftCore& core, BatchIo& io, int max_batches = 64);

}  // namespace raft

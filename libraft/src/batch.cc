#include "raft/batch.h"

namespace raft {

bool sendable_before_persist(const Message& m) {
  return m.type == MessageType::kAppend || m.type == MessageType::kHeartbeat ||
         m.type == MessageType::kSnapshot;
}

// The ordering rule, written once (design.md §2, thesis §10.2.1):
//   a leader's replication messages go out first, so that followers write to their disks while
//   the leader writes to its own (the leader counts itself only once its write is durable);
//   persist, syncing when the batch holds entries, a snapshot or a new term or vote, because
//   the other messages may promise what was persisted (a vote, an acknowledged entry: §5.1
//   "respond to RPCs only after updating stable storage");
//   apply only committed entries, after they are durable locally;
//   serve reads only once their index is applied (the host checks that against its state
//   machine as it receives them).
int execute_ready(RaftCore& core, BatchIo& io, int max_batches) {
  int executed = 0;
  while (executed < max_batches && core.has_ready()) {
    Ready ready = core.ready();
    if (ready.soft_state) io.soft_state_changed(*ready.soft_state);
    std::vector<Message> messages = std::move(ready.messages);
    ready.messages.clear();
    if (ready.must_persist()) {
      std::vector<Message> early;
      std::vector<Message> after;
      for (Message& m : messages)
        (sendable_before_persist(m) ? early : after).push_back(std::move(m));
      messages = std::move(after);
      if (!early.empty()) io.send(std::move(early));
      io.persist(ready);
    }
    if (!messages.empty()) io.send(std::move(messages));
    if (ready.snapshot || !ready.committed_entries.empty()) io.apply(ready);
    if (!ready.read_states.empty()) io.reads(std::move(ready.read_states));
    core.advance(ready);
    ++executed;
  }
  return executed;
}

}  // namespace raft

#include "raft/batch.h"

namespace raft {

// The ordering rule, written once (design.md §2):
//   persist and sync first, because the messages may promise what was persisted (a vote, an
//   acknowledged entry: §5.1 "respond to RPCs only after updating stable storage");
//   apply only committed entries, after they are durable locally;
//   serve reads only once their index is applied (the host checks that against its state
//   machine as it receives them).
int execute_ready(RaftCore& core, BatchIo& io, int max_batches) {
  int executed = 0;
  while (executed < max_batches && core.has_ready()) {
    Ready ready = core.ready();
    if (ready.soft_state) io.soft_state_changed(*ready.soft_state);
    if (ready.must_sync()) io.persist(ready);
    if (!ready.messages.empty()) io.send(std::move(ready.messages));
    if (ready.snapshot || !ready.committed_entries.empty()) io.apply(ready);
    if (!ready.read_states.empty()) io.reads(std::move(ready.read_states));
    core.advance(ready);
    ++executed;
  }
  return executed;
}

}  // namespace raft

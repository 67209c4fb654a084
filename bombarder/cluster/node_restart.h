// Bringing a node of the recorded cluster back: the one way chaos (faults/chaos.cc), the
// process fault plugin's resurrect (faults/fault_plugins.cc) and the supervisor
// (cluster/supervisor.cc) restart a node.
//
// A restart starts the node's recorded command line again (same id, data directory, ports,
// output file) and writes the new pid into cluster.json, so that `cluster stop`, chaos, inject
// and the supervisor all follow the new process.
//
// Ready means: the process is still alive, GET /status answers 200, and the answer names a
// leader. That is the strictest of the three meanings the copies had (chaos took any 200, the
// supervisor did not wait, resurrect wanted a leader): a node that answers but has not heard
// from a leader yet is not back in the cluster, and load sent to it right away fails. A node
// answers 503 until then anyway; the leader check also covers a 200 with no leader. The
// supervisor respawns without waiting (it keeps watching the other nodes meanwhile); its
// heartbeat rounds (/_raft/health) are what tell it the node is back.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>

#include "bombarder/cluster/cluster_record.h"

namespace bombarder {

struct Respawned {
  pid_t pid = 0;
  std::string record_error;  // cluster.json could not be updated ("" when it was)
};

// Starts `node` again and records its new pid (matched by id). Throws Error when the
// process cannot be started; a failed record update is returned, not thrown: the process runs.
[[nodiscard]] Respawned respawn_recorded_node(const NodeRecord& node);

struct NodeReady {
  bool ready = false;
  std::chrono::milliseconds took{0};  // from `started` to ready, or to giving up
  std::string why;                    // when not ready: "pid 12 exited; see FILE", ...
};

// Polls `node` (every 20 ms, each probe bounded by 500 ms) until it is ready (above), its
// process `pid` exits, or `timeout` from `started` passes.
[[nodiscard]] NodeReady wait_node_ready(const NodeRecord& node, pid_t pid,
                                        std::chrono::steady_clock::time_point started,
                                        std::chrono::milliseconds timeout);

}  // namespace bombarder

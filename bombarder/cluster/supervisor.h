// The supervisor (issue 7 "Supervisor and watchdog"): keeps the recorded cluster alive. Every
// poll it asks each node for its heartbeat (GET /_raft/health). A node silent for `dead_after`
// (6 s by default) is declared dead, whatever the reason (killed, crashed, aborted by its
// watchdog, hung, paused): "node N is DEAD. Restarting..." is logged, a process that still
// exists is SIGKILLed (a hung node must not keep the RocksDB lock), and the node is started again
// with its recorded command line (same member, same data directory); cluster.json gets the new
// PID.
//
// Going by the heartbeat alone, not by the process table, is deliberate: a fault that the
// injector reverts within the timeout (a pause, `inject --down-for 5s`) is left to the injector,
// and a node that runs but answers nothing is treated as dead.
//
// Crash loops back off: a node that dies again before it has been healthy for `stable_after`
// waits restart_delay() before its next start (backoff_min, doubling, up to backoff_max).
//
// The record is re-read every round, so nodes restarted by someone else (chaos, inject) are
// followed by their new PID. The supervisor ends when cluster.json disappears (`cluster stop`).
//
// Threads: one thread calls round(); `log` is called from it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "bombarder/client/api_client.h"
#include "bombarder/cluster/cluster_record.h"

namespace bombarder {

struct SuperviseSpec {
  std::chrono::milliseconds dead_after{6000};  // heartbeat silence that declares a node dead
  std::chrono::milliseconds poll{500};         // between rounds; also bounds each health request
  std::chrono::milliseconds backoff_min{1000};
  std::chrono::milliseconds backoff_max{30000};
  std::chrono::milliseconds stable_after{10000};  // healthy this long: the crash loop is over
};

// The wait before a restart, given how many restarts this crash loop has had already (0: the
// node was stable before it died): 0, then backoff_min, 2*backoff_min, ..., at most backoff_max.
[[nodiscard]] std::chrono::milliseconds restart_delay(const SuperviseSpec& spec,
                                                      int restarts_in_loop);

class Supervisor {
 public:
  using Clock = std::chrono::steady_clock;
  Supervisor(SuperviseSpec spec, std::function<void(const std::string& line)> log);

  // One round at `now`: heartbeats, verdicts, due restarts. False when the record is gone (the
  // cluster was stopped): the supervisor should end.
  [[nodiscard]] bool round(Clock::time_point now);

  [[nodiscard]] uint64_t restarts() const { return restarts_; }

 private:
  struct Watch {
    pid_t pid = 0;                     // the PID this watch has seen recorded
    Clock::time_point last_heartbeat;  // or when watching began / the node was restarted
    Clock::time_point restarted_at;
    int restarts_in_loop = 0;
    bool dead = false;
    Clock::time_point restart_at;  // when dead: the start is due then
  };
  void declare_dead(const NodeRecord& node, Watch& watch, Clock::time_point now);
  void restart(const NodeRecord& node, Watch& watch, Clock::time_point now);

  SuperviseSpec spec_;
  std::function<void(const std::string&)> log_;
  ApiClient client_;
  std::map<uint64_t, Watch> watches_;  // by node id
  uint64_t restarts_ = 0;
};

// `bombarder supervise` (supervise_command.cc): registers itself in cluster.json, runs rounds
// until SIGINT/SIGTERM or the record disappears, deregisters. Lines go to stdout with a UTC
// timestamp.
struct SuperviseFlags {
  double dead_after_s = 6;
  double poll_s = 0.5;
  double backoff_min_s = 1;
  double backoff_max_s = 30;
  double stable_after_s = 10;
};
// `log_path`: "" writes to stdout; else lines are appended to that file (and it is recorded).
// Returns when a signal came or the record is gone. Throws Error(kInvalidInput) for bad flags,
// Error(kEnvironment) when no cluster is recorded or another supervisor runs.
void run_supervise(const SuperviseFlags& flags, const std::string& log_path);

// `cluster start --supervise`: starts `bombarder supervise --log $STRESS_TEST_DATA/
// supervisor.log` detached, waits (bounded) until it has registered in cluster.json, and
// prints its PID and log (to stderr when `json`). Throws Error(kEnvironment) when it does not
// come up.
void start_background_supervisor(bool json);

// `cluster stop`, before the nodes: SIGTERM to the recorded supervisor if it is still one
// (SIGKILL after a short grace). "" when none was recorded, else a line saying what happened.
[[nodiscard]] std::string stop_recorded_supervisor(const ClusterRecord& record);

}  // namespace bombarder

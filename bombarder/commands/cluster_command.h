// The bodies of `cluster start|stop|status|sync-status|resync`: the module call, the output and
// the exit code (exit_codes.h). cluster_command.cc declares the flags and calls these;
// cluster_lifecycle_command.cc and cluster_inspect_command.cc define them.
#pragma once

#include "bombarder/cluster/cluster_inspect.h"
#include "bombarder/cluster/cluster_lifecycle.h"

namespace bombarder {

[[nodiscard]] int cluster_start_command(const StartFlags& flags);
[[nodiscard]] int cluster_stop_command(const StopFlags& flags);
[[nodiscard]] int cluster_status_command(const StatusFlags& flags);
[[nodiscard]] int cluster_sync_status_command(const SyncStatusFlags& flags);
[[nodiscard]] int cluster_resync_command(const ResyncFlags& flags);

}  // namespace bombarder

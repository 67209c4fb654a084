// watch (issue 4 "Verify and watch"): a live view of every node, one round per interval, until
// Ctrl-C or --count rounds. On a terminal each round redraws the screen in place; in a pipe each
// round is a block under its timestamp line; --json prints one object per line per round.
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>

#include "bombarder/base/signal_watch.h"
#include "bombarder/base/terminal.h"
#include "bombarder/base/text.h"
#include "bombarder/client/api_client.h"
#include "bombarder/client/node_url.h"
#include "bombarder/cluster/cluster_leader.h"
#include "bombarder/cluster/cluster_record.h"
#include "bombarder/cluster/watch_view.h"
#include "bombarder/commands/commands.h"
#include "bombarder/commands/duration_flag.h"
#include "bombarder/commands/exit_codes.h"

namespace bombarder {

namespace {

using Clock = std::chrono::steady_clock;

// Below this, the rounds would mostly measure the survey itself.
constexpr double kIntervalMin_s = 0.05;

struct WatchFlags {
  std::vector<std::string> nodes;
  std::string leader;
  double interval_s = 1;
  int64_t count = 0;  // 0: until Ctrl-C
  bool json = false;
};

// The nodes to watch: --nodes; or --leader and every member it lists; or default_nodes().
std::vector<common::Endpoint> watched_nodes(ApiClient& client, const WatchFlags& f) {
  if (!f.nodes.empty()) return parse_node_list(f.nodes);
  if (f.leader.empty()) return default_nodes();
  const common::Endpoint start = parse_node_url(f.leader);
  const ClusterView view = survey(client, {start}, 2s);
  if (!view.nodes[0].status) {
    environment_failure("--leader " + start.to_string() + " does not answer /status (" +
                        view.nodes[0].error + "); is a cluster running?");
  }
  std::vector<common::Endpoint> nodes = with_members({start}, *view.nodes[0].status);
  std::sort(nodes.begin(), nodes.end());  // in member order, not with the given node first
  return nodes;
}

// Sleeps until `until`; false if SIGINT or SIGTERM came meanwhile.
bool sleep_until(SignalWatch& signals, Clock::time_point until) {
  while (!signals.interrupted()) {
    const auto now = Clock::now();
    if (now >= until) return true;
    (void)signals.wait(
        std::chrono::ceil<std::chrono::milliseconds>(until - now));  // returns on a signal
  }
  return false;
}

int run_watch(const WatchFlags& f) {
  if (!(f.interval_s >= kIntervalMin_s)) invalid_input("--interval must be at least 0.05 seconds");
  if (f.count < 0) invalid_input("--count must not be negative");
  if (!f.nodes.empty() && !f.leader.empty()) invalid_input("give --nodes or --leader, not both");
  SignalWatch signals({SIGINT, SIGTERM});
  ApiClient client;
  const std::vector<common::Endpoint> nodes = watched_nodes(client, f);
  const auto interval =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(f.interval_s));
  // A node that hangs must not stall the rounds much beyond the interval.
  const auto survey_timeout = std::chrono::milliseconds(
      std::clamp<int64_t>(static_cast<int64_t>(f.interval_s * 1000), 250, 2000));
  const bool redraw = !f.json && stdout_is_terminal();

  std::optional<WatchRound> previous;
  Clock::time_point previous_at;
  const auto first_at = Clock::now();
  for (uint64_t round = 1; !signals.interrupted(); ++round) {
    const auto at = Clock::now();
    const ClusterView view = survey(client, nodes, survey_timeout);
    if (round == 1 && view.reachable() == 0) {
      environment_failure("no node answers /status (" + view.nodes[0].endpoint.to_string() + ": " +
                          view.nodes[0].error + (nodes.size() > 1 ? "; ..." : "") +
                          "); is a cluster running? (`bombarder cluster start`)");
    }
    const double elapsed_s =
        previous ? std::chrono::duration<double>(at - previous_at).count() : 0.0;
    WatchRound current = make_watch_round(view, previous ? &*previous : nullptr, elapsed_s, round,
                                          utc_timestamp_now());
    if (f.json) {
      std::cout << watch_round_json(current).dump() << '\n';
    } else {
      std::string frame;
      if (redraw) {
        frame += "\033[H\033[2J";  // cursor home, clear the screen
        char title[96];
        std::snprintf(title, sizeof title, "bombarder watch: every %g s, Ctrl-C to stop\n\n",
                      f.interval_s);
        frame += title;
      } else if (round > 1) {
        frame += "\n";
      }
      for (const std::string& line : render_watch_round(current)) frame += line + "\n";
      std::fputs(frame.c_str(), stdout);
    }
    std::cout.flush();
    std::fflush(stdout);
    if (f.count > 0 && round >= static_cast<uint64_t>(f.count)) break;
    previous = std::move(current);
    previous_at = at;
    // Rounds on a fixed cadence from the first, so slow surveys do not make the clock drift.
    if (!sleep_until(signals, first_at + interval * static_cast<int64_t>(round))) break;
  }
  return kExitOk;
}

}  // namespace

void add_watch_command(CLI::App& app, int& exit_code) {
  auto f = std::make_shared<WatchFlags>();
  CLI::App* cmd = app.add_subcommand(
      "watch",
      "Live view of every node: role, term, commit and applied index, lag behind the leader's "
      "commit index, entries, writes per second (applied-index growth), reachability. Redraws "
      "in place on a terminal; prints one block per round when piped. Ctrl-C ends it (exit 0); "
      "exit 3 when no node answers in the first round.");
  cmd->add_option("--nodes", f->nodes,
                  "Nodes to watch, comma-separated URLs "
                  "[default: the recorded cluster, else 127.0.0.1:8080-8082]")
      ->delimiter(',');
  cmd->add_option("--leader", f->leader,
                  "Any node of the cluster: watch it and every member it lists");
  add_seconds_option(cmd, "--interval", f->interval_s, "Time between rounds")
      ->capture_default_str();
  cmd->add_option("--count", f->count, "Stop after this many rounds [default: until Ctrl-C]");
  cmd->add_flag("--json", f->json, "One JSON object per line per round");
  cmd->footer("Exit codes: 0 ok (Ctrl-C or --count reached), 2 usage error, 3 no node answers.");
  cmd->callback([f, &exit_code] { exit_code = run_watch(*f); });
}

}  // namespace bombarder

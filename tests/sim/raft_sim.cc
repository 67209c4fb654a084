// raft_sim: runs the deterministic cluster simulation over a range of seeds.
//
//   raft_sim --seeds N --start S   seeds S..S+N-1; stops at the first failure
//   raft_sim --seed S --verbose    replays one seed, printing every event
//
// Exit status: 0 all seeds passed, 1 a seed failed, 2 bad command line.
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>

#include "sim/scenario.h"
#include "sim/str.h"

namespace {

constexpr uint64_t kDefaultSeeds = 20;

constexpr const char* kUsage =
    "usage: raft_sim [--seeds N] [--start S] [--keep-going] | --seed S [--verbose]\n"
    "  --seeds N    number of seeds to run (default 20)\n"
    "  --start S    first seed (default 0)\n"
    "  --seed S     run only seed S (same as --start S --seeds 1)\n"
    "  --verbose    print every event of every seed run (use with --seed)\n"
    "  --keep-going report every failing seed instead of stopping at the first (triage)\n"
    "  --help       this text\n"
    "Runs a Raft cluster under a seeded faulty network, disk and clock, checks the safety\n"
    "invariants after every event and liveness at the end; exits 1 on the first failure.\n";

struct Args {
  uint64_t start = 0;
  uint64_t seeds = kDefaultSeeds;
  bool verbose = false;
  bool keep_going = false;
};

std::optional<uint64_t> parse_u64(std::string_view text) {
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

[[noreturn]] void usage_error(const std::string& what) {
  std::fprintf(stderr, "raft_sim: %s (try --help)\n", what.c_str());
  std::exit(2);
}

Args parse_args(int argc, char** argv) {
  Args args;
  bool seed_given = false;
  bool range_given = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view flag = argv[i];
    std::optional<std::string_view> inline_value;
    if (const size_t eq = flag.find('='); flag.starts_with("--") && eq != std::string_view::npos) {
      inline_value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
    }
    if (flag == "--help" || flag == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (flag == "--verbose" && !inline_value) {
      args.verbose = true;
      continue;
    }
    if (flag == "--keep-going" && !inline_value) {
      args.keep_going = true;
      continue;
    }
    if (flag != "--seeds" && flag != "--start" && flag != "--seed") {
      usage_error(sim::str("unknown flag '", argv[i], "'"));
    }
    if (!inline_value && i + 1 >= argc) usage_error(sim::str(flag, " needs a value"));
    const std::string_view text = inline_value ? *inline_value : std::string_view(argv[++i]);
    const std::optional<uint64_t> value = parse_u64(text);
    if (!value) usage_error(sim::str(flag, " wants a number, got '", text, "'"));
    if (flag == "--seed") {
      args.start = *value;
      args.seeds = 1;
      seed_given = true;
    } else if (flag == "--start") {
      args.start = *value;
      range_given = true;
    } else {
      if (*value == 0) usage_error("--seeds must be at least 1");
      args.seeds = *value;
      range_given = true;
    }
  }
  if (seed_given && range_given) usage_error("--seed cannot be combined with --seeds/--start");
  return args;
}

// A RAFT_ASSERT inside the core aborts the process, a memory error kills it; the seed must still
// be reported. The message is formatted before each seed so that the handler only calls
// async-signal-safe write().
char abort_message[256];
size_t abort_message_bytes = 0;

extern "C" void on_fatal_signal(int signal) {
  (void)!write(STDERR_FILENO, abort_message, abort_message_bytes);
  std::signal(signal, SIG_DFL);
  std::raise(signal);
}

void arm_abort_report(uint64_t seed) {
  const int n =
      std::snprintf(abort_message, sizeof abort_message,
                    "raft_sim: FAIL seed=%llu property=ProcessDied: a fatal signal "
                    "(a core assertion above, or a memory error)\nreplay: %s\n",
                    static_cast<unsigned long long>(seed), sim::replay_command(seed).c_str());
  abort_message_bytes = n > 0 ? std::min(static_cast<size_t>(n), sizeof abort_message - 1) : 0;
}

void print_failure(const sim::SeedReport& r) {
  std::fflush(stdout);
  std::fprintf(stderr, "raft_sim: FAIL seed=%llu property=%s: %s\nreplay: %s\n",
               static_cast<unsigned long long>(r.seed), r.property.c_str(), r.description.c_str(),
               sim::replay_command(r.seed).c_str());
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = parse_args(argc, argv);
  const auto started = std::chrono::steady_clock::now();
  sim::SeedOptions options;
  if (args.verbose) {
    // Line-buffered, so that the events before a core assertion's abort are all printed.
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    options.verbose = &std::cout;
  }

  for (int fatal : {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL}) std::signal(fatal, on_fatal_signal);
  sim::SeedReport total;
  uint64_t seeds_run = 0;
  uint64_t failures = 0;
  for (uint64_t seed = args.start; seed - args.start < args.seeds; ++seed) {
    arm_abort_report(seed);
    const sim::SeedReport r = sim::run_seed(seed, options);
    ++seeds_run;
    total.ticks += r.ticks;
    total.messages += r.messages;
    total.elections += r.elections;
    total.commits += r.commits;
    total.snapshots_installed += r.snapshots_installed;
    total.snapshots_forced += r.snapshots_forced;
    total.snapshots_reinstalled += r.snapshots_reinstalled;
    total.crashes += r.crashes;
    total.liveness_ticks = std::max(total.liveness_ticks, r.liveness_ticks);
    if (r.ok) continue;
    ++failures;
    print_failure(r);
    if (!args.keep_going) break;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf(
      "raft_sim: %s: seeds=%llu (from %llu) failed=%llu ticks=%llu messages=%llu "
      "elections=%llu commits=%llu snapshots_installed=%llu snapshots_forced=%llu "
      "snapshots_reinstalled=%llu crashes=%llu "
      "slowest_convergence_ticks=%llu time=%.2fs (%.1f seeds/s)\n",
      failures > 0 ? "FAILED" : "ok", static_cast<unsigned long long>(seeds_run),
      static_cast<unsigned long long>(args.start), static_cast<unsigned long long>(failures),
      static_cast<unsigned long long>(total.ticks), static_cast<unsigned long long>(total.messages),
      static_cast<unsigned long long>(total.elections),
      static_cast<unsigned long long>(total.commits),
      static_cast<unsigned long long>(total.snapshots_installed),
      static_cast<unsigned long long>(total.snapshots_forced),
      static_cast<unsigned long long>(total.snapshots_reinstalled),
      static_cast<unsigned long long>(total.crashes),
      static_cast<unsigned long long>(total.liveness_ticks), seconds,
      seconds > 0 ? static_cast<double>(seeds_run) / seconds : 0.0);
  return failures > 0 ? 1 : 0;
}

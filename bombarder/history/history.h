// Operation histories (issue 5 "History"): what every load command records with --history FILE
// and what `bombarder check` reads. One JSON object per line (docs/history.md):
//
//   {"type":"op","client":3,"op":"update","id":"<uuid>","key":null,"value":"v1-7-xx",
//    "invoke_ns":123,"complete_ns":456,"outcome":"ok","result":{},"status":200,"attempts":1}
//   {"type":"op","client":4,"op":"list","id":null,"key":"storm-r1-0-17","value":null,"after":null,
//    "limit":10,"invoke_ns":500,"complete_ns":900,"outcome":"ok",
//    "result":{"entries":[{"id":"<uuid>","key":"storm-r1-0-17","value":"v0-17-xx"}]},...}
//   {"type":"fault","action":"kill","node":1,"address":"127.0.0.1:8081","at_ns":789,
//    "detail":"SIGKILL leader pid 1234"}
//   {"type":"role","node":1,"address":"127.0.0.1:8081","at_ns":790,"role":"down","term":null}
//
// Times are steady-clock nanoseconds since the history's origin (the writer's construction), for
// operations, faults and role samples alike. invoke_ns is taken before the first attempt is sent,
// complete_ns after the final answer arrived (retries included), so real-time order is sound.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <istream>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "bombarder/history/operation.h"

namespace bombarder {

// ok: 2xx (the effect happened, the result is what was observed). fail: definitely not applied
// (dropped by the checker). unknown: may or may not have taken effect, at any time after its
// invocation.
enum class Outcome : uint8_t { kOk, kFail, kUnknown };
[[nodiscard]] const char* to_string(Outcome outcome);

struct HistoryOp {
  uint64_t client = 0;
  OpKind kind = OpKind::kCreate;
  std::string id;     // "" for a create whose id is not known (outcome fail or unknown)
  std::string key;    // create: the key written
  std::string value;  // create, update: the value written
  int64_t invoke_ns = 0;
  int64_t complete_ns = 0;
  Outcome outcome = Outcome::kOk;
  bool read_absent = false;  // an ok read answered 404
  std::string read_value;    // an ok read's value
  // list: `key` is the lookup key ("" lists every key); the page is the ids after `after`
  // ("" from the first), at most `limit` of them (0: the limit is not known); `listed` is what an
  // ok list returned, in id order. A list carries no `id`.
  std::string after;
  uint32_t limit = 0;
  std::vector<ListedEntry> listed;
  int status = 0;  // HTTP status of the last attempt (0: transport error)
  uint32_t attempts = 0;
  std::string error;  // the last problem of a failed or unknown operation
  size_t line = 0;    // 1-based line in the file it was read from (0: not read from a file)
};

struct HistoryFault {
  std::string action;  // "kill", "restart", ...
  uint64_t node = 0;
  std::string address;
  int64_t at_ns = 0;
  std::string detail;
};

// A node's role as a sampler saw it (role_sampler.h): written for the first sample of each node
// and whenever its role or term changes. The checker ignores these; the report draws them.
struct HistoryRole {
  uint64_t node = 0;
  std::string address;
  int64_t at_ns = 0;  // when the sample's request was sent
  std::string role;   // the node's word (leader, follower, candidate, pre-candidate) or "down"
  std::optional<uint64_t> term;  // nullopt when down
};

struct History {
  std::vector<HistoryOp> ops;
  std::vector<HistoryFault> faults;
  std::vector<HistoryRole> roles;
};

// A history file that cannot be read or parsed; `line` is 0 when the file itself is the problem.
class HistoryError : public std::runtime_error {
 public:
  HistoryError(size_t line, const std::string& message)
      : std::runtime_error(message), line_(line) {}
  [[nodiscard]] size_t line() const { return line_; }

 private:
  size_t line_;
};

// One JSONL line (with its '\n') for an operation, a fault or a role sample.
void append_history_line(std::string& out, const HistoryOp& op);
void append_history_line(std::string& out, const HistoryFault& fault);
void append_history_line(std::string& out, const HistoryRole& role);

// Parses a whole history; throws HistoryError naming the first bad line. Empty lines are skipped.
[[nodiscard]] History parse_history(std::istream& in);
[[nodiscard]] History read_history(const std::filesystem::path& path);
// read_history for commands: a HistoryError becomes Error(kEnvironment) with one line
// naming the file and the line ("h.jsonl: line 2: not a JSON object").
[[nodiscard]] History load_history(const std::filesystem::path& path);

// The file a run records its history in. Shards buffer their lines and hand them over in
// blocks (write); faults are written at once. Thread-safe.
class HistoryWriter {
 public:
  using Clock = std::chrono::steady_clock;
  // Opens (truncates) the file; throws Error(kEnvironment) when it cannot.
  explicit HistoryWriter(const std::filesystem::path& path);
  ~HistoryWriter();
  HistoryWriter(const HistoryWriter&) = delete;
  HistoryWriter& operator=(const HistoryWriter&) = delete;

  [[nodiscard]] const std::filesystem::path& path() const { return path_; }
  [[nodiscard]] Clock::time_point origin() const { return origin_; }
  [[nodiscard]] int64_t ns_since_origin(Clock::time_point at) const {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(at - origin_).count();
  }
  // Reserves `count` client ids (unique over the whole history, bursts included).
  [[nodiscard]] uint64_t allocate_clients(size_t count);
  void write(std::string_view lines);
  // A fault happening now.
  void fault(const std::string& action, uint64_t node, const std::string& address,
             const std::string& detail);
  // Flushes and closes; later writes are dropped. Idempotent.
  void close();

 private:
  std::filesystem::path path_;
  Clock::time_point origin_;
  std::mutex mutex_;
  std::FILE* file_ = nullptr;
  uint64_t next_client_ = 0;
};

}  // namespace bombarder

// What the integration tests of bombarder against other stores (issue 18: etcd_store_test.cc,
// redis_store_test.cc, redis_sentinel_test.cc) share: a fixture that skips when the store is not
// installed and starts its cluster through `cluster start --system`, and the scenarios every
// store runs the same way (a chaos storm the checker and verify must pass, an acknowledged write
// removed behind bombarder's back that verify must find, bad input that must be one line and
// exit 3). Each test keeps its own $STRESS_TEST_DATA (BombarderEnv).
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "bombarder_harness.h"

namespace integration {

// The output of a `--json` run, parsed (discarded, not thrown, when it is not JSON).
[[nodiscard]] Json json_of(const RunResult& run);
// Non-empty lines of `text`.
[[nodiscard]] size_t line_count(const std::string& text);

class StoreClusterTest : public ::testing::Test {
 protected:
  // `system` as `--system` spells it; `programs` must be on PATH or the test is skipped.
  StoreClusterTest(std::string system, std::vector<std::string> programs)
      : system_(std::move(system)), programs_(std::move(programs)) {}

  void SetUp() override;

  // `cluster start --system <system> --nodes 3 --port P` on `ports` free ports from P, plus
  // `extra` flags; asserts it started and `leader_line` ("leader: node") was printed.
  void start_store(size_t ports, const std::vector<std::string>& extra = {},
                   const std::string& leader_line = "leader: node");

  // A storm of `duration` with chaos kills of any node every 3 s (back after 1 s), seed 18: the
  // checker must find it linearizable, `verify` every node identical and every acknowledged write,
  // and `cluster stop` must remove the record.
  void expect_chaos_storm_linearizable_and_verified(const std::string& duration);

  // The id of the first write the last run acknowledged (runs/last, then its acked.jsonl).
  [[nodiscard]] std::string first_acked_id() const;

  // A flood of 50 creates that verify passes; then `remove` (the store's own client) deletes one
  // acknowledged key, and verify must report exactly it missing, exit 1.
  void expect_verify_finds_a_removed_write(
      const std::function<void(const std::string& key)>& remove);

  // `args` (a load command with --system) must end with one line naming `message`, exit 3.
  void expect_one_line_exit3(const std::vector<std::string>& args, const std::string& message);

  BombarderEnv env_;
  uint16_t base_port_ = 0;
  std::string system_;
  RunResult started_;  // the last start_store's `cluster start`

 private:
  std::vector<std::string> programs_;
};

}  // namespace integration

// The orchestrator's durable state (state_store.h): tables are prefixes scanned in id order, and
// what was written is there after the store is closed and opened again.
#include "bombarder/orchestrator/state_store.h"

#include <gtest/gtest.h>

#include "base/temp_data_root.h"
#include "error_message.h"

namespace bombarder {
namespace {

using StateStoreTest = test::TempDataRootTest;

TEST_F(StateStoreTest, TablesAreSeparateAndScannedInIdOrder) {
  RocksStateStore store(root_);
  store.put("run", "b", {{"n", 2}});
  store.put("run", "a", {{"n", 1}});
  store.put("runs_extra", "z", {{"n", 9}});
  store.put("agent", "a", {{"n", 0}});
  const auto runs = store.scan("run", 10);
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].first, "a");
  EXPECT_EQ(runs[1].second["n"], 2);
  EXPECT_EQ(store.scan("run", 1).size(), 1u);
  const auto after = store.scan("run", 10, "a");
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].first, "b");
}

TEST_F(StateStoreTest, WritesAndDeletesSurviveAReopen) {
  {
    RocksStateStore store(root_);
    store.put("experiment", "e1", {{"name", "kept"}});
    store.put("experiment", "e2", {{"name", "deleted"}});
    store.erase("experiment", "e2");
  }
  RocksStateStore store(root_);
  ASSERT_TRUE(store.get("experiment", "e1").has_value());
  EXPECT_EQ((*store.get("experiment", "e1"))["name"], "kept");
  EXPECT_FALSE(store.get("experiment", "e2").has_value());
}

TEST_F(StateStoreTest, ASecondStoreOnTheSameDirectoryIsRefused) {
  RocksStateStore first(root_);
  const std::string message = test::runtime_error_message([&] { RocksStateStore second(root_); });
  EXPECT_NE(message.find("state store"), std::string::npos) << message;
}

}  // namespace
}  // namespace bombarder

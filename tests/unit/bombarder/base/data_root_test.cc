// base/data_root.h: where every file bombarder keeps lives ($STRESS_TEST_DATA, else "data"),
// always absolute, so a command that changes directory still finds cluster.json.
#include "bombarder/base/data_root.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

namespace bombarder {
namespace {

namespace fs = std::filesystem;

// Saves $STRESS_TEST_DATA and restores it after each test, whatever the test set.
class DataRootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const char* old = std::getenv("STRESS_TEST_DATA")) saved_ = old;
  }
  void TearDown() override {
    if (saved_) {
      ::setenv("STRESS_TEST_DATA", saved_->c_str(), 1);
    } else {
      ::unsetenv("STRESS_TEST_DATA");
    }
  }

 private:
  std::optional<std::string> saved_;
};

TEST_F(DataRootTest, UnsetVariableMeansDataUnderTheWorkingDirectory) {
  ::unsetenv("STRESS_TEST_DATA");
  EXPECT_EQ(data_root(), fs::current_path() / "data");
}

TEST_F(DataRootTest, EmptyVariableIsTreatedAsUnset) {
  ::setenv("STRESS_TEST_DATA", "", 1);
  EXPECT_EQ(data_root(), fs::current_path() / "data");
}

TEST_F(DataRootTest, AbsolutePathIsKeptAndNormalized) {
  ::setenv("STRESS_TEST_DATA", "/var/tmp/./raftkv//runs/../root/", 1);
  EXPECT_EQ(data_root(), fs::path("/var/tmp/raftkv/root/"));
}

TEST_F(DataRootTest, RelativePathIsMadeAbsoluteAgainstTheWorkingDirectory) {
  ::setenv("STRESS_TEST_DATA", "a/../b/c", 1);
  const fs::path root = data_root();
  EXPECT_TRUE(root.is_absolute()) << root;
  EXPECT_EQ(root, fs::current_path() / "b" / "c");
}

TEST_F(DataRootTest, TheVariableIsReadAtEachCallNotCachedAtTheFirst) {
  ::setenv("STRESS_TEST_DATA", "/srv/first", 1);
  EXPECT_EQ(data_root(), fs::path("/srv/first"));
  ::setenv("STRESS_TEST_DATA", "/srv/second", 1);
  EXPECT_EQ(data_root(), fs::path("/srv/second"));
}

}  // namespace
}  // namespace bombarder

// A fresh $STRESS_TEST_DATA (a temporary directory) for one test; the previous value is
// restored and the directory removed afterwards. For tests of code that reads or writes
// cluster.json and the other files under the data root.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

namespace bombarder::test {

class TempDataRootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const char* old = std::getenv("STRESS_TEST_DATA")) saved_ = old;
    std::string pattern =
        (std::filesystem::temp_directory_path() / "bombarder_test_data.XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    ::setenv("STRESS_TEST_DATA", root_.c_str(), 1);
  }
  void TearDown() override {
    if (saved_) {
      ::setenv("STRESS_TEST_DATA", saved_->c_str(), 1);
    } else {
      ::unsetenv("STRESS_TEST_DATA");
    }
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }

  std::filesystem::path root_;
  std::optional<std::string> saved_;
};

}  // namespace bombarder::test

// base/output.h: human status lines on stdout, or on stderr when stdout carries JSON.
#include "bombarder/base/output.h"

#include <gtest/gtest.h>

#include <regex>

namespace bombarder {
namespace {

TEST(StatusOutput, JsonMovesStatusLinesToStderr) {
  EXPECT_EQ(status_stream(false), stdout);
  EXPECT_EQ(status_stream(true), stderr);
}

TEST(StatusOutput, ALineGoesToTheStatusStream) {
  testing::internal::CaptureStdout();
  testing::internal::CaptureStderr();
  status_line(false, "to stdout");
  status_line(true, "to stderr");
  const std::string out = testing::internal::GetCapturedStdout();
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(out, "to stdout\n");
  EXPECT_EQ(err, "to stderr\n");
}

TEST(StatusOutput, AStampedLineStartsWithTheUtcTime) {
  testing::internal::CaptureStdout();
  stamped_status_line(false, "[chaos] kill");
  const std::string out = testing::internal::GetCapturedStdout();
  EXPECT_TRUE(std::regex_match(
      out, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \[chaos\] kill\n)")))
      << out;
}

}  // namespace
}  // namespace bombarder

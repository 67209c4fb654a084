// exit_codes.h: the one mapping from what failed (ErrorKind) to how bombarder ends. The codes are
// the command line's contract (main's --help, design.md §4), pinned per command by the
// integration tests; this pins the mapping they all go through.
#include "bombarder/commands/exit_codes.h"

#include <gtest/gtest.h>

#include <set>

namespace bombarder {
namespace {

TEST(ExitCodes, EachErrorKindEndsTheCommandWithItsDocumentedCode) {
  EXPECT_EQ(exit_code_for(ErrorKind::kInvalidInput), 2);
  EXPECT_EQ(exit_code_for(ErrorKind::kEnvironment), 3);
  EXPECT_EQ(exit_code_for(ErrorKind::kCheckFailed), 1);
  EXPECT_EQ(kExitOk, 0);
}

TEST(ExitCodes, NoFailureEndsWithSuccessAndNoTwoKindsShareACode) {
  std::set<int> codes;
  for (ErrorKind kind :
       {ErrorKind::kInvalidInput, ErrorKind::kEnvironment, ErrorKind::kCheckFailed}) {
    EXPECT_NE(exit_code_for(kind), kExitOk) << to_string(kind);
    EXPECT_TRUE(codes.insert(exit_code_for(kind)).second) << to_string(kind);
  }
}

}  // namespace
}  // namespace bombarder

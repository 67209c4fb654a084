// `bombarder orchestratr`: one line naming the unknown word and the nearest subcommand, exit 2.
#include <gtest/gtest.h>

#include "bombarder_harness.h"

namespace integration {
namespace {

TEST(UnknownSubcommand, NamesTheWordAndTheNearestSubcommandAndExits2) {
  BombarderEnv env;
  const RunResult result = env.run({"orchestratr"});
  EXPECT_EQ(exit_code(result), 2) << result.output;
  EXPECT_EQ(
      result.output,
      "bombarder: error: unknown subcommand 'orchestratr'; the nearest is 'orchestrator' (see "
      "--help)\n");
  const RunResult typo = env.run({"stom", "--duration", "1"});
  EXPECT_EQ(exit_code(typo), 2) << typo.output;
  EXPECT_EQ(typo.output,
            "bombarder: error: unknown subcommand 'stom'; the nearest is 'storm' (see --help)\n");
}

}  // namespace
}  // namespace integration

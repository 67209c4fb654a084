// commands.h unknown_subcommand_message: a mistyped subcommand is named, with the nearest real one.
#include <gtest/gtest.h>

#include "bombarder/commands/commands.h"

namespace bombarder {
namespace {

class UnknownSubcommand : public ::testing::Test {
 protected:
  UnknownSubcommand() {
    add_cluster_commands(app_, exit_code_);
    add_load_commands(app_, exit_code_);
    add_verify_command(app_, exit_code_);
    add_watch_command(app_, exit_code_);
    add_check_command(app_, exit_code_);
    add_report_command(app_, exit_code_);
    add_proxy_command(app_, exit_code_);
    add_scenario_commands(app_, exit_code_);
    add_supervise_command(app_, exit_code_);
    add_inject_command(app_, exit_code_);
    add_chaos_command(app_, exit_code_);
  }

  CLI::App app_{"test", "bombarder"};
  int exit_code_ = 0;
};

TEST_F(UnknownSubcommand, TypoNamesTheWordAndTheNearestSubcommand) {
  EXPECT_EQ(unknown_subcommand_message(app_, {"stom", "--duration", "5"}),
            "unknown subcommand 'stom'; the nearest is 'storm'");
  EXPECT_EQ(unknown_subcommand_message(app_, {"verfy"}),
            "unknown subcommand 'verfy'; the nearest is 'verify'");
}

TEST_F(UnknownSubcommand, TiesGoToTheFirstInHelpOrder) {
  // 7 edits from both `cluster` and `report`; `cluster` is listed first.
  EXPECT_EQ(unknown_subcommand_message(app_, {"orchestratr"}),
            "unknown subcommand 'orchestratr'; the nearest is 'cluster'");
}

TEST_F(UnknownSubcommand, KnownSubcommandsFlagsAndNothingAreLeftToCli11) {
  EXPECT_EQ(unknown_subcommand_message(app_, {"storm", "--duration", "5"}), std::nullopt);
  EXPECT_EQ(unknown_subcommand_message(app_, {"cluster", "statu"}), std::nullopt);
  EXPECT_EQ(unknown_subcommand_message(app_, {"stress-helper"}), std::nullopt);  // hidden
  EXPECT_EQ(unknown_subcommand_message(app_, {"--help"}), std::nullopt);
  EXPECT_EQ(unknown_subcommand_message(app_, {}), std::nullopt);
}

TEST_F(UnknownSubcommand, HiddenSubcommandsAreNotSuggested) {
  EXPECT_EQ(unknown_subcommand_message(app_, {"stress-helpr"}).value().find("stress-helper"),
            std::string::npos);
}

}  // namespace
}  // namespace bombarder

// Duration flags (duration_flag.h): one set of forms on every flag that takes a length of time.
#include "bombarder/commands/duration_flag.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace bombarder {
namespace {

// Parses `--wait VALUE` into a seconds flag; the seconds, or the CLI11 error text.
struct Parsed {
  double seconds = -1;
  std::string error;
};

Parsed parse_wait(const std::string& value) {
  CLI::App app;
  double seconds = 7;
  add_seconds_option(&app, "--wait", seconds, "How long to wait");
  std::vector<std::string> args{value, "--wait"};  // CLI11 takes them reversed
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    return {-1, e.what()};
  }
  return {seconds, ""};
}

TEST(DurationFlag, AcceptsEveryFormAndABareNumberIsSeconds) {
  EXPECT_DOUBLE_EQ(parse_wait("2").seconds, 2.0);
  EXPECT_DOUBLE_EQ(parse_wait("2s").seconds, 2.0);
  EXPECT_DOUBLE_EQ(parse_wait("1.5s").seconds, 1.5);
  EXPECT_DOUBLE_EQ(parse_wait("500ms").seconds, 0.5);
  EXPECT_DOUBLE_EQ(parse_wait("2m").seconds, 120.0);
  EXPECT_DOUBLE_EQ(parse_wait("0.25").seconds, 0.25);
  EXPECT_DOUBLE_EQ(parse_wait("0").seconds, 0.0);  // the command decides whether 0 makes sense
}

TEST(DurationFlag, AnythingElseIsAnErrorNamingTheFlagAndTheForms) {
  for (const std::string bad : {"2x", "-1", "1h", "s", "", "1e3", " 2s", "inf", "2 s"}) {
    const Parsed p = parse_wait(bad);
    EXPECT_EQ(p.seconds, -1) << bad;
    EXPECT_NE(p.error.find("--wait"), std::string::npos) << bad << ": " << p.error;
    EXPECT_NE(p.error.find("500ms, 2s, 1m"), std::string::npos) << bad << ": " << p.error;
  }
}

TEST(DurationFlag, HelpSaysTheForms) {
  CLI::App app;
  double seconds = 1;
  std::string text = "2s";
  add_seconds_option(&app, "--wait", seconds, "How long to wait");
  add_duration_option(&app, "--after", text, "Start after");
  const std::string help = app.help();
  EXPECT_NE(help.find("How long to wait (500ms, 2s, 1m; a bare number is seconds)"),
            std::string::npos)
      << help;
  EXPECT_NE(help.find("Start after (500ms, 2s, 1m; a bare number is seconds)"), std::string::npos)
      << help;
}

}  // namespace
}  // namespace bombarder

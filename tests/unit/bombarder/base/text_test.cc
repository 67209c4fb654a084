// base/text.h: the duration parser for values that are not flags, and the text forms of
// durations and instants.
#include "bombarder/base/text.h"

#include <gtest/gtest.h>

#include <regex>

#include "bombarder/base/errors.h"

namespace bombarder {
namespace {

using std::chrono::milliseconds;

TEST(ParseDuration, AcceptsTheUsualUnitsAndBareSeconds) {
  EXPECT_EQ(parse_duration("250ms", "x"), milliseconds(250));
  EXPECT_EQ(parse_duration("3s", "x"), milliseconds(3000));
  EXPECT_EQ(parse_duration("1.5s", "x"), milliseconds(1500));
  EXPECT_EQ(parse_duration("2m", "x"), milliseconds(120000));
  EXPECT_EQ(parse_duration("4", "x"), milliseconds(4000));
  EXPECT_EQ(parse_duration("0s", "x"), milliseconds(0));
  EXPECT_EQ(parse_duration("1440m", "x"), kDurationMax);
  for (const char* bad : {"", "s", "-1s", "3 s", "3h", "1441m", "soon", "1e9s", "nan"}) {
    EXPECT_THROW((void)parse_duration(bad, "x"), Error) << bad;
  }
}

TEST(ParseDuration, TheErrorNamesWhatWasParsedAndIsInvalidInput) {
  try {
    (void)parse_duration("soon", "--settle");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput) << to_string(e.kind());
    EXPECT_NE(std::string(e.what()).find("--settle: 'soon' is not a duration"), std::string::npos)
        << e.what();
  }
}

TEST(FormatSeconds, OneDecimal) {
  EXPECT_EQ(format_seconds(milliseconds(3000)), "3.0 s");
  EXPECT_EQ(format_seconds(milliseconds(250)), "0.2 s");  // %.1f rounds half to even
  EXPECT_EQ(format_seconds(milliseconds(1260)), "1.3 s");
  EXPECT_EQ(format_seconds(12.5), "12.5 s");
}

TEST(FormatDurationUs, MicrosecondsMillisecondsSeconds) {
  EXPECT_EQ(format_duration_us(0), "0 µs");
  EXPECT_EQ(format_duration_us(812), "812 µs");
  EXPECT_EQ(format_duration_us(12400), "12.40 ms");
  EXPECT_EQ(format_duration_us(999999), "1000.00 ms");
  EXPECT_EQ(format_duration_us(1200000), "1.20 s");
}

TEST(PrintfText, HasNoLengthLimit) {
  EXPECT_EQ(printf_text("%s-%03d", "a", 7), "a-007");
  EXPECT_EQ(printf_text("%s", std::string(5000, 'x').c_str()).size(), 5000u);
  EXPECT_EQ(printf_text("%s", ""), "");
}

TEST(UtcTimestamp, IsIsoWithMillisecondsAndZ) {
  const std::string now = utc_timestamp_now();
  EXPECT_TRUE(std::regex_match(now, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")))
      << now;
}

}  // namespace
}  // namespace bombarder

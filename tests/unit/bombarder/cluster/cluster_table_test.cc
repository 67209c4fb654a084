// cluster_table.h: aligned plain-text tables and the cell formatters of cluster and watch output.
#include "bombarder/cluster/cluster_table.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace bombarder {
namespace {

TEST(TextTable, ColumnsAreAsWideAsTheirWidestCellAndNumbersAlignRight) {
  TextTable table({{"id", TextTable::Align::kRight}, {"address"}, {"note"}});
  table.add_row({"0", "http://127.0.0.1:8080", "leader"});
  table.add_row({"12", "h:1"});
  const std::vector<std::string> lines = table.lines();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "id  address                note");
  EXPECT_EQ(lines[1], " 0  http://127.0.0.1:8080  leader");
  // The missing last cell is empty, and no line ends in blanks.
  EXPECT_EQ(lines[2], "12  h:1");
  EXPECT_EQ(table.render(), lines[0] + "\n" + lines[1] + "\n" + lines[2] + "\n");
}

TEST(TextTable, RowWithMoreCellsThanColumnsIsRefused) {
  TextTable table({{"a"}, {"b"}});
  EXPECT_THROW(table.add_row({"1", "2", "3"}), std::invalid_argument);
}

TEST(TextTable, HeaderOnlyTableIsOneLine) {
  const TextTable table({{"id"}, {"role"}});
  EXPECT_EQ(table.lines(), std::vector<std::string>{"id  role"});
}

TEST(FormatUptime, PicksTheTwoLargestUnits) {
  EXPECT_EQ(format_uptime(0), "0s");
  EXPECT_EQ(format_uptime(59), "59s");
  EXPECT_EQ(format_uptime(60), "1m00s");
  EXPECT_EQ(format_uptime(185), "3m05s");
  EXPECT_EQ(format_uptime(3600 * 2 + 60), "2h01m");
  EXPECT_EQ(format_uptime(86400 * 3 + 3600 * 4 + 59), "3d04h");
}

TEST(FormatBytes, UsesBinaryUnitsWithOneDecimal) {
  EXPECT_EQ(format_bytes(0), "0 B");
  EXPECT_EQ(format_bytes(1023), "1023 B");
  EXPECT_EQ(format_bytes(1536), "1.5 KiB");
  EXPECT_EQ(format_bytes(12ull * 1024 * 1024), "12.0 MiB");
  EXPECT_EQ(format_bytes(3ull << 40), "3.0 TiB");
  EXPECT_EQ(format_bytes(4096ull << 40), "4096.0 TiB");
}

TEST(FormatRate, OneDecimalBelowAHundred) {
  EXPECT_EQ(format_rate(0), "0.0");
  EXPECT_EQ(format_rate(12.46), "12.5");
  EXPECT_EQ(format_rate(1534.4), "1534");
}

}  // namespace
}  // namespace bombarder

// Plain aligned text for the cluster and watch commands: a table whose columns are as wide as
// their widest cell, and the small formatters its cells share. No colour, no box drawing, so the
// output reads the same on a terminal and in a pipe or a log file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace bombarder {

class TextTable {
 public:
  enum class Align { kLeft, kRight };
  struct Column {
    std::string title;
    Align align = Align::kLeft;
  };

  explicit TextTable(std::vector<Column> columns);

  // A row with fewer cells than columns is padded with empty cells; extra cells are an error
  // (std::invalid_argument), a programming mistake rather than data.
  void add_row(std::vector<std::string> cells);

  // The header line and one line per row, columns two spaces apart, no trailing blanks, each
  // line without a newline.
  [[nodiscard]] std::vector<std::string> lines() const;
  // lines() joined, each followed by '\n'.
  [[nodiscard]] std::string render() const;

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

// "42s", "3m05s", "2h01m", "3d04h": coarse and short, for uptime columns.
[[nodiscard]] std::string format_uptime(uint64_t seconds);
// "512 B", "1.5 KiB", "12.0 MiB", "1.2 GiB".
[[nodiscard]] std::string format_bytes(uint64_t bytes);
// A rate with one decimal below 100 and none above: "0.0", "12.5", "1534".
[[nodiscard]] std::string format_rate(double per_second);

}  // namespace bombarder

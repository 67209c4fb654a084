// The drawing parts shared by the HTML pages bombarder writes (report.h: one run; compare.h: runs
// side by side): the page's style sheet and legends, the time and latency axes, the <svg> chart
// frame with its ticks and fault bands, and the throughput and latency charts. Everything is
// inline SVG and CSS: the pages stay self-contained.
//
// A time axis and a value scale are passed in, never derived inside a chart, so that a caller
// can put several histories on the same axes (compare) or one history on its own (report).
#pragma once

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bombarder/history/history.h"
#include "bombarder/history/report.h"

namespace bombarder::charts {

inline constexpr int64_t kNsPerSecond = 1'000'000'000;
// Every chart shares the same width and x mapping, so that a time is at the same place on all.
inline constexpr double kWidthPx = 1300;
inline constexpr double kLeftPx = 120;  // room for the role lanes' node names and the y labels
inline constexpr double kRightPx = 20;
inline constexpr double kTopPx = 26;  // room for the fault labels
inline constexpr double kBottomPx = 34;

// The <style> element of every page.
[[nodiscard]] const char* style_sheet();
// A row of colored swatches: (CSS color, label).
[[nodiscard]] std::string legend(std::initializer_list<std::pair<const char*, const char*>> items);

// Pixel coordinates with one decimal: enough for a 1300 px chart, and it keeps the page small.
[[nodiscard]] std::string px(double v);
// Appends an SVG path command "M12.3 45.6" (cmd 'M' or 'L').
void path_to(std::string& out, char cmd, double x, double y);
[[nodiscard]] std::string seconds_text(int64_t ns);  // "1.25 s"
[[nodiscard]] std::string latency_text(double ms);   // "850 µs", "12.3 ms", "1.2 s"

// Fault actions that stop a node (sigkill, sigterm, kill, stop, pause) or bring it back.
[[nodiscard]] bool is_stop_action(std::string_view action);
[[nodiscard]] bool is_start_action(std::string_view action);

// An unknown operation that never completed counts at its invocation.
[[nodiscard]] int64_t completion_or_invoke(const HistoryOp& op);
[[nodiscard]] double latency_ms(const HistoryOp& op);  // of a completed operation
// The nearest-rank percentile (the ceil(p% * n)-th smallest) of `values`, which it reorders;
// 0 for none.
[[nodiscard]] double percentile(std::vector<double>& values, double p);
// A step of 1, 2 or 5 times a power of ten giving about `ticks` ticks over `range`.
[[nodiscard]] double nice_step(double range, int ticks);

// The time axis and the bins every chart of a page uses: [begin_ns, end_ns) in `bins` bins of
// bin_ns, whole seconds each.
struct TimeAxis {
  int64_t begin_ns = 0;
  int64_t end_ns = 1;
  int64_t bin_ns = kNsPerSecond;
  size_t bins = 1;
  int64_t data_end_ns = 1;  // the histories' last time; end_ns is rounded up to whole bins

  [[nodiscard]] double x(int64_t ns) const {
    const double f = static_cast<double>(ns - begin_ns) / static_cast<double>(end_ns - begin_ns);
    return kLeftPx + std::clamp(f, 0.0, 1.0) * (kWidthPx - kLeftPx - kRightPx);
  }
  [[nodiscard]] size_t bin_of(int64_t ns) const {
    if (ns <= begin_ns) return 0;
    return std::min(bins - 1, static_cast<size_t>((ns - begin_ns) / bin_ns));
  }
  [[nodiscard]] int64_t bin_begin_ns(size_t bin) const {
    return begin_ns + static_cast<int64_t>(bin) * bin_ns;
  }
  // "second" or "5 seconds"
  [[nodiscard]] std::string bin_text() const;
};

// Whole bins of whole seconds over [begin_ns, end_ns], at most `max_bins` (>= 1) of them.
[[nodiscard]] TimeAxis time_axis(int64_t begin_ns, int64_t end_ns, size_t max_bins);

// Latencies on a log scale from lo_ms to hi_ms (whole decades); the chart sets the pixels.
struct LogAxis {
  double lo_ms = 1;
  double hi_ms = 1000;
  double top_px = 0;
  double bottom_px = 0;
  [[nodiscard]] double y(double ms) const;
};

// The decades that hold every completed operation's latency of `history`.
[[nodiscard]] LogAxis latency_axis(const History& history);
// The smallest axis holding both.
[[nodiscard]] LogAxis widest(const LogAxis& a, const LogAxis& b);

// The highest requests/s of any bin of `axis` (completions of every outcome), at least 1.
[[nodiscard]] double peak_rate(const History& history, const TimeAxis& axis);

// One <svg> chart. The constructor opens it and draws the plot's frame; the caller then draws
// the y ticks and the data, the fault bands and marks over them, the time ticks, and end()s it.
class Chart {
 public:
  Chart(std::string& out, const TimeAxis& axis, std::string_view name, double height_px);

  [[nodiscard]] double top() const { return kTopPx; }
  [[nodiscard]] double bottom() const { return height_px_ - kBottomPx; }
  [[nodiscard]] double right() const { return kWidthPx - kRightPx; }

  void time_ticks();
  void y_tick(double y, const std::string& label);
  void log_ticks(const LogAxis& y);
  void fault_bands(const std::vector<FaultWindow>& windows);
  // Faults that neither stop nor restart a node, as dashed lines.
  void fault_marks(const std::vector<HistoryFault>& faults);
  void end() { out_ += "</svg>\n"; }

 private:
  std::string& out_;
  const TimeAxis& axis_;
  double height_px_;
};

// Requests completed per bin, stacked by outcome, on a 0..`scale_rate` requests/s scale (rounded up
// to a tick) (0: the history's own peak_rate). Fault windows shaded.
void throughput_chart(std::string& out, const History& history, const TimeAxis& axis,
                      const std::vector<FaultWindow>& windows, double scale_rate = 0);
// p50 and p99 of the ok requests invoked in each bin, on the log scale `y`.
void latency_chart(std::string& out, const History& history, const TimeAxis& axis, LogAxis y,
                   const std::vector<FaultWindow>& windows);

}  // namespace bombarder::charts

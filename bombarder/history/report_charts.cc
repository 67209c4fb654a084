#include "bombarder/history/report_charts.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <limits>

#include "bombarder/base/text.h"

namespace bombarder::charts {

namespace {

constexpr int64_t kNever = std::numeric_limits<int64_t>::max();  // an unknown op's completion

// Fault actions become CSS classes: letters, digits and '-' only.
std::string css_class(std::string_view action) {
  std::string cls;
  for (const char c : action) {
    cls.push_back(std::isalnum(static_cast<unsigned char>(c)) != 0 ? c : '-');
  }
  return cls;
}

struct BinCounts {
  uint64_t ok = 0;
  uint64_t fail = 0;
  uint64_t unknown = 0;
};

// Requests completed in each bin of `axis`, by outcome.
std::vector<BinCounts> bin_counts(const History& history, const TimeAxis& axis) {
  std::vector<BinCounts> bins(axis.bins);
  for (const HistoryOp& op : history.ops) {
    BinCounts& bin = bins[axis.bin_of(completion_or_invoke(op))];
    (op.outcome == Outcome::kOk ? bin.ok : op.outcome == Outcome::kFail ? bin.fail : bin.unknown)++;
  }
  return bins;
}

}  // namespace

const char* style_sheet() {
  return R"(<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 16px 24px; color: #222; max-width: 1320px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 22px 0 6px; }
.sub { color: #555; margin: 0 0 8px; } .note { color: #555; font-size: 12px; margin: 2px 0; }
svg.chart { display: block; width: 100%; height: auto; max-width: 1300px; }
svg .plot { fill: #fcfcfc; stroke: #bbb; } svg .grid { stroke: #e6e6e6; }
svg text { font: 11px system-ui, sans-serif; fill: #444; } svg .axis-label { fill: #777; }
svg .fault-label { fill: #b71c1c; font-size: 10px; }
svg .fault-band { fill: #e53935; fill-opacity: 0.15; stroke: #e53935; stroke-opacity: 0.5;
                  pointer-events: none; }
svg .fault-band.fault-sigterm, svg .fault-band.fault-stop { fill: #fb8c00; stroke: #fb8c00; }
svg .fault-band.fault-pause { fill: #8e24aa; stroke: #8e24aa; }
svg .fault-mark { stroke: #b71c1c; stroke-dasharray: 3 3; stroke-width: 2; }
svg .bar.ok { fill: #43a047; } svg .bar.fail { fill: #e53935; } svg .bar.unknown { fill: #fb8c00; }
svg .points { fill: none; stroke-linecap: round; stroke-width: 4; }
svg .points.ok { stroke: #43a047; stroke-opacity: 0.5; } svg .points.fail { stroke: #d50000; }
svg .points.unknown { stroke: #ff6d00; }
svg .pline { fill: none; stroke-width: 1.8; } svg .pline.p50 { stroke: #1e88e5; }
svg .pline.p99 { stroke: #6a1b9a; } svg .pdot.p50 { fill: #1e88e5; } svg .pdot.p99 { fill: #6a1b9a; }
svg .role-leader { fill: #6a1b9a; } svg .role-follower { fill: #90caf9; }
svg .role-candidate { fill: #ffb300; } svg .role-pre-candidate { fill: #ffe082; }
svg .role-down { fill: #424242; } svg .role-other { fill: #bdbdbd; }
svg .seg-label { fill: #fff; font-size: 10px; pointer-events: none; }
svg .role-follower + .seg-label, svg .role-candidate + .seg-label,
svg .role-pre-candidate + .seg-label { fill: #222; }
svg .lane-label { font-weight: 600; } svg .lane-address { fill: #777; font-size: 10px; }
.legend span { display: inline-block; margin-right: 14px; font-size: 12px; }
.legend i { display: inline-block; width: 12px; height: 12px; margin-right: 4px;
            vertical-align: -2px; border-radius: 2px; }
table { border-collapse: collapse; margin: 4px 0 10px; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
table.kv th { background: #f5f5f5; font-weight: 600; white-space: nowrap; }
table.grid-table th { background: #f5f5f5; }
.verdict { font-size: 16px; font-weight: 600; padding: 6px 10px; border-radius: 4px;
           display: inline-block; margin: 4px 0; }
.verdict-linearizable { background: #e8f5e9; color: #1b5e20; }
.verdict-violation { background: #ffebee; color: #b71c1c; }
.verdict-unknown, .verdict-none { background: #fff8e1; color: #8d6e00; }
pre.check { background: #f7f7f7; padding: 8px; overflow-x: auto; font-size: 12px; }
</style>
)";
}

std::string legend(std::initializer_list<std::pair<const char*, const char*>> items) {
  std::string out = "<div class=\"legend\">";
  for (const auto& [color, label] : items) {
    out += "<span><i style=\"background:" + std::string(color) + "\"></i>" + label + "</span>";
  }
  return out + "</div>\n";
}

// Pixel coordinates with one decimal: enough for a 1300 px chart, and it keeps the page small.
std::string px(double v) { return printf_text("%.1f", v); }

// Appends an SVG path command "M12.3 45.6" (cmd 'M' or 'L'); written in place, which also keeps
// GCC 12's -Wrestrict false positive on `"M" + std::string` away.
void path_to(std::string& out, char cmd, double x, double y) {
  char buffer[64];
  const int n = std::snprintf(buffer, sizeof buffer, "%c%.1f %.1f", cmd, x, y);
  if (n > 0) out.append(buffer, std::min<size_t>(static_cast<size_t>(n), sizeof buffer - 1));
}

std::string seconds_text(int64_t ns) {
  return printf_text("%.2f s", static_cast<double>(ns) / 1e9);
}

std::string latency_text(double ms) {
  if (ms < 1) return printf_text("%.0f µs", ms * 1000);
  if (ms < 1000) return printf_text("%.3g ms", ms);
  return printf_text("%.3g s", ms / 1000);
}

bool is_stop_action(std::string_view action) {
  return action == "sigkill" || action == "sigterm" || action == "kill" || action == "stop" ||
         action == "pause";
}
bool is_start_action(std::string_view action) {
  return action == "restart" || action == "start" || action == "resume";
}

int64_t completion_or_invoke(const HistoryOp& op) {
  return op.complete_ns == kNever ? op.invoke_ns : op.complete_ns;
}

double latency_ms(const HistoryOp& op) {
  return static_cast<double>(op.complete_ns - op.invoke_ns) / 1e6;
}

// The nearest-rank percentile (the ceil(p% * n)-th smallest) of `values`, which it reorders.
double percentile(std::vector<double>& values, double p) {
  if (values.empty()) return 0;
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(values.size())));
  rank = std::clamp<size_t>(rank, 1, values.size());
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(rank - 1),
                   values.end());
  return values[rank - 1];
}

// A step of 1, 2 or 5 times a power of ten giving about `ticks` ticks over `range`.
double nice_step(double range, int ticks) {
  if (!(range > 0)) return 1;
  const double raw = range / ticks;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  for (const double m : {1.0, 2.0, 5.0}) {
    if (raw <= m * magnitude) return m * magnitude;
  }
  return 10 * magnitude;
}

std::string TimeAxis::bin_text() const {
  const int64_t seconds = bin_ns / kNsPerSecond;
  return seconds == 1 ? "second" : std::to_string(seconds) + " seconds";
}

TimeAxis time_axis(int64_t begin_ns, int64_t end_ns, size_t max_bins_option) {
  TimeAxis axis;
  axis.begin_ns = begin_ns;
  axis.end_ns = std::max(end_ns, begin_ns + 1);
  axis.data_end_ns = end_ns;
  const int64_t span_ns = axis.end_ns - axis.begin_ns;
  const int64_t max_bins = static_cast<int64_t>(std::max<size_t>(max_bins_option, 1));
  const int64_t seconds_per_bin =
      std::max<int64_t>(1, (span_ns + max_bins * kNsPerSecond - 1) / (max_bins * kNsPerSecond));
  axis.bin_ns = seconds_per_bin * kNsPerSecond;
  axis.bins = static_cast<size_t>((span_ns + axis.bin_ns - 1) / axis.bin_ns);
  axis.bins = std::max<size_t>(axis.bins, 1);
  // Whole bins: the axis ends where the last bin does, so the last bar is as wide as the others.
  axis.end_ns = axis.begin_ns + static_cast<int64_t>(axis.bins) * axis.bin_ns;
  return axis;
}

double LogAxis::y(double ms) const {
  const double v = std::clamp(ms, lo_ms, hi_ms);
  const double f = (std::log10(v) - std::log10(lo_ms)) / (std::log10(hi_ms) - std::log10(lo_ms));
  return bottom_px - f * (bottom_px - top_px);
}

LogAxis latency_axis(const History& history) {
  double lo = std::numeric_limits<double>::max();
  double hi = 0;
  for (const HistoryOp& op : history.ops) {
    if (op.complete_ns == kNever) continue;
    const double ms = std::max(latency_ms(op), 0.01);  // 10 µs: below any loopback round trip
    lo = std::min(lo, ms);
    hi = std::max(hi, ms);
  }
  LogAxis axis;
  if (hi == 0) return axis;
  axis.lo_ms = std::pow(10.0, std::floor(std::log10(lo)));
  axis.hi_ms = std::pow(10.0, std::ceil(std::log10(hi)));
  if (axis.hi_ms <= axis.lo_ms) axis.hi_ms = axis.lo_ms * 10;
  return axis;
}

// One <svg> chart. The constructor opens it and draws the plot's frame; the caller then draws

LogAxis widest(const LogAxis& a, const LogAxis& b) {
  LogAxis axis = a;
  axis.lo_ms = std::min(a.lo_ms, b.lo_ms);
  axis.hi_ms = std::max(a.hi_ms, b.hi_ms);
  return axis;
}

double peak_rate(const History& history, const TimeAxis& axis) {
  const double bin_s = static_cast<double>(axis.bin_ns) / 1e9;
  double max_rate = 1;
  for (const BinCounts& b : bin_counts(history, axis)) {
    max_rate = std::max(max_rate, static_cast<double>(b.ok + b.fail + b.unknown) / bin_s);
  }
  return max_rate;
}

Chart::Chart(std::string& out, const TimeAxis& axis, std::string_view name, double height_px)
    : out_(out), axis_(axis), height_px_(height_px) {
  out_ += "<svg class=\"chart\" data-chart=\"" + std::string(name) + "\" width=\"" + px(kWidthPx) +
          "\" height=\"" + px(height_px) + "\" viewBox=\"0 0 " + px(kWidthPx) + " " +
          px(height_px) + "\" role=\"img\">\n";
  out_ += "<rect class=\"plot\" x=\"" + px(kLeftPx) + "\" y=\"" + px(top()) + "\" width=\"" +
          px(right() - kLeftPx) + "\" height=\"" + px(bottom() - top()) + "\"/>\n";
}

void Chart::time_ticks() {
  const double span_s = static_cast<double>(axis_.end_ns - axis_.begin_ns) / 1e9;
  const double step_s = nice_step(span_s, 12);
  const double first_s = std::ceil(static_cast<double>(axis_.begin_ns) / 1e9 / step_s) * step_s;
  for (double t = first_s; t <= static_cast<double>(axis_.end_ns) / 1e9 + 1e-9; t += step_s) {
    const double x = axis_.x(static_cast<int64_t>(std::llround(t * 1e9)));
    out_ += "<line class=\"grid\" x1=\"" + px(x) + "\" y1=\"" + px(top()) + "\" x2=\"" + px(x) +
            "\" y2=\"" + px(bottom()) + "\"/><text class=\"tick\" x=\"" + px(x) + "\" y=\"" +
            px(bottom() + 14) + "\" text-anchor=\"middle\">" + printf_text("%g", t) + "</text>\n";
  }
  out_ += "<text class=\"axis-label\" x=\"" + px(right()) + "\" y=\"" + px(bottom() + 28) +
          "\" text-anchor=\"end\">seconds since the history's origin</text>\n";
}

void Chart::y_tick(double y, const std::string& label) {
  out_ += "<line class=\"grid\" x1=\"" + px(kLeftPx) + "\" y1=\"" + px(y) + "\" x2=\"" +
          px(right()) + "\" y2=\"" + px(y) + "\"/><text class=\"tick\" x=\"" + px(kLeftPx - 6) +
          "\" y=\"" + px(y + 4) + "\" text-anchor=\"end\">" + html_escape(label) + "</text>\n";
}

void Chart::log_ticks(const LogAxis& y) {
  const int decades = static_cast<int>(std::lround(std::log10(y.hi_ms / y.lo_ms)));
  for (double decade = y.lo_ms; decade <= y.hi_ms * 1.0001; decade *= 10) {
    y_tick(y.y(decade), latency_text(decade));
    if (decades > 3 || decade * 1.0001 >= y.hi_ms) continue;
    for (const double m : {2.0, 5.0}) y_tick(y.y(decade * m), latency_text(decade * m));
  }
}

void Chart::fault_bands(const std::vector<FaultWindow>& windows) {
  for (const FaultWindow& w : windows) {
    const double x0 = axis_.x(w.begin_ns);
    const double x1 = std::max(axis_.x(w.end_ns), x0 + 1);
    const std::string title =
        w.action + " node " + std::to_string(w.node) + " (" + w.address + ") " +
        seconds_text(w.begin_ns) + " - " +
        (w.open_ended ? "end (no restart recorded)" : seconds_text(w.end_ns)) + ": " + w.detail;
    out_ += "<rect class=\"fault-band fault-" + css_class(w.action) + "\" data-node=\"" +
            std::to_string(w.node) + "\" x=\"" + px(x0) + "\" y=\"" + px(top()) + "\" width=\"" +
            px(x1 - x0) + "\" height=\"" + px(bottom() - top()) + "\"/>\n";
    // The band lets the pointer through to the data under it; its label carries the tooltip.
    out_ += "<text class=\"fault-label\" x=\"" + px(x0 + 2) + "\" y=\"" + px(top() - 6) +
            "\"><title>" + html_escape(title) + "</title>" +
            html_escape(w.action + " n" + std::to_string(w.node)) + "</text>\n";
  }
}

void Chart::fault_marks(const std::vector<HistoryFault>& faults) {
  for (const HistoryFault& f : faults) {
    if (is_stop_action(f.action) || is_start_action(f.action)) continue;
    const double x = axis_.x(f.at_ns);
    out_ += "<line class=\"fault-mark\" x1=\"" + px(x) + "\" y1=\"" + px(top()) + "\" x2=\"" +
            px(x) + "\" y2=\"" + px(bottom()) + "\"><title>" +
            html_escape(seconds_text(f.at_ns) + " " + f.action + " node " + std::to_string(f.node) +
                        ": " + f.detail) +
            "</title></line>\n";
  }
}

void throughput_chart(std::string& out, const History& history, const TimeAxis& axis,
                      const std::vector<FaultWindow>& windows, double scale_rate) {
  const std::vector<BinCounts> bins = bin_counts(history, axis);
  const double bin_s = static_cast<double>(axis.bin_ns) / 1e9;
  const double max_rate = scale_rate > 0 ? scale_rate : peak_rate(history, axis);
  Chart chart(out, axis, "throughput", 240);
  const double step = nice_step(max_rate, 5);
  const double top_rate = std::ceil(max_rate / step) * step;
  const auto y = [&](double rate) {
    return chart.bottom() - rate / top_rate * (chart.bottom() - chart.top());
  };
  for (double r = 0; r <= top_rate + 1e-9; r += step) chart.y_tick(y(r), printf_text("%g", r));
  for (size_t i = 0; i < bins.size(); ++i) {
    const BinCounts& b = bins[i];
    if (b.ok + b.fail + b.unknown == 0) continue;
    const double x0 = axis.x(axis.bin_begin_ns(i));
    const double x1 = axis.x(axis.bin_begin_ns(i) + axis.bin_ns);
    const double width = std::max(0.5, (x1 - x0) * (x1 - x0 > 3 ? 0.85 : 1.0));
    out += "<g class=\"bin\"><title>" +
           html_escape(printf_text("%.0f-%.0f s: ok %llu, fail %llu, unknown %llu (%.0f req/s)",
                                   static_cast<double>(axis.bin_begin_ns(i)) / 1e9,
                                   static_cast<double>(axis.bin_begin_ns(i) + axis.bin_ns) / 1e9,
                                   static_cast<unsigned long long>(b.ok),
                                   static_cast<unsigned long long>(b.fail),
                                   static_cast<unsigned long long>(b.unknown),
                                   static_cast<double>(b.ok + b.fail + b.unknown) / bin_s)) +
           "</title>";
    double base = 0;
    const std::pair<const char*, uint64_t> stack[] = {
        {"ok", b.ok}, {"unknown", b.unknown}, {"fail", b.fail}};
    for (const auto& [cls, n] : stack) {
      if (n == 0) continue;
      const double rate = static_cast<double>(n) / bin_s;
      out += "<rect class=\"bar " + std::string(cls) + "\" x=\"" + px(x0) + "\" y=\"" +
             px(y(base + rate)) + "\" width=\"" + px(width) + "\" height=\"" +
             px(y(base) - y(base + rate)) + "\"/>";
      base += rate;
    }
    out += "</g>\n";
  }
  // Over the data, translucent, so that a band shows also where bars or lanes fill the plot.
  chart.fault_bands(windows);
  chart.fault_marks(history.faults);
  chart.time_ticks();
  out +=
      "<text class=\"axis-label\" x=\"12\" y=\"" + px(chart.top() + 10) + "\">requests/s</text>\n";
  chart.end();
}

void latency_chart(std::string& out, const History& history, const TimeAxis& axis, LogAxis y,
                   const std::vector<FaultWindow>& windows) {
  std::vector<std::vector<double>> bins(axis.bins);
  for (const HistoryOp& op : history.ops) {
    if (op.outcome != Outcome::kOk) continue;
    bins[axis.bin_of(op.invoke_ns)].push_back(latency_ms(op));
  }
  Chart chart(out, axis, "latency", 260);
  y.top_px = chart.top();
  y.bottom_px = chart.bottom();
  chart.log_ticks(y);
  for (const double p : {50.0, 99.0}) {
    std::string path;
    bool pen_down = false;
    std::string points;
    for (size_t i = 0; i < bins.size(); ++i) {
      if (bins[i].empty()) {
        pen_down = false;
        continue;
      }
      std::vector<double> values = bins[i];
      const double ms = percentile(values, p);
      const double x = axis.x(axis.bin_begin_ns(i) + axis.bin_ns / 2);
      path_to(path, pen_down ? 'L' : 'M', x, y.y(ms));
      pen_down = true;
      points += "<circle class=\"pdot p" + printf_text("%.0f", p) + "\" cx=\"" + px(x) +
                "\" cy=\"" + px(y.y(ms)) + "\" r=\"2.5\"><title>" +
                html_escape(printf_text("%.0f s: p%.0f %s of %zu ok requests",
                                        static_cast<double>(axis.bin_begin_ns(i)) / 1e9, p,
                                        latency_text(ms).c_str(), bins[i].size())) +
                "</title></circle>";
    }
    out += "<path class=\"pline p" + printf_text("%.0f", p) + "\" d=\"" + path + "\"/>\n" + points +
           "\n";
  }
  // Over the data, translucent, so that a band shows also where bars or lanes fill the plot.
  chart.fault_bands(windows);
  chart.fault_marks(history.faults);
  chart.time_ticks();
  out += "<text class=\"axis-label\" x=\"12\" y=\"" + px(chart.top() + 10) + "\">latency</text>\n";
  chart.end();
}

}  // namespace bombarder::charts

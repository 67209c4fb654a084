#include "common/histogram.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

namespace common {

static_assert(Histogram::index_of(2 * Histogram::kSubBucketCount - 1) ==
                  2 * Histogram::kSubBucketCount - 1,
              "values below 128 µs are counted exactly");
static_assert(Histogram::kBucketCount < 1500, "fixed memory: about 11 KiB of counters");

void Histogram::record_n(uint64_t value_us, uint64_t n) {
  if (n == 0) return;
  const uint64_t clamped_us = std::min(value_us, kValueMaxUs);
  buckets_[index_of(clamped_us)] += n;
  count_ += n;
  min_us_ = std::min(min_us_, value_us);
  max_us_ = std::max(max_us_, value_us);
  sum_us_ += value_us * n;
}

void Histogram::merge(const Histogram& other) {
  if (other.count_ == 0) return;
  for (size_t i = 0; i < kBucketCount; ++i) buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  min_us_ = std::min(min_us_, other.min_us_);
  max_us_ = std::max(max_us_, other.max_us_);
  sum_us_ += other.sum_us_;
}

double Histogram::mean_us() const {
  return count_ == 0 ? 0.0 : static_cast<double>(sum_us_) / static_cast<double>(count_);
}

uint64_t Histogram::lowest_of(size_t index) {
  if (index < 2 * kSubBucketCount) return index;
  const uint64_t shift = index / kSubBucketCount - 1;
  const uint64_t mantissa = index - kSubBucketCount * shift;  // in [64, 128)
  return mantissa << shift;
}

uint64_t Histogram::highest_of(size_t index) {
  if (index < 2 * kSubBucketCount) return index;
  const uint64_t shift = index / kSubBucketCount - 1;
  return lowest_of(index) + (uint64_t{1} << shift) - 1;
}

uint64_t Histogram::percentile(double p) const {
  if (count_ == 0) return 0;
  if (!(p > 0)) return min_us_;  // also NaN
  const double wanted = std::ceil(std::min(p, 100.0) / 100.0 * static_cast<double>(count_));
  const uint64_t rank = std::max<uint64_t>(1, static_cast<uint64_t>(wanted));
  if (rank >= count_) return max_us_;  // exact, also for values past kValueMaxUs
  uint64_t seen = 0;
  for (size_t i = 0; i < kBucketCount; ++i) {
    seen += buckets_[i];
    if (seen >= rank) return std::clamp(highest_of(i), min_us_, max_us_);
  }
  return max_us_;
}

uint64_t Histogram::count_at_or_below(uint64_t bound_us) const {
  const size_t last = index_of(std::min(bound_us, kValueMaxUs));
  uint64_t total = 0;
  for (size_t i = 0; i <= last; ++i) total += buckets_[i];
  return total;
}

namespace prometheus {

namespace {
constexpr double kLatencyBoundsSeconds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                            0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                            1,      2.5,     5,      10};
}  // namespace

std::span<const double> latency_bounds_seconds() { return kLatencyBoundsSeconds; }

std::vector<Bucket> cumulative_buckets(const Histogram& h) {
  std::vector<Bucket> buckets;
  buckets.reserve(std::size(kLatencyBoundsSeconds) + 1);
  for (double le : kLatencyBoundsSeconds) {
    const auto bound_us = static_cast<uint64_t>(std::llround(le * 1e6));
    buckets.push_back({le, h.count_at_or_below(bound_us)});
  }
  buckets.push_back({std::numeric_limits<double>::infinity(), h.count()});
  return buckets;
}

namespace {

std::string escape(std::string_view text, bool quotes) {
  std::string out;
  for (const char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (quotes && c == '"') {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string escape_help(std::string_view text) { return escape(text, false); }

std::string escape_label_value(std::string_view text) { return escape(text, true); }

std::string format_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[64];
  const double magnitude = std::fabs(value);
  // Plain decimals for the usual range (0.0001 rather than 1e-04), shortest round-trip form
  // otherwise; both parse back to the same double.
  const bool fixed = magnitude == 0 || (magnitude >= 1e-6 && magnitude < 1e15);
  const auto result =
      fixed ? std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::fixed)
            : std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

std::string histogram_lines(const std::string& name, const std::string& labels,
                            const Histogram& h) {
  const std::string prefix = labels.empty() ? "" : labels + ",";
  std::string out;
  for (const Bucket& bucket : cumulative_buckets(h)) {
    out += name + "_bucket{" + prefix + "le=\"" + format_value(bucket.le_seconds) + "\"} " +
           std::to_string(bucket.cumulative_count) + "\n";
  }
  const std::string braces = labels.empty() ? "" : "{" + labels + "}";
  out += name + "_sum" + braces + " " + format_value(static_cast<double>(h.sum_us()) / 1e6) + "\n";
  out += name + "_count" + braces + " " + std::to_string(h.count()) + "\n";
  return out;
}

}  // namespace prometheus

}  // namespace common

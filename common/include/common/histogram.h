// A latency histogram with fixed memory and bounded relative error (HDR-style log-linear
// buckets), shared by bombarder's load reports and /metrics (common/metrics.h) (design.md §2).
//
// Values are integer microseconds. [0, 128) µs are counted exactly; above that every power of
// two is split into 64 equal buckets, so a value is known to within 1/64 (< 1.6 %) of itself.
// Values above kValueMaxUs (100 s) are counted in the top bucket; count, min, max and sum stay
// exact for every value. Memory: kBucketCount counters (~11 KiB), whatever is recorded.
//
// Thread-safety: Histogram is a plain value (copyable, mergeable), not thread-safe. Use
// SharedHistogram to record from several threads.
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace common {

namespace detail {
inline constexpr int kHistogramSubBucketBits = 6;
constexpr size_t histogram_index_of(uint64_t value_us) {
  constexpr uint64_t kSubBucketCount = uint64_t{1} << kHistogramSubBucketBits;
  if (value_us < 2 * kSubBucketCount) return static_cast<size_t>(value_us);
  const int shift = std::bit_width(value_us) - 1 - kHistogramSubBucketBits;
  return static_cast<size_t>(kSubBucketCount * shift + (value_us >> shift));
}
}  // namespace detail

class Histogram {
 public:
  static constexpr int kSubBucketBits = detail::kHistogramSubBucketBits;
  static constexpr uint64_t kSubBucketCount = uint64_t{1} << kSubBucketBits;  // 64
  static constexpr uint64_t kValueMaxUs = 100'000'000;                        // 100 s

  // Adds one observation. Negative latencies cannot happen; callers clamp to 0 first.
  void record(uint64_t value_us) { record_n(value_us, 1); }
  void record_n(uint64_t value_us, uint64_t n);
  void merge(const Histogram& other);
  void reset() { *this = Histogram(); }

  [[nodiscard]] uint64_t count() const { return count_; }
  [[nodiscard]] uint64_t min_us() const { return count_ == 0 ? 0 : min_us_; }
  [[nodiscard]] uint64_t max_us() const { return max_us_; }
  [[nodiscard]] uint64_t sum_us() const { return sum_us_; }
  [[nodiscard]] double mean_us() const;

  // The value at percentile p in [0, 100] (p50, p99, p99.9 ...): the highest value equivalent
  // to the bucket holding the ceil(p% * count)-th smallest observation, clamped to [min, max],
  // so percentile(100) == max_us() exactly. 0 when empty.
  [[nodiscard]] uint64_t percentile(double p) const;

  // Observations <= bound_us, counting each bucket as its lowest value: exact for bounds below
  // 128 µs, otherwise off by at most the observations in one bucket (values within 1/64 above
  // the bound). This is what Prometheus `le` buckets need.
  [[nodiscard]] uint64_t count_at_or_below(uint64_t bound_us) const;

  // Bucket arithmetic, exposed for tests. Values below 128 have a bucket each; a value with
  // highest set bit e >= 7 lands in bucket 64 * (e - 6) + (its top 7 bits).
  [[nodiscard]] static constexpr size_t index_of(uint64_t value_us) {
    return detail::histogram_index_of(value_us);
  }
  [[nodiscard]] static uint64_t lowest_of(size_t index);
  [[nodiscard]] static uint64_t highest_of(size_t index);

  static constexpr size_t kBucketCount = detail::histogram_index_of(kValueMaxUs) + 1;

 private:
  std::array<uint64_t, kBucketCount> buckets_{};
  uint64_t count_ = 0;
  uint64_t min_us_ = UINT64_MAX;
  uint64_t max_us_ = 0;
  uint64_t sum_us_ = 0;
};

// A mutex-protected Histogram for recording from several threads; readers take a copy.
class SharedHistogram {
 public:
  void record(uint64_t value_us) {
    std::lock_guard lock(mutex_);
    histogram_.record(value_us);
  }
  void merge(const Histogram& other) {
    std::lock_guard lock(mutex_);
    histogram_.merge(other);
  }
  [[nodiscard]] Histogram snapshot() const {
    std::lock_guard lock(mutex_);
    return histogram_;
  }

 private:
  mutable std::mutex mutex_;
  Histogram histogram_;
};

}  // namespace common

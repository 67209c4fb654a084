#include "common/histogram.h"

#include <algorithm>
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

}  // namespace common

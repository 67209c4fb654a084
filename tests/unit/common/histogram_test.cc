#include "common/histogram.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace common {
namespace {

TEST(HistogramTest, EmptyHistogramReportsZeros) {
  Histogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.min_us(), 0u);
  EXPECT_EQ(h.max_us(), 0u);
  EXPECT_EQ(h.mean_us(), 0.0);
  EXPECT_EQ(h.percentile(50), 0u);
  EXPECT_EQ(h.percentile(99.9), 0u);
}

TEST(HistogramTest, SmallValuesAreExact) {
  Histogram h;
  for (uint64_t v = 0; v < 128; ++v) h.record(v);
  EXPECT_EQ(h.count(), 128u);
  EXPECT_EQ(h.min_us(), 0u);
  EXPECT_EQ(h.max_us(), 127u);
  EXPECT_EQ(h.percentile(50), 63u);  // the 64th smallest of 0..127
  EXPECT_EQ(h.percentile(100), 127u);
  EXPECT_EQ(h.count_at_or_below(99), 100u);
}

TEST(HistogramTest, BucketsTileTheRangeWithoutGapsOrOverlap) {
  for (size_t i = 1; i < Histogram::kBucketCount; ++i) {
    ASSERT_EQ(Histogram::lowest_of(i), Histogram::highest_of(i - 1) + 1) << "bucket " << i;
    ASSERT_EQ(Histogram::index_of(Histogram::lowest_of(i)), i);
    ASSERT_EQ(Histogram::index_of(Histogram::highest_of(i)), i);
  }
  EXPECT_EQ(Histogram::index_of(Histogram::kValueMaxUs), Histogram::kBucketCount - 1);
}

TEST(HistogramTest, EveryBucketIsWithinOneSixtyFourthOfItsValues) {
  for (size_t i = 128; i < Histogram::kBucketCount; ++i) {
    const double width =
        static_cast<double>(Histogram::highest_of(i) - Histogram::lowest_of(i) + 1);
    ASSERT_LE(width / static_cast<double>(Histogram::lowest_of(i)), 1.0 / 64 + 1e-12) << i;
  }
}

TEST(HistogramTest, PercentilesOfAUniformSpreadAreWithinTwoPercent) {
  Histogram h;
  for (uint64_t v = 1; v <= 100'000; ++v) h.record(v * 10);  // 10 µs .. 1 s
  for (double p : {50.0, 90.0, 99.0, 99.9}) {
    const double exact = p / 100 * 100'000 * 10;
    const double got = static_cast<double>(h.percentile(p));
    EXPECT_NEAR(got / exact, 1.0, 0.02) << "p" << p;
  }
  EXPECT_EQ(h.percentile(100), 1'000'000u);
  EXPECT_EQ(h.min_us(), 10u);
  EXPECT_NEAR(h.mean_us(), 500'005.0, 1e-6);
}

TEST(HistogramTest, ValuesAboveTheRangeKeepExactMaxAndSum) {
  Histogram h;
  h.record(500'000'000);  // 500 s
  h.record(1);
  EXPECT_EQ(h.max_us(), 500'000'000u);
  EXPECT_EQ(h.sum_us(), 500'000'001u);
  EXPECT_EQ(h.percentile(100), 500'000'000u);
  EXPECT_EQ(h.percentile(50), 1u);
}

TEST(HistogramTest, MergeEqualsRecordingEverythingInOne) {
  std::mt19937_64 rng(42);
  std::printf("seed 42\n");
  Histogram a, b, all;
  for (int i = 0; i < 10'000; ++i) {
    const uint64_t v = rng() % 5'000'000;
    (i % 2 ? a : b).record(v);
    all.record(v);
  }
  a.merge(b);
  EXPECT_EQ(a.count(), all.count());
  EXPECT_EQ(a.min_us(), all.min_us());
  EXPECT_EQ(a.max_us(), all.max_us());
  EXPECT_EQ(a.sum_us(), all.sum_us());
  for (double p : {50.0, 99.0, 99.9}) EXPECT_EQ(a.percentile(p), all.percentile(p));
}

TEST(HistogramTest, MergingAnEmptyHistogramChangesNothing) {
  Histogram a;
  a.record(7);
  a.merge(Histogram());
  EXPECT_EQ(a.count(), 1u);
  EXPECT_EQ(a.min_us(), 7u);
}

TEST(SharedHistogramTest, ConcurrentRecordsAreAllCounted) {
  SharedHistogram shared;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10'000; ++i) shared.record(static_cast<uint64_t>(i));
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(shared.snapshot().count(), 40'000u);
}

}  // namespace
}  // namespace common

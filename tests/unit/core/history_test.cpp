#include "wiremeter/core/history.hpp"

#include <gtest/gtest.h>

namespace wiremeter::core {
namespace {

constexpr uint64_t kT0 = 1'800'000'000;  // a whole hour: 1800000000 % 3600 == 0

TEST(History, RecentSecondsAtFullResolution) {
  History h;
  for (uint64_t i = 0; i < 10; ++i) h.record("x", kT0 + i, static_cast<double>(i));
  auto r = h.query("x", kT0, kT0 + 9, 600);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->step_s, 1u);
  ASSERT_EQ(r->points.size(), 10u);
  EXPECT_EQ(r->points[3].t, kT0 + 3);
  EXPECT_EQ(r->points[3].avg, 3.0);
  EXPECT_FALSE(h.query("unknown", kT0, kT0 + 9, 600));
}

TEST(History, OlderRangesAreDownsampledKeepingPeaks) {
  History h;
  // Two hours of a flat 10 with one 1-second spike of 1000.
  for (uint64_t i = 0; i < 7200; ++i) h.record("x", kT0 + i, i == 1234 ? 1000.0 : 10.0);
  // The first hour is beyond the 10-minute window: minutes are served.
  auto r = h.query("x", kT0, kT0 + 7199, 5000);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->step_s, 60u);
  ASSERT_EQ(r->points.size(), 120u);  // 119 closed minutes + the one still open
  const HistoryPoint& spike = r->points[1234 / 60];
  EXPECT_EQ(spike.t, kT0 + 1200);
  EXPECT_EQ(spike.max, 1000.0);
  EXPECT_NEAR(spike.avg, (59 * 10.0 + 1000.0) / 60, 1e-9);
  // Asking for fewer points than minutes moves to hours.
  auto coarse = h.query("x", kT0, kT0 + 7199, 10);
  ASSERT_TRUE(coarse);
  EXPECT_EQ(coarse->step_s, 3600u);
  EXPECT_EQ(coarse->points.front().max, 1000.0);
}

TEST(History, MemoryIsBoundedBySeriesCount) {
  History h;
  for (size_t i = 0; i < kMaxHistorySeries; ++i)
    EXPECT_TRUE(h.record("s" + std::to_string(i), kT0, 1));
  EXPECT_EQ(h.refused(), 0u);
  EXPECT_FALSE(h.record("one-too-many", kT0, 1));
  EXPECT_EQ(h.refused(), 1u);               // counted, for GET /api/v1/history
  EXPECT_TRUE(h.record("s0", kT0 + 1, 2));  // existing series keep working
}

TEST(History, AStaleSeriesGivesWayWhenTheCapIsReached) {
  History h;
  for (size_t i = 0; i < kMaxHistorySeries; ++i)
    EXPECT_TRUE(h.record("s" + std::to_string(i), kT0, 1));
  uint64_t later = kT0 + kHistoryStaleS;
  for (size_t i = 1; i < kMaxHistorySeries; ++i)  // all but s0 stay current
    EXPECT_TRUE(h.record("s" + std::to_string(i), later, 1));
  EXPECT_TRUE(h.record("newcomer", later, 3));
  EXPECT_FALSE(h.query("s0", kT0, later, 600).has_value());
  EXPECT_TRUE(h.query("newcomer", kT0, later, 600).has_value());
  EXPECT_FALSE(h.record("another", later, 1));  // nothing else is stale
}

}  // namespace
}  // namespace wiremeter::core

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <wiremeter/counter_window.hpp>

namespace wiremeter {
namespace {

constexpr uint64_t kSecond = 1'000'000'000ull;
constexpr uint64_t kMinute = 60 * kSecond;
constexpr uint64_t kT0 = 1'699'999'980 * kSecond;  // a whole minute

struct Counts {
  uint64_t requests = 0, replies = 0;
  std::array<uint64_t, 2> buckets{};
};

// Requests grow by 1 per second, replies by 2, from 0 at kT0.
Counts at(uint64_t second) { return {second, 2 * second, {second / 10, 0}}; }

CounterWindow<Counts> one_snapshot_per_second(uint64_t seconds) {
  CounterWindow<Counts> w;
  for (uint64_t s = 0; s <= seconds; ++s) w.record(kT0 + s * kSecond, at(s));
  return w;
}

TEST(CounterWindow, DifferenceOfTheSnapshotsBracketingTheWindow) {
  auto w = one_snapshot_per_second(100);
  auto r = w.window(kT0 + 10 * kSecond, kT0 + 30 * kSecond, at(100), kT0 + 100 * kSecond);
  EXPECT_EQ(r.counts.requests, 20u);
  EXPECT_EQ(r.counts.replies, 40u);
  EXPECT_EQ(r.counts.buckets[0], 2u);
  EXPECT_EQ(r.from_ns, kT0 + 10 * kSecond);
  EXPECT_EQ(r.to_ns, kT0 + 30 * kSecond);
  // Between snapshots the window widens to the ones around it.
  r = w.window(kT0 + 10 * kSecond + 500'000'000, kT0 + 29 * kSecond + 1, at(100),
               kT0 + 100 * kSecond);
  EXPECT_EQ(r.counts.requests, 20u);
  EXPECT_EQ(r.from_ns, kT0 + 10 * kSecond);
  EXPECT_EQ(r.to_ns, kT0 + 30 * kSecond);
}

TEST(CounterWindow, AWindowReachingPastTheLastSnapshotEndsWithTheCurrentTotals) {
  auto w = one_snapshot_per_second(100);
  Counts now = at(100);
  now.requests += 7;  // counted since the last snapshot
  auto r = w.window(kT0 + 90 * kSecond, UINT64_MAX, now, kT0 + 100 * kSecond + 400'000'000);
  EXPECT_EQ(r.counts.requests, 17u);
  EXPECT_EQ(r.from_ns, kT0 + 90 * kSecond);
  EXPECT_EQ(r.to_ns, kT0 + 100 * kSecond + 400'000'000);
  // Starting after the last snapshot: what came since it.
  r = w.window(kT0 + 100 * kSecond + 1, UINT64_MAX, now, kT0 + 100 * kSecond + 400'000'000);
  EXPECT_EQ(r.counts.requests, 7u);
  EXPECT_EQ(r.from_ns, kT0 + 100 * kSecond);
}

TEST(CounterWindow, AWindowAfterNowIsEmpty) {
  auto w = one_snapshot_per_second(10);
  auto r = w.window(kT0 + 60 * kSecond, kT0 + 70 * kSecond, at(10), kT0 + 10 * kSecond);
  EXPECT_EQ(r.counts.requests, 0u);
  EXPECT_EQ(r.from_ns, kT0 + 10 * kSecond);
  EXPECT_EQ(r.to_ns, kT0 + 10 * kSecond);
}

TEST(CounterWindow, AWindowBeforeTheFirstSnapshotIsEmptyAndOneStartingBeforeItIsClamped) {
  CounterWindow<Counts> w;
  w.record(kT0, Counts{});  // the plugin's start: nothing counted yet
  for (uint64_t s = 1; s <= 10; ++s) w.record(kT0 + s * kSecond, at(s));
  auto r = w.window(kT0 - 100 * kSecond, kT0 - 50 * kSecond, at(10), kT0 + 10 * kSecond);
  EXPECT_EQ(r.counts.requests, 0u);
  EXPECT_EQ(r.from_ns, kT0);
  EXPECT_EQ(r.to_ns, kT0);
  r = w.window(0, kT0 + 5 * kSecond, at(10), kT0 + 10 * kSecond);
  EXPECT_EQ(r.counts.requests, 5u);
  EXPECT_EQ(r.from_ns, kT0);
  EXPECT_EQ(r.to_ns, kT0 + 5 * kSecond);
  // The whole history: everything since the start.
  r = w.window(0, UINT64_MAX, at(10), kT0 + 10 * kSecond);
  EXPECT_EQ(r.counts.requests, 10u);
  EXPECT_EQ(r.counts.replies, 20u);
}

TEST(CounterWindow, InvertedWindowIsAQueryError) {
  auto w = one_snapshot_per_second(10);
  EXPECT_THROW(w.window(kT0 + 5 * kSecond, kT0, at(10), kT0 + 10 * kSecond), QueryError);
}

TEST(CounterWindow, WithoutSnapshotsTheAnswerIsTheCurrentTotals) {
  CounterWindow<Counts> w;
  EXPECT_TRUE(w.empty());
  auto r = w.window(kT0, kT0 + kSecond, at(3), kT0 + 3 * kSecond);
  EXPECT_EQ(r.counts.requests, 3u);
  EXPECT_EQ(r.from_ns, 0u);
  EXPECT_EQ(r.to_ns, kT0 + 3 * kSecond);
}

TEST(CounterWindow, OlderWindowsUseTheMinuteTierAfterTheSecondsRingWrapped) {
  // An hour of one snapshot per second: the seconds ring keeps the last 10 minutes only.
  auto w = one_snapshot_per_second(3600);
  auto r = w.window(kT0 + 5 * kMinute + 30 * kSecond, kT0 + 20 * kMinute + 10 * kSecond, at(3600),
                    kT0 + 3600 * kSecond);
  EXPECT_EQ(r.from_ns, kT0 + 5 * kMinute);  // minute snapshots around the window
  EXPECT_EQ(r.to_ns, kT0 + 21 * kMinute);
  EXPECT_EQ(r.counts.requests, 16 * 60u);
  // Within the last 10 minutes the seconds are still there.
  r = w.window(kT0 + 3590 * kSecond, kT0 + 3595 * kSecond, at(3600), kT0 + 3600 * kSecond);
  EXPECT_EQ(r.counts.requests, 5u);
  EXPECT_EQ(r.from_ns, kT0 + 3590 * kSecond);
  // A start in the last 10 minutes, between minute snapshots: the seconds ring is tighter.
  r = w.window(kT0 + 3545 * kSecond, UINT64_MAX, at(3600), kT0 + 3600 * kSecond);
  EXPECT_EQ(r.from_ns, kT0 + 3545 * kSecond);
  EXPECT_EQ(r.counts.requests, 55u);
}

TEST(CounterWindow, HistoryOlderThanTheLastTierIsClampedToTheOldestSnapshot) {
  CounterWindow<Counts> w({{kSecond, 5}});
  for (uint64_t s = 0; s <= 20; ++s) w.record(kT0 + s * kSecond, at(s));
  auto r = w.window(kT0, kT0 + 18 * kSecond, at(20), kT0 + 20 * kSecond);
  EXPECT_EQ(r.from_ns, kT0 + 16 * kSecond);  // the oldest of the 5 kept
  EXPECT_EQ(r.counts.requests, 2u);
}

TEST(CounterWindow, OneSnapshotPerIntervalWhateverTheTickJitter) {
  CounterWindow<Counts> w({{kSecond, 10}});
  w.record(kT0 + 100'000'000, at(1));
  w.record(kT0 + 900'000'000, at(2));  // same second: the first one stays
  w.record(kT0 + kSecond + 50'000'000, at(3));
  auto r = w.window(kT0 + 500'000'000, kT0 + kSecond, at(3), kT0 + kSecond + 50'000'000);
  EXPECT_EQ(r.from_ns, kT0 + 100'000'000);
  EXPECT_EQ(r.to_ns, kT0 + kSecond + 50'000'000);
  EXPECT_EQ(r.counts.requests, 2u);
}

TEST(CounterWindow, AClockThatWentBackStartsTheHistoryOver) {
  auto w = one_snapshot_per_second(10);
  w.record(kT0 - 3600 * kSecond, at(11));
  auto r = w.window(0, UINT64_MAX, at(12), kT0 - 3599 * kSecond);
  EXPECT_EQ(r.from_ns, kT0 - 3600 * kSecond);
  EXPECT_EQ(r.counts.requests, 1u);
}

TEST(CounterWindow, CountersThatWentDownCountZeroAndOperatorMinusIsUsedWhenThere) {
  Counts later = at(5), earlier = at(9);
  EXPECT_EQ(subtract_counters(later, earlier).requests, 0u);
  struct Signed {
    int64_t v;
    Signed operator-(const Signed& o) const { return {v - o.v}; }
  };
  EXPECT_EQ(subtract_counters(Signed{3}, Signed{5}).v, -2);
}

TEST(CounterWindow, RefusesTiersWithoutIntervalOrCapacity) {
  EXPECT_THROW(CounterWindow<Counts>({{0, 5}}), std::invalid_argument);
  EXPECT_THROW(CounterWindow<Counts>({{kSecond, 0}}), std::invalid_argument);
}

}  // namespace
}  // namespace wiremeter

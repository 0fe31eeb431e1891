// The SDK headers expect to be built into a plugin; this test stands in for one.
#define WM_PLUGIN_NAME "top_series_test"

#include <gtest/gtest.h>

#include <wiremeter/testing/fake_host.hpp>
#include <wiremeter/top_series.hpp>

namespace wiremeter {
namespace {

constexpr uint64_t kSecond = 1'000'000'000;

TEST(TopSeries, CumulativeTotalsGraphTheBusiestAndTheWatched) {
  testing::FakeHost fake;
  Host host(fake.api());
  TopSeries series(1, 60);
  series.update(host, 1 * kSecond, {{"a", 0}, {"b", 0}});
  series.update(host, 2 * kSecond, {{"a", 100}, {"b", 10}});  // a: 800 bps, the busiest
  EXPECT_EQ(fake.series["a.bps"], std::vector<double>({800}));
  EXPECT_EQ(fake.series.count("b.bps"), 0u);
  series.watch("b");
  series.update(host, 3 * kSecond, {{"a", 100}, {"b", 20}});
  EXPECT_EQ(fake.series["a.bps"], std::vector<double>({800, 0}));  // lingers at 0
  EXPECT_EQ(fake.series["b.bps"], std::vector<double>({80}));
}

TEST(TopSeries, RatesFromTheCallerRecordTopGraphedAndLingering) {
  testing::FakeHost fake;
  Host host(fake.api());
  TopSeries series(2, 60, 1.0, ".per_s");
  series.update_rates(host, 1 * kSecond, {{"a", 5}, {"b", 3}, {"c", 1}});
  EXPECT_EQ(fake.series["a.per_s"], std::vector<double>({5}));
  EXPECT_EQ(fake.series["b.per_s"], std::vector<double>({3}));
  EXPECT_EQ(fake.series.count("c.per_s"), 0u);  // third: not in the top 2
  std::vector<std::string> keys = series.graphed_keys();
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(keys, std::vector<std::string>({"a", "b"}));

  // A quiet second: the caller hands only c (busy) and the graphed keys it found idle.
  series.watch("d");
  series.update_rates(host, 2 * kSecond, {{"c", 2}});
  EXPECT_EQ(fake.series["a.per_s"], std::vector<double>({5, 0}));
  EXPECT_EQ(fake.series["c.per_s"], std::vector<double>({2}));
  EXPECT_EQ(fake.series["d.per_s"], std::vector<double>({0}));  // watched: graphed at 0

  // After linger_s without being busy, a series ends.
  series.update_rates(host, 61 * kSecond, {});
  EXPECT_EQ(fake.series["a.per_s"].size(), 2u);
  EXPECT_EQ(fake.series["c.per_s"].size(), 2u);  // c was busy at 2 s: 59 s ago, still lingering
  EXPECT_TRUE(series.graphed("c"));
  EXPECT_FALSE(series.graphed("a"));
}

}  // namespace
}  // namespace wiremeter

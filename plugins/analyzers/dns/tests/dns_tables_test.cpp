// Tests of the bounded tables: what gives way when each one is full.
#include "dns_tables.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace wiremeter::dns {
namespace {

Addr v4(uint8_t last) {
  Addr a;
  a.version = 4;
  a.bytes = {198, 18, 0, last};
  return a;
}

TEST(DnsTables, RttBuckets) {
  EXPECT_EQ(rtt_bucket(0), 0u);
  EXPECT_EQ(rtt_bucket(500), 0u);
  EXPECT_EQ(rtt_bucket(501), 1u);
  EXPECT_EQ(rtt_bucket(5'000'000), kRttBoundsUs.size() - 1);
  EXPECT_EQ(rtt_bucket(5'000'001), kRttBoundsUs.size());
}

TEST(DnsTables, ServerTableSendsOverflowToOther) {
  ServerTable t(2);
  ++t.at(v4(1)).requests;
  ++t.at(v4(2)).requests;
  ++t.at(v4(1)).requests;
  ++t.at(v4(3)).requests;  // no room: other
  ++t.at(v4(4)).requests;
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t.row(0).requests, 2u);
  EXPECT_EQ(t.row(1).requests, 1u);
  EXPECT_EQ(t.other().requests, 2u);
}

TEST(DnsTables, ServerStatsKeepMinAvgMax) {
  ServerStats s;
  s.add_rtt(300);
  s.add_rtt(100);
  s.add_rtt(2000);
  EXPECT_EQ(s.rtt_min_us, 100u);
  EXPECT_EQ(s.rtt_max_us, 2000u);
  EXPECT_EQ(s.rtt_sum_us, 2400u);
  EXPECT_EQ(s.rtt_count, 3u);
  ServerStats other;
  other.add_rtt(50);
  s.merge(other);
  EXPECT_EQ(s.rtt_min_us, 50u);
  EXPECT_EQ(s.rtt[0], 3u);  // 300, 100 and 50 are <= 0.5 ms
}

TEST(DnsTables, AnswersDropWhatDoesNotFit) {
  Answers a;
  for (int i = 0; i < 20; ++i)
    a.add("192.0.2." + std::to_string(i), static_cast<uint32_t>(100 - i));
  EXPECT_EQ(a.count, kMaxAnswers);
  EXPECT_TRUE(a.truncated);
  EXPECT_EQ(a.min_ttl(), 85u);
  std::vector<std::string> seen;
  a.for_each([&](std::string_view s, uint32_t) { seen.emplace_back(s); });
  EXPECT_EQ(seen.front(), "192.0.2.0");
  EXPECT_EQ(seen.back(), "192.0.2.15");

  Answers big;
  std::string long_answer(300, 'x');
  big.add(long_answer, 1);
  big.add(long_answer, 1);  // 602 bytes > kAnswerBytes
  EXPECT_EQ(big.count, 1);
  EXPECT_TRUE(big.truncated);
}

TEST(DnsTables, NameTableEvictsTheLeastRecentlyUpdated) {
  NameTable t(2);
  Answers a;
  a.add("192.0.2.1", 60);
  t.update("a.example", 1, a, 1);
  t.update("b.example", 1, a, 2);
  t.update("a.example", 1, a, 3);  // a is now the most recent
  t.update("c.example", 1, a, 4);  // evicts b
  std::vector<std::string> names;
  t.for_each([&](const NameTable::Entry& e) { names.emplace_back(e.name.view()); });
  EXPECT_EQ(names, (std::vector<std::string>{"c.example", "a.example"}));
  EXPECT_EQ(t.evicted(), 1u);
  // The type is part of the key.
  t.update("c.example", 28, a, 5);
  names.clear();
  t.for_each([&](const NameTable::Entry& e) { names.emplace_back(e.name.view()); });
  EXPECT_EQ(names, (std::vector<std::string>{"c.example", "c.example"}));
}

TEST(DnsTables, TopNamesKeepTheHeavyHitters) {
  TopNames t(8);
  // Two heavy names among a stream of names seen once.
  for (int i = 0; i < 200; ++i) {
    uint64_t ts = 1000 + static_cast<uint64_t>(i);
    t.add("heavy.example", ts);
    if (i % 2 == 0) t.add("medium.example", ts);
    t.add("once-" + std::to_string(i) + ".example", ts);
  }
  std::map<std::string, uint64_t> counts;
  std::map<std::string, std::pair<uint64_t, uint64_t>> seen;
  t.for_each([&](const TopNames::Entry& e) {
    counts[std::string(e.name.view())] = e.count;
    seen[std::string(e.name.view())] = {e.first_ns, e.last_ns};
  });
  // A name keeps its first sighting while it holds its counter; one that took over a counter
  // starts at the query that took it.
  EXPECT_EQ(seen["heavy.example"], (std::pair<uint64_t, uint64_t>{1000, 1199}));
  EXPECT_EQ(seen["medium.example"].second, 1198u);
  ASSERT_TRUE(seen.count("once-199.example"));
  EXPECT_EQ(seen["once-199.example"], (std::pair<uint64_t, uint64_t>{1199, 1199}));
  EXPECT_EQ(t.size(), 8u);
  EXPECT_EQ(t.total(), 500u);
  ASSERT_TRUE(counts.count("heavy.example"));
  ASSERT_TRUE(counts.count("medium.example"));
  EXPECT_EQ(counts["heavy.example"], 200u);  // never evicted, so exact
  EXPECT_GE(counts["medium.example"], 100u);
}

TEST(DnsTables, PendingPoolReusesSlotsAndSaysWhenFull) {
  PendingPool p(2);
  uint32_t a = p.allocate(), b = p.allocate();
  EXPECT_NE(a, 0u);
  EXPECT_NE(b, 0u);
  EXPECT_EQ(p.allocate(), 0u);
  EXPECT_EQ(p.in_use(), 2u);
  p.release(a);
  p.release(a);  // twice is harmless
  EXPECT_EQ(p.in_use(), 1u);
  EXPECT_EQ(p.allocate(), a);
  EXPECT_EQ(p.high_water(), 2u);
  EXPECT_TRUE(p.valid(a));
  EXPECT_FALSE(p.valid(0));
  EXPECT_FALSE(p.valid(3));
}

}  // namespace
}  // namespace wiremeter::dns

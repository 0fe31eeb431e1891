#include "dhcp_tables.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <vector>

#include "dhcp_config.hpp"

namespace wiremeter::dhcp {
namespace {

struct Item {
  uint64_t key = 0;
  int value = 0;
};

std::vector<uint64_t> keys(const LruTable<Item>& t) {
  std::vector<uint64_t> k;
  t.for_each([&](const Item& i) { k.push_back(i.key); });
  return k;
}

TEST(DhcpLruTable, EvictsLeastRecentlyUpdated) {
  LruTable<Item> t(3);
  bool created = false;
  t.upsert(1, created).value = 10;
  EXPECT_TRUE(created);
  t.upsert(2, created);
  t.upsert(3, created);
  t.upsert(1, created);  // 1 is now the newest; 2 the oldest
  EXPECT_FALSE(created);
  EXPECT_TRUE(t.full());
  t.upsert(4, created);
  EXPECT_TRUE(created);
  EXPECT_EQ(t.evicted(), 1u);
  EXPECT_EQ(t.find(2), nullptr);
  ASSERT_NE(t.find(1), nullptr);
  EXPECT_EQ(t.find(1)->value, 10);
  EXPECT_EQ(keys(t), (std::vector<uint64_t>{4, 1, 3}));
  EXPECT_EQ(t.oldest()->key, 3u);
}

TEST(DhcpLruTable, EraseKeepsTheRestReachable) {
  LruTable<Item> t(8);
  bool created = false;
  for (uint64_t k = 1; k <= 6; ++k) t.upsert(k, created).value = static_cast<int>(k * 10);
  t.erase(2);  // the last slot (6) moves into 2's place
  t.erase(6);
  t.erase(42);  // absent: nothing happens
  EXPECT_EQ(t.size(), 4u);
  EXPECT_EQ(keys(t), (std::vector<uint64_t>{5, 4, 3, 1}));
  for (uint64_t k : {1, 3, 4, 5}) {
    ASSERT_NE(t.find(k), nullptr) << k;
    EXPECT_EQ(t.find(k)->value, static_cast<int>(k * 10));
  }
  t.upsert(7, created);
  t.upsert(3, created);
  EXPECT_EQ(keys(t), (std::vector<uint64_t>{3, 7, 5, 4, 1}));
  EXPECT_EQ(t.oldest()->key, 1u);
  // Fill, drain, fill again: the slots are reused.
  for (uint64_t k : {1, 3, 4, 5, 7}) t.erase(k);
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.oldest(), nullptr);
  for (uint64_t k = 100; k < 108; ++k) t.upsert(k, created);
  EXPECT_TRUE(t.full());
  EXPECT_EQ(t.evicted(), 0u);
}

TEST(DhcpText, EscapesAndCuts) {
  ShortText t;
  const uint8_t raw[] = {'a', 0x01, 'b', 0xff, 0, 0};
  t.set(raw, sizeof raw);
  EXPECT_EQ(t.view(), "a\\x01b\\xff");  // trailing NULs dropped
  Text<8> small;
  small.set(std::string_view("abcdefghij"));
  EXPECT_EQ(small.view(), "abcdefg");
  const uint8_t bin[] = {'a', 'b', 'c', 'd', 0x80};
  small.set(bin, sizeof bin);
  EXPECT_EQ(small.view(), "abcd");  // the escape would not fit whole
}

TEST(DhcpStamped, MergeKeepsLatestOrEarliest) {
  Stamped<int> a, b;
  a.set(1, 100);
  b.set(2, 200);
  Stamped<int> x = a;
  x.merge_latest(b);
  EXPECT_EQ(x.value, 2);
  x = a;
  x.merge_earliest(b);
  EXPECT_EQ(x.value, 1);
  Stamped<int> unknown;
  x.merge_latest(unknown);
  EXPECT_EQ(x.value, 1);
  unknown.merge_earliest(b);
  EXPECT_EQ(unknown.value, 2);
}

TEST(DhcpRequestClock, TimesAnswersAcrossWorkers) {
  RequestClock clock(64);
  uint64_t t0 = 1'700'000'000'123'456'789ull;
  clock.record(RequestClock::kDiscover, 0x7c0, t0);
  EXPECT_EQ(clock.elapsed_us(RequestClock::kDiscover, 0x7c0, t0 + 4'950'000), 4950);
  EXPECT_EQ(clock.elapsed_us(RequestClock::kRequest, 0x7c0, t0 + 1000), -1);   // other kind
  EXPECT_EQ(clock.elapsed_us(RequestClock::kDiscover, 0x7c1, t0 + 1000), -1);  // other xid
  EXPECT_EQ(clock.elapsed_us(RequestClock::kDiscover, 0x7c0, t0 + 61'000'000'000ull), -1);
  EXPECT_EQ(clock.elapsed_us(RequestClock::kDiscover, 0x7c0, t0 - 1'000'000), -1);  // before
  // A retransmitted DISCOVER restarts the clock.
  clock.record(RequestClock::kDiscover, 0x7c0, t0 + 2'000'000'000ull);
  EXPECT_EQ(clock.elapsed_us(RequestClock::kDiscover, 0x7c0, t0 + 2'003'000'000ull), 3000);
}

TEST(DhcpResponseStats, AddAndMerge) {
  ResponseStats a, b;
  a.add(800);
  a.add(30000);
  b.add(5000);
  a.merge(b);
  EXPECT_EQ(a.count, 3u);
  EXPECT_EQ(a.min_us, 800u);
  EXPECT_EQ(a.max_us, 30000u);
  EXPECT_EQ(a.sum_us, 35800u);
  EXPECT_EQ(a.buckets[0], 1u);  // <= 1 ms
  EXPECT_EQ(a.buckets[2], 1u);  // <= 5 ms
  EXPECT_EQ(a.buckets[5], 1u);  // <= 50 ms
}

TEST(DhcpDistinctMacs, CountsAndMerges) {
  DistinctMacs a, b;
  for (uint64_t m = 0; m < 20; ++m) a.add(0x020000000000ull + m);
  for (uint64_t m = 10; m < 30; ++m) b.add(0x020000000000ull + m);
  EXPECT_NEAR(static_cast<double>(a.estimate()), 20.0, 1.0);  // a collision or two
  a.merge(b);
  EXPECT_NEAR(static_cast<double>(a.estimate()), 30.0, 1.0);
  EXPECT_EQ(DistinctMacs{}.estimate(), 0u);
}

TEST(DhcpConfig, ParsesAndRefuses) {
  Limits d = parse_limits("{}");
  EXPECT_EQ(d.clients, 4096u);
  Limits l = parse_limits(R"( {"clients": 10, "leases":20 ,"transactions": 5} )");
  EXPECT_EQ(l.clients, 10u);
  EXPECT_EQ(l.leases, 20u);
  EXPECT_EQ(l.transactions, 5u);
  EXPECT_EQ(l.servers, 64u);
  EXPECT_THROW(parse_limits(R"({"client": 10})"), std::invalid_argument);
  EXPECT_THROW(parse_limits(R"({"clients": 0})"), std::invalid_argument);
  EXPECT_THROW(parse_limits(R"({"clients": 1.5})"), std::invalid_argument);
  EXPECT_THROW(parse_limits(R"({"clients": "10"})"), std::invalid_argument);
  EXPECT_THROW(parse_limits(R"({"clients": 99999999999})"), std::invalid_argument);
  EXPECT_THROW(parse_limits(R"({"clients": 10} x)"), std::invalid_argument);
  EXPECT_THROW(parse_limits(""), std::invalid_argument);
  try {
    parse_limits(R"({"servers": 70000})");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "dhcp.servers: expected an integer from 1 to 65536");
  }
}

}  // namespace
}  // namespace wiremeter::dhcp

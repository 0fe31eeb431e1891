#include "wiremeter/core/flow_table.hpp"

#include <gtest/gtest.h>

#include <string>
#include <wiremeter/testing/packet_builder.hpp>

namespace wiremeter::core {
namespace {

using testing::PacketBuilder;

wm_packet udp(const char* a, uint16_t pa, const char* b, uint16_t pb, uint64_t ts) {
  static std::vector<testing::BuiltPacket> keep;  // views point into these bytes
  keep.push_back(PacketBuilder().ipv4(a, b).udp(pa, pb).timestamp_ns(ts).build());
  return keep.back().view;
}

constexpr uint64_t kSec = 1'000'000'000ull;

TEST(FlowTable, BothDirectionsMapToOneFlow) {
  FlowTable t(1 << 20, 32, FlowTimeouts{}, 0);
  wm_packet a = udp("198.18.0.1", 1000, "198.18.0.2", 53, 1 * kSec);
  wm_packet b = udp("198.18.0.2", 53, "198.18.0.1", 1000, 2 * kSec);
  ASSERT_TRUE(t.track(a));
  ASSERT_TRUE(t.track(b));
  EXPECT_EQ(a.flow, b.flow);
  EXPECT_EQ(a.direction, WM_DIR_FORWARD);
  EXPECT_EQ(b.direction, WM_DIR_REVERSE);
  EXPECT_EQ(a.flow_state, b.flow_state);
  EXPECT_EQ(b.flow->packets[0], 1u);
  EXPECT_EQ(b.flow->packets[1], 1u);
  EXPECT_EQ(b.flow->port[0], 1000);  // initiator first
  EXPECT_EQ(t.counters().active.load(), 1u);
}

TEST(FlowTable, DifferentTuplesAreDifferentFlows) {
  FlowTable t(1 << 20, 0, FlowTimeouts{}, 0);
  wm_packet a = udp("198.18.0.1", 1000, "198.18.0.2", 53, kSec);
  wm_packet b = udp("198.18.0.1", 1001, "198.18.0.2", 53, kSec);
  t.track(a);
  t.track(b);
  EXPECT_NE(a.flow, b.flow);
  EXPECT_EQ(t.counters().created.load(), 2u);
}

TEST(FlowTable, StateStartsZeroedAndPersists) {
  FlowTable t(1 << 20, 16, FlowTimeouts{}, 0);
  wm_packet a = udp("198.18.0.1", 1, "198.18.0.2", 2, kSec);
  t.track(a);
  for (int i = 0; i < 16; ++i) EXPECT_EQ(a.flow_state[i], 0);
  a.flow_state[3] = 42;
  wm_packet b = udp("198.18.0.2", 2, "198.18.0.1", 1, kSec);
  t.track(b);
  EXPECT_EQ(b.flow_state[3], 42);
}

TEST(FlowTable, IdleFlowsExpirePerProtocolClass) {
  FlowTimeouts to{300 * kSec, 60 * kSec, 30 * kSec};
  FlowTable t(1 << 20, 0, to, 0);
  std::vector<std::string> ended;
  t.set_end_callback([&](const wm_flow_info& f, uint8_t*) {
    ended.push_back(std::to_string(f.port[0]) + ":" + std::to_string(f.end_reason));
  });
  wm_packet u = udp("198.18.0.1", 1, "198.18.0.2", 2, 0);
  t.track(u);
  auto tcp = PacketBuilder().ipv4("198.18.0.1", "198.18.0.2").tcp(7, 8).timestamp_ns(0).build();
  t.track(tcp.view);
  t.expire(59 * kSec);
  EXPECT_TRUE(ended.empty());
  t.expire(61 * kSec);
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended[0], "1:" + std::to_string(WM_FLOW_IDLE_TIMEOUT));
  t.expire(301 * kSec);
  EXPECT_EQ(ended.size(), 2u);
  EXPECT_EQ(t.counters().active.load(), 0u);
  EXPECT_EQ(t.counters().expired.load(), 2u);
}

TEST(FlowTable, EvictsLeastRecentlyActiveWithinBudget) {
  FlowTable t(64 * 1024, 64, FlowTimeouts{}, 0);
  uint32_t cap = t.capacity();
  ASSERT_GT(cap, 16u);
  EXPECT_LE(t.memory_bytes(), 64u * 1024);
  std::vector<uint16_t> evicted;
  t.set_end_callback([&](const wm_flow_info& f, uint8_t*) {
    if (f.end_reason == WM_FLOW_EVICTED) evicted.push_back(f.port[0]);
  });
  for (uint32_t i = 0; i < cap; ++i) {
    wm_packet p = udp("198.18.0.1", static_cast<uint16_t>(i + 1), "198.18.0.2", 9, (i + 1) * kSec);
    t.begin_batch();  // one packet per batch, as in a trickle of traffic
    t.track(p);
  }
  // Touch flow 1 so that flow 2 becomes the least recently active.
  wm_packet again = udp("198.18.0.1", 1, "198.18.0.2", 9, (cap + 1) * kSec);
  t.begin_batch();
  t.track(again);
  wm_packet extra = udp("198.18.0.1", 60000, "198.18.0.2", 9, (cap + 2) * kSec);
  t.begin_batch();
  ASSERT_TRUE(t.track(extra));
  ASSERT_EQ(evicted.size(), 1u);
  EXPECT_EQ(evicted[0], 2);
  EXPECT_EQ(t.counters().active.load(), cap);
  EXPECT_EQ(t.counters().evicted.load(), 1u);
  // The remaining flows are all still found (backward-shift deletion kept probe chains intact).
  for (uint32_t i = 0; i < cap; ++i) {
    if (i + 1 == 2) continue;
    wm_packet p =
        udp("198.18.0.1", static_cast<uint16_t>(i + 1), "198.18.0.2", 9, (cap + 3) * kSec);
    t.track(p);
  }
  EXPECT_EQ(t.counters().created.load(), cap + 1);
}

TEST(FlowTable, NeverEvictsAFlowOfTheCurrentBatch) {
  FlowTable t(1, 0, FlowTimeouts{}, 0);  // the minimum table
  uint32_t cap = t.capacity();
  std::vector<uint16_t> evicted;
  t.set_end_callback([&](const wm_flow_info& f, uint8_t*) { evicted.push_back(f.port[0]); });
  t.begin_batch();
  for (uint32_t i = 0; i < cap; ++i) {
    wm_packet p = udp("198.18.0.1", static_cast<uint16_t>(i + 1), "198.18.0.2", 9, kSec);
    t.track(p);
  }
  // Next batch: the oldest flow (port 1) is touched first, then a new flow needs room. The
  // least recently active flow is port 1 by time, but it belongs to this batch: port 2 goes.
  t.begin_batch();
  wm_packet again = udp("198.18.0.1", 1, "198.18.0.2", 9, kSec);  // same second: not relinked
  t.track(again);
  const wm_flow_info* kept = again.flow;
  wm_packet fresh = udp("198.18.0.1", 60000, "198.18.0.2", 9, kSec);
  ASSERT_TRUE(t.track(fresh));
  ASSERT_EQ(evicted.size(), 1u);
  EXPECT_NE(evicted[0], 1);
  EXPECT_EQ(kept->port[0], 1);  // the earlier packet's record is still its flow
}

TEST(FlowTable, NonIpAndLaterFragmentsHaveNoFlow) {
  FlowTable t(1 << 20, 0, FlowTimeouts{}, 0);
  auto l2 = PacketBuilder().build();
  EXPECT_FALSE(t.track(l2.view));
  wm_packet frag = udp("198.18.0.1", 1, "198.18.0.2", 2, 0);
  frag.flags |= WM_PKT_FRAGMENT;
  EXPECT_FALSE(t.track(frag));
}

TEST(FlowTable, FlushEndsEverything) {
  FlowTable t(1 << 20, 0, FlowTimeouts{}, 0);
  int ended = 0;
  t.set_end_callback([&](const wm_flow_info& f, uint8_t*) {
    EXPECT_EQ(f.end_reason, WM_FLOW_SHUTDOWN);
    ++ended;
  });
  for (uint16_t i = 1; i <= 100; ++i) {
    wm_packet p = udp("198.18.0.1", i, "198.18.0.2", 2, 0);
    t.track(p);
  }
  t.flush();
  EXPECT_EQ(ended, 100);
  EXPECT_EQ(t.counters().active.load(), 0u);
}

}  // namespace
}  // namespace wiremeter::core

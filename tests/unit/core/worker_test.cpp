#include "wiremeter/core/worker.hpp"

#include <gtest/gtest.h>
#include <rte_mbuf.h>

#include <memory>
#include <vector>
#include <wiremeter/testing/packet_builder.hpp>

namespace wiremeter::core {
namespace {

// Two analyzers with flow state, recording what they see, so the test can check that each one
// gets its own slice of the per-flow area both in on_batch and in on_flow_end.
struct Recorder {
  uint32_t offset = 0;
  uint32_t tag = 0;
  std::vector<uint32_t> seen_at_end;
  uint64_t packets = 0;
};

void on_batch(void* w, const wm_packet* p, uint32_t n) {
  auto* r = static_cast<Recorder*>(w);
  for (uint32_t i = 0; i < n; ++i) {
    ++r->packets;
    if (p[i].flow_state) *reinterpret_cast<uint32_t*>(p[i].flow_state + r->offset) = r->tag;
  }
}
void on_flow_end(void* w, const wm_flow_info*, uint8_t* state) {
  auto* r = static_cast<Recorder*>(w);
  r->seen_at_end.push_back(*reinterpret_cast<uint32_t*>(state));
}
const wm_analyzer_hooks kHooks = {sizeof(wm_analyzer_hooks),
                                  4,
                                  nullptr,
                                  nullptr,
                                  on_batch,
                                  on_flow_end,
                                  nullptr,
                                  nullptr,
                                  nullptr};

// An mbuf around a builder's frame, enough for the worker's analyze() (no pool, never freed).
struct FakeMbuf {
  explicit FakeMbuf(const testing::BuiltPacket& p)
      : owned(std::make_unique<rte_mbuf>()), m(*owned) {
    m.buf_addr = const_cast<uint8_t*>(p.bytes->data());
    m.data_off = 0;
    m.data_len = static_cast<uint16_t>(p.bytes->size());
    m.pkt_len = static_cast<uint32_t>(p.bytes->size());
    m.nb_segs = 1;
  }
  std::unique_ptr<rte_mbuf> owned;  // rte_mbuf ends in a flexible array: keep it on its own
  rte_mbuf& m;
};

TEST(Worker, EachPluginGetsItsOwnFlowStateSlice) {
  std::vector<PortRuntime> ports(1);
  Recorder a{0, 0xaaaa, {}, 0}, b{16, 0xbbbb, {}, 0};
  WorkerConfig cfg;
  cfg.flow_memory_bytes = 1 << 20;
  cfg.flow_state_bytes = 32;
  Worker w(cfg, &ports, {{&kHooks, &a, a.offset}, {&kHooks, &b, b.offset}});
  auto fwd = testing::PacketBuilder().ipv4("198.18.0.1", "198.18.0.2").udp(1000, 53).build();
  auto rev = testing::PacketBuilder().ipv4("198.18.0.2", "198.18.0.1").udp(53, 1000).build();
  FakeMbuf m1(fwd), m2(rev);
  rte_mbuf* burst[2] = {&m1.m, &m2.m};
  w.analyze(0, burst, 2, 1'000'000'000);
  EXPECT_EQ(a.packets, 2u);
  EXPECT_EQ(b.packets, 2u);
  EXPECT_EQ(w.port_counters()[0].rx_packets.get(), 2u);
  EXPECT_EQ(w.flows().counters().created.load(), 1u);
  w.shutdown();
  ASSERT_EQ(a.seen_at_end.size(), 1u);
  ASSERT_EQ(b.seen_at_end.size(), 1u);
  EXPECT_EQ(a.seen_at_end[0], 0xaaaau);
  EXPECT_EQ(b.seen_at_end[0], 0xbbbbu);
}

std::vector<int>* g_end_order = nullptr;
void end_a(void*, const wm_flow_info*, uint8_t*) { g_end_order->push_back(1); }
void end_b(void*, const wm_flow_info*, uint8_t*) { g_end_order->push_back(2); }
void batch_noop(void*, const wm_packet*, uint32_t) {}

TEST(Worker, FlowLabellersEndFirst) {
  const wm_analyzer_hooks ha = {sizeof(wm_analyzer_hooks),
                                0,
                                nullptr,
                                nullptr,
                                batch_noop,
                                end_a,
                                nullptr,
                                nullptr,
                                nullptr,
                                nullptr,
                                nullptr};
  const wm_analyzer_hooks hb = {sizeof(wm_analyzer_hooks),
                                0,
                                nullptr,
                                nullptr,
                                batch_noop,
                                end_b,
                                nullptr,
                                nullptr,
                                nullptr,
                                nullptr,
                                nullptr};
  std::atomic<bool> a_labels{false}, b_labels{true};  // b has set flow labels
  std::vector<PortRuntime> ports(1);
  WorkerConfig cfg;
  cfg.flow_memory_bytes = 1 << 20;
  int ctx = 0;
  Worker w(cfg, &ports, {{&ha, &ctx, 0, nullptr, &a_labels}, {&hb, &ctx, 0, nullptr, &b_labels}});
  auto p = testing::PacketBuilder().ipv4("198.18.0.1", "198.18.0.2").udp(1, 2).build();
  FakeMbuf m(p);
  rte_mbuf* burst[1] = {&m.m};
  w.analyze(0, burst, 1, 0);
  std::vector<int> order;
  g_end_order = &order;
  w.shutdown();
  g_end_order = nullptr;
  EXPECT_EQ(order, (std::vector<int>{2, 1}));
}

TEST(Worker, CountsDecodeErrorsByReason) {
  std::vector<PortRuntime> ports(1);
  WorkerConfig cfg;
  cfg.flow_memory_bytes = 1 << 20;
  Worker w(cfg, &ports, {});
  auto p = testing::PacketBuilder().ipv4("198.18.0.1", "198.18.0.2").tcp(1, 2).build();
  (*p.bytes)[14] = 0x41;  // IHL 1
  FakeMbuf m(p);
  rte_mbuf* burst[1] = {&m.m};
  w.analyze(0, burst, 1, 0);
  EXPECT_EQ(w.decode_error(DecodeError::kBadIpv4Header).get(), 1u);
  EXPECT_EQ(w.packets_without_flow().get(), 1u);
}

}  // namespace
}  // namespace wiremeter::core

#include "l2_plugin.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>
#include <wiremeter/testing/fake_host.hpp>

#include "tests/l2_test_util.hpp"

extern "C" const wm_plugin_descriptor* wiremeter_plugin_register(void);

namespace wiremeter::l2 {
namespace {

using test::FrameBuilder;
using test::ip4;
using wiremeter::testing::FakeHost;
using wiremeter::testing::FakeSample;
using wiremeter::testing::PluginHarness;

constexpr uint64_t kT0 = 1'700'000'000'000'000'000ull;
constexpr uint64_t kSecond = 1'000'000'000ull;
constexpr uint64_t kMacA = 0x020000000aaaull, kMacB = 0x020000000bbbull, kMacC = 0x020000000cccull;

class L2Test : public ::testing::Test {
 protected:
  void SetUp() override {
    host.add_port("eth0");
    host.add_port("eth1");
  }
  PluginHarness& harness() {
    if (!h) h = std::make_unique<PluginHarness>(wiremeter_plugin_register(), host, 1);
    return *h;
  }
  // Runs the frames through worker 0 and publishes the snapshot (the worker's tick).
  void run(const std::vector<test::Frame>& frames, uint64_t tick_ns = 0) {
    std::vector<wm_packet> views;
    uint64_t last = 0;
    for (const auto& f : frames) {
      views.push_back(f.view);
      last = std::max(last, f.view.ts_ns);
    }
    harness().batch(0, views);
    harness().worker_tick(0, tick_ns ? tick_ns : last);
  }
  template <typename F>
  void tables(F&& f) {
    harness().worker_as<Worker>(0).read(f);
  }
  const FakeSample* sample(const std::vector<FakeSample>& s, const std::string& metric,
                           const std::map<std::string, std::string>& labels = {}) {
    for (const auto& x : s) {
      if (x.metric == metric && x.labels == labels) return &x;
    }
    return nullptr;
  }
  double value(const std::vector<FakeSample>& s, const std::string& metric,
               const std::map<std::string, std::string>& labels = {}) {
    const FakeSample* x = sample(s, metric, labels);
    EXPECT_NE(x, nullptr) << metric;
    return x ? x->value : -1;
  }
  static bool has(const std::string& body, const std::string& part) {
    return body.find(part) != std::string::npos;
  }

  FakeHost host;
  std::unique_ptr<PluginHarness> h;
};

TEST_F(L2Test, RegistersItsMetricsUnderItsPrefix) {
  harness();
  EXPECT_GE(host.metrics.size(), 20u);
  for (auto& m : host.metrics) EXPECT_EQ(m.name.rfind("wiremeter_l2_", 0), 0u) << m.name;
}

TEST_F(L2Test, TheBusiestVlansAreGraphedEverySecond) {
  harness().tick(1'000'000'000);
  auto f = FrameBuilder().ts(kT0).tag(100, 5).ipv4(46, 100).build();
  run({f});
  harness().tick(2'000'000'000);
  ASSERT_EQ(host.series.count("vlan.100.bps"), 1u);
  EXPECT_DOUBLE_EQ(host.series["vlan.100.bps"].back(), f.view.wire_len * 8.0);
  EXPECT_EQ(host.series.count("vlan.0.bps"), 0u);  // untagged traffic is not a VLAN
}

TEST_F(L2Test, MplsLabelsQosValuesAndArpSendersAreGraphedEverySecond) {
  harness().tick(kT0);
  auto tagged = FrameBuilder().ts(kT0).tag(100, 5).ipv4(46, 100).build();
  auto label = FrameBuilder().ts(kT0).mpls({1000, 16}).build();
  auto arp = FrameBuilder()
                 .ts(kT0)
                 .dst(test::kBroadcast)
                 .arp(1, kMacA, ip4(10, 0, 0, 1), 0, ip4(10, 0, 0, 2));
  run({tagged, label, arp.build(), arp.build()});
  harness().tick(kT0 + kSecond / 2);  // half a second: rates are per second
  ASSERT_EQ(host.series.count("mpls.1000.bps"), 1u);
  EXPECT_DOUBLE_EQ(host.series["mpls.1000.bps"].back(), label.view.wire_len * 8.0 * 2);
  EXPECT_DOUBLE_EQ(host.series["dscp.46.bps"].back(), tagged.view.wire_len * 8.0 * 2);
  // DSCP 0: the label's IPv4 packet.
  EXPECT_DOUBLE_EQ(host.series["dscp.0.bps"].back(), label.view.wire_len * 8.0 * 2);
  EXPECT_DOUBLE_EQ(host.series["pcp.5.bps"].back(), tagged.view.wire_len * 8.0 * 2);
  EXPECT_DOUBLE_EQ(host.series["arp.10.0.0.1.arp_per_s"].back(), 4.0);
  EXPECT_EQ(host.series.count("pcp.0.bps"), 0u);               // untagged frames have no priority
  EXPECT_EQ(host.series.count("arp.10.0.0.2.arp_per_s"), 0u);  // a target states no binding
  // A quiet second: the graphs go on at 0 rather than break up.
  harness().tick(kT0 + 3 * kSecond / 2);
  EXPECT_EQ(host.series["mpls.1000.bps"], (std::vector<double>{label.view.wire_len * 16.0, 0}));
  EXPECT_EQ(host.series["arp.10.0.0.1.arp_per_s"], (std::vector<double>{4, 0}));
}

TEST_F(L2Test, OnlyTheBusiestOfEachKindAreGraphedAndAViewedOneToo) {
  host.config = R"({"series_top": 1})";
  harness().tick(kT0);
  run({FrameBuilder().mpls({1000}).build(), FrameBuilder().mpls({1000}).build(),
       FrameBuilder().mpls({2000}).build(), FrameBuilder().tag(1, 3).ipv4(10).build(),
       FrameBuilder().tag(1, 3).ipv4(10).build(), FrameBuilder().tag(1, 4).ipv4(12).build()});
  harness().tick(kT0 + kSecond);
  EXPECT_EQ(host.series.count("mpls.1000.bps"), 1u);
  EXPECT_EQ(host.series.count("mpls.2000.bps"), 0u);
  EXPECT_EQ(host.series.count("pcp.3.bps"), 1u);
  EXPECT_EQ(host.series.count("pcp.4.bps"), 0u);
  EXPECT_EQ(host.series.count("dscp.0.bps"), 1u);  // the labels' IPv4 packets
  EXPECT_EQ(host.series.count("dscp.10.bps"), 0u);
  EXPECT_EQ(host.series.count("dscp.12.bps"), 0u);
  // Opening the detail views graphs them from the next second on, though not in the top.
  EXPECT_EQ(harness().query("mpls/2000").first, 200);
  EXPECT_EQ(harness().query("qos/pcp/4").first, 200);
  EXPECT_EQ(harness().query("qos/AF12").first, 200);
  run({FrameBuilder().mpls({1000}).build(), FrameBuilder().mpls({2000}).build()});
  harness().tick(kT0 + 2 * kSecond);
  ASSERT_EQ(host.series.count("mpls.2000.bps"), 1u);
  EXPECT_GT(host.series["mpls.2000.bps"].back(), 0);
  EXPECT_EQ(host.series["pcp.4.bps"], (std::vector<double>{0}));
  EXPECT_EQ(host.series["dscp.12.bps"], (std::vector<double>{0}));
}

TEST_F(L2Test, ArpSendersAreGraphedFromTheSumOverWorkersAndAViewedQuietOneToo) {
  host.config = R"({"series_top": 1})";
  PluginHarness two(wiremeter_plugin_register(), host, 2);
  auto arp_from = [](uint32_t ip) {
    return FrameBuilder().ts(kT0).dst(test::kBroadcast).arp(1, kMacA, ip, 0, ip4(10, 0, 0, 9));
  };
  auto send = [&](uint32_t worker, uint32_t ip, int n) {
    std::vector<test::Frame> frames;
    for (int i = 0; i < n; ++i) frames.push_back(arp_from(ip).build());
    std::vector<wm_packet> views;
    for (const auto& f : frames) views.push_back(f.view);
    two.batch(worker, views);
    two.worker_tick(worker, kT0);
  };
  two.tick(kT0);
  // 10.0.0.1: 2 + 2 messages on two workers; 10.0.0.2: 3 on one. The sum decides the top.
  send(0, ip4(10, 0, 0, 1), 2);
  send(1, ip4(10, 0, 0, 1), 2);
  send(1, ip4(10, 0, 0, 2), 3);
  send(0, ip4(10, 0, 0, 3), 1);
  two.tick(kT0 + kSecond);
  EXPECT_EQ(host.series["arp.10.0.0.1.arp_per_s"], std::vector<double>{4});
  EXPECT_EQ(host.series.count("arp.10.0.0.2.arp_per_s"), 0u);
  EXPECT_EQ(host.series.count("arp.10.0.0.3.arp_per_s"), 0u);
  // Viewing 10.0.0.3 graphs it from the next second on, at 0 while it is quiet; the busiest
  // goes on at its new rate.
  EXPECT_EQ(two.query("arp/bindings/10.0.0.3").first, 200);
  send(1, ip4(10, 0, 0, 1), 1);
  two.tick(kT0 + 2 * kSecond);
  EXPECT_EQ(host.series["arp.10.0.0.3.arp_per_s"], std::vector<double>{0});
  EXPECT_EQ(host.series["arp.10.0.0.1.arp_per_s"], (std::vector<double>{4, 1}));
  EXPECT_EQ(host.series.count("arp.10.0.0.2.arp_per_s"), 0u);
}

TEST_F(L2Test, DetailViewsOfLabelsQosValuesAndBindingsNameTheirSeries) {
  run({FrameBuilder().ts(kT0).mpls({1000}).build(),
       FrameBuilder().ts(kT0 + kSecond).mpls({1000, 16, 17}).build(),
       FrameBuilder().ts(kT0).tag(7, 5).ipv4(46).build(),
       FrameBuilder().ts(kT0).dst(test::kBroadcast).arp(1, kMacA, ip4(10, 0, 0, 1), 0, 0).build()});
  auto [status, body] = harness().query("mpls/1000");
  EXPECT_EQ(status, 200);
  EXPECT_EQ(body, R"({"label":1000,"series":"l2.mpls.1000.bps","packets":2,"bytes":120,)"
                  R"("first_seen":1.7e+09,"last_seen":1700000001,"depth":{"1":1,"3":1}})");
  std::tie(status, body) = harness().query("mpls/1001");
  EXPECT_EQ(status, 404);
  EXPECT_EQ(body, R"({"error":"no traffic with MPLS label 1001"})");
  EXPECT_EQ(harness().query("mpls/1048576").first, 400);
  EXPECT_EQ(harness().query("mpls/x").first, 400);
  EXPECT_EQ(harness().query("mpls/1000", "from=1").first, 400);

  std::tie(status, body) = harness().query("qos/46");
  EXPECT_EQ(status, 200);
  EXPECT_TRUE(has(body, R"({"dscp":46,"name":"EF","series":"l2.dscp.46.bps","packets":1,)"))
      << body;
  EXPECT_EQ(harness().query("qos/ef").second, body);  // by name too
  std::tie(status, body) = harness().query("qos/AF11");
  EXPECT_EQ(status, 404);
  EXPECT_EQ(body, R"({"error":"no IP packets with DSCP AF11"})");
  EXPECT_EQ(harness().query("qos/64").first, 400);
  EXPECT_EQ(harness().query("qos/XX").first, 400);
  EXPECT_EQ(harness().query("qos/").first, 400);

  std::tie(status, body) = harness().query("qos/pcp/5");
  EXPECT_EQ(status, 200);
  EXPECT_TRUE(has(body, R"({"pcp":5,"series":"l2.pcp.5.bps","packets":1,)")) << body;
  EXPECT_EQ(harness().query("qos/pcp/4").first, 404);
  EXPECT_EQ(harness().query("qos/pcp/8").first, 400);

  std::tie(status, body) = harness().query("arp/bindings/10.0.0.1");
  EXPECT_EQ(status, 200);
  EXPECT_TRUE(has(body, R"({"series":"l2.arp.10.0.0.1.arp_per_s","binding":{"ip":"10.0.0.1",)"))
      << body;
  std::tie(status, body) = harness().query("arp/bindings/10.0.0.9");
  EXPECT_EQ(status, 404);
  EXPECT_EQ(body, R"({"error":"no ARP binding for 10.0.0.9"})");
}

// The summary views count within a time window from the snapshots taken each second.
TEST_F(L2Test, ArpCountersWithinATimeWindow) {
  host.now_ns = kT0;  // the plugin starts: nothing counted
  auto request =
      FrameBuilder().dst(test::kBroadcast).arp(1, kMacA, ip4(10, 0, 0, 1), 0, ip4(10, 0, 0, 2));
  auto reply = FrameBuilder().dst(kMacA).arp(2, kMacB, ip4(10, 0, 0, 2), kMacA, ip4(10, 0, 0, 1));
  run({request.build()});
  harness().tick(kT0 + kSecond);  // 1 request
  run({request.build(), reply.build()});
  harness().tick(kT0 + 2 * kSecond);  // 2 requests (the second a retry), 1 reply
  run({request.build(), request.build(), request.build()});
  host.now_ns = kT0 + 5 * kSecond / 2;  // 5 requests, 1 reply

  auto [status, body] = harness().query("arp");  // no window: everything, as before
  EXPECT_TRUE(has(body, R"({"requests":5,"replies":1,"gratuitous":0,)")) << body;
  std::tie(status, body) = harness().query("arp", "from=1700000001&to=1700000002");
  EXPECT_EQ(status, 200);
  EXPECT_TRUE(has(body, R"({"from":1700000001,"to":1700000002,"requests":1,"replies":1,)")) << body;
  EXPECT_TRUE(has(body, R"("answered":1,)")) << body;
  // Between snapshots: widened to the ones around it.
  std::tie(status, body) = harness().query("arp", "from=1700000001.4&to=1700000001.6");
  EXPECT_TRUE(has(body, R"({"from":1700000001,"to":1700000002,"requests":1,)")) << body;
  // Past the last snapshot: up to now, with what the workers counted since.
  std::tie(status, body) = harness().query("arp", "from=1700000002");
  EXPECT_TRUE(has(body, R"({"from":1700000002,"to":1700000002.5,"requests":3,"replies":0,)"))
      << body;
  // Seconds before now: the last second starts at 1.5, the snapshot before is 1.
  std::tie(status, body) = harness().query("arp", "from=-1");
  EXPECT_TRUE(has(body, R"({"from":1700000001,"to":1700000002.5,"requests":4,"replies":1,)"))
      << body;
  // From the start.
  std::tie(status, body) = harness().query("arp", "to=1700000001");
  EXPECT_TRUE(has(body, R"({"from":1.7e+09,"to":1700000001,"requests":1,"replies":0,)")) << body;
  // Before the plugin started: nothing.
  std::tie(status, body) = harness().query("arp", "from=1000&to=2000");
  EXPECT_TRUE(has(body, R"({"from":1.7e+09,"to":1.7e+09,"requests":0,)")) << body;
  // After now: nothing.
  std::tie(status, body) = harness().query("arp", "from=1700000100");
  EXPECT_TRUE(has(body, R"({"from":1700000002.5,"to":1700000002.5,"requests":0,)")) << body;
  // Bindings and pending requests are states, the same whatever the window.
  EXPECT_TRUE(has(body, R"("pending":1,)")) << body;
  EXPECT_TRUE(has(body, R"("bindings":2})")) << body;

  EXPECT_EQ(harness().query("arp", "from=1700000002&to=1700000001").first, 400);
  EXPECT_EQ(harness().query("arp", "from=-5&to=-10").first, 400);
  EXPECT_EQ(harness().query("arp", "from=yesterday").first, 400);
  EXPECT_EQ(harness().query("arp", "from=-").first, 400);
  EXPECT_EQ(harness().query("arp", "from=-inf").first, 400);
}

TEST_F(L2Test, SizesAndCastWithinATimeWindowPerPort) {
  host.now_ns = kT0;
  run({FrameBuilder().port(0).size(60).dst(test::kBroadcast).ipv4(0).build()});
  harness().tick(kT0 + kSecond);
  run({FrameBuilder().port(1).size(200).ipv4(0).build(),
       FrameBuilder().port(1).size(1514).dst(0x01005e0000fbull).ipv4(0).build()});
  harness().tick(kT0 + 2 * kSecond);
  run({FrameBuilder().port(2).size(100).ipv4(0).build()});  // a port no tick saw yet
  host.now_ns = kT0 + 3 * kSecond;

  auto [status, body] = harness().query("cast", "from=1700000001&to=1700000002");
  EXPECT_EQ(status, 200);
  EXPECT_TRUE(has(body, R"({"from":1700000001,"to":1700000002,"all":{"unicast":{"packets":1,)"
                        R"("bytes":200},"multicast":{"packets":1,"bytes":1514},)"
                        R"("broadcast":{"packets":0,"bytes":0},"non_ethernet":0},)"))
      << body;
  EXPECT_TRUE(has(body, R"({"port":0,"name":"eth0","cast":{"unicast":{"packets":0,"bytes":0},)"
                        R"("multicast":{"packets":0,"bytes":0},"broadcast":{"packets":0,)"))
      << body;
  EXPECT_TRUE(has(body, R"({"port":2,"name":"port2","cast":{"unicast":{"packets":0,)")) << body;

  std::tie(status, body) = harness().query("sizes", "port=1&from=1700000001");
  EXPECT_TRUE(has(body, R"({"from":1700000001,"to":1700000003,"bounds":[)")) << body;
  EXPECT_TRUE(has(body, R"("ports":[{"port":1,"name":"eth1","buckets":{"lt64":0,"64":0,)"
                        R"("65-127":0,"128-255":1,"256-511":0,"512-1023":0,"1024-1518":1,)"))
      << body;
  EXPECT_FALSE(has(body, R"("all")")) << body;
  // The new port counts from its first frame, inside a window that reaches to now.
  std::tie(status, body) = harness().query("sizes", "port=2&from=1700000002");
  EXPECT_TRUE(has(body, R"({"port":2,"name":"port2","buckets":{"lt64":0,"64":0,"65-127":1,)"))
      << body;
  std::tie(status, body) = harness().query("sizes", "from=1700000000&to=1700000001");
  EXPECT_TRUE(has(body, R"("all":{"lt64":0,"64":1,"65-127":0,)")) << body;
  EXPECT_TRUE(has(body, R"({"port":1,"name":"eth1","buckets":{"lt64":0,"64":0,"65-127":0,)"
                        R"("128-255":0,"256-511":0,"512-1023":0,"1024-1518":0,)"))
      << body;

  std::tie(status, body) = harness().query("sizes");  // no window: as before
  EXPECT_TRUE(has(body, R"({"bounds":["lt64",)")) << body;
  EXPECT_EQ(harness().query("cast", "from=3&to=2").first, 400);
  EXPECT_EQ(harness().query("sizes", "port=1&to=x").first, 400);
}

TEST_F(L2Test, RefusesBadSettings) {
  host.config = R"({"vlan_pairs": 0})";
  EXPECT_THROW(harness(), std::runtime_error);
}

TEST_F(L2Test, VlansQinQAndPriorities) {
  run({FrameBuilder().ts(kT0).tag(100, 5).ipv4(46, 100).build(),
       FrameBuilder().ts(kT0 + kSecond).tag(100, 5).ipv4(46).build(),
       FrameBuilder().ts(kT0 + 2 * kSecond).tag(200, 1, 0x88a8).tag(2001, 0).ipv4(0).build(),
       FrameBuilder().ts(kT0 + 3 * kSecond).tag(200, 1, 0x88a8).tag(2002, 0).ipv4(0).build(),
       FrameBuilder().ts(kT0 + 4 * kSecond).ipv4(10).build()});
  tables([&](const Tables& t) {
    EXPECT_EQ(t.totals.frames, 5u);
    EXPECT_EQ(t.totals.untagged, 1u);
    EXPECT_EQ(t.totals.tagged, 4u);
    EXPECT_EQ(t.totals.qinq, 2u);
    EXPECT_EQ(t.vlans[100].packets, 2u);
    EXPECT_EQ(t.vlans[100].bytes, 146u + 60);  // tag, IPv4/UDP and 100 bytes; padded to 60
    EXPECT_EQ(t.vlans[100].first_ns, kT0);
    EXPECT_EQ(t.vlans[100].last_ns, kT0 + kSecond);
    EXPECT_EQ(t.vlans[200].packets, 2u);
    EXPECT_EQ(t.vlan_pairs.size(), 2u);
    EXPECT_EQ(t.vlan_pairs.find(200u << 12 | 2001)->packets, 1u);
    EXPECT_EQ(t.pcp[5].packets, 2u);
    EXPECT_EQ(t.pcp[1].packets, 2u);  // the outer tag's priority
    EXPECT_EQ(t.pcp[0].packets, 0u);
    EXPECT_EQ(t.dscp[46].packets, 2u);
    EXPECT_EQ(t.dscp[0].packets, 2u);
    EXPECT_EQ(t.dscp[10].packets, 1u);
  });

  auto [status, body] = harness().query("vlans", "sort=vlan&order=asc");
  EXPECT_EQ(status, 200);
  EXPECT_TRUE(has(body, R"("total":2,)")) << body;
  EXPECT_TRUE(has(body, R"("items":[{"vlan":100,"packets":2,"bytes":206,"first_seen":1.7e+09,)"))
      << body;
  std::tie(status, body) = harness().query("vlans", "qinq=1&filter=2002");
  EXPECT_TRUE(has(body, R"("total":1,)")) << body;
  EXPECT_TRUE(has(body, R"({"vlan":200,"inner":2002,"packets":1,)")) << body;
  std::tie(status, body) = harness().query("vlans", "from=1700000003.5");
  EXPECT_TRUE(has(body, R"("total":0,)")) << body;  // neither VLAN was seen after 3.5 s
  std::tie(status, body) = harness().query("vlans/200");
  EXPECT_EQ(status, 200);
  EXPECT_TRUE(has(body, R"("inner":[{"vlan":200,"inner":2001,)")) << body;
  EXPECT_TRUE(has(body, R"({"vlan":200,"series":"l2.vlan.200.bps",)")) << body;
  EXPECT_EQ(harness().query("vlans/300").first, 404);
  EXPECT_EQ(harness().query("vlans/4096").first, 400);

  std::tie(status, body) = harness().query("qos");
  EXPECT_TRUE(has(body, R"({"dscp":46,"name":"EF","packets":2,)")) << body;
  EXPECT_TRUE(has(body, R"({"dscp":10,"name":"AF11","packets":1,)")) << body;
  std::tie(status, body) = harness().query("qos/pcp", "sort=pcp&order=asc");
  EXPECT_TRUE(has(body, R"("items":[{"pcp":1,"packets":2,)")) << body;

  auto s = harness().collect();
  EXPECT_EQ(value(s, "wiremeter_l2_vlan_packets_total", {{"vlan", "100"}}), 2);
  EXPECT_EQ(value(s, "wiremeter_l2_dscp_packets_total", {{"dscp", "EF"}}), 2);
  EXPECT_EQ(value(s, "wiremeter_l2_dscp_packets_total", {{"dscp", "CS0"}}), 2);
  EXPECT_EQ(value(s, "wiremeter_l2_pcp_packets_total", {{"pcp", "5"}}), 2);
  EXPECT_EQ(value(s, "wiremeter_l2_pcp_packets_total", {{"pcp", "7"}}), 0);
}

TEST_F(L2Test, VlanMetricKeepsTheBusiestTwentyAndSumsTheRest) {
  std::vector<test::Frame> frames;
  for (uint16_t v = 1; v <= 25; ++v) {
    for (uint16_t n = 0; n < v; ++n) frames.push_back(FrameBuilder().tag(v).ipv4(0).build());
  }
  run(frames);
  auto s = harness().collect();
  size_t vlan_series = 0;
  for (auto& x : s) vlan_series += x.metric == "wiremeter_l2_vlan_packets_total";
  EXPECT_EQ(vlan_series, 21u);
  EXPECT_EQ(value(s, "wiremeter_l2_vlan_packets_total", {{"vlan", "25"}}), 25);
  EXPECT_EQ(value(s, "wiremeter_l2_vlan_packets_total", {{"vlan", "6"}}), 6);
  EXPECT_EQ(value(s, "wiremeter_l2_vlan_packets_total", {{"vlan", "other"}}), 1 + 2 + 3 + 4 + 5);
  EXPECT_EQ(sample(s, "wiremeter_l2_vlan_packets_total", {{"vlan", "5"}}), nullptr);
}

TEST_F(L2Test, MplsLabelsAndDepth) {
  run({FrameBuilder().mpls({1000}).build(), FrameBuilder().mpls({1000, 16, 17}).build(),
       FrameBuilder().mpls({2000, 3}, 46).build()});
  tables([&](const Tables& t) {
    EXPECT_EQ(t.totals.mpls, 3u);
    const LabelStats* l = t.labels.find(1000);
    ASSERT_NE(l, nullptr);
    EXPECT_EQ(l->traffic.packets, 2u);
    EXPECT_EQ(l->depth[0], 1u);
    EXPECT_EQ(l->depth[2], 1u);
    EXPECT_EQ(t.labels.find(2000)->depth[1], 1u);
    EXPECT_EQ(t.dscp[46].packets, 1u);
  });
  auto [status, body] = harness().query("mpls", "sort=label&order=asc");
  EXPECT_TRUE(has(body, R"("depth":{"1":1,"3":1}})")) << body;
  auto s = harness().collect();
  EXPECT_EQ(value(s, "wiremeter_l2_mpls_packets_total", {{"label", "1000"}}), 2);
}

TEST_F(L2Test, ArpRequestsRepliesAndUnanswered) {
  uint32_t a = ip4(10, 0, 0, 1), b = ip4(10, 0, 0, 2), c = ip4(10, 0, 0, 3);
  run({FrameBuilder().ts(kT0).dst(test::kBroadcast).src(kMacA).arp(1, kMacA, a, 0, b).build(),
       FrameBuilder().ts(kT0 + kSecond / 2).src(kMacA).arp(1, kMacA, a, 0, b).build(),  // retry
       FrameBuilder().ts(kT0 + kSecond).dst(kMacA).src(kMacB).arp(2, kMacB, b, kMacA, a).build(),
       FrameBuilder().ts(kT0 + kSecond).dst(test::kBroadcast).arp(1, kMacA, a, 0, c).build()},
      kT0 + 2 * kSecond);
  tables([&](const Tables& t) {
    EXPECT_EQ(t.arp.requests, 3u);
    EXPECT_EQ(t.arp.replies, 1u);
    EXPECT_EQ(t.arp.answered, 1u);
    EXPECT_EQ(t.arp.retries, 1u);
    EXPECT_EQ(t.arp.unanswered, 0u);
    EXPECT_EQ(t.pending.size(), 1u);  // who has 10.0.0.3: within its 3 s still
    EXPECT_EQ(t.bindings.find(a)->mac, kMacA);
    EXPECT_EQ(t.bindings.find(a)->packets, 3u);
    EXPECT_EQ(t.bindings.find(b)->mac, kMacB);
    EXPECT_EQ(t.bindings.find(c), nullptr);  // targets are not learned
  });
  harness().worker_tick(0, kT0 + 4 * kSecond);
  tables([&](const Tables& t) {
    EXPECT_EQ(t.arp.unanswered, 1u);
    EXPECT_EQ(t.pending.size(), 0u);
  });
  auto s = harness().collect();
  EXPECT_EQ(value(s, "wiremeter_l2_arp_requests_total"), 3);
  EXPECT_EQ(value(s, "wiremeter_l2_arp_replies_total"), 1);
  EXPECT_EQ(value(s, "wiremeter_l2_arp_unanswered_total"), 1);
  EXPECT_EQ(value(s, "wiremeter_l2_arp_bindings"), 2);

  auto [status, body] = harness().query("arp/bindings", "filter=0a:aa");
  EXPECT_TRUE(has(body, R"("total":1,)")) << body;
  EXPECT_TRUE(has(body, R"({"ip":"10.0.0.1","mac":"02:00:00:00:0a:aa","packets":3,"changes":0,)"
                        R"("previous_mac":null,)"))
      << body;
  std::tie(status, body) = harness().query("arp/bindings/10.0.0.2");
  EXPECT_EQ(status, 200);
  EXPECT_TRUE(has(body, R"("binding":{"ip":"10.0.0.2","mac":"02:00:00:00:0b:bb")")) << body;
  EXPECT_EQ(harness().query("arp/bindings/10.0.0.9").first, 404);
  EXPECT_EQ(harness().query("arp/bindings/nonsense").first, 400);
  std::tie(status, body) = harness().query("arp");
  EXPECT_TRUE(has(body, R"("requests":3,"replies":1,"gratuitous":0,)")) << body;
}

TEST_F(L2Test, GratuitousProbesAndUnsolicitedReplies) {
  uint32_t a = ip4(10, 0, 0, 1), b = ip4(10, 0, 0, 2);
  run({// Announcement: sender IP == target IP, as a request and as a reply.
       FrameBuilder().dst(test::kBroadcast).arp(1, kMacA, a, 0, a).build(),
       FrameBuilder().dst(test::kBroadcast).arp(2, kMacA, a, test::kBroadcast, a).build(),
       // Probe (RFC 5227): sender IP 0.0.0.0, and the defence of the address.
       FrameBuilder().dst(test::kBroadcast).arp(1, kMacC, 0, 0, b).build(),
       FrameBuilder().dst(kMacC).arp(2, kMacB, b, kMacC, 0).build(),
       // A reply to nobody's request.
       FrameBuilder().dst(kMacA).arp(2, kMacB, b, kMacA, a).build(),
       // RARP request (op 3).
       FrameBuilder().dst(test::kBroadcast).arp(3, kMacA, 0, kMacA, 0).build()});
  tables([&](const Tables& t) {
    EXPECT_EQ(t.arp.requests, 2u);
    EXPECT_EQ(t.arp.replies, 3u);
    EXPECT_EQ(t.arp.announcements, 2u);
    EXPECT_EQ(t.arp.probes, 1u);
    EXPECT_EQ(t.arp.probe_replies, 1u);
    EXPECT_EQ(t.arp.unsolicited_replies, 1u);
    EXPECT_EQ(t.arp.gratuitous(), 3u);
    EXPECT_EQ(t.arp.other_ops, 1u);
    EXPECT_EQ(t.pending.size(), 0u);  // announcements and probes expect no answer
    EXPECT_EQ(t.bindings.find(0), nullptr);
  });
  auto s = harness().collect();
  EXPECT_EQ(value(s, "wiremeter_l2_arp_gratuitous_total"), 3);
  EXPECT_EQ(value(s, "wiremeter_l2_arp_probes_total"), 1);
}

TEST_F(L2Test, ConflictsAndChanges) {
  uint32_t a = ip4(10, 0, 0, 1), b = ip4(10, 0, 0, 2);
  run({FrameBuilder().ts(kT0).arp(1, kMacA, a, 0, a).build(),
       // Another MAC claims 10.0.0.1 10 s later: both in use, a conflict.
       FrameBuilder().ts(kT0 + 10 * kSecond).arp(1, kMacB, a, 0, a).build(),
       FrameBuilder().ts(kT0 + 11 * kSecond).arp(1, kMacA, a, 0, a).build(),
       // 10.0.0.2 moves to another MAC after two quiet minutes: a change.
       FrameBuilder().ts(kT0).arp(1, kMacC, b, 0, b).build(),
       FrameBuilder().ts(kT0 + 200 * kSecond).arp(1, kMacB, b, 0, b).build()});
  tables([&](const Tables& t) {
    EXPECT_EQ(t.arp.conflicts, 2u);
    EXPECT_EQ(t.arp.changes, 1u);
    const Binding* x = t.bindings.find(a);
    EXPECT_EQ(x->mac, kMacA);
    EXPECT_EQ(x->previous_mac, kMacB);
    EXPECT_EQ(x->changes, 2u);
    EXPECT_EQ(x->mac_since_ns, kT0 + 11 * kSecond);
    EXPECT_EQ(x->first_ns, kT0);
    const Conflict* c = t.conflicts.find(ConflictKey{a, kMacA, kMacB});
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->conflicts, 2u);
    EXPECT_EQ(c->first_ns, kT0 + 10 * kSecond);
    EXPECT_EQ(c->last_ns, kT0 + 11 * kSecond);
    EXPECT_EQ(c->last_mac, kMacA);
  });
  auto [status, body] = harness().query("arp/conflicts", "sort=ip&order=asc");
  EXPECT_TRUE(has(body, R"("total":2,)")) << body;
  EXPECT_TRUE(has(body, R"({"ip":"10.0.0.1","kind":"conflict","macs":["02:00:00:00:0b:bb",)"
                        R"("02:00:00:00:0a:aa"],"current_mac":"02:00:00:00:0a:aa","count":2,)"))
      << body;
  EXPECT_TRUE(has(body, R"({"ip":"10.0.0.2","kind":"changed","macs":["02:00:00:00:0c:cc",)"
                        R"("02:00:00:00:0b:bb"],)"))
      << body;
  std::tie(status, body) = harness().query("arp/conflicts", "kind=changed");
  EXPECT_TRUE(has(body, R"("total":1,)")) << body;
  EXPECT_EQ(harness().query("arp/conflicts", "kind=bogus").first, 400);
  auto s = harness().collect();
  EXPECT_EQ(value(s, "wiremeter_l2_arp_conflicts_total"), 2);
  EXPECT_EQ(value(s, "wiremeter_l2_arp_changes_total"), 1);
}

TEST_F(L2Test, SpanningTreeLldpAndOtherControlProtocols) {
  run({FrameBuilder().dst(0x0180c2000000ull).src(0x00137f4f8ef2ull).llc(test::rstp_bpdu()).build(),
       FrameBuilder()
           .dst(0x0180c2000000ull)
           .src(0x00137f4f8ef2ull)
           .llc(test::rstp_bpdu(0x3d))
           .build(),
       FrameBuilder().dst(0x0180c2000000ull).llc({0x42, 0x42, 0x03, 0, 0, 0, 0x80}).build(),
       FrameBuilder().dst(0x0180c2000000ull).llc({0x42, 0x42, 0x03, 0, 0, 2, 2, 0}).build(),
       FrameBuilder().dst(0x0180c200000eull).src(kMacB).ethertype(0x88cc, test::lldpdu()).build(),
       FrameBuilder().dst(0x0180c200000eull).ethertype(0x88cc, {0x02, 0x07, 4}).build(),
       FrameBuilder().dst(0x0180c2000002ull).ethertype(0x8809, {1, 1}).build(),
       FrameBuilder().dst(0x0180c2000003ull).ethertype(0x888e, {1, 0}).build()});
  tables([&](const Tables& t) {
    EXPECT_EQ(t.control[static_cast<size_t>(Control::kStp)].traffic.packets, 4u);
    EXPECT_EQ(t.control[static_cast<size_t>(Control::kLldp)].traffic.packets, 2u);
    EXPECT_EQ(t.control[static_cast<size_t>(Control::kLacp)].traffic.packets, 1u);
    EXPECT_EQ(t.control[static_cast<size_t>(Control::kEapol)].traffic.packets, 1u);
    EXPECT_EQ(t.totals.stp_tcn, 1u);
    EXPECT_EQ(t.totals.malformed[static_cast<size_t>(Malformed::kBpduTruncated)], 1u);
    // Cut after the chassis id: the padding's zeros read as an End TLV.
    EXPECT_EQ(t.totals.malformed[static_cast<size_t>(Malformed::kLldpMissingTlv)], 1u);
    EXPECT_EQ(t.stp.size(), 1u);
    EXPECT_EQ(t.lldp.size(), 1u);
  });
  auto [status, body] = harness().query("control/stp");
  EXPECT_TRUE(has(body,
                  R"({"protocol":"rstp","pvst":false,"bridge_id":"32768/720/00:13:7f:be:8c:c0",)"
                  R"("root_id":"32768/720/00:13:7f:be:8c:c0","root_path_cost":0,)"
                  R"("port_id":"0x8193","vlan":0,"port":0,"source":"00:13:7f:4f:8e:f2",)"
                  R"("topology_change":true,"topology_changes":1,"bpdus":2,)"))
      << body;
  std::tie(status, body) = harness().query("control/lldp", "filter=core");
  EXPECT_TRUE(has(body, R"({"chassis_id":"00:11:22:33:44:55","port_id":"ge-0/0/1",)"
                        R"("port_description":"","system_name":"core-sw1",)"
                        R"("management_address":"192.0.2.7","capabilities":4,"ttl":120,)"
                        R"("source":"02:00:00:00:0b:bb",)"))
      << body;
  std::tie(status, body) = harness().query("control", "sort=protocol&order=asc");
  EXPECT_TRUE(has(body, R"("total":4,)")) << body;
  EXPECT_TRUE(has(body, R"("items":[{"protocol":"eapol","packets":1,)")) << body;
  auto s = harness().collect();
  EXPECT_EQ(value(s, "wiremeter_l2_control_packets_total", {{"protocol", "stp"}}), 4);
  EXPECT_EQ(value(s, "wiremeter_l2_malformed_total", {{"reason", "bpdu_truncated"}}), 1);
}

TEST_F(L2Test, SizesAndCastPerPort) {
  run({FrameBuilder().port(0).size(60).dst(test::kBroadcast).ipv4(0).build(),     // 64 with FCS
       FrameBuilder().port(0).size(59).ipv4(0).build(),                           // a runt: 63
       FrameBuilder().port(0).size(1514).dst(0x01005e0000fbull).ipv4(0).build(),  // 1518
       FrameBuilder().port(1).size(1515).dst(0x01005e0000fbull).ipv4(0).build(),  // 1519
       FrameBuilder().port(1).size(9000).ipv4(0).build()});                       // 9004
  tables([&](const Tables& t) {
    EXPECT_EQ(t.all.sizes[0], 1u);
    EXPECT_EQ(t.all.sizes[1], 1u);
    EXPECT_EQ(t.all.sizes[6], 1u);
    EXPECT_EQ(t.all.sizes[7], 1u);
    EXPECT_EQ(t.all.sizes[8], 1u);
    EXPECT_EQ(t.ports[0].sizes[1], 1u);
    EXPECT_EQ(t.ports[1].sizes[8], 1u);
    EXPECT_EQ(t.all.cast_packets[static_cast<size_t>(Cast::kBroadcast)], 1u);
    EXPECT_EQ(t.all.cast_packets[static_cast<size_t>(Cast::kMulticast)], 2u);
    EXPECT_EQ(t.all.cast_bytes[static_cast<size_t>(Cast::kMulticast)], 1514u + 1515);
    EXPECT_EQ(t.ports[1].cast_packets[static_cast<size_t>(Cast::kUnicast)], 1u);
    EXPECT_EQ(t.groups.find(0x01005e0000fbull)->traffic.packets, 2u);
  });
  auto s = harness().collect();
  const FakeSample* hist = sample(s, "wiremeter_l2_frame_size_bytes", {{"port", "eth0"}});
  ASSERT_NE(hist, nullptr);
  EXPECT_EQ(hist->counts, (std::vector<uint64_t>{1, 2, 2, 2, 2, 2, 3, 3, 3}));
  EXPECT_EQ(hist->sum, 64 + 63 + 1518);
  EXPECT_EQ(value(s, "wiremeter_l2_broadcast_packets_total", {{"port", "eth0"}}), 1);
  EXPECT_EQ(value(s, "wiremeter_l2_multicast_bytes_total", {{"port", "eth1"}}), 1515);
  EXPECT_EQ(value(s, "wiremeter_l2_unicast_packets_total", {{"port", "eth1"}}), 1);

  auto [status, body] = harness().query("sizes", "port=1");
  EXPECT_TRUE(has(body, R"("ports":[{"port":1,"name":"eth1","buckets":{"lt64":0,"64":0,)"
                        R"("65-127":0,"128-255":0,"256-511":0,"512-1023":0,"1024-1518":0,)"
                        R"("1519-9000":1,"gt9000":1}}])"))
      << body;
  std::tie(status, body) = harness().query("cast");
  EXPECT_TRUE(has(body, R"("all":{"unicast":{"packets":2,"bytes":9059},"multicast":{"packets":2,)"))
      << body;
  std::tie(status, body) = harness().query("cast/groups");
  EXPECT_TRUE(has(body, R"("items":[{"mac":"01:00:5e:00:00:fb","packets":2,"bytes":3029,)"))
      << body;
}

TEST_F(L2Test, FramesOfOtherLinkTypesHaveNoMacHeader) {
  auto f = FrameBuilder().ipv4(46).build();
  std::vector<uint8_t> raw(f.bytes->begin() + 14, f.bytes->end());
  wm_packet v = f.view;
  v.data = raw.data();
  v.cap_len = v.wire_len = static_cast<uint32_t>(raw.size());
  v.l3_off = 0;
  v.flags &= ~static_cast<uint32_t>(WM_PKT_BROADCAST | WM_PKT_MULTICAST);
  v.flags |= WM_PKT_NO_ETHERNET;  // as the core marks a raw-IP capture's frames
  harness().batch(0, {v});
  harness().worker_tick(0, v.ts_ns);
  tables([&](const Tables& t) {
    EXPECT_EQ(t.all.non_ethernet, 1u);
    EXPECT_EQ(t.all.sizes[0], 1u);  // 46 bytes, no FCS added: it has none
    uint64_t cast = 0;
    for (uint64_t n : t.all.cast_packets) cast += n;
    EXPECT_EQ(cast, 0u);
    EXPECT_EQ(t.dscp[46].packets, 1u);  // the core's decode still holds
  });
}

TEST_F(L2Test, FullTablesCountOverflowAndStayExactForKnownKeys) {
  host.config = R"({"vlan_pairs": 1, "arp_bindings": 1, "multicast_groups": 1})";
  run({FrameBuilder().tag(1).tag(2).ipv4(0).build(), FrameBuilder().tag(1).tag(3).ipv4(0).build(),
       FrameBuilder().tag(1).tag(2).ipv4(0).build(),
       FrameBuilder().arp(1, kMacA, ip4(10, 0, 0, 1), 0, ip4(10, 0, 0, 1)).build(),
       FrameBuilder().arp(1, kMacB, ip4(10, 0, 0, 2), 0, ip4(10, 0, 0, 2)).build(),
       FrameBuilder().dst(0x01005e000001ull).ipv4(0).build(),
       FrameBuilder().dst(0x01005e000002ull).ipv4(0).build()});
  tables([&](const Tables& t) {
    EXPECT_EQ(t.vlan_pairs.find(1u << 12 | 2)->packets, 2u);
    EXPECT_EQ(t.vlans[1].packets, 3u);
    EXPECT_EQ(t.totals.overflow[static_cast<size_t>(Table::kVlanPairs)], 1u);
    EXPECT_EQ(t.totals.overflow[static_cast<size_t>(Table::kArpBindings)], 1u);
    EXPECT_EQ(t.totals.overflow[static_cast<size_t>(Table::kMulticastGroups)], 1u);
    EXPECT_EQ(t.arp.requests, 2u);
  });
  auto s = harness().collect();
  EXPECT_EQ(value(s, "wiremeter_l2_table_overflow_total", {{"table", "vlan_pairs"}}), 1);
}

TEST_F(L2Test, MalformedArpBecomesACounter) {
  auto f = FrameBuilder().arp(1, kMacA, ip4(10, 0, 0, 1), 0, ip4(10, 0, 0, 2)).build();
  f.view.cap_len = 14 + 20;  // cut inside the addresses
  auto g = FrameBuilder().arp(1, kMacA, ip4(10, 0, 0, 1), 0, ip4(10, 0, 0, 2)).build();
  (*g.bytes)[14 + 5] = 16;  // protocol address length 16
  g.view.l3_off = 200;      // and a view pointing past the frame
  run({f, g});
  tables([&](const Tables& t) {
    EXPECT_EQ(t.totals.malformed[static_cast<size_t>(Malformed::kArpTruncated)], 2u);
    EXPECT_EQ(t.arp.requests, 0u);
  });
}

TEST_F(L2Test, ReportAndBadQueries) {
  run({FrameBuilder().tag(7, 3).ipv4(46).build(),
       FrameBuilder()
           .dst(test::kBroadcast)
           .arp(1, kMacA, ip4(10, 0, 0, 1), 0, ip4(10, 0, 0, 2))
           .build()});
  std::string json = harness().json();
  EXPECT_TRUE(has(json, R"({"frames":2,"bytes":120,"untagged":1,"tagged":1,"qinq":0,)")) << json;
  EXPECT_TRUE(has(json, R"("vlans":[{"vlan":7,"packets":1,)")) << json;
  EXPECT_TRUE(has(json, R"("qos":{"dscp":[{"dscp":46,"name":"EF","packets":1,)")) << json;
  EXPECT_TRUE(has(json, R"("pcp":[{"pcp":3,"packets":1,)")) << json;
  EXPECT_TRUE(has(json, R"("arp":{"requests":1,"replies":0,)")) << json;
  EXPECT_TRUE(has(json, R"("bindings":[{"ip":"10.0.0.1",)")) << json;
  EXPECT_TRUE(has(json, R"("sizes":{"all":{"lt64":0,"64":2,)")) << json;
  EXPECT_EQ(harness().query("nope").first, 404);
  EXPECT_EQ(harness().query("vlans", "sort=bogus").first, 400);
  EXPECT_EQ(harness().query("vlans", "from=20&to=10").first, 400);
  EXPECT_EQ(harness().query("vlans", "qinq=2").first, 400);
  EXPECT_EQ(harness().query("arp", "x=1").first, 400);
  EXPECT_EQ(harness().query("sizes", "port=70000").first, 400);
}

// The control plane reads the snapshot of the last tick, not the live tables.
TEST_F(L2Test, ReadsOnlyPublishedSnapshots) {
  auto f = FrameBuilder().tag(9).ipv4(0).build();
  harness().batch(0, {f.view});
  tables([&](const Tables& t) { EXPECT_EQ(t.totals.frames, 0u); });
  harness().worker_tick(0, kT0);
  tables([&](const Tables& t) { EXPECT_EQ(t.vlans[9].packets, 1u); });
}

}  // namespace
}  // namespace wiremeter::l2

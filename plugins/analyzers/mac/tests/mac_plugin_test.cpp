// Tests of the mac plugin: per-MAC counting, ARP and DHCP learning, vendors, the table bound and
// the /api/v1/mac/macs query hook.
#include "mac_plugin.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>
#include <wiremeter/testing/fake_host.hpp>
#include <wiremeter/testing/packet_builder.hpp>

extern "C" const wm_plugin_descriptor* wiremeter_plugin_register(void);

namespace wiremeter::mac {
namespace {

using testing::BuiltPacket;
using testing::FakeHost;
using testing::PacketBuilder;
using testing::PluginHarness;

constexpr uint8_t kA[6] = {0x02, 0, 0, 0, 0, 0x0a};
constexpr uint8_t kB[6] = {0x02, 0, 0, 0, 0, 0x0b};
constexpr uint8_t kC[6] = {0x02, 0, 0, 0, 0, 0x0c};
constexpr uint8_t kBroadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
constexpr uint64_t kMacA = 0x02000000000aull, kMacB = 0x02000000000bull;

BuiltPacket udp(const uint8_t* src, const uint8_t* dst, size_t payload = 0) {
  return PacketBuilder()
      .macs(src, dst)
      .ipv4("198.18.0.1", "198.18.0.2")
      .udp(1000, 2000)
      .payload_size(payload)
      .timestamp_ns(5'000'000'000)
      .build();
}

const MacEntry* find(const std::vector<MacEntry>& v, uint64_t mac) {
  for (const auto& e : v) {
    if (e.mac == mac) return &e;
  }
  return nullptr;
}

double sample(const std::vector<testing::FakeSample>& s, const std::string& metric) {
  for (const auto& x : s) {
    if (x.metric == metric) return x.value;
  }
  return -1;
}

// An Ethernet + ARP frame, as the core would hand it over (PacketBuilder builds no ARP).
struct ArpFrame {
  std::vector<uint8_t> bytes;
  wm_packet view{};
};
ArpFrame arp(uint16_t op, const uint8_t* sha, const uint8_t spa[4], const uint8_t tpa[4]) {
  ArpFrame f;
  auto& b = f.bytes;
  b.insert(b.end(), kBroadcast, kBroadcast + 6);
  b.insert(b.end(), sha, sha + 6);
  b.insert(b.end(), {0x08, 0x06});
  b.insert(b.end(), {0, 1, 0x08, 0x00, 6, 4, 0, static_cast<uint8_t>(op)});
  b.insert(b.end(), sha, sha + 6);
  b.insert(b.end(), spa, spa + 4);
  b.insert(b.end(), 6, 0);
  b.insert(b.end(), tpa, tpa + 4);
  b.resize(60, 0);
  f.view.data = b.data();
  f.view.cap_len = f.view.wire_len = static_cast<uint32_t>(b.size());
  f.view.l3_off = 14;
  f.view.ether_type = 0x0806;
  f.view.flags = WM_PKT_ARP | WM_PKT_BROADCAST;
  f.view.ts_ns = 7'000'000'000;
  return f;
}

TEST(MacPlugin, CountsInAndOutPerMac) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host, 1);
  auto ab = udp(kA, kB, 100), ba = udp(kB, kA), a_bcast = udp(kA, kBroadcast);
  h.batch(0, {ab.view, ab.view, ba.view, a_bcast.view});

  auto snap = h.worker_as<MacWorker>(0).snapshot();
  ASSERT_EQ(snap.size(), 2u);  // the broadcast address is not a station
  const MacEntry* a = find(snap, kMacA);
  const MacEntry* b = find(snap, kMacB);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->tx_packets, 3u);
  EXPECT_EQ(a->tx_bytes, 2 * ab.view.wire_len + a_bcast.view.wire_len);
  EXPECT_EQ(a->rx_packets, 1u);
  EXPECT_EQ(a->rx_bytes, ba.view.wire_len);
  EXPECT_EQ(b->tx_packets, 1u);
  EXPECT_EQ(b->rx_packets, 2u);
  EXPECT_EQ(a->peer_estimate(), 1u);
  EXPECT_EQ(b->peer_estimate(), 1u);
  EXPECT_EQ(a->first_ns, 5'000'000'000u);

  auto s = h.collect();
  EXPECT_EQ(sample(s, "wiremeter_mac_addresses"), 2);
  EXPECT_EQ(sample(s, "wiremeter_mac_addresses_dropped_total"), 0);
  for (auto& m : host.metrics) EXPECT_EQ(m.name.rfind("wiremeter_mac_", 0), 0u) << m.name;
}

TEST(MacPlugin, MergesWorkersByMac) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host, 2);
  auto ab = udp(kA, kB), ac = udp(kA, kC);
  h.batch(0, {ab.view});
  h.batch(1, {ac.view, ac.view});
  auto s = h.collect();
  EXPECT_EQ(sample(s, "wiremeter_mac_addresses"), 3);  // A counted once
  std::string json = h.json();
  EXPECT_NE(json.find("{\"mac\":\"02:00:00:00:00:0a\",\"vendor\":\"\",\"tx_packets\":3,"
                      "\"tx_bytes\":180,\"rx_packets\":0,\"rx_bytes\":0,\"peers\":1"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find("\"total\":3,\"dropped\":0}"), std::string::npos) << json;
}

TEST(MacPlugin, PeersBeyondTheExactListAreEstimated) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host, 1);
  std::vector<BuiltPacket> keep;
  std::vector<wm_packet> batch;
  for (uint8_t i = 0; i < 20; ++i) {
    uint8_t peer[6] = {0x02, 1, 0, 0, 0, i};
    keep.push_back(udp(kA, peer));
    batch.push_back(keep.back().view);
  }
  h.batch(0, batch);
  auto snap = h.worker_as<MacWorker>(0).snapshot();
  const MacEntry* a = find(snap, kMacA);
  ASSERT_NE(a, nullptr);
  EXPECT_GE(a->peer_estimate(), 12u);
  EXPECT_LE(a->peer_estimate(), 30u);
}

TEST(MacPlugin, LearnsIpsFromArp) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host, 1);
  const uint8_t ip_a[4] = {198, 18, 0, 1}, ip_b[4] = {198, 18, 0, 2}, zero[4] = {};
  auto request = arp(1, kA, ip_a, ip_b);
  auto reply = arp(2, kB, ip_b, ip_a);
  auto probe = arp(1, kC, zero, ip_b);  // RFC 5227 probe: no binding yet
  auto truncated = arp(2, kC, ip_b, ip_a);
  truncated.view.cap_len = 14 + 20;
  h.batch(0, {request.view, reply.view, request.view, probe.view, truncated.view});
  auto snap = h.worker_as<MacWorker>(0).snapshot();
  const MacEntry* a = find(snap, kMacA);
  ASSERT_NE(a, nullptr);
  ASSERT_EQ(a->ip_count, 1u);  // the repeated request adds nothing
  EXPECT_EQ(a->ips[0].version, 4);
  const MacEntry* c = find(snap, 0x02000000000cull);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->ip_count, 0u);
  auto [status, body] = h.query("macs", "filter=198.18.0.2");
  EXPECT_EQ(status, 200);
  EXPECT_NE(body.find("\"total\":1,"), std::string::npos) << body;
  EXPECT_NE(body.find("\"mac\":\"02:00:00:00:00:0b\""), std::string::npos) << body;
  EXPECT_NE(body.find("\"ips\":[\"198.18.0.2\"]"), std::string::npos) << body;
}

TEST(MacPlugin, LearnsIpsFromDhcpAck) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host, 1);
  auto dhcp = [](uint8_t type) {
    std::string p(244, '\0');
    p[0] = 2;  // BOOTREPLY
    p[1] = 1;
    p[2] = 6;
    const char yiaddr[4] = {static_cast<char>(198), 18, 0, 77};
    p.replace(16, 4, yiaddr, 4);
    p.replace(28, 6, reinterpret_cast<const char*>(kC), 6);
    const char cookie[4] = {99, static_cast<char>(130), 83, 99};
    p.replace(236, 4, cookie, 4);
    p[240] = 53;
    p[241] = 1;
    p[242] = static_cast<char>(type);
    p[243] = static_cast<char>(255);
    return PacketBuilder()
        .macs(kA, kBroadcast)
        .ipv4("198.18.0.1", "255.255.255.255")
        .udp(67, 68)
        .payload(p)
        .build();
  };
  auto offer = dhcp(2), ack = dhcp(5);
  h.batch(0, {offer.view});
  EXPECT_EQ(h.json().find("198.18.0.77"), std::string::npos);
  h.batch(0, {ack.view});
  std::string json = h.json();
  EXPECT_NE(json.find("\"mac\":\"02:00:00:00:00:0c\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"ips\":[\"198.18.0.77\"]"), std::string::npos) << json;
}

TEST(MacPlugin, VendorFromTheOuiRegistry) {
  if (!std::filesystem::exists(kOuiCsvPath) && !std::filesystem::exists(kOuiTxtPath)) {
    GTEST_SKIP() << "no IEEE OUI registry (package ieee-data)";
  }
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host, 1);
  const uint8_t vmware[6] = {0x00, 0x50, 0x56, 0x01, 0x02, 0x03};
  const uint8_t local[6] = {0x02, 0x50, 0x56, 0x01, 0x02, 0x03};  // same bits, locally administered
  auto p = udp(vmware, local);
  h.batch(0, {p.view});
  auto [status, body] = h.query("macs", "filter=vmware");
  EXPECT_EQ(status, 200);
  EXPECT_NE(body.find("\"total\":1,"), std::string::npos) << body;
  EXPECT_NE(body.find("\"mac\":\"00:50:56:01:02:03\",\"vendor\":\"VMware, Inc.\""),
            std::string::npos)
      << body;
  EXPECT_NE(h.json().find("\"mac\":\"02:50:56:01:02:03\",\"vendor\":\"\""), std::string::npos);
}

TEST(OuiRegistry, CsvAndTxtAgree) {
  OuiRegistry csv, txt;
  if (!csv.load_csv(kOuiCsvPath) || !txt.load_txt(kOuiTxtPath)) {
    GTEST_SKIP() << "no IEEE OUI registry (package ieee-data)";
  }
  EXPECT_GT(csv.size(), 10000u);
  EXPECT_EQ(csv.size(), txt.size());
  EXPECT_EQ(csv.vendor(0x00000c123456ull), "Cisco Systems, Inc");
  EXPECT_EQ(txt.vendor(0x00000c123456ull), "Cisco Systems, Inc");
  EXPECT_EQ(csv.vendor(0x01000c123456ull), "");  // multicast
  OuiRegistry missing;
  EXPECT_FALSE(missing.load_csv("/nonexistent/oui.csv"));
  EXPECT_EQ(missing.vendor(0x00000c123456ull), "");
}

TEST(MacPlugin, CountsMacsDroppedWhenTheTableIsFull) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host, 1);
  constexpr uint32_t kExtra = 5;
  std::vector<uint8_t> frames((kMaxMacs + kExtra) * 60, 0);
  std::vector<wm_packet> batch;
  for (uint32_t i = 0; i < kMaxMacs + kExtra; ++i) {
    uint8_t* f = &frames[i * 60];
    std::fill(f, f + 6, 0xff);
    const uint8_t src[6] = {0x02,
                            0,
                            0,
                            static_cast<uint8_t>(i >> 16),
                            static_cast<uint8_t>(i >> 8),
                            static_cast<uint8_t>(i)};
    std::copy(src, src + 6, f + 6);
    wm_packet v{};
    v.data = f;
    v.cap_len = v.wire_len = 60;
    batch.push_back(v);
    if (batch.size() == 32) {
      h.batch(0, batch);
      batch.clear();
    }
  }
  h.batch(0, batch);
  h.batch(0, batch);  // the same untracked MACs again: counted per sighting
  auto s = h.collect();
  EXPECT_EQ(sample(s, "wiremeter_mac_addresses"), kMaxMacs);
  EXPECT_EQ(sample(s, "wiremeter_mac_addresses_dropped_total"), 2 * kExtra);
  // Known MACs are still counted.
  const uint8_t first[6] = {0x02, 0, 0, 0, 0, 0};
  auto again = udp(first, kBroadcast);
  h.batch(0, {again.view});
  EXPECT_EQ(sample(h.collect(), "wiremeter_mac_addresses_dropped_total"), 2 * kExtra);
  EXPECT_NE(h.json().find("\"dropped\":10}"), std::string::npos);
}

TEST(MacPlugin, SmallWorkerTableStopsAtItsBound) {
  MacWorker w(2);
  auto ab = udp(kA, kB), ca = udp(kC, kA);
  std::vector<wm_packet> batch = {ab.view, ca.view};
  w.on_batch(batch);
  auto snap = w.snapshot();
  ASSERT_EQ(snap.size(), 2u);
  EXPECT_EQ(w.dropped.value(), 1u);
  ASSERT_NE(find(snap, kMacA), nullptr);
  EXPECT_EQ(find(snap, kMacA)->rx_packets, 1u);  // A still counts as the destination
}

TEST(MacPlugin, QueryPagesSortsAndRefusesBadParameters) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host, 1);
  auto ab = udp(kA, kB, 500), cb = udp(kC, kB, 10);
  h.batch(0, {ab.view, cb.view, cb.view});
  auto [s1, p1] = h.query("macs", "sort=bytes&size=2&page=1");
  EXPECT_EQ(s1, 200);
  // B received everything, A sent the big packet.
  EXPECT_NE(p1.find("\"total\":3,\"page\":1,\"size\":2,\"sort\":\"bytes\",\"order\":\"desc\","
                    "\"items\":[{\"mac\":\"02:00:00:00:00:0b\""),
            std::string::npos)
      << p1;
  EXPECT_NE(p1.find("},{\"mac\":\"02:00:00:00:00:0a\""), std::string::npos) << p1;
  auto [s2, p2] = h.query("macs", "sort=bytes&size=2&page=2");
  EXPECT_EQ(s2, 200);
  EXPECT_NE(p2.find("\"items\":[{\"mac\":\"02:00:00:00:00:0c\""), std::string::npos) << p2;
  EXPECT_EQ(p2.find("02:00:00:00:00:0a"), std::string::npos) << p2;
  auto [s3, p3] = h.query("macs", "sort=peers&order=asc&size=1");
  EXPECT_EQ(s3, 200);
  EXPECT_NE(p3.find("\"peers\":1"), std::string::npos) << p3;
  auto [s4, p4] = h.query("macs", "filter=00:0c");
  EXPECT_NE(p4.find("\"total\":1,"), std::string::npos) << p4;

  EXPECT_EQ(h.query("macs", "sort=vendor").first, 400);
  EXPECT_EQ(h.query("macs", "bogus=1").first, 400);
  EXPECT_EQ(h.query("macs", "size=0").first, 400);
  EXPECT_EQ(h.query("macs", "order=up").first, 400);
  auto [s5, p5] = h.query("macs", "page=x");
  EXPECT_EQ(s5, 400);
  EXPECT_NE(p5.find("\"error\""), std::string::npos);
  EXPECT_EQ(h.query("hosts").first, 404);
}

TEST(MacPlugin, RefusesSettings) {
  FakeHost host;
  host.config = R"({"oui_path":"/tmp/x"})";
  EXPECT_THROW(PluginHarness(wiremeter_plugin_register(), host, 1), std::runtime_error);
}

TEST(MacPlugin, IgnoresRuntFramesAndMalformedDhcp) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host, 1);
  auto runt = udp(kA, kB);
  runt.view.cap_len = 10;
  // A DHCP reply cut short: payload claims more than was captured.
  auto dhcp = PacketBuilder()
                  .macs(kA, kBroadcast)
                  .ipv4("198.18.0.1", "198.18.0.255")
                  .udp(67, 68)
                  .payload_size(300)
                  .build();
  dhcp.view.cap_len = 100;
  h.batch(0, {runt.view, dhcp.view});
  auto snap = h.worker_as<MacWorker>(0).snapshot();
  ASSERT_EQ(snap.size(), 1u);
  EXPECT_EQ(snap[0].ip_count, 0u);
}

TEST(MacPlugin, TimeWindowDetailViewAndGraphOfTheBusiest) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host, 1);
  auto ab = udp(kA, kB, 100);  // at t = 5 s
  h.tick(4'000'000'000);
  h.batch(0, {ab.view});
  h.tick(5'000'000'000);
  // Both ends of the only conversation are graphed, at the bits they moved in that second.
  ASSERT_EQ(host.series.count("02:00:00:00:00:0a.bps"), 1u);
  EXPECT_DOUBLE_EQ(host.series["02:00:00:00:00:0a.bps"].back(), ab.view.wire_len * 8.0);

  EXPECT_NE(h.query("macs", "from=4&to=6").second.find("\"total\":2,"), std::string::npos);
  EXPECT_NE(h.query("macs", "from=6").second.find("\"total\":0,"), std::string::npos);
  EXPECT_NE(h.query("macs", "to=4.5").second.find("\"total\":0,"), std::string::npos);
  EXPECT_EQ(h.query("macs", "from=6&to=5").first, 400);

  auto [s, detail] = h.query("macs/02:00:00:00:00:0A", "");
  EXPECT_EQ(s, 200);
  EXPECT_NE(detail.find("\"mac\":{\"mac\":\"02:00:00:00:00:0a\""), std::string::npos) << detail;
  EXPECT_NE(detail.find("\"series\":\"mac.02:00:00:00:00:0a.bps\""), std::string::npos) << detail;
  EXPECT_EQ(h.query("macs/02:00:00:00:00:99", "").first, 404);
}

TEST(MacPlugin, AMacBeingLookedAtIsGraphedEvenWhenQuiet) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host, 1);
  auto cb = udp(kC, kB, 100);
  h.batch(0, {cb.view});
  h.tick(1'000'000'000);
  h.tick(2'000'000'000);  // C sent nothing in this second: not among the busiest
  EXPECT_EQ(host.series.count("02:00:00:00:00:0c.bps"), 0u);
  auto [s, detail] = h.query("macs/02:00:00:00:00:0c", "");
  EXPECT_NE(detail.find("\"series\":\"mac.02:00:00:00:00:0c.bps\""), std::string::npos) << detail;
  h.tick(3'000'000'000);
  ASSERT_EQ(host.series.count("02:00:00:00:00:0c.bps"), 1u);
  EXPECT_EQ(host.series["02:00:00:00:00:0c.bps"], std::vector<double>{0.0});
}

}  // namespace
}  // namespace wiremeter::mac

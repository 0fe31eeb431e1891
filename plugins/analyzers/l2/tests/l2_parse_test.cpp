#include "l2_parse.hpp"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "l2_tables.hpp"
#include "tests/l2_test_util.hpp"

namespace wiremeter::l2 {
namespace {

using test::FrameBuilder;

TEST(L2Parse, EthernetWithQinQAndPriorities) {
  auto f = FrameBuilder().tag(200, 5, 0x88a8).tag(2001, 3).ipv4(46).build();
  EthHeader eth = parse_ethernet(f.view.data, f.view.cap_len);
  ASSERT_TRUE(eth.ok);
  EXPECT_FALSE(eth.truncated);
  EXPECT_EQ(eth.dst, 0x020000000002ull);
  EXPECT_EQ(eth.src, 0x020000000001ull);
  EXPECT_EQ(eth.tag_count, 2);
  EXPECT_EQ(eth.tpid[0], 0x88a8);
  EXPECT_EQ(eth.tci[0] >> 13, 5);
  EXPECT_EQ(eth.tci[0] & 0x0fff, 200);
  EXPECT_EQ(eth.tci[1] >> 13, 3);
  EXPECT_EQ(eth.tci[1] & 0x0fff, 2001);
  EXPECT_EQ(eth.type, 0x0800);
  EXPECT_EQ(eth.payload_off, 22u);
  EXPECT_TRUE(is_ethernet(f.view, eth));
}

TEST(L2Parse, CutTagAndShortFrame) {
  uint8_t frame[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x81, 0x00, 0x00, 0x05};
  EthHeader eth = parse_ethernet(frame, sizeof frame);
  EXPECT_TRUE(eth.ok);
  EXPECT_TRUE(eth.truncated);
  EXPECT_EQ(eth.tag_count, 0);
  wm_packet v{};
  v.data = frame;
  v.cap_len = sizeof frame;
  v.flags = WM_PKT_MALFORMED;  // the core: truncated_vlan, ether_type left 0
  EXPECT_TRUE(is_ethernet(v, eth));
  EXPECT_FALSE(parse_ethernet(frame, 13).ok);
}

TEST(L2Parse, RecognizesFramesOfOtherLinkTypes) {
  // A raw-IP capture: the bytes start with the IPv4 header, the core put l3_off at 0.
  auto eth_frame = FrameBuilder().ipv4(0).build();
  std::vector<uint8_t> raw(eth_frame.bytes->begin() + 14, eth_frame.bytes->end());
  wm_packet v{};
  v.data = raw.data();
  v.cap_len = static_cast<uint32_t>(raw.size());
  v.ether_type = 0x0800;
  v.l3_off = 0;
  v.ip_version = 4;
  v.flags = WM_PKT_IPV4 | WM_PKT_NO_ETHERNET;
  EXPECT_FALSE(is_ethernet(v, parse_ethernet(v.data, v.cap_len)));
  // BSD loopback: family 2, then IPv4 at offset 4.
  std::vector<uint8_t> null_frame = {2, 0, 0, 0};
  null_frame.insert(null_frame.end(), raw.begin(), raw.end());
  v.data = null_frame.data();
  v.cap_len = static_cast<uint32_t>(null_frame.size());
  v.l3_off = 4;
  EXPECT_FALSE(is_ethernet(v, parse_ethernet(v.data, v.cap_len)));
  // The same IPv4 packet in Ethernet is.
  EXPECT_TRUE(is_ethernet(eth_frame.view, parse_ethernet(eth_frame.view.data, 60)));
  // An LLC frame is Ethernet.
  auto llc = FrameBuilder().llc(test::rstp_bpdu()).build();
  EXPECT_TRUE(is_ethernet(llc.view, parse_ethernet(llc.view.data, llc.view.cap_len)));
}

TEST(L2Parse, SizeBucketsAreRmons) {
  EXPECT_EQ(size_bucket(0), 0u);
  EXPECT_EQ(size_bucket(63), 0u);
  EXPECT_EQ(size_bucket(64), 1u);
  EXPECT_EQ(size_bucket(65), 2u);
  EXPECT_EQ(size_bucket(127), 2u);
  EXPECT_EQ(size_bucket(128), 3u);
  EXPECT_EQ(size_bucket(255), 3u);
  EXPECT_EQ(size_bucket(256), 4u);
  EXPECT_EQ(size_bucket(511), 4u);
  EXPECT_EQ(size_bucket(512), 5u);
  EXPECT_EQ(size_bucket(1023), 5u);
  EXPECT_EQ(size_bucket(1024), 6u);
  EXPECT_EQ(size_bucket(1518), 6u);
  EXPECT_EQ(size_bucket(1519), 7u);
  EXPECT_EQ(size_bucket(9000), 7u);
  EXPECT_EQ(size_bucket(9001), 8u);
}

TEST(L2Parse, DscpNames) {
  EXPECT_STREQ(dscp_name(0), "CS0");
  EXPECT_STREQ(dscp_name(8), "CS1");
  EXPECT_STREQ(dscp_name(56), "CS7");
  EXPECT_STREQ(dscp_name(10), "AF11");
  EXPECT_STREQ(dscp_name(14), "AF13");
  EXPECT_STREQ(dscp_name(26), "AF31");
  EXPECT_STREQ(dscp_name(38), "AF43");
  EXPECT_STREQ(dscp_name(46), "EF");
  EXPECT_STREQ(dscp_name(44), "VA");
  EXPECT_STREQ(dscp_name(1), "LE");
  EXPECT_STREQ(dscp_name(5), "5");
  EXPECT_STREQ(dscp_name(63), "63");
}

TEST(L2Parse, Arp) {
  auto f =
      FrameBuilder()
          .dst(test::kBroadcast)
          .arp(1, 0x0020d25afb3full, test::ip4(172, 21, 79, 97), 0, test::ip4(172, 21, 79, 100))
          .build();
  ArpMessage m;
  ASSERT_EQ(parse_arp(f.view.data + 14, f.view.cap_len - 14, m), ArpError::kNone);
  EXPECT_EQ(m.op, 1);
  EXPECT_EQ(m.sender_mac, 0x0020d25afb3full);
  EXPECT_EQ(m.sender_ip, test::ip4(172, 21, 79, 97));
  EXPECT_EQ(m.target_mac, 0u);
  EXPECT_EQ(m.target_ip, test::ip4(172, 21, 79, 100));
  EXPECT_EQ(parse_arp(f.view.data + 14, 27, m), ArpError::kTruncated);
  EXPECT_EQ(parse_arp(f.view.data + 14, 7, m), ArpError::kTruncated);
  std::vector<uint8_t> ipv6_over_arp(f.bytes->begin() + 14, f.bytes->end());
  ipv6_over_arp[2] = 0x86;  // protocol type 0x86dd
  ipv6_over_arp[3] = 0xdd;
  EXPECT_EQ(parse_arp(ipv6_over_arp.data(), ipv6_over_arp.size(), m), ArpError::kNotEthernetIpv4);
}

TEST(L2Parse, RstpBpduFromWikipediaCapture) {
  std::vector<uint8_t> b = test::rstp_bpdu();
  Bpdu bpdu;
  ASSERT_EQ(parse_bpdu(b.data() + 3, b.size() - 3, bpdu), BpduError::kNone);
  EXPECT_EQ(bpdu.version, 2);
  EXPECT_STREQ(bpdu_protocol_name(bpdu.version), "rstp");
  EXPECT_EQ(bpdu.type, 0x02);
  EXPECT_EQ(bpdu.flags, 0x3c);
  EXPECT_FALSE(bpdu.topology_change());
  EXPECT_EQ(bpdu.root_cost, 0u);
  EXPECT_EQ(bpdu.port_id, 0x8193);
  char id[32];
  format_bridge_id(bpdu.root_id, id);
  EXPECT_STREQ(id, "32768/720/00:13:7f:be:8c:c0");  // as tshark prints it
  format_bridge_id(bpdu.bridge_id, id);
  EXPECT_STREQ(id, "32768/720/00:13:7f:be:8c:c0");

  EXPECT_EQ(parse_bpdu(b.data() + 3, 34, bpdu), BpduError::kTruncated);
  uint8_t tcn[4] = {0, 0, 0, 0x80};
  ASSERT_EQ(parse_bpdu(tcn, 4, bpdu), BpduError::kNone);
  EXPECT_TRUE(bpdu.tcn());
  EXPECT_TRUE(bpdu.topology_change());
  uint8_t bad[4] = {0, 1, 0, 0};
  EXPECT_EQ(parse_bpdu(bad, 4, bpdu), BpduError::kBadProtocol);
  uint8_t unknown[35] = {0, 0, 0, 0x42};
  EXPECT_EQ(parse_bpdu(unknown, 35, bpdu), BpduError::kUnknownType);
}

TEST(L2Parse, Lldp) {
  std::vector<uint8_t> d = test::lldpdu();
  LldpInfo info;
  ASSERT_EQ(parse_lldp(d.data(), d.size(), info), LldpError::kNone);
  EXPECT_STREQ(info.chassis_id, "00:11:22:33:44:55");
  EXPECT_STREQ(info.port_id, "ge-0/0/1");
  EXPECT_EQ(info.ttl, 120);
  EXPECT_STREQ(info.system_name, "core-sw1");
  EXPECT_STREQ(info.management_address, "192.0.2.7");
  EXPECT_EQ(info.capabilities, 4);  // bridge

  // Cut anywhere before the End TLV: truncated.
  for (size_t n = 0; n + 2 < d.size(); ++n) {
    EXPECT_EQ(parse_lldp(d.data(), n, info), LldpError::kTruncated) << n;
  }
  // Without a TTL TLV the LLDPDU is not valid (802.1AB 8.2).
  std::vector<uint8_t> no_ttl = {0x02, 0x07, 4,    0, 0x11, 0x22, 0x33, 0x44,
                                 0x55, 0x04, 0x02, 7, 'x',  0x00, 0x00};
  EXPECT_EQ(parse_lldp(no_ttl.data(), no_ttl.size(), info), LldpError::kMissingTlv);
  // Text that is not printable ASCII is shown with '?', and long text is cut.
  std::string long_name(200, 'n');
  long_name[0] = '\x01';
  long_name[1] = '\xc3';
  d = test::lldpdu("p1", 0, long_name.c_str());
  ASSERT_EQ(parse_lldp(d.data(), d.size(), info), LldpError::kNone);
  EXPECT_EQ(std::string(info.system_name), "??" + std::string(kLldpText - 3, 'n'));
  EXPECT_EQ(info.ttl, 0);
}

TEST(L2Parse, ClassifiesControlFrames) {
  auto classify = [](const test::Frame& f) {
    EthHeader eth = parse_ethernet(f.view.data, f.view.cap_len);
    uint32_t body = 0, end = 0;
    return classify_control(f.view.data, f.view.cap_len, eth, body, end);
  };
  auto stp = FrameBuilder().dst(0x0180c2000000ull).llc(test::rstp_bpdu()).build();
  EXPECT_EQ(classify(stp), Control::kStp);
  std::vector<uint8_t> snap = {0xaa, 0xaa, 0x03, 0x00, 0x00, 0x0c, 0x20, 0x00, 0x02};
  EXPECT_EQ(classify(FrameBuilder().dst(0x01000ccccccccull).llc(snap).build()), Control::kCdp);
  snap[6] = 0x01;
  snap[7] = 0x0b;
  EXPECT_EQ(classify(FrameBuilder().dst(0x01000ccccccdull).llc(snap).build()), Control::kPvst);
  EXPECT_EQ(classify(FrameBuilder().dst(0x0180c2000002ull).ethertype(0x8809, {1, 1}).build()),
            Control::kLacp);
  EXPECT_EQ(classify(FrameBuilder().dst(0x0180c2000002ull).ethertype(0x8809, {3}).build()),
            Control::kOam);
  EXPECT_EQ(classify(FrameBuilder().dst(0x0180c2000003ull).ethertype(0x888e, {1, 0}).build()),
            Control::kEapol);
  EXPECT_EQ(
      classify(FrameBuilder().dst(0x0180c200000eull).ethertype(0x88cc, test::lldpdu()).build()),
      Control::kLldp);
  EXPECT_EQ(classify(FrameBuilder().dst(0x011b19000000ull).ethertype(0x88f7, {0}).build()),
            Control::kPtp);
  EXPECT_EQ(classify(FrameBuilder().dst(0x0180c2000001ull).ethertype(0x8808, {0, 1}).build()),
            Control::kPause);
  EXPECT_EQ(classify(FrameBuilder().dst(0x0180c2000008ull).ethertype(0x1234, {0}).build()),
            Control::kOtherLinkLocal);
  EXPECT_EQ(classify(FrameBuilder().ethertype(0x1234, {0}).build()), Control::kNone);
  EXPECT_EQ(classify(FrameBuilder().ipv4(0).build()), Control::kNone);
  EXPECT_STREQ(control_name(Control::kOtherLinkLocal), "other_link_local");
}

TEST(L2Tables, FullMapRefusesNewKeysOnly) {
  FixedMap<uint64_t, uint64_t> m(3);
  bool fresh;
  for (uint64_t k = 1; k <= 3; ++k) *m.upsert(k, fresh) = k * 10;
  EXPECT_EQ(m.upsert(4, fresh), nullptr);
  ASSERT_NE(m.upsert(2, fresh), nullptr);
  EXPECT_FALSE(fresh);
  EXPECT_EQ(*m.find(2), 20u);
  EXPECT_TRUE(m.erase(2));
  EXPECT_FALSE(m.erase(2));
  ASSERT_NE(m.upsert(4, fresh), nullptr);
  EXPECT_TRUE(fresh);
}

// Erasing shifts entries back: after random churn every key is found exactly as std::map says.
TEST(L2Tables, ChurnMatchesStdMap) {
  FixedMap<uint64_t, uint64_t> m(200);
  std::map<uint64_t, uint64_t> ref;
  std::mt19937_64 rng(7);
  for (int i = 0; i < 20000; ++i) {
    uint64_t k = rng() % 400;
    if (rng() % 3 == 0) {
      EXPECT_EQ(m.erase(k), ref.erase(k) == 1);
    } else if (ref.size() < 200 || ref.count(k)) {
      bool fresh;
      uint64_t* v = m.upsert(k, fresh);
      ASSERT_NE(v, nullptr);
      EXPECT_EQ(fresh, ref.count(k) == 0);
      *v = i;
      ref[k] = static_cast<uint64_t>(i);
    }
    if (i % 1000 == 0) {
      m.erase_if([](uint64_t key, uint64_t) { return key % 5 == 0; });
      std::erase_if(ref, [](auto& kv) { return kv.first % 5 == 0; });
    }
  }
  EXPECT_EQ(m.size(), ref.size());
  for (uint64_t k = 0; k < 400; ++k) {
    const auto& cm = m;
    const uint64_t* v = cm.find(k);
    auto it = ref.find(k);
    ASSERT_EQ(v != nullptr, it != ref.end()) << k;
    if (v) {
      EXPECT_EQ(*v, it->second);
    }
  }
  size_t visited = 0;
  m.for_each([&](uint64_t, uint64_t) { ++visited; });
  EXPECT_EQ(visited, ref.size());
}

}  // namespace
}  // namespace wiremeter::l2

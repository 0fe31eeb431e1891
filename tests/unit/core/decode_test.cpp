#include "wiremeter/core/decode.hpp"

#include <gtest/gtest.h>
#include <pcap/pcap.h>

#include <filesystem>
#include <random>
#include <wiremeter/testing/packet_builder.hpp>

namespace wiremeter::core {
namespace {

using testing::PacketBuilder;

wm_packet decode(const std::vector<uint8_t>& b, DecodeError* err = nullptr,
                 LinkType lt = LinkType::kEthernet) {
  wm_packet v{};
  DecodeError e = decode_packet(b.data(), static_cast<uint32_t>(b.size()),
                                static_cast<uint32_t>(b.size()), lt, v);
  if (err) *err = e;
  return v;
}

TEST(Decode, MatchesTheBuilderForTcpOverIpv4) {
  auto p = PacketBuilder()
               .ipv4("198.18.0.1", "198.19.255.2")
               .tcp(40000, 443, 0x12)
               .payload("hello")
               .build();
  DecodeError err;
  wm_packet v = decode(*p.bytes, &err);
  EXPECT_EQ(err, DecodeError::kNone);
  EXPECT_EQ(v.ip_version, 4);
  EXPECT_EQ(v.l4_proto, 6);
  EXPECT_EQ(v.src_port, 40000);
  EXPECT_EQ(v.dst_port, 443);
  EXPECT_EQ(v.tcp_flags, 0x12);
  EXPECT_EQ(v.l3_off, p.view.l3_off);
  EXPECT_EQ(v.l4_off, p.view.l4_off);
  EXPECT_EQ(v.payload_off, p.view.payload_off);
  EXPECT_EQ(v.payload_len, 5);  // Ethernet padding is not payload
  EXPECT_EQ(0, std::memcmp(v.src_addr, p.view.src_addr, 4));
  EXPECT_TRUE(v.flags & WM_PKT_L4);
}

TEST(Decode, VlanAndQinQ) {
  auto p =
      PacketBuilder().vlan(100).vlan(200).ipv6("2001:db8::1", "2001:db8::2").udp(53, 5353).build();
  // The builder writes 0x8100 twice; make the outer tag 802.1ad as on a real QinQ link.
  (*p.bytes)[12] = 0x88;
  (*p.bytes)[13] = 0xa8;
  DecodeError err;
  wm_packet v = decode(*p.bytes, &err);
  EXPECT_EQ(err, DecodeError::kNone);
  EXPECT_EQ(v.vlan_count, 2);
  EXPECT_EQ(v.vlan[0], 100);
  EXPECT_EQ(v.vlan[1], 200);
  EXPECT_EQ(v.ip_version, 6);
  EXPECT_EQ(v.dst_port, 5353);
}

TEST(Decode, Ipv6ExtensionHeadersAndFragments) {
  // IPv6 + hop-by-hop (8 bytes) + fragment header (first fragment, M=1) + UDP.
  std::vector<uint8_t> f = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x86, 0xdd};
  uint8_t ip6[40] = {0x60, 0, 0, 0, 0, 24, 0 /*hop-by-hop*/, 64};
  ip6[8] = 0x20;
  ip6[9] = 0x01;
  ip6[10] = 0x0d;
  ip6[11] = 0xb8;
  ip6[23] = 1;
  ip6[24] = 0x20;
  ip6[25] = 0x01;
  ip6[26] = 0x0d;
  ip6[27] = 0xb8;
  ip6[39] = 2;
  f.insert(f.end(), ip6, ip6 + 40);
  uint8_t hbh[8] = {44 /*fragment*/, 0, 1, 4, 0, 0, 0, 0};
  f.insert(f.end(), hbh, hbh + 8);
  uint8_t frag[8] = {17 /*udp*/, 0, 0x00, 0x01 /*offset 0, M*/, 0, 0, 0, 7};
  f.insert(f.end(), frag, frag + 8);
  uint8_t udp[8] = {0x04, 0xd2, 0x00, 0x35, 0, 8, 0, 0};
  f.insert(f.end(), udp, udp + 8);
  DecodeError err;
  wm_packet v = decode(f, &err);
  EXPECT_EQ(err, DecodeError::kNone);
  EXPECT_EQ(v.l4_proto, 17);
  EXPECT_TRUE(v.flags & WM_PKT_FRAGMENT);
  EXPECT_TRUE(v.flags & WM_PKT_FIRST_FRAGMENT);
  EXPECT_EQ(v.src_port, 1234);
  EXPECT_EQ(v.dst_port, 53);

  // A later fragment: no ports.
  f[14 + 40 + 8 + 2] = 0x00;
  f[14 + 40 + 8 + 3] = 0x08;  // offset 1 (x8 bytes), M=0
  v = decode(f, &err);
  EXPECT_EQ(err, DecodeError::kNone);
  EXPECT_TRUE(v.flags & WM_PKT_FRAGMENT);
  EXPECT_FALSE(v.flags & WM_PKT_FIRST_FRAGMENT);
  EXPECT_FALSE(v.flags & WM_PKT_L4);
}

TEST(Decode, MplsCarriesIpv4) {
  auto p = PacketBuilder().ipv4("198.18.0.1", "198.18.0.2").udp(1, 2).build();
  std::vector<uint8_t> f(p.bytes->begin(), p.bytes->begin() + 12);
  f.push_back(0x88);
  f.push_back(0x47);
  uint8_t labels[8] = {0x00, 0x01, 0x00, 0x40, 0x00, 0x02, 0x01, 0x40};  // 16, then 32 (BoS)
  f.insert(f.end(), labels, labels + 8);
  f.insert(f.end(), p.bytes->begin() + 14, p.bytes->end());
  DecodeError err;
  wm_packet v = decode(f, &err);
  EXPECT_EQ(err, DecodeError::kNone);
  EXPECT_EQ(v.mpls_count, 2);
  EXPECT_EQ(v.mpls_label, 16u);
  EXPECT_EQ(v.ip_version, 4);
  EXPECT_EQ(v.dst_port, 2);
}

TEST(Decode, EveryTruncationIsCountedNotCrashed) {
  auto p = PacketBuilder().vlan(5).ipv4("198.18.0.1", "198.18.0.2").tcp(1, 2).payload("x").build();
  std::vector<uint8_t> full(p.bytes->begin(), p.bytes->begin() + 14 + 4 + 20 + 20 + 1);
  for (size_t len = 0; len < full.size(); ++len) {
    // Exactly `len` bytes on the heap, so ASan flags any read past the end.
    std::unique_ptr<uint8_t[]> buf(new uint8_t[len ? len : 1]);
    std::memcpy(buf.get(), full.data(), len);
    wm_packet v{};
    DecodeError e = decode_packet(buf.get(), static_cast<uint32_t>(len), static_cast<uint32_t>(len),
                                  LinkType::kEthernet, v);
    if (len < 14 + 4 + 20 + 20) {
      EXPECT_NE(e, DecodeError::kNone) << "length " << len;
      EXPECT_TRUE(v.flags & WM_PKT_MALFORMED);
    }
  }
}

TEST(Decode, BadHeadersHaveNamedReasons) {
  auto p = PacketBuilder().ipv4("198.18.0.1", "198.18.0.2").tcp(1, 2).build();
  std::vector<uint8_t> f = *p.bytes;
  f[14] = 0x43;  // IHL 3
  DecodeError err;
  decode(f, &err);
  EXPECT_EQ(err, DecodeError::kBadIpv4Header);
  EXPECT_EQ(decode_error_name(err), "bad_ipv4_header");
  f = *p.bytes;
  f[14 + 20 + 12] = 0x30;  // TCP data offset 3
  decode(f, &err);
  EXPECT_EQ(err, DecodeError::kBadTcpHeader);
}

TEST(Decode, RandomBytesNeverReadOutOfBounds) {
  std::mt19937 rng(42);
  for (int i = 0; i < 20000; ++i) {
    size_t len = rng() % 200;
    std::unique_ptr<uint8_t[]> buf(new uint8_t[len ? len : 1]);
    for (size_t k = 0; k < len; ++k) buf[k] = static_cast<uint8_t>(rng());
    // Steer some frames into the interesting paths.
    if (len > 14 && i % 3 == 0) {
      buf[12] = 0x08;
      buf[13] = 0x00;
      buf[14] = 0x45;
    }
    if (len > 14 && i % 3 == 1) {
      buf[12] = 0x86;
      buf[13] = 0xdd;
      buf[14] = 0x60;
    }
    wm_packet v{};
    decode_packet(buf.get(), static_cast<uint32_t>(len), static_cast<uint32_t>(len),
                  static_cast<LinkType>(i % 5), v);
    EXPECT_LE(v.payload_off + v.payload_len, std::max<size_t>(len, v.payload_off));
  }
}

TEST(Decode, SixInFourIsUnwrapped) {
  auto inner = PacketBuilder().ipv6("2001:db8::1", "2001:db8::2").tcp(40000, 80).build();
  auto outer = PacketBuilder().ipv4("198.18.0.1", "198.18.0.2").build();
  // Ethernet + IPv4 (protocol 41) + the inner IPv6 packet.
  std::vector<uint8_t> f(outer.bytes->begin(), outer.bytes->begin() + 14 + 20);
  std::vector<uint8_t> ip6(inner.bytes->begin() + 14, inner.bytes->begin() + 14 + 40 + 20);
  f.insert(f.end(), ip6.begin(), ip6.end());
  f[14 + 9] = 41;
  uint16_t total = static_cast<uint16_t>(20 + ip6.size());
  f[14 + 2] = static_cast<uint8_t>(total >> 8);
  f[14 + 3] = static_cast<uint8_t>(total & 0xff);
  DecodeError err;
  wm_packet v = decode(f, &err);
  EXPECT_EQ(err, DecodeError::kNone);
  EXPECT_TRUE(v.flags & WM_PKT_TUNNELED);
  EXPECT_EQ(v.ip_version, 6);
  EXPECT_EQ(v.l3_off, 14 + 20);
  EXPECT_EQ(v.l4_proto, 6);
  EXPECT_EQ(v.dst_port, 80);
  EXPECT_EQ(v.dst_addr[15], 2);
}

TEST(Decode, NullLinkTypeCarriesIpv6) {
  auto p = PacketBuilder().ipv6("2001:db8::1", "2001:db8::2").udp(443, 50000).build();
  std::vector<uint8_t> f = {30, 0, 0, 0};  // AF_INET6 on macOS, little-endian host
  f.insert(f.end(), p.bytes->begin() + 14, p.bytes->end());
  DecodeError err;
  wm_packet v = decode(f, &err, LinkType::kNull);
  EXPECT_EQ(err, DecodeError::kNone);
  EXPECT_EQ(v.ip_version, 6);
  EXPECT_EQ(v.src_port, 443);
  // No Ethernet header: modules must not read MAC addresses from these bytes.
  EXPECT_TRUE(v.flags & WM_PKT_NO_ETHERNET);
  auto eth = PacketBuilder().ipv6("2001:db8::1", "2001:db8::2").udp(443, 50000).build();
  std::vector<uint8_t> e(eth.bytes->begin(), eth.bytes->end());
  EXPECT_FALSE(decode(e, &err, LinkType::kEthernet).flags & WM_PKT_NO_ETHERNET);
}

// Every frame of the shared real captures decodes without a malformed verdict, except where a
// capture is known to hold broken frames.
TEST(Decode, RealCapturesDecode) {
  std::filesystem::path dir = WM_CAPTURES_DIR;
  if (!std::filesystem::exists(dir)) GTEST_SKIP() << "no shared captures at " << dir;
  size_t frames = 0;
  for (auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (entry.path().extension() != ".pcap") continue;
    char err[PCAP_ERRBUF_SIZE];
    pcap_t* pc = pcap_open_offline(entry.path().c_str(), err);
    ASSERT_NE(pc, nullptr) << err;
    LinkType lt;
    ASSERT_TRUE(link_type_from_dlt(pcap_datalink(pc), lt)) << entry.path();
    pcap_pkthdr* h;
    const u_char* data;
    while (pcap_next_ex(pc, &h, &data) == 1) {
      wm_packet v{};
      decode_packet(data, h->caplen, h->len, lt, v);
      ++frames;
    }
    pcap_close(pc);
  }
  EXPECT_GT(frames, 1000u);
}

}  // namespace
}  // namespace wiremeter::core

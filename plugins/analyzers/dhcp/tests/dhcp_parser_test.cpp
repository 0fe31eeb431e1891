#include "dhcp_parser.hpp"

#include <gtest/gtest.h>

#include "dhcp_test_util.hpp"

namespace wiremeter::dhcp {
namespace {

using test::addr;
using test::Dhcp;

Error parse(const Dhcp& d, Message& m) { return parse_v4(d.bytes().data(), d.bytes().size(), m); }

TEST(DhcpParser, ReadsHeaderAndOptions) {
  Dhcp d(2, 0x7c0);
  d.yiaddr("128.2.6.97")
      .type(kOffer)
      .ip(54, "128.2.6.152")
      .u32(51, 900)
      .ip(1, "255.255.255.0")
      .raw({3, 8, 128, 2, 6, 1, 128, 2, 6, 2})
      .raw({6, 4, 128, 2, 1, 10})
      .option(15, "cmu.edu")
      .u32(58, 450)
      .u32(59, 787)
      .option(56, "hello")
      .end();
  Message m;
  ASSERT_EQ(parse(d, m), Error::kNone);
  EXPECT_EQ(m.op, 2);
  EXPECT_EQ(m.xid, 0x7c0u);
  EXPECT_EQ(m.yiaddr, addr("128.2.6.97"));
  EXPECT_EQ(m.chaddr_mac(), test::kMac);
  EXPECT_TRUE(m.has_cookie);
  EXPECT_EQ(m.type_idx(), kOffer);
  EXPECT_EQ(m.server_id, addr("128.2.6.152"));
  EXPECT_EQ(m.lease_time, 900u);
  EXPECT_EQ(m.subnet_mask, addr("255.255.255.0"));
  ASSERT_EQ(m.routers.count, 2);
  EXPECT_EQ(m.routers.addr[1], addr("128.2.6.2"));
  ASSERT_EQ(m.dns_servers.count, 1);
  EXPECT_EQ(m.dns_servers.addr[0], addr("128.2.1.10"));
  EXPECT_EQ(std::string_view(reinterpret_cast<const char*>(m.domain_name.data), m.domain_name.len),
            "cmu.edu");
  EXPECT_EQ(m.renewal_time, 450u);
  EXPECT_EQ(m.rebinding_time, 787u);
  EXPECT_EQ(m.message.len, 5);
}

TEST(DhcpParser, ClientOptions) {
  Dhcp d(1, 1);
  d.type(kRequest)
      .ip(50, "192.168.1.4")
      .option(12, std::string_view("host\0", 5))
      .option(60, "MSFT 5.0")
      .option(61, {1, 0x00, 0x0c, 0x29, 0x1f, 0x74, 0x06})
      .option(55, {1, 28, 2, 3, 15, 6, 12})
      .option(81, {0x04, 0, 0, 3, 'p', 'c', '1', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0})
      .option(82, {1, 2, 0xab, 0xcd, 2, 3, 'r', 'i', 'd'})
      .end();
  Message m;
  ASSERT_EQ(parse(d, m), Error::kNone);
  EXPECT_TRUE(m.from_client());
  EXPECT_EQ(m.requested_ip, addr("192.168.1.4"));
  EXPECT_EQ(m.host_name.len, 5);
  EXPECT_EQ(m.client_id_mac(), 0x000c291f7406ull);
  EXPECT_EQ(m.param_list.len, 7);
  EXPECT_EQ(m.fqdn(), "pc1.example");
  EXPECT_EQ(m.fqdn_flags, 0x04);
  ASSERT_TRUE(m.has_relay_info);
  EXPECT_EQ(m.relay_circuit_id.len, 2);
  EXPECT_EQ(m.relay_remote_id.len, 3);
  EXPECT_EQ(m.relay_remote_id.data[0], 'r');
}

TEST(DhcpParser, AsciiFqdnAndFirstInstanceWins) {
  Dhcp d(1, 1);
  d.type(kDiscover)
      .type(kRequest)
      .option(81, std::string_view("\x01\x00\x00pc.example.org", 17))
      .end();
  Message m;
  ASSERT_EQ(parse(d, m), Error::kNone);
  EXPECT_EQ(m.type, kDiscover);
  EXPECT_EQ(m.fqdn(), "pc.example.org");
}

TEST(DhcpParser, PlainBootpHasNoType) {
  Dhcp d(1, 5);
  d.byte(236, 0);  // no magic cookie: the vendor area is opaque
  Message m;
  ASSERT_EQ(parse(d, m), Error::kNone);
  EXPECT_FALSE(m.has_cookie);
  EXPECT_EQ(m.type_idx(), kTypeBootp);
}

TEST(DhcpParser, PadsAndMissingEndAreFine) {
  Dhcp d(1, 5);
  d.raw({0, 0, 53, 1, 8, 0});
  Message m;
  ASSERT_EQ(parse(d, m), Error::kNone);
  EXPECT_EQ(m.type_idx(), kInform);
}

TEST(DhcpParser, OptionOverloadReadsFileAndSname) {
  Dhcp d(2, 9);
  d.option(52, {3}).end();
  // file (offset 108): the message type; sname (offset 44): the lease time.
  d.byte(108, 53).byte(109, 1).byte(110, kAck).byte(111, 255);
  d.byte(44, 51).byte(45, 4).byte(46, 0).byte(47, 0).byte(48, 0x0e).byte(49, 0x10).byte(50, 255);
  Message m;
  ASSERT_EQ(parse(d, m), Error::kNone);
  EXPECT_EQ(m.overload, 3);
  EXPECT_EQ(m.type_idx(), kAck);
  EXPECT_EQ(m.lease_time, 3600u);
}

TEST(DhcpParser, Errors) {
  Message m;
  std::vector<uint8_t> shortmsg(100, 0);
  EXPECT_EQ(parse_v4(shortmsg.data(), shortmsg.size(), m), Error::kTruncatedHeader);
  EXPECT_EQ(parse_v4(nullptr, 0, m), Error::kTruncatedHeader);
  EXPECT_EQ(parse(Dhcp(3, 1).end(), m), Error::kBadOp);
  EXPECT_EQ(parse(Dhcp(1, 1).byte(2, 17).end(), m), Error::kBadHardwareLen);
  EXPECT_EQ(parse(Dhcp(1, 1).raw({12, 10, 'a'}), m), Error::kTruncatedOption);
  EXPECT_EQ(parse(Dhcp(1, 1).raw({12}), m), Error::kTruncatedOption);
  EXPECT_EQ(parse(Dhcp(1, 1).option(53, {1, 2}).end(), m), Error::kBadOptionLength);
  EXPECT_EQ(parse(Dhcp(1, 1).option(50, {1, 2, 3}).end(), m), Error::kBadOptionLength);
  EXPECT_EQ(parse(Dhcp(1, 1).option(3, {1, 2, 3, 4, 5}).end(), m), Error::kBadOptionLength);
  EXPECT_EQ(parse(Dhcp(1, 1).option(81, {0, 0}).end(), m), Error::kBadOptionLength);
  EXPECT_EQ(parse(Dhcp(1, 1).option(82, {1, 5, 0}).end(), m), Error::kBadOptionLength);
  EXPECT_EQ(parse(Dhcp(1, 1).option(52, {4}).end(), m), Error::kBadOverload);
  // An overloaded file field whose option runs past its 128 bytes.
  Dhcp bad(2, 1);
  bad.option(52, {1}).end().byte(232, 12).byte(233, 50);
  EXPECT_EQ(parse(bad, m), Error::kTruncatedOption);
}

TEST(DhcpParser, V6) {
  uint8_t type = 0;
  // SOLICIT, transaction id, then option 8 (elapsed time, 2 bytes).
  const uint8_t solicit[] = {1, 0xaa, 0xbb, 0xcc, 0, 8, 0, 2, 0, 0};
  EXPECT_EQ(parse_v6(solicit, sizeof solicit, type), Error::kNone);
  EXPECT_EQ(type, 1);
  EXPECT_STREQ(v6_type_name(v6_type_index(type)), "SOLICIT");
  EXPECT_EQ(parse_v6(solicit, 9, type), Error::kV6TruncatedOption);
  EXPECT_EQ(parse_v6(solicit, 3, type), Error::kTruncatedHeader);
  EXPECT_EQ(type, 1);
  std::vector<uint8_t> relay(34, 0);
  relay[0] = 12;
  EXPECT_EQ(parse_v6(relay.data(), relay.size(), type), Error::kNone);
  EXPECT_EQ(parse_v6(relay.data(), 20, type), Error::kTruncatedHeader);
  EXPECT_STREQ(v6_type_name(v6_type_index(200)), "OTHER");
}

TEST(DhcpParser, Names) {
  EXPECT_STREQ(type_name(kDiscover), "DISCOVER");
  EXPECT_STREQ(type_name(kNak), "NAK");
  EXPECT_STREQ(type_name(type_index(18)), "TLS");
  EXPECT_STREQ(type_name(type_index(0)), "UNKNOWN");
  EXPECT_STREQ(type_name(type_index(77)), "UNKNOWN");
  EXPECT_STREQ(error_name(Error::kTruncatedOption), "truncated_option");
}

}  // namespace
}  // namespace wiremeter::dhcp

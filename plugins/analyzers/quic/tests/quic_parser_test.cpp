#include "quic_parser.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "quic_test_util.hpp"

namespace wiremeter::quic {
namespace {

using test::Bytes;

TEST(Varint, ReadsTheExamplesOfRfc9000AppendixA1) {
  struct Case {
    std::string hex;
    uint64_t value;
  } cases[] = {{"c2197c5eff14e88c", 151288809941952652ull},
               {"9d7f3e7d", 494878333},
               {"7bbd", 15293},
               {"25", 37},
               {"4025", 37}};
  for (auto& c : cases) {
    Bytes b = test::from_hex(c.hex);
    size_t pos = 0;
    uint64_t v = 0;
    ASSERT_TRUE(read_varint(b.data(), b.size(), pos, v)) << c.hex;
    EXPECT_EQ(v, c.value);
    EXPECT_EQ(pos, b.size());
  }
  Bytes cut = test::from_hex("9d7f3e");
  size_t pos = 0;
  uint64_t v = 0;
  EXPECT_FALSE(read_varint(cut.data(), cut.size(), pos, v));
  EXPECT_EQ(pos, 0u);
}

TEST(Versions, KnowsSaltsAndNames) {
  EXPECT_TRUE(version_info(1).known);
  EXPECT_NE(version_info(1).salt, nullptr);
  EXPECT_TRUE(version_info(0x6b3343cf).v2);
  EXPECT_NE(version_info(0xff00001d).salt, nullptr);                        // draft-29
  EXPECT_NE(version_info(0xff00001b).salt, version_info(0xff00001d).salt);  // 27 vs 29
  EXPECT_EQ(version_info(0xff000022).salt, version_info(1).salt);           // draft-34 used v1's
  EXPECT_EQ(version_info(0xff000014).salt, nullptr);  // draft-20: not supported
  VersionInfo q46 = version_info(0x51303436);
  EXPECT_TRUE(q46.known && q46.gquic_q046 && !q46.tls && !q46.salt);
  VersionInfo q50 = version_info(0x51303530);
  EXPECT_TRUE(q50.known && !q50.gquic_q046 && !q50.tls && q50.salt);
  EXPECT_TRUE(version_info(0x54303531).tls && version_info(0x54303531).salt);  // T051
  EXPECT_TRUE(version_info(0x1a2a3a4a).known);                                 // GREASE
  EXPECT_FALSE(version_info(0x12345678).known);

  auto name = [](uint32_t v) {
    char buf[24];
    version_name(v, buf);
    return std::string(buf);
  };
  EXPECT_EQ(name(1), "v1");
  EXPECT_EQ(name(0x6b3343cf), "v2");
  EXPECT_EQ(name(0xff00001d), "draft-29");
  EXPECT_EQ(name(0x51303436), "Q046");
  EXPECT_EQ(name(0x54303531), "T051");
  EXPECT_EQ(name(0xfaceb002), "mvfst-draft-27");
  EXPECT_EQ(name(0x0a0a0a0a), "grease");
  EXPECT_EQ(name(0), "negotiation");
  EXPECT_EQ(name(0x12345678), "0x12345678");
}

// c3 | version | dcid | scid | token | Length | pn...
Bytes long_header(uint8_t first, uint32_t version, size_t dcid, size_t scid, size_t token,
                  size_t length, size_t actual_payload) {
  Bytes b;
  test::put8(b, first);
  test::put32(b, version);
  test::put8(b, dcid);
  b.insert(b.end(), dcid, 0xd0);
  test::put8(b, scid);
  b.insert(b.end(), scid, 0x5c);
  if (((first >> 4) & 3) == 0) {
    test::put_varint(b, token);
    b.insert(b.end(), token, 0x70);
  }
  test::put_varint(b, length);
  b.insert(b.end(), actual_payload, 0xaa);
  return b;
}

TEST(LongHeader, ReadsAnInitialAndFindsTheNextCoalescedPacket) {
  Bytes b = long_header(0xc3, 1, 8, 5, 3, 40, 60);
  LongHeader h;
  ASSERT_EQ(parse_long_header(b.data(), b.size(), h), Error::kNone);
  EXPECT_EQ(h.type, PacketType::kInitial);
  EXPECT_EQ(h.dcid_len, 8);
  EXPECT_EQ(h.scid_len, 5);
  EXPECT_EQ(h.dcid[0], 0xd0);
  EXPECT_EQ(h.scid[0], 0x5c);
  size_t header = 1 + 4 + 1 + 8 + 1 + 5 + 1 + 3 + 1;
  EXPECT_EQ(h.pn_offset, header);
  EXPECT_EQ(h.packet_len, header + 40);  // 20 bytes left for the next packet
}

TEST(LongHeader, MapsVersion2PacketTypes) {
  // RFC 9369 3.2: 0b01 is Initial and 0b10 0-RTT in v2; in v1 they are 0-RTT and Handshake.
  LongHeader h;
  Bytes v2;  // type bits 01, no CIDs, an empty token
  test::put8(v2, 0xd3);
  test::put32(v2, 0x6b3343cf);
  test::put8(v2, 0);
  test::put8(v2, 0);
  test::put_varint(v2, 0);
  test::put_varint(v2, 20);
  v2.insert(v2.end(), 20, 0);
  ASSERT_EQ(parse_long_header(v2.data(), v2.size(), h), Error::kNone);
  EXPECT_EQ(h.type, PacketType::kInitial);
  v2[0] = 0xc3;  // type bits 00: Retry in v2
  ASSERT_EQ(parse_long_header(v2.data(), v2.size(), h), Error::kNone);
  EXPECT_EQ(h.type, PacketType::kRetry);
  EXPECT_EQ(h.packet_len, v2.size());
  v2[0] = 0xf3;  // 11: Handshake
  ASSERT_EQ(parse_long_header(v2.data(), v2.size(), h), Error::kNone);
  EXPECT_EQ(h.type, PacketType::kHandshake);
}

TEST(LongHeader, RejectsWhatDoesNotFit) {
  LongHeader h;
  Bytes cut = long_header(0xc3, 1, 8, 5, 0, 40, 40);
  EXPECT_EQ(parse_long_header(cut.data(), 10, h), Error::kTruncatedHeader);
  Bytes big_cid = long_header(0xc3, 1, 21, 0, 0, 40, 40);
  EXPECT_EQ(parse_long_header(big_cid.data(), big_cid.size(), h), Error::kBadCidLength);
  Bytes long_len = long_header(0xc3, 1, 8, 0, 0, 400, 40);
  EXPECT_EQ(parse_long_header(long_len.data(), long_len.size(), h), Error::kBadLength);
  Bytes token = long_header(0xc3, 1, 8, 0, 0, 40, 40);
  token[1 + 4 + 1 + 8 + 1] = 0x3f;  // a 63-byte token in a packet with 41 bytes left
  EXPECT_EQ(parse_long_header(token.data(), token.size(), h), Error::kBadLength);
}

TEST(LongHeader, ReadsVersionNegotiationAndQ046) {
  Bytes vn = {0x80, 0, 0, 0, 0, 4, 1, 2, 3, 4, 0, 0, 0, 0, 1, 0xff, 0, 0, 0x1d};
  LongHeader h;
  ASSERT_EQ(parse_long_header(vn.data(), vn.size(), h), Error::kNone);
  EXPECT_EQ(h.type, PacketType::kVersionNegotiation);
  EXPECT_EQ(h.packet_len, vn.size());

  // Q046: the CID lengths share one byte (0x50: DCID 5 + 3 = 8 bytes, no SCID).
  Bytes q = {0xc3, 'Q', '0', '4', '6', 0x50, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 1, 0xee};
  ASSERT_EQ(parse_long_header(q.data(), q.size(), h), Error::kNone);
  EXPECT_TRUE(h.version.gquic_q046);
  EXPECT_EQ(h.dcid_len, 8);
  EXPECT_EQ(h.scid_len, 0);
  EXPECT_EQ(h.pn_offset, 14u);
  EXPECT_EQ(h.packet_len, q.size());
}

TEST(GquicPublicHeader, FindsTheVersionOfQ043AndOlder) {
  Bytes p = {0x0d, 1, 2, 3, 4, 5, 6, 7, 8, 'Q', '0', '3', '5', 0x01, 0xaa};
  uint32_t version = 0;
  const uint8_t* cid = nullptr;
  size_t off = 0;
  ASSERT_TRUE(parse_gquic_public_header(p.data(), p.size(), version, cid, off));
  EXPECT_EQ(version, 0x51303335u);
  EXPECT_EQ(cid, p.data() + 1);
  EXPECT_EQ(off, 13u);
  p[0] = 0x0c;  // no version flag: a later packet
  EXPECT_FALSE(parse_gquic_public_header(p.data(), p.size(), version, cid, off));
  p[0] = 0x0d;
  p[9] = 'X';
  EXPECT_FALSE(parse_gquic_public_header(p.data(), p.size(), version, cid, off));
}

TEST(Frames, SkipsPaddingPingAckAndCloseAndYieldsCryptoData) {
  Bytes f = {0x00, 0x00, 0x01};
  Bytes ack = {0x03, 0x05, 0x00, 0x01, 0x00, 0x01, 0x01, 0x07, 0x08, 0x09};  // ACK_ECN, 1 range
  test::put(f, ack);
  Bytes a = test::crypto_frame(100, reinterpret_cast<const uint8_t*>("world"), 5);
  Bytes b = test::crypto_frame(0, reinterpret_cast<const uint8_t*>("hello "), 6);
  test::put(f, a);
  test::put(f, b);
  Bytes close = {0x1c, 0x0a, 0x06, 0x02, 'n', 'o'};
  test::put(f, close);
  f.insert(f.end(), 10, 0);
  std::string got;
  Error e =
      for_each_crypto_frame(f.data(), f.size(), [&](uint64_t off, const uint8_t* d, size_t n) {
        got += std::to_string(off) + ":" + std::string(reinterpret_cast<const char*>(d), n) + ";";
      });
  EXPECT_EQ(e, Error::kNone);
  EXPECT_EQ(got, "100:world;0:hello ;");

  Bytes stream = {0x08, 0x00, 0x01, 0x02};  // STREAM is not allowed in Initial packets
  EXPECT_EQ(
      for_each_crypto_frame(stream.data(), stream.size(), [](uint64_t, const uint8_t*, size_t) {}),
      Error::kBadFrame);
  Bytes cut = test::crypto_frame(0, reinterpret_cast<const uint8_t*>("abcdef"), 6);
  EXPECT_EQ(
      for_each_crypto_frame(cut.data(), cut.size() - 1, [](uint64_t, const uint8_t*, size_t) {}),
      Error::kBadFrame);
  Bytes many_ranges = {0x02, 0x00, 0x00, 0x3f, 0x00};
  EXPECT_EQ(for_each_crypto_frame(many_ranges.data(), many_ranges.size(),
                                  [](uint64_t, const uint8_t*, size_t) {}),
            Error::kBadFrame);
}

TEST(ClientHello, ReadsServerNameAlpnVersionsAndTransportParameters) {
  test::HelloSpec spec;
  spec.sni = "www.example.org";
  spec.alpn = {"h3", "h3-29"};
  Bytes m = test::client_hello(spec);
  EXPECT_EQ(handshake_message_size(m.data(), m.size()), m.size());
  Hello h;
  ASSERT_EQ(parse_client_hello(m.data(), m.size(), h), Error::kNone);
  EXPECT_TRUE(h.complete);
  EXPECT_TRUE(h.has_server_name);
  EXPECT_STREQ(h.server_name, "www.example.org");
  EXPECT_TRUE(h.has_alpn);
  EXPECT_STREQ(h.alpn, "h3,h3-29");
  EXPECT_EQ(h.tls_version_max, 0x0304);  // the GREASE 0x3a3a ignored
  EXPECT_STREQ(tls_version_name(h.tls_version_max), "TLSv1.3");
  EXPECT_TRUE(h.transport_parameters);
}

TEST(ClientHello, ReadsWhatACutMessageHolds) {
  test::HelloSpec spec;
  spec.padding_extension = 300;  // the SNI comes first, the padding makes the rest long
  Bytes m = test::client_hello(spec);
  Hello h;
  size_t upto = m.size() - 200;
  ASSERT_EQ(parse_client_hello(m.data(), upto, h), Error::kNone);
  EXPECT_FALSE(h.complete);
  EXPECT_STREQ(h.server_name, "example.com");
  EXPECT_EQ(h.tls_version_max, 0x0304);

  Hello tiny;
  EXPECT_EQ(parse_client_hello(m.data(), 20, tiny), Error::kNone);
  EXPECT_FALSE(tiny.complete);
  EXPECT_FALSE(tiny.has_server_name);
}

TEST(ClientHello, RejectsInconsistentMessages) {
  Bytes m = test::client_hello({});
  Hello h;
  Bytes server_hello = m;
  server_hello[0] = 2;
  EXPECT_EQ(parse_client_hello(server_hello.data(), server_hello.size(), h),
            Error::kBadClientHello);
  // The server_name list length disagrees with its extension.
  Bytes bad = m;
  size_t ext = 4 + 2 + 32 + 1 + 2 + 4 + 2 + 2;  // extensions start after their 2-byte length
  ASSERT_EQ(bad[ext], 0);
  ASSERT_EQ(bad[ext + 1], 0);  // server_name
  bad[ext + 5] ^= 0x40;
  EXPECT_EQ(parse_client_hello(bad.data(), bad.size(), h), Error::kBadClientHello);
}

TEST(ClientHello, MakesNamesPrintable) {
  test::HelloSpec spec;
  spec.sni = std::string("a\x01\xff") + "b";
  Bytes m = test::client_hello(spec);
  Hello h;
  ASSERT_EQ(parse_client_hello(m.data(), m.size(), h), Error::kNone);
  EXPECT_STREQ(h.server_name, "a??b");
}

TEST(Chlo, ReadsSniAndUserAgent) {
  Bytes junk = {0x12, 0x34, 0xa4, 0x01};  // what precedes it in a gQUIC packet
  Bytes m = junk;
  test::put(m, test::chlo("play.google.com", "Chrome/74"));
  Hello h;
  ASSERT_EQ(parse_chlo(m.data(), m.size(), h), Error::kNone);
  EXPECT_TRUE(h.chlo);
  EXPECT_TRUE(h.complete);
  EXPECT_STREQ(h.server_name, "play.google.com");
  EXPECT_STREQ(h.user_agent, "Chrome/74");

  Hello cut;
  ASSERT_EQ(parse_chlo(m.data(), m.size() - 5, cut), Error::kNone);
  EXPECT_FALSE(cut.complete);
  EXPECT_STREQ(cut.server_name, "play.google.com");  // its value arrived whole

  Bytes bad = test::chlo("x", "y");
  bad[8 + 8 + 4] = 1;  // SNI ends before PAD: offsets must not decrease
  Hello b;
  EXPECT_EQ(parse_chlo(bad.data(), bad.size(), b), Error::kBadChlo);

  Hello none;
  Bytes plain = {1, 2, 3, 4, 5, 6};
  EXPECT_EQ(parse_chlo(plain.data(), plain.size(), none), Error::kNone);
  EXPECT_FALSE(none.chlo);
}

}  // namespace
}  // namespace wiremeter::quic

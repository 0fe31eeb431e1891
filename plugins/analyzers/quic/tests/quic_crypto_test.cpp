#include "quic_crypto.hpp"

#include <gtest/gtest.h>

#include "quic_test_util.hpp"

namespace wiremeter::quic {
namespace {

using test::Bytes;
using test::from_hex;
using test::to_hex;

const Bytes kRfcDcid = from_hex("8394c8f03e515708");  // RFC 9001 A.1

TEST(InitialKeys, MatchRfc9001AppendixA1) {
  InitialCrypto c;
  InitialKeys client, server;
  ASSERT_TRUE(c.derive(version_info(1), kRfcDcid.data(), kRfcDcid.size(), false, client));
  ASSERT_TRUE(c.derive(version_info(1), kRfcDcid.data(), kRfcDcid.size(), true, server));
  EXPECT_EQ(to_hex(client.key, 16), "1f369613dd76d5467730efcbe3b1a22d");
  EXPECT_EQ(to_hex(client.iv, 12), "fa044b2f42a3fd3b46fb255c");
  EXPECT_EQ(to_hex(client.hp, 16), "9f50449e04a0e810283a1e9933adedd2");
  EXPECT_EQ(to_hex(server.key, 16), "cf3a5331653c364c88f0f379b6067e37");
  EXPECT_EQ(to_hex(server.iv, 12), "0ac1493ca1905853b0bba03e");
  EXPECT_EQ(to_hex(server.hp, 16), "c206b8d9b9f0f37644430b490eeaa314");
}

TEST(InitialKeys, MatchRfc9369AppendixA1ForVersion2) {
  InitialCrypto c;
  InitialKeys client;
  ASSERT_TRUE(c.derive(version_info(0x6b3343cf), kRfcDcid.data(), kRfcDcid.size(), false, client));
  EXPECT_EQ(to_hex(client.key, 16), "8b1a0bc121284290a29e0971b5cd045d");
  EXPECT_EQ(to_hex(client.iv, 12), "91f73e2351d8fa91660e909f");
  EXPECT_EQ(to_hex(client.hp, 16), "45b95e15235d6f45a6b19cbcb0294ba9");
}

TEST(InitialKeys, NeedASalt) {
  InitialCrypto c;
  InitialKeys k;
  EXPECT_FALSE(c.derive(version_info(0x51303436), kRfcDcid.data(), kRfcDcid.size(), false, k));
  Bytes long_cid(21, 1);
  EXPECT_FALSE(c.derive(version_info(1), long_cid.data(), long_cid.size(), false, k));
}

TEST(HeaderProtection, RemovesTheMaskOfRfc9001AppendixA2) {
  // The protected header of A.2 and the sample that follows it: removing the protection must
  // give back 0xc3 and packet number 2 (the AEAD check then fails on our filler payload).
  Bytes p = from_hex("c000000001088394c8f03e5157080000449e7b9aec34");
  size_t pn_offset = p.size() - 4;
  test::put(p, from_hex("d1b1c98dd7689fb8ec11d242b123dc9b"));
  p.resize(pn_offset + 0x449e, 0);
  InitialCrypto c;
  InitialKeys k;
  ASSERT_TRUE(c.derive(version_info(1), kRfcDcid.data(), kRfcDcid.size(), false, k));
  size_t off = 0, len = 0;
  uint64_t pn = 0;
  EXPECT_EQ(c.decrypt(k, p.data(), p.size(), pn_offset, off, len, pn), Error::kDecryptFailed);
  EXPECT_EQ(p[0], 0xc3);
  EXPECT_EQ(to_hex(p.data() + pn_offset, 4), "00000002");
}

TEST(Decrypt, RoundTripsAndAuthenticates) {
  Bytes hello = test::client_hello({});
  Bytes frames = test::crypto_frame(0, hello.data(), hello.size());
  Bytes dcid = from_hex("0011223344556677"), scid = from_hex("aabb");
  for (uint32_t version : {0x00000001u, 0x6b3343cfu, 0xff00001du, 0xff00001bu, 0x54303531u}) {
    Bytes pkt = test::initial_packet(version, dcid, scid, dcid, 7, frames);
    ASSERT_EQ(pkt.size(), 1200u);
    LongHeader h;
    ASSERT_EQ(parse_long_header(pkt.data(), pkt.size(), h), Error::kNone);
    ASSERT_EQ(h.type, PacketType::kInitial) << std::hex << version;
    InitialCrypto c;
    InitialKeys k;
    ASSERT_TRUE(c.derive(h.version, h.dcid, h.dcid_len, false, k));
    Bytes copy = pkt;
    size_t off = 0, len = 0;
    uint64_t pn = 0;
    ASSERT_EQ(c.decrypt(k, copy.data(), h.packet_len, h.pn_offset, off, len, pn), Error::kNone);
    EXPECT_EQ(pn, 7u);
    EXPECT_EQ(Bytes(copy.begin() + off, copy.begin() + off + frames.size()), frames);

    // One flipped bit anywhere fails authentication; so do the server's keys.
    Bytes flipped = pkt;
    flipped[h.pn_offset + 40] ^= 1;
    EXPECT_EQ(c.decrypt(k, flipped.data(), h.packet_len, h.pn_offset, off, len, pn),
              Error::kDecryptFailed);
    InitialKeys server;
    ASSERT_TRUE(c.derive(h.version, h.dcid, h.dcid_len, true, server));
    copy = pkt;
    EXPECT_EQ(c.decrypt(server, copy.data(), h.packet_len, h.pn_offset, off, len, pn),
              Error::kDecryptFailed);
  }
}

TEST(Decrypt, NeedsRoomForSampleAndTag) {
  InitialCrypto c;
  InitialKeys k;
  Bytes p(30, 0);
  size_t off = 0, len = 0;
  uint64_t pn = 0;
  EXPECT_EQ(c.decrypt(k, p.data(), p.size(), 12, off, len, pn), Error::kTooShortToDecrypt);
  EXPECT_EQ(c.decrypt(k, p.data(), p.size(), 40, off, len, pn), Error::kTooShortToDecrypt);
}

}  // namespace
}  // namespace wiremeter::quic

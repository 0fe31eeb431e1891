// Unit tests of RTP parsing, loss and jitter accounting, and the E-model.
#include "voip_rtp.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace wiremeter::voip {
namespace {

std::vector<uint8_t> rtp(uint8_t pt, uint16_t seq, uint32_t ts, uint32_t ssrc,
                         size_t payload = 160) {
  std::vector<uint8_t> b = {0x80,
                            pt,
                            static_cast<uint8_t>(seq >> 8),
                            static_cast<uint8_t>(seq),
                            static_cast<uint8_t>(ts >> 24),
                            static_cast<uint8_t>(ts >> 16),
                            static_cast<uint8_t>(ts >> 8),
                            static_cast<uint8_t>(ts),
                            static_cast<uint8_t>(ssrc >> 24),
                            static_cast<uint8_t>(ssrc >> 16),
                            static_cast<uint8_t>(ssrc >> 8),
                            static_cast<uint8_t>(ssrc)};
  b.resize(12 + payload, 0xd5);
  return b;
}

RtpHeader header(uint16_t seq, uint32_t ts = 0, bool marker = false) {
  RtpHeader h;
  h.payload_type = 8;
  h.seq = seq;
  h.timestamp = ts;
  h.marker = marker;
  return h;
}

TEST(RtpParser, ReadsTheHeaderAndChecksItsLengths) {
  auto p = rtp(0x88, 28590, 1240, 0x3796CB71);  // marker + PCMA
  RtpHeader h;
  ASSERT_TRUE(parse_rtp(p.data(), p.size(), h));
  EXPECT_TRUE(h.marker);
  EXPECT_EQ(h.payload_type, 8);
  EXPECT_EQ(h.seq, 28590);
  EXPECT_EQ(h.timestamp, 1240u);
  EXPECT_EQ(h.ssrc, 0x3796CB71u);
  EXPECT_EQ(h.header_len, 12);

  p[0] = 0x82;  // two CSRCs: 8 more bytes
  ASSERT_TRUE(parse_rtp(p.data(), p.size(), h));
  EXPECT_EQ(h.header_len, 20);
  EXPECT_FALSE(parse_rtp(p.data(), 19, h));
  p[0] = 0x90;  // extension of 2 words
  p[12] = 0xbe;
  p[13] = 0xde;
  p[14] = 0;
  p[15] = 2;
  ASSERT_TRUE(parse_rtp(p.data(), p.size(), h));
  EXPECT_EQ(h.header_len, 24);
  p[15] = 200;  // 800 bytes of extension in a 172-byte packet
  EXPECT_FALSE(parse_rtp(p.data(), p.size(), h));
  p[0] = 0xa0;  // padding: the last byte counts it
  p.back() = 0;
  EXPECT_FALSE(parse_rtp(p.data(), p.size(), h));
  p.back() = 4;
  EXPECT_TRUE(parse_rtp(p.data(), p.size(), h));

  auto rtcp = rtp(200, 0, 0, 1);  // a sender report multiplexed on the port
  EXPECT_FALSE(parse_rtp(rtcp.data(), rtcp.size(), h));
  auto v1 = rtp(0, 1, 1, 1);
  v1[0] = 0x40;
  EXPECT_FALSE(parse_rtp(v1.data(), v1.size(), h));
  EXPECT_FALSE(parse_rtp(v1.data(), 11, h));
}

TEST(RtpStats, CountsLossDuplicatesAndReordering) {
  RtpStats s;
  for (uint16_t seq : {100, 101, 103, 102, 102, 104, 107, 108}) s.update(header(seq), 0, 0);
  EXPECT_EQ(s.packets, 8u);
  EXPECT_EQ(s.expected(), 9u);  // 100..108
  EXPECT_EQ(s.lost(), 1);       // 105 and 106 missing, one duplicate
  EXPECT_EQ(s.duplicates, 1u);
  EXPECT_EQ(s.out_of_order, 1u);  // 102 after 103
  EXPECT_NEAR(s.loss_percent(), 100.0 / 9.0, 1e-9);
}

TEST(RtpStats, FollowsSequenceWrapAndRestarts) {
  RtpStats s;
  for (uint32_t i = 0; i < 10; ++i) s.update(header(static_cast<uint16_t>(65530 + i)), 0, 0);
  EXPECT_EQ(s.expected(), 10u);
  EXPECT_EQ(s.lost(), 0);
  // A single wild number is an outlier: counted, but it does not move the numbering.
  s.update(header(30000), 0, 0);
  s.update(header(4), 0, 0);
  EXPECT_EQ(s.restarts, 0u);
  EXPECT_EQ(s.expected(), 11u);
  // Two consecutive ones are a restart of the sender's numbering.
  s.update(header(20000), 0, 0);
  s.update(header(20001), 0, 0);
  s.update(header(20002), 0, 0);
  EXPECT_EQ(s.restarts, 1u);
  EXPECT_EQ(s.packets, 15u);  // the outlier 30000 counted, not expected
  EXPECT_EQ(s.expected(), 11u + 3u);
}

TEST(RtpStats, JitterMatchesRfc3550AndTsharkOnSipPcap) {
  // The 9 PCMA packets of nDPI's sip.pcap (arrival time, timestamp); tshark -z rtp,streams
  // reports mean jitter 5.646 ms and max 7.799 ms.
  const std::pair<uint64_t, uint32_t> packets[] = {
      {1120470985348411000ull, 1240}, {1120470985418358000ull, 1400},
      {1120470985421891000ull, 1560}, {1120470985427557000ull, 1720},
      {1120470985429664000ull, 1880}, {1120470985464477000ull, 2040},
      {1120470985466372000ull, 2200}, {1120470985504000000ull, 2360},
      {1120470985511036000ull, 2520}};
  RtpStats s;
  uint16_t seq = 28590;
  for (auto [arrival, ts] : packets) s.update(header(seq++, ts), arrival, 8000);
  EXPECT_NEAR(s.max_jitter_ms, 7.799, 0.0005);
  EXPECT_NEAR(s.mean_jitter_ms(), 5.646, 0.0005);
  EXPECT_EQ(s.jitter_samples, 8u);
  // First step by hand: D = 69.947 ms - 20 ms, J = 49.947 / 16.
  RtpStats two;
  two.update(header(1, 1240), packets[0].first, 8000);
  two.update(header(2, 1400), packets[1].first, 8000);
  EXPECT_NEAR(two.jitter_ms, 49.947 / 16.0, 1e-9);
}

TEST(RtpStats, MarkerPacketsStayOutOfMeanAndMax) {
  RtpStats s;
  s.update(header(1, 0), 0, 8000);
  s.update(header(2, 160, true), 100'000'000, 8000);  // 80 ms late, but starts a talkspurt
  EXPECT_NEAR(s.jitter_ms, 80.0 / 16.0, 1e-9);
  EXPECT_EQ(s.max_jitter_ms, 0.0);
  EXPECT_EQ(s.jitter_samples, 0u);
}

TEST(Emodel, FollowsG107AndG113) {
  EmodelParams g711, g729, g722, none;
  ASSERT_TRUE(emodel_params(Codec::kPcmu, g711));
  ASSERT_TRUE(emodel_params(Codec::kG729, g729));
  ASSERT_TRUE(emodel_params(Codec::kG722, g722));
  EXPECT_FALSE(emodel_params(Codec::kOpus, none));
  // G.711, no loss, 20 ms packets, no jitter: d = 20, R = 93.2 - 0.48.
  Quality q = estimate_quality(g711, 0, 20, 0);
  EXPECT_DOUBLE_EQ(q.delay_ms, 20.0);
  EXPECT_NEAR(q.r, 92.72, 1e-9);
  EXPECT_NEAR(q.mos, 1 + 0.035 * 92.72 + 92.72 * 32.72 * 7.28 * 7e-6, 1e-9);
  // G.729, 1 % loss, 20 ms, 5 ms max jitter: d = 20 + 15 + 10 = 45;
  // Ie_eff = 11 + 84 * 1 / (1 + 19) = 15.2; R = 93.2 - 1.08 - 15.2.
  q = estimate_quality(g729, 1.0, 20, 5);
  EXPECT_DOUBLE_EQ(q.delay_ms, 45.0);
  EXPECT_NEAR(q.r, 76.92, 1e-9);
  // Past 177.3 ms the delay costs more: d = 200 -> Id = 4.8 + 0.11 * 22.7.
  q = estimate_quality(g711, 0, 20, 90);
  EXPECT_NEAR(q.r, 93.2 - 4.8 - 0.11 * 22.7, 1e-9);
  // 10 % loss on G.711: Ie_eff = 95 * 10 / 35.1.
  q = estimate_quality(g711, 10, 20, 0);
  EXPECT_NEAR(q.r, 93.2 - 0.48 - 950.0 / 35.1, 1e-9);
  EXPECT_EQ(r_to_mos(-5), 1.0);
  EXPECT_EQ(r_to_mos(120), 4.5);
  EXPECT_NEAR(r_to_mos(50), 1 + 1.75 + 50 * -10 * 50 * 7e-6, 1e-12);
}

}  // namespace
}  // namespace wiremeter::voip

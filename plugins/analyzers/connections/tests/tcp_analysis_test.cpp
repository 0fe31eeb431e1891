// connections: TCP analysis of crafted segment sequences (state, history, handshake RTT,
// retransmissions, reordering, wrap-around, zero window, resets) and header parsing.
#include "tcp_analysis.hpp"

#include <gtest/gtest.h>

#include "flow_fixture.hpp"

namespace wiremeter::connections::testing {
namespace {

// Drives analyze_segment with hand-made segments.
class Conn {
 public:
  SegmentEvents seg(uint8_t dir, uint8_t flags, uint32_t seq, uint32_t payload, uint64_t ts,
                    uint16_t window = 65535, uint32_t ack = 0) {
    Segment s{ts, seq, ack, payload, window, flags, dir};
    return analyze_segment(stats, track, s);
  }
  std::string history() const { return history_string(stats); }

  TcpStats stats{};
  TcpTracking track{};
};

// Client ISN 1000, server ISN 5000; returns after the three-way handshake.
Conn handshake(uint64_t syn_to_synack = 3 * kMs, uint64_t synack_to_ack = 1 * kMs) {
  Conn c;
  c.seg(kFwd, kTcpSyn, 1000, 0, kT0);
  c.seg(kRev, kTcpSyn | kTcpAck, 5000, 0, kT0 + syn_to_synack);
  c.seg(kFwd, kTcpAck, 1001, 0, kT0 + syn_to_synack + synack_to_ack);
  return c;
}

TEST(TcpAnalysis, HandshakeRttFromPacketTimestamps) {
  Conn c;
  EXPECT_FALSE(c.seg(kFwd, kTcpSyn, 1000, 0, kT0).handshake_done);
  EXPECT_EQ(c.stats.state, TcpState::kSynSent);
  EXPECT_FALSE(c.seg(kRev, kTcpSyn | kTcpAck, 5000, 0, kT0 + 3 * kMs).handshake_done);
  EXPECT_EQ(c.stats.state, TcpState::kSynReceived);
  EXPECT_TRUE(c.seg(kFwd, kTcpAck, 1001, 0, kT0 + 4 * kMs + 250'000).handshake_done);
  EXPECT_EQ(c.stats.state, TcpState::kEstablished);
  EXPECT_EQ(c.stats.rtt_syn_us, 3000u);
  EXPECT_EQ(c.stats.rtt_ack_us, 1250u);
  EXPECT_TRUE(c.stats.has_handshake_rtt());
  EXPECT_EQ(c.stats.handshake_us(), 4250u);
  // Later ACKs do not measure again.
  EXPECT_FALSE(c.seg(kFwd, kTcpAck, 1001, 0, kT0 + 9 * kMs).handshake_done);
  EXPECT_EQ(c.stats.rtt_ack_us, 1250u);
}

TEST(TcpAnalysis, RetriedSynRestartsTheClock) {
  Conn c;
  c.seg(kFwd, kTcpSyn, 1000, 0, kT0);
  EXPECT_TRUE(c.seg(kFwd, kTcpSyn, 1000, 0, kT0 + 1000 * kMs).retransmission);
  c.seg(kRev, kTcpSyn | kTcpAck, 5000, 0, kT0 + 1002 * kMs);
  c.seg(kRev, kTcpSyn | kTcpAck, 5000, 0, kT0 + 2002 * kMs);  // retried too
  c.seg(kFwd, kTcpAck, 1001, 0, kT0 + 2003 * kMs);
  // The round trip, not the SYN timeout (which shows as a retransmission instead).
  EXPECT_EQ(c.stats.rtt_syn_us, 2000u);
  EXPECT_EQ(c.stats.rtt_ack_us, 1000u);
  EXPECT_EQ(c.stats.retx_packets, 2u);
  EXPECT_EQ(c.stats.retx_bytes, 0u);  // SYNs carry no payload
  EXPECT_EQ(c.history(), "SThtA");
  // A late duplicate SYN changes nothing.
  c.seg(kFwd, kTcpSyn, 1000, 0, kT0 + 2004 * kMs);
  EXPECT_EQ(c.stats.rtt_syn_us, 2000u);
}

TEST(TcpAnalysis, HistoryOfACompleteConnection) {
  Conn c = handshake();
  c.seg(kFwd, kTcpAck | kTcpPsh, 1001, 100, kT0 + 5 * kMs);
  c.seg(kRev, kTcpAck, 5001, 0, kT0 + 6 * kMs);
  c.seg(kRev, kTcpAck | kTcpPsh, 5001, 500, kT0 + 7 * kMs);
  c.seg(kFwd, kTcpAck, 1101, 0, kT0 + 8 * kMs);
  c.seg(kFwd, kTcpAck | kTcpFin, 1101, 0, kT0 + 9 * kMs);
  EXPECT_EQ(c.stats.state, TcpState::kClosing);
  c.seg(kRev, kTcpAck | kTcpFin, 5501, 0, kT0 + 10 * kMs);
  EXPECT_EQ(c.stats.state, TcpState::kClosed);
  EXPECT_EQ(c.history(), "ShADadFf");
  EXPECT_EQ(history_string(c.stats, /*flip=*/true), "sHadADfF");
  EXPECT_EQ(c.stats.retx_packets, 0u);
  EXPECT_EQ(c.stats.out_of_order, 0u);
}

TEST(TcpAnalysis, HistoryIsBounded) {
  Conn c = handshake();
  // Every letter in both directions: still 16 events, each once.
  for (int round = 0; round < 3; ++round) {
    for (uint8_t dir : {kFwd, kRev}) {
      uint32_t base = dir == kFwd ? 1001 : 5001;
      c.seg(dir, kTcpAck, base, 10, kT0 + 10 * kMs);
      c.seg(dir, kTcpAck, base, 10, kT0 + 20 * kMs);  // retransmission
      c.seg(dir, kTcpAck, base + 10, 0, kT0 + 21 * kMs, /*window=*/0);
      c.seg(dir, kTcpFin | kTcpAck, base + 10, 0, kT0 + 22 * kMs);
      c.seg(dir, kTcpRst, base + 11, 0, kT0 + 23 * kMs);
    }
  }
  EXPECT_EQ(c.history(), "ShADTWFRdtawfr");
  EXPECT_LE(c.history().size(), 16u);
}

TEST(TcpAnalysis, RetransmissionOfASeenRange) {
  Conn c = handshake();
  c.seg(kFwd, kTcpAck, 1001, 100, kT0 + 10 * kMs);
  c.seg(kFwd, kTcpAck, 1101, 100, kT0 + 11 * kMs);
  EXPECT_TRUE(c.seg(kFwd, kTcpAck, 1001, 100, kT0 + 300 * kMs).retransmission);
  // Partly seen, partly new: still a retransmission, and the new part advances the stream.
  EXPECT_TRUE(c.seg(kFwd, kTcpAck, 1151, 100, kT0 + 301 * kMs).retransmission);
  EXPECT_FALSE(c.seg(kFwd, kTcpAck, 1251, 100, kT0 + 302 * kMs).retransmission);
  EXPECT_EQ(c.stats.retx_packets, 2u);
  EXPECT_EQ(c.stats.retx_bytes, 200u);
  EXPECT_EQ(c.stats.out_of_order, 0u);
  EXPECT_EQ(c.history(), "ShADT");
  // A duplicate in the other direction counts too, separately tracked.
  c.seg(kRev, kTcpAck, 5001, 40, kT0 + 303 * kMs);
  EXPECT_TRUE(c.seg(kRev, kTcpAck, 5001, 40, kT0 + 304 * kMs).retransmission);
  EXPECT_EQ(c.history(), "ShADTdt");
}

TEST(TcpAnalysis, ReorderedSegmentIsOutOfOrderNotRetransmission) {
  Conn c = handshake();  // handshake RTT 4 ms
  c.seg(kFwd, kTcpAck, 1001, 100, kT0 + 10 * kMs);
  c.seg(kFwd, kTcpAck, 1201, 100, kT0 + 10 * kMs + 100'000);  // 1101..1200 missing
  EXPECT_FALSE(c.seg(kFwd, kTcpAck, 1101, 100, kT0 + 10 * kMs + 300'000).retransmission);
  EXPECT_EQ(c.stats.out_of_order, 1u);
  EXPECT_EQ(c.stats.retx_packets, 0u);
  // The gap is filled now: the same range again is a retransmission.
  EXPECT_TRUE(c.seg(kFwd, kTcpAck, 1101, 100, kT0 + 50 * kMs).retransmission);
  EXPECT_EQ(c.stats.out_of_order, 1u);
}

TEST(TcpAnalysis, LateGapFillIsARetransmissionOfWhatWasLostUpstream) {
  Conn c = handshake();  // handshake RTT 4 ms
  c.seg(kFwd, kTcpAck, 1001, 100, kT0 + 10 * kMs);
  c.seg(kFwd, kTcpAck, 1201, 100, kT0 + 11 * kMs);
  EXPECT_TRUE(c.seg(kFwd, kTcpAck, 1101, 100, kT0 + 211 * kMs).retransmission);
  EXPECT_EQ(c.stats.out_of_order, 0u);
  EXPECT_EQ(c.stats.retx_packets, 1u);
  EXPECT_EQ(c.stats.retx_bytes, 100u);
}

TEST(TcpAnalysis, GapFilledInPieces) {
  Conn c = handshake();
  c.seg(kFwd, kTcpAck, 1001, 100, kT0 + 10 * kMs);
  c.seg(kFwd, kTcpAck, 1401, 100, kT0 + 10 * kMs);           // 1101..1400 missing
  c.seg(kFwd, kTcpAck, 1101, 100, kT0 + 10 * kMs + 10'000);  // from below
  c.seg(kFwd, kTcpAck, 1301, 100, kT0 + 10 * kMs + 20'000);  // from above
  c.seg(kFwd, kTcpAck, 1201, 100, kT0 + 10 * kMs + 30'000);  // the middle
  EXPECT_EQ(c.stats.out_of_order, 3u);
  EXPECT_EQ(c.stats.retx_packets, 0u);
  EXPECT_TRUE(c.seg(kFwd, kTcpAck, 1201, 100, kT0 + 10 * kMs + 40'000).retransmission);
}

TEST(TcpAnalysis, SequenceNumbersWrapAround) {
  Conn c;
  uint32_t isn = 0xffffff00u;
  c.seg(kFwd, kTcpSyn, isn, 0, kT0);
  c.seg(kRev, kTcpSyn | kTcpAck, 7, 0, kT0 + kMs);
  c.seg(kFwd, kTcpAck, isn + 1, 0, kT0 + 2 * kMs);
  EXPECT_FALSE(c.seg(kFwd, kTcpAck, isn + 1, 0x80, kT0 + 3 * kMs).retransmission);
  EXPECT_FALSE(c.seg(kFwd, kTcpAck, isn + 0x81, 0x100, kT0 + 4 * kMs).retransmission);  // wraps
  EXPECT_FALSE(c.seg(kFwd, kTcpAck, 0x81, 0x100, kT0 + 5 * kMs).retransmission);        // past 0
  EXPECT_EQ(c.stats.retx_packets, 0u);
  EXPECT_TRUE(c.seg(kFwd, kTcpAck, isn + 0x81, 0x100, kT0 + 300 * kMs).retransmission);
  EXPECT_EQ(c.stats.retx_bytes, 0x100u);
  EXPECT_EQ(c.stats.out_of_order, 0u);
}

TEST(TcpAnalysis, KeepAliveIsNotARetransmission) {
  Conn c = handshake();
  c.seg(kFwd, kTcpAck, 1001, 100, kT0 + 10 * kMs);
  EXPECT_FALSE(c.seg(kFwd, kTcpAck, 1100, 0, kT0 + 60'000 * kMs).retransmission);
  EXPECT_FALSE(c.seg(kFwd, kTcpAck, 1100, 1, kT0 + 120'000 * kMs).retransmission);
  EXPECT_EQ(c.stats.retx_packets, 0u);
}

TEST(TcpAnalysis, ZeroWindowAdvertisements) {
  Conn c = handshake();
  c.seg(kRev, kTcpAck, 5001, 0, kT0 + 10 * kMs, /*window=*/0);
  c.seg(kRev, kTcpAck, 5001, 0, kT0 + 20 * kMs, /*window=*/0);
  c.seg(kRev, kTcpAck, 5001, 0, kT0 + 30 * kMs, /*window=*/1024);
  c.seg(kRev, kTcpRst, 5001, 0, kT0 + 40 * kMs, /*window=*/0);  // RSTs often say 0: not counted
  EXPECT_EQ(c.stats.zero_window, 2u);
  EXPECT_EQ(c.history(), "ShAawr");
}

TEST(TcpAnalysis, ResetEndsTheConnection) {
  Conn c;
  c.seg(kFwd, kTcpSyn, 1000, 0, kT0);
  SegmentEvents ev = c.seg(kRev, kTcpRst | kTcpAck, 0, 0, kT0 + kMs);
  EXPECT_TRUE(ev.reset);
  EXPECT_EQ(c.stats.state, TcpState::kReset);
  EXPECT_EQ(c.stats.resets, 1u);
  EXPECT_EQ(c.history(), "Sr");
  c.seg(kFwd, kTcpAck, 1001, 0, kT0 + 2 * kMs);
  EXPECT_EQ(c.stats.state, TcpState::kReset);  // late segments do not revive it
  c.seg(kFwd, kTcpRst, 1001, 0, kT0 + 3 * kMs);
  EXPECT_EQ(c.stats.resets, 2u);
  EXPECT_EQ(c.history(), "SrAR");
}

TEST(TcpAnalysis, MidstreamPickup) {
  Conn c;
  c.seg(kFwd, kTcpAck | kTcpPsh, 77, 1000, kT0);
  c.seg(kRev, kTcpAck, 99, 0, kT0 + kMs);
  EXPECT_EQ(c.stats.state, TcpState::kEstablished);
  EXPECT_FALSE(c.stats.flags & (kHaveRttSyn | kHaveRttAck));
  EXPECT_EQ(c.history(), "Da");
  EXPECT_TRUE(c.seg(kFwd, kTcpAck | kTcpPsh, 77, 1000, kT0 + 500 * kMs).retransmission);
}

TEST(TcpAnalysis, NewSynOnAReusedTupleStartsOver) {
  Conn c = handshake();
  c.seg(kFwd, kTcpAck, 1001, 100, kT0 + 10 * kMs);
  EXPECT_FALSE(c.seg(kFwd, kTcpSyn, 900'000, 0, kT0 + 5000 * kMs).retransmission);
  EXPECT_FALSE(c.seg(kFwd, kTcpAck, 900'001, 100, kT0 + 5001 * kMs).retransmission);
  EXPECT_EQ(c.stats.retx_packets, 0u);
}

TEST(TcpAnalysis, ParsesTheHeaderAndTakesLengthsFromIp) {
  FakeFlow f("198.18.0.1", 40000, "198.18.0.2", 443);
  auto p = f.tcp(WM_DIR_REVERSE, kTcpAck | kTcpPsh, 0x01020304, 0xa0b0c0d0, 300, 42, 0);
  Segment s;
  ASSERT_TRUE(parse_segment(p.view, s));
  EXPECT_EQ(s.seq, 0x01020304u);
  EXPECT_EQ(s.ack, 0xa0b0c0d0u);
  EXPECT_EQ(s.payload, 300u);
  EXPECT_EQ(s.window, 0u);
  EXPECT_EQ(s.flags, kTcpAck | kTcpPsh);
  EXPECT_EQ(s.dir, WM_DIR_REVERSE);
  EXPECT_EQ(s.ts_ns, 42u);

  // Cut by the snaplen: the IP header still says 300 payload bytes.
  p.view.cap_len = p.view.l4_off + 20 + 10;
  ASSERT_TRUE(parse_segment(p.view, s));
  EXPECT_EQ(s.payload, 300u);

  // Ethernet padding of a minimum-size frame is not payload.
  auto ack = f.tcp(WM_DIR_FORWARD, kTcpAck, 1, 1, 0, 43);
  ASSERT_GT(ack.view.cap_len, ack.view.l4_off + 20u);  // padded to 60 bytes
  ASSERT_TRUE(parse_segment(ack.view, s));
  EXPECT_EQ(s.payload, 0u);

  FakeFlow v6("2001:db8::1", 40000, "2001:db8::2", 80);
  auto p6 = v6.tcp(WM_DIR_FORWARD, kTcpSyn, 7, 0, 12, 44);
  ASSERT_TRUE(parse_segment(p6.view, s));
  EXPECT_EQ(s.payload, 12u);
  EXPECT_EQ(s.seq, 7u);
}

TEST(TcpAnalysis, RejectsIncompleteHeaders) {
  FakeFlow f("198.18.0.1", 40000, "198.18.0.2", 443);
  auto p = f.tcp(WM_DIR_FORWARD, kTcpAck, 1, 1, 0, 1);
  Segment s;
  wm_packet cut = p.view;
  cut.cap_len = cut.l4_off + 19;
  EXPECT_FALSE(parse_segment(cut, s));
  wm_packet bad = p.view;
  bad.decode_error = 9;
  EXPECT_FALSE(parse_segment(bad, s));
  auto u = f.udp(WM_DIR_FORWARD, 10, 2);
  EXPECT_FALSE(parse_segment(u.view, s));
}

}  // namespace
}  // namespace wiremeter::connections::testing

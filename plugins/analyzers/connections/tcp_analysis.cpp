// connections: TCP state, history, handshake RTT and sequence analysis of one flow.
#include "tcp_analysis.hpp"

namespace wiremeter::connections {
namespace {

constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kAck = 0x10;
constexpr uint8_t kProtoTcp = 6;

inline uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
inline uint32_t be32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
         static_cast<uint32_t>(p[2]) << 8 | p[3];
}

// Serial-number arithmetic (RFC 1982): a - b as a signed distance, correct across wrap-around.
inline int32_t seq_diff(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b); }
inline bool seq_before(uint32_t a, uint32_t b) { return seq_diff(a, b) < 0; }

// A jump this far ahead is not a gap a sender could open (windows are at most 1 GiB): the
// tracker resynchronizes instead of remembering a hole it can never fill.
constexpr int32_t kMaxGap = 1 << 30;

uint32_t clamp_us(uint64_t ns) {
  uint64_t us = ns / 1000;
  return us > UINT32_MAX ? UINT32_MAX : static_cast<uint32_t>(us);
}

void add_history(TcpStats& s, HistoryEvent e, uint8_t dir) {
  unsigned code = e | (dir & 1u) << 3;
  if (s.history_seen & (1u << code)) return;
  // 8 letters x 2 directions, each at most once: 16 nibbles always fit in 64 bits.
  unsigned n = static_cast<unsigned>(__builtin_popcount(s.history_seen));
  s.history |= static_cast<uint64_t>(code) << (4 * n);
  s.history_seen = static_cast<uint16_t>(s.history_seen | 1u << code);
}

void update_history(TcpStats& s, const Segment& seg) {
  int special = ((seg.flags & kSyn) != 0) + ((seg.flags & kFin) != 0) + ((seg.flags & kRst) != 0);
  if (special == 1) {
    if (seg.flags & kSyn) add_history(s, (seg.flags & kAck) ? kHistSynAck : kHistSyn, seg.dir);
    if (seg.flags & kFin) add_history(s, kHistFin, seg.dir);
    if (seg.flags & kRst) add_history(s, kHistRst, seg.dir);
  } else if (special == 0) {
    if (seg.payload) {
      add_history(s, kHistData, seg.dir);
    } else if (seg.flags & kAck) {
      add_history(s, kHistAck, seg.dir);
    }
  }
}

void update_state(TcpStats& s, const Segment& seg) {
  if (seg.flags & kRst) {
    s.state = TcpState::kReset;
    return;
  }
  if (s.state == TcpState::kReset) return;  // a late segment does not revive the connection
  bool syn = seg.flags & kSyn, ack = seg.flags & kAck;
  bool reverse = seg.dir == WM_DIR_REVERSE;
  if (syn && !ack) {
    if (s.state == TcpState::kNone) s.state = TcpState::kSynSent;
  } else if (syn) {
    if (s.state == TcpState::kNone || s.state == TcpState::kSynSent) {
      s.state = TcpState::kSynReceived;
    }
  } else if (s.state == TcpState::kNone) {
    s.state = TcpState::kEstablished;  // picked up in the middle
  } else if (s.state == TcpState::kSynSent && ack) {
    s.state = TcpState::kEstablished;  // the SYN/ACK was not captured
  } else if (s.state == TcpState::kSynReceived && ack &&
             reverse != ((s.flags & kSynAckFromReverse) != 0)) {
    s.state = TcpState::kEstablished;
  }
  if (seg.flags & kFin) {
    s.flags |= reverse ? kFinReverse : kFinForward;
    bool both = (s.flags & kFinForward) && (s.flags & kFinReverse);
    s.state = both ? TcpState::kClosed : TcpState::kClosing;
  }
}

// Returns true when this segment completed the handshake measurement. Each leg runs from the
// most recent SYN (or SYN/ACK) to its answer, as Wireshark's iRTT does: a retried SYN restarts
// the clock, so SYN timeouts show up as retransmissions, not as seconds of "RTT".
bool update_handshake(TcpStats& s, TcpTracking& t, const Segment& seg) {
  bool syn = seg.flags & kSyn, ack = seg.flags & kAck, rst = seg.flags & kRst;
  bool reverse = seg.dir == WM_DIR_REVERSE;
  if (rst || (s.flags & kHaveRttAck)) return false;
  if (syn && !ack) {
    if (s.flags & kSawSynAck) return false;  // a late duplicate of the SYN
    if (!(s.flags & kSawSyn)) s.flags |= kSawSyn | (reverse ? kSynFromReverse : 0);
    if (reverse == ((s.flags & kSynFromReverse) != 0)) t.handshake_step_ns = seg.ts_ns;
    return false;
  }
  if (syn) {
    if (!(s.flags & kSawSynAck)) {
      s.flags |= kSawSynAck | (reverse ? kSynAckFromReverse : 0);
      if ((s.flags & kSawSyn) && reverse != ((s.flags & kSynFromReverse) != 0)) {
        s.rtt_syn_us =
            clamp_us(seg.ts_ns > t.handshake_step_ns ? seg.ts_ns - t.handshake_step_ns : 0);
        s.flags |= kHaveRttSyn;
      }
    } else if (reverse != ((s.flags & kSynAckFromReverse) != 0)) {
      return false;  // a SYN/ACK from the other side too: simultaneous open, keep the first
    }
    t.handshake_step_ns = seg.ts_ns;
    return false;
  }
  if (!ack || !(s.flags & kSawSynAck)) return false;
  // The first ACK from the other side after the SYN/ACK completes the handshake (it may
  // already carry data).
  if (reverse == ((s.flags & kSynAckFromReverse) != 0)) return false;
  s.rtt_ack_us = clamp_us(seg.ts_ns > t.handshake_step_ns ? seg.ts_ns - t.handshake_step_ns : 0);
  s.flags |= kHaveRttAck;
  return s.flags & kHaveRttSyn;
}

// Sequence analysis. Returns true for a retransmission.
bool update_sequence(TcpStats& s, TcpTracking& t, const Segment& seg) {
  if (seg.flags & kRst) return false;  // a RST's sequence number carries no data
  uint32_t syn = (seg.flags & kSyn) ? 1 : 0, fin = (seg.flags & kFin) ? 1 : 0;
  uint32_t span = seg.payload + syn + fin;  // sequence space the segment occupies
  uint16_t valid_bit = seg.dir == WM_DIR_REVERSE ? kSeqReverse : kSeqForward;
  SeqTrack& d = t.dir[seg.dir & 1];
  uint32_t end = seg.seq + span;
  if (!(s.flags & valid_bit)) {
    if (span == 0) return false;  // a pure ACK has no sequence number of its own to trust
    s.flags |= valid_bit;
    d = SeqTrack{end, 0, 0, 0};
    return false;
  }
  if (span == 0) return false;  // pure ACKs and window updates do not advance the stream
  int32_t ahead = seq_diff(seg.seq, d.next_seq);
  if (syn && end != d.next_seq) {
    // A SYN with another initial sequence number: the 5-tuple was reused for a new connection.
    d = SeqTrack{end, 0, 0, 0};
    return false;
  }
  uint32_t now = static_cast<uint32_t>(seg.ts_ns >> 10);
  if (ahead == 0) {
    d.next_seq = end;
    return false;
  }
  if (ahead > 0) {
    if (ahead >= kMaxGap) {
      d = SeqTrack{end, 0, 0, 0};
      return false;
    }
    // A gap: segments were lost before the capture point, or are still on their way.
    if (d.hole_lo == d.hole_hi) {
      d.hole_lo = d.next_seq;
      d.hole_time = now;
    }
    // With an older hole still open, the two merge: one window of loss is one episode.
    d.hole_hi = seg.seq;
    d.next_seq = end;
    return false;
  }
  // Below next_seq. A keep-alive probe repeats the last byte (or nothing) on purpose.
  if (seg.payload <= 1 && !syn && !fin && seg.seq == d.next_seq - 1) return false;
  bool retransmission;
  bool in_hole =
      d.hole_lo != d.hole_hi && seq_before(seg.seq, d.hole_hi) && seq_before(d.hole_lo, end);
  if (in_hole) {
    // Filling a gap: reordering if it arrives soon after the gap opened (within the handshake
    // RTT, as Wireshark decides), else the sender retransmitted what was lost upstream.
    uint64_t window_ns = s.has_handshake_rtt() ? s.handshake_us() * 1000 : kDefaultReorderWindowNs;
    uint64_t age_ns = static_cast<uint64_t>(now - d.hole_time) << 10;
    retransmission = age_ns > window_ns;
    if (!retransmission) ++s.out_of_order;
    if (!seq_before(d.hole_lo, seg.seq)) {
      d.hole_lo = seq_before(end, d.hole_hi) ? end : d.hole_hi;  // filled from below
    } else {
      d.hole_hi = seg.seq;  // filled from above or in the middle: keep the lower part
    }
  } else {
    retransmission = true;  // every byte of it was seen before
  }
  if (retransmission) {
    ++s.retx_packets;
    s.retx_bytes += seg.payload;
  }
  if (seq_before(d.next_seq, end)) d.next_seq = end;  // it also carried new data
  return retransmission;
}

}  // namespace

const char* state_name(TcpState s) {
  switch (s) {
    case TcpState::kNone:
      return "none";
    case TcpState::kSynSent:
      return "syn_sent";
    case TcpState::kSynReceived:
      return "syn_received";
    case TcpState::kEstablished:
      return "established";
    case TcpState::kClosing:
      return "closing";
    case TcpState::kClosed:
      return "closed";
    case TcpState::kReset:
      return "reset";
  }
  return "none";
}

std::string history_string(const TcpStats& s, bool flip) {
  std::string out;
  unsigned n = static_cast<unsigned>(__builtin_popcount(s.history_seen));
  for (unsigned i = 0; i < n; ++i) {
    unsigned code = static_cast<unsigned>(s.history >> (4 * i)) & 0xf;
    char c = kHistoryLetters[code & 7];
    bool responder = ((code >> 3) != 0) != flip;
    out.push_back(responder ? static_cast<char>(c - 'A' + 'a') : c);
  }
  return out;
}

bool parse_segment(const wm_packet& p, Segment& out) {
  if (p.l4_proto != kProtoTcp || !(p.flags & WM_PKT_L4) || p.decode_error != 0) return false;
  if (p.l4_off == 0 || p.cap_len < p.l4_off || p.cap_len - p.l4_off < 20) return false;
  const uint8_t* tcp = p.data + p.l4_off;
  uint32_t hlen = (tcp[12] >> 4) * 4u;
  if (hlen < 20) return false;
  // The segment's length comes from the IP header, so that a capture cut by its snaplen still
  // advances the sequence numbers correctly, and Ethernet padding never counts.
  uint32_t ip_end = p.cap_len;
  if (p.ip_version == 4 && p.l3_off + 4u <= p.cap_len) {
    uint32_t total = be16(p.data + p.l3_off + 2);
    if (total != 0) ip_end = p.l3_off + total;  // 0: TSO capture, trust the frame
  } else if (p.ip_version == 6 && p.l3_off + 6u <= p.cap_len) {
    uint32_t payload = be16(p.data + p.l3_off + 4);
    if (payload != 0) ip_end = p.l3_off + 40u + payload;  // 0: jumbogram
  }
  uint32_t data_off = p.l4_off + hlen;
  out.ts_ns = p.ts_ns;
  out.seq = be32(tcp + 4);
  out.ack = be32(tcp + 8);
  out.flags = tcp[13];
  out.window = be16(tcp + 14);
  out.payload = ip_end > data_off ? ip_end - data_off : 0;
  out.dir = p.direction;
  return true;
}

SegmentEvents analyze_segment(TcpStats& stats, TcpTracking& track, const Segment& seg) {
  SegmentEvents ev;
  update_history(stats, seg);
  ev.handshake_done = update_handshake(stats, track, seg);
  update_state(stats, seg);
  ev.retransmission = update_sequence(stats, track, seg);
  if (ev.retransmission) add_history(stats, kHistRetransmit, seg.dir);
  if (seg.window == 0 && !(seg.flags & (kSyn | kFin | kRst))) {
    ++stats.zero_window;
    add_history(stats, kHistZeroWindow, seg.dir);
  }
  if (seg.flags & kRst) {
    ev.reset = true;
    if (stats.resets != UINT16_MAX) ++stats.resets;
  }
  return ev;
}

}  // namespace wiremeter::connections

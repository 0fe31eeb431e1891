// connections: per-flow TCP analysis, independent of the plugin plumbing so that it can be tested
// with crafted segments.
//
// For each TCP segment of a flow it keeps the connection state, a Zeek-like history, the two
// halves of the handshake round trip, and per direction the next expected sequence number, from
// which it tells retransmissions from out-of-order segments. Everything lives in the flow's own
// state; nothing is allocated. Not thread-safe: a flow's state belongs to its worker.
#pragma once

#include <wiremeter/abi.h>

#include <cstdint>
#include <string>

namespace wiremeter::connections {

// TCP connection state as seen from the capture point (both directions together).
enum class TcpState : uint8_t {
  kNone = 0,     // no TCP segment analyzed yet (or not TCP)
  kSynSent,      // SYN seen, no SYN/ACK yet
  kSynReceived,  // SYN/ACK seen, the handshake's final ACK not yet
  kEstablished,  // handshake completed, or the capture started in the middle of the connection
  kClosing,      // one side sent FIN
  kClosed,       // both sides sent FIN
  kReset,        // RST seen
};
const char* state_name(TcpState s);

// History letters, as in Zeek's conn.log `history`: uppercase for the originator, lowercase for
// the responder, each letter at most once per direction, in the order first seen.
//   S SYN without ACK   H SYN+ACK   A pure ACK   D payload   F FIN   R RST
//   T retransmitted segment         W zero-window advertisement
// Zeek's rules for which letter a packet gets are kept (a packet with exactly one of SYN/FIN/RST
// gets that letter, otherwise D or A), except that packets with several of SYN/FIN/RST, which
// Zeek marks Q or I, add no letter here.
inline constexpr char kHistoryLetters[] = "SHADFRTW";
enum HistoryEvent : uint8_t {
  kHistSyn = 0,
  kHistSynAck,
  kHistAck,
  kHistData,
  kHistFin,
  kHistRst,
  kHistRetransmit,
  kHistZeroWindow,
  kHistEventCount,
};

// Bits of TcpStats::flags.
enum TcpFlagBits : uint16_t {
  kSawSyn = 1u << 0,
  kSawSynAck = 1u << 1,
  kSynFromReverse = 1u << 2,     // the first SYN came from the responder side of the flow
  kSynAckFromReverse = 1u << 3,  // the first SYN/ACK came from the responder side of the flow
  kHaveRttSyn = 1u << 4,         // rtt_syn_us is measured
  kHaveRttAck = 1u << 5,         // rtt_ack_us is measured (the handshake completed)
  kFinForward = 1u << 6,
  kFinReverse = 1u << 7,
  kSeqForward = 1u << 8,  // SeqTrack of that direction holds a sequence number
  kSeqReverse = 1u << 9,
};

// What a flow reports about TCP. Copied as is into the ended-flow records and the active-flow
// snapshots, so it carries only results, not tracking state. 48 bytes.
struct TcpStats {
  uint64_t retx_bytes;    // payload bytes of retransmitted segments
  uint64_t history;       // up to 16 events, 4 bits each: HistoryEvent | direction << 3
  uint32_t rtt_syn_us;    // latest SYN -> first SYN/ACK (capture point <-> responder)
  uint32_t rtt_ack_us;    // latest SYN/ACK -> the ACK completing the handshake (<-> originator)
  uint32_t retx_packets;  // segments whose sequence range was seen before (SYN and FIN count)
  uint32_t out_of_order;  // segments that filled a gap soon after it opened
  uint32_t zero_window;   // segments advertising a zero window (not SYN, FIN or RST)
  uint16_t resets;        // RST segments, saturating
  uint16_t history_seen;  // bit (event | direction << 3): that letter is already in `history`
  uint16_t flags;         // TcpFlagBits
  TcpState state;
  uint8_t reserved;

  bool has_handshake_rtt() const { return (flags & kHaveRttSyn) && (flags & kHaveRttAck); }
  // The whole round trip originator <-> responder, wherever the capture point sits.
  uint64_t handshake_us() const { return uint64_t{rtt_syn_us} + rtt_ack_us; }
};
static_assert(sizeof(TcpStats) == 48);

// Renders `history`; `flip` swaps the case (when the responder is reported as the client).
std::string history_string(const TcpStats& s, bool flip = false);

// Per-direction sequence tracking. 16 bytes.
struct SeqTrack {
  uint32_t next_seq;   // one past the highest sequence number seen in this direction
  uint32_t hole_lo;    // [hole_lo, hole_hi): the newest gap below next_seq not yet filled;
  uint32_t hole_hi;    // empty when equal
  uint32_t hole_time;  // when the gap opened, in units of 1024 ns (low 32 bits; wraps in 73 min)
};

// One TCP segment, from the packet's headers.
struct Segment {
  uint64_t ts_ns;
  uint32_t seq;
  uint32_t ack;
  uint32_t payload;  // payload bytes per the IP length (a snaplen-cut capture still counts them)
  uint16_t window;   // as sent, unscaled: zero is zero at any scale
  uint8_t flags;     // TCP flags
  uint8_t dir;       // wm_direction
};

// Reads the TCP header of a decoded packet. False when the packet is not a complete TCP header.
bool parse_segment(const wm_packet& p, Segment& out);

// What one segment changed, for the worker's counters.
struct SegmentEvents {
  bool retransmission = false;
  bool reset = false;
  bool handshake_done = false;  // the handshake RTT (TcpStats::handshake_us) is now known
};

// Sequence tracking plus the time the handshake step in progress started (the latest SYN, then
// the latest SYN/ACK). 40 bytes; the part of the flow state that is not reported.
struct TcpTracking {
  SeqTrack dir[2];
  uint64_t handshake_step_ns;
};

// Without an RTT, a gap filled within this time counts as reordering, as in Wireshark.
inline constexpr uint64_t kDefaultReorderWindowNs = 3'000'000;

// Analyzes one segment of the flow.
SegmentEvents analyze_segment(TcpStats& stats, TcpTracking& track, const Segment& seg);

}  // namespace wiremeter::connections

// Which side of a flow is the client: the same answer in every module.
//
// The core calls the side that sent the first packet seen the initiator (WM_DIR_FORWARD). That
// is usually the client, but not when the capture started mid-flow or the request was missed.
// FlowRoles keeps one byte in a plugin's flow state, fed with every packet of the flow, and
// answers from the TCP handshake when one was seen, else from the ports.
#pragma once

#include <wiremeter/abi.h>

#include <cstdint>

namespace wiremeter {

// The decision itself, from what was seen of the handshake (for modules that track it anyway).
// TCP: the side that sent the SYN/ACK serves; failing that, the side that did not send the SYN.
// No handshake: a well-known port on the initiator's side only (or the lower of two well-known
// ports, as DHCP's 67 to 68) means the server spoke first.
inline bool server_is_initiator(const wm_flow_info& f, bool saw_syn, bool syn_from_reverse,
                                bool saw_syn_ack, bool syn_ack_from_reverse) {
  if (f.l4_proto == 6) {
    if (saw_syn_ack) return !syn_ack_from_reverse;
    if (saw_syn) return syn_from_reverse;
  }
  bool has_ports = f.l4_proto == 6 || f.l4_proto == 17 || f.l4_proto == 132;
  if (!has_ports || f.port[0] >= 1024) return false;
  return f.port[1] >= 1024 || f.port[0] < f.port[1];
}

struct FlowRoles {
  uint8_t seen;  // zero-filled = nothing seen yet

  void observe(const wm_packet& p) noexcept {
    if (p.l4_proto != 6 || !(p.tcp_flags & 0x02)) return;
    bool reverse = p.direction == WM_DIR_REVERSE;
    if (p.tcp_flags & 0x10) {
      if (!(seen & kSynAck)) seen |= kSynAck | (reverse ? kSynAckReverse : 0);
    } else if (!(seen & kSyn)) {
      seen |= kSyn | (reverse ? kSynReverse : 0);
    }
  }
  bool server_is_initiator(const wm_flow_info& f) const noexcept {
    return wiremeter::server_is_initiator(f, seen & kSyn, seen & kSynReverse, seen & kSynAck,
                                          seen & kSynAckReverse);
  }
  // The index into wm_flow_info.addr/port of the client and of the server.
  int client(const wm_flow_info& f) const noexcept { return server_is_initiator(f) ? 1 : 0; }
  int server(const wm_flow_info& f) const noexcept { return server_is_initiator(f) ? 0 : 1; }

  static constexpr uint8_t kSyn = 1, kSynReverse = 2, kSynAck = 4, kSynAckReverse = 8;
};

}  // namespace wiremeter

// Decodes a frame once into the wm_packet view that every plugin reads.
//
// The decoder never reads past cap_len. A frame it cannot decode fully still gets a view with
// what was understood so far, WM_PKT_MALFORMED, and a DecodeError that the worker counts.
#pragma once

#include <wiremeter/abi.h>

#include <array>
#include <cstdint>
#include <string_view>

namespace wiremeter::core {

// What the first byte of a frame is. Ports on real links are Ethernet; a capture file may be
// something else (a pcap's link type), which is why the decoder takes it explicitly.
enum class LinkType : uint8_t {
  kEthernet,
  kRawIp,      // DLT_RAW / LINKTYPE_RAW / IPV4 / IPV6: starts with the IP header
  kNull,       // DLT_NULL / DLT_LOOP: 4-byte address family, then IP
  kLinuxSll,   // DLT_LINUX_SLL: 16-byte cooked header
  kLinuxSll2,  // DLT_LINUX_SLL2: 20-byte cooked header
};

// Maps a pcap DLT/LINKTYPE value to a LinkType. Returns false when unsupported.
bool link_type_from_dlt(int dlt, LinkType& out);

// Reasons a frame is malformed. Stable names: they appear in metrics and the REST API.
enum class DecodeError : uint8_t {
  kNone = 0,
  kTruncatedL2,
  kTruncatedVlan,
  kTruncatedMpls,
  kTruncatedArp,
  kTruncatedIpv4,
  kBadIpv4Header,  // version != 4 or IHL < 5
  kBadIpv4Length,  // total length smaller than the header
  kTruncatedIpv6,
  kBadIpv6Header,     // version != 6
  kBadIpv6ExtHeader,  // extension header chain runs past the packet or is too long
  kTruncatedTcp,
  kBadTcpHeader,  // data offset < 5 or beyond the segment
  kTruncatedUdp,
  kBadUdpLength,
  kTruncatedIcmp,
  kTruncatedSctp,
  kUnknownNetwork,  // non-IP L3 payload after a tunnel-like encapsulation (MPLS, null)
  kCount,
};

inline constexpr std::array<std::string_view, static_cast<size_t>(DecodeError::kCount)>
    kDecodeErrorNames = {
        "none",           "truncated_l2",    "truncated_vlan",      "truncated_mpls",
        "truncated_arp",  "truncated_ipv4",  "bad_ipv4_header",     "bad_ipv4_length",
        "truncated_ipv6", "bad_ipv6_header", "bad_ipv6_ext_header", "truncated_tcp",
        "bad_tcp_header", "truncated_udp",   "bad_udp_length",      "truncated_icmp",
        "truncated_sctp", "unknown_network",
};

inline std::string_view decode_error_name(DecodeError e) {
  return kDecodeErrorNames[static_cast<size_t>(e)];
}

// Fills `out` from the frame. Fields the frame does not have are zero. Does not set flow,
// flow_state or direction (the flow table does). Never reads data[cap_len] or beyond.
DecodeError decode_packet(const uint8_t* data, uint32_t cap_len, uint32_t wire_len, LinkType link,
                          wm_packet& out) noexcept;

}  // namespace wiremeter::core

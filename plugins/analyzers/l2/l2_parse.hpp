// l2: wire parsers for what the core's decoder leaves to this module.
//
// The core decodes VLAN tags, MPLS and IP into wm_packet, but keeps neither the tag's priority
// bits nor anything of non-IP frames except the ethertype. These parsers read the frame bytes
// themselves: the Ethernet header with its tags, ARP, spanning-tree BPDUs, LLDP, and the
// classification of link-local control frames. Every function takes the bytes and their length
// and never reads past it; malformed input is an error code, never an exception.
#pragma once

#include <wiremeter/abi.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace wiremeter::l2 {

inline uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
inline uint32_t be32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
         static_cast<uint32_t>(p[2]) << 8 | p[3];
}
inline uint64_t be48(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 6; ++i) v = v << 8 | p[i];
  return v;
}
inline uint64_t be64(const uint8_t* p) {
  return static_cast<uint64_t>(be32(p)) << 32 | be32(p + 4);
}

inline constexpr uint16_t kEthVlan = 0x8100, kEthQinQ = 0x88a8, kEthQinQOld = 0x9100;
inline constexpr uint16_t kEthMpls = 0x8847, kEthMplsMulticast = 0x8848;
inline constexpr uint16_t kEthIpv4 = 0x0800, kEthIpv6 = 0x86dd, kEthArp = 0x0806;
inline constexpr uint64_t kBroadcastMac = 0xffffffffffffull;

// ---- Ethernet ----------------------------------------------------------------------------------

// The Ethernet header as the frame has it, walked the same way as the core's decoder.
struct EthHeader {
  bool ok = false;         // at least the 14 bytes of a header
  bool truncated = false;  // the frame ends inside a VLAN tag
  uint64_t dst = 0, src = 0;
  uint8_t tag_count = 0;          // all tags, as wm_packet.vlan_count (which saturates at 255)
  std::array<uint16_t, 2> tci{};  // the outer two tags' TCI: PCP(3) DEI(1) VID(12)
  std::array<uint16_t, 2> tpid{};
  uint16_t type = 0;  // ethertype after the tags; a value < 0x0600 is an 802.3 length
  uint32_t payload_off = 0;
};

EthHeader parse_ethernet(const uint8_t* data, uint32_t cap_len) noexcept;

// Whether the frame the view describes is Ethernet: a capture file may be raw IP, BSD loopback
// or Linux cooked, which the core marks with WM_PKT_NO_ETHERNET.
bool is_ethernet(const wm_packet& p, const EthHeader& eth) noexcept;

inline bool is_group(uint64_t mac) { return (mac >> 40) & 1; }

// ---- Frame sizes ------------------------------------------------------------------------------

// RMON etherStats buckets (RFC 2819), by frame length including the 4-byte FCS, plus jumbo
// frames split at 9000 bytes.
inline constexpr size_t kSizeBuckets = 9;
inline constexpr std::array<std::string_view, kSizeBuckets> kSizeBucketNames = {
    "lt64", "64", "65-127", "128-255", "256-511", "512-1023", "1024-1518", "1519-9000", "gt9000"};
// Upper bounds for the Prometheus histogram (the last bucket is +Inf).
inline constexpr std::array<double, kSizeBuckets - 1> kSizeBounds = {63,  64,   127,  255,
                                                                     511, 1023, 1518, 9000};
size_t size_bucket(uint32_t frame_len_with_fcs) noexcept;

// ---- QoS --------------------------------------------------------------------------------------

// "CS0".."CS7", "AF11".."AF43", "EF", "VA" (RFC 5865), "LE" (RFC 8622); other code points as
// their number ("5"). Static strings.
const char* dscp_name(uint8_t dscp) noexcept;

// ---- ARP --------------------------------------------------------------------------------------

enum class ArpError : uint8_t { kNone = 0, kTruncated, kNotEthernetIpv4 };

// ARP for IPv4 over Ethernet (RFC 826): htype 1, ptype 0x0800, hlen 6, plen 4.
struct ArpMessage {
  uint16_t op = 0;
  uint64_t sender_mac = 0, target_mac = 0;
  uint32_t sender_ip = 0, target_ip = 0;  // host order
};

ArpError parse_arp(const uint8_t* data, size_t len, ArpMessage& out) noexcept;

// ---- Spanning tree ----------------------------------------------------------------------------

enum class BpduError : uint8_t { kNone = 0, kTruncated, kBadProtocol, kUnknownType };

// A BPDU (802.1D/802.1w/802.1s): the common part of configuration, RST and MST BPDUs, or a TCN.
struct Bpdu {
  uint8_t version = 0;  // 0 STP, 2 RSTP, 3 MSTP
  uint8_t type = 0;     // 0x00 configuration, 0x80 topology change notification, 0x02 RST/MST
  uint8_t flags = 0;    // bit 0 topology change, bit 7 topology change acknowledgment
  uint64_t root_id = 0;
  uint32_t root_cost = 0;
  uint64_t bridge_id = 0;
  uint16_t port_id = 0;
  bool tcn() const { return type == 0x80; }
  bool topology_change() const { return tcn() || (flags & 0x01); }
};

// `data` starts at the BPDU (after the LLC header, or after PVST+'s SNAP header).
BpduError parse_bpdu(const uint8_t* data, size_t len, Bpdu& out) noexcept;
const char* bpdu_protocol_name(uint8_t version) noexcept;  // "stp", "rstp", "mstp"
// tshark's notation: "32768/720/00:13:7f:be:8c:c0" (priority / system id extension / MAC).
void format_bridge_id(uint64_t id, char (&out)[32]) noexcept;

// ---- LLDP -------------------------------------------------------------------------------------

enum class LldpError : uint8_t { kNone = 0, kTruncated, kMissingTlv };

inline constexpr size_t kLldpText = 64;  // bytes kept of each text, with the terminating NUL

// The TLVs a neighbour table shows (802.1AB). Texts are printable ASCII (other bytes become
// '?'), NUL-terminated and cut to kLldpText - 1 characters; MAC and network-address ids are
// formatted as addresses.
struct LldpInfo {
  char chassis_id[kLldpText] = {};
  char port_id[kLldpText] = {};
  char port_description[kLldpText] = {};
  char system_name[kLldpText] = {};
  char management_address[kLldpText] = {};
  uint16_t ttl = 0;
  uint16_t capabilities = 0;  // enabled system capabilities (TLV 7)
};

LldpError parse_lldp(const uint8_t* data, size_t len, LldpInfo& out) noexcept;

// ---- Link-local control protocols -------------------------------------------------------------

enum class Control : uint8_t {
  kStp,             // IEEE 802.1D/w/s BPDU (LLC 0x42)
  kPvst,            // Cisco PVST+ BPDU (SNAP 00000c/010b)
  kLldp,            // 0x88cc
  kCdp,             // SNAP 00000c/2000
  kVtp,             // SNAP 00000c/2003
  kDtp,             // SNAP 00000c/2004
  kUdld,            // SNAP 00000c/0111
  kLacp,            // slow protocols 0x8809, subtype 1
  kMarker,          // subtype 2
  kOam,             // subtype 3 (802.3ah)
  kSlowOther,       // other slow-protocol subtypes (ESMC/OSSP, ...)
  kEapol,           // 802.1X, 0x888e
  kPtp,             // IEEE 1588 over Ethernet, 0x88f7
  kPause,           // MAC control (pause, PFC), 0x8808
  kMvrp,            // 0x88f5
  kMmrp,            // 0x88f6
  kCfm,             // 802.1ag/Y.1731, 0x8902
  kOtherLinkLocal,  // anything else to 01:80:c2:00:00:00..0f
  kCount,
  kNone = 0xff,
};
inline constexpr size_t kControlCount = static_cast<size_t>(Control::kCount);
const char* control_name(Control c) noexcept;

// Which control protocol an Ethernet frame carries, and where its body starts and ends (the
// BPDU for STP/PVST+, the first TLV for LLDP); kNone for data frames. An 802.3 frame's body
// ends where its length field says: the rest is padding to the 60-byte minimum.
Control classify_control(const uint8_t* data, uint32_t cap_len, const EthHeader& eth,
                         uint32_t& body_off, uint32_t& body_end) noexcept;

// "aa:bb:cc:dd:ee:ff".
void format_mac(uint64_t mac, char (&out)[18]) noexcept;

}  // namespace wiremeter::l2

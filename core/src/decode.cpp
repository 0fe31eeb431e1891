#include "wiremeter/core/decode.hpp"

#include <cstring>

namespace wiremeter::core {
namespace {

constexpr uint16_t kEthIpv4 = 0x0800;
constexpr uint16_t kEthArp = 0x0806;
constexpr uint16_t kEthVlan = 0x8100;
constexpr uint16_t kEthQinQ = 0x88a8;
constexpr uint16_t kEthQinQOld = 0x9100;  // pre-standard QinQ still seen on older gear
constexpr uint16_t kEthIpv6 = 0x86dd;
constexpr uint16_t kEthMpls = 0x8847;
constexpr uint16_t kEthMplsMulticast = 0x8848;

constexpr uint8_t kProtoIcmp = 1;
constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kProtoUdp = 17;
constexpr uint8_t kProtoIcmpv6 = 58;
constexpr uint8_t kProtoSctp = 132;
constexpr uint8_t kProtoUdpLite = 136;
constexpr uint8_t kProtoIpv6InIpv4 = 41;

// IPv6 extension headers we walk. ESP (50) ends the walk: what follows is encrypted.
constexpr uint8_t kExtHopByHop = 0;
constexpr uint8_t kExtRouting = 43;
constexpr uint8_t kExtFragment = 44;
constexpr uint8_t kExtAuth = 51;
constexpr uint8_t kExtDestOpts = 60;
constexpr uint8_t kExtMobility = 135;
constexpr int kMaxIpv6ExtHeaders = 8;
constexpr int kMaxMplsLabels = 8;

inline uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
inline uint32_t be32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
         static_cast<uint32_t>(p[2]) << 8 | p[3];
}

// Limits payload accounting to what the IP header says, so Ethernet padding is not payload.
struct Cursor {
  const uint8_t* data;
  uint32_t cap;  // bytes readable
  uint32_t off;
  bool has(uint32_t n) const { return off <= cap && cap - off >= n; }
};

DecodeError fail(wm_packet& out, DecodeError e) {
  out.flags |= WM_PKT_MALFORMED;
  out.decode_error = static_cast<uint8_t>(e);
  return e;
}

DecodeError decode_ipv6(Cursor c, wm_packet& out);

DecodeError decode_l4(Cursor c, uint32_t l4_end, wm_packet& out) {
  // l4_end: end of the L4 segment per the IP header, clipped to what was captured.
  out.l4_off = static_cast<uint16_t>(c.off);
  uint32_t avail = l4_end > c.off ? l4_end - c.off : 0;
  auto set_payload = [&](uint32_t hdr_len) {
    out.payload_off = static_cast<uint16_t>(c.off + hdr_len);
    out.payload_len = static_cast<uint16_t>(avail - hdr_len);
    out.flags |= WM_PKT_L4;
  };
  switch (out.l4_proto) {
    case kProtoTcp: {
      if (avail < 20) return fail(out, DecodeError::kTruncatedTcp);
      const uint8_t* t = c.data + c.off;
      uint32_t hlen = (t[12] >> 4) * 4u;
      out.src_port = be16(t);
      out.dst_port = be16(t + 2);
      out.tcp_flags = t[13];
      if (hlen < 20 || hlen > avail) {
        out.flags |= WM_PKT_L4;  // ports are valid even if options are cut
        out.payload_off = static_cast<uint16_t>(c.off + (avail < 20 ? avail : 20));
        return fail(out, DecodeError::kBadTcpHeader);
      }
      set_payload(hlen);
      return DecodeError::kNone;
    }
    case kProtoUdp:
    case kProtoUdpLite: {
      if (avail < 8) return fail(out, DecodeError::kTruncatedUdp);
      const uint8_t* u = c.data + c.off;
      out.src_port = be16(u);
      out.dst_port = be16(u + 2);
      uint16_t ulen = be16(u + 4);
      set_payload(8);
      // UDP-Lite reuses the length field as checksum coverage; only check plain UDP. A UDP
      // length beyond the captured bytes is normal for snaplen-cut captures, so only a length
      // shorter than the header is an error. Jumbograms (length 0 over IPv6) are allowed.
      if (out.l4_proto == kProtoUdp && ulen != 0 && ulen < 8) {
        return fail(out, DecodeError::kBadUdpLength);
      }
      if (out.l4_proto == kProtoUdp && ulen >= 8 && ulen - 8u < out.payload_len) {
        out.payload_len = static_cast<uint16_t>(ulen - 8);
      }
      return DecodeError::kNone;
    }
    case kProtoIcmp:
    case kProtoIcmpv6: {
      if (avail < 4) return fail(out, DecodeError::kTruncatedIcmp);
      const uint8_t* i = c.data + c.off;
      // Type and code take the place of ports so that flows separate echo from errors; echo
      // requests and replies share the identifier as a port so both directions meet.
      uint8_t type = i[0];
      bool echo = (out.l4_proto == kProtoIcmp && (type == 8 || type == 0)) ||
                  (out.l4_proto == kProtoIcmpv6 && (type == 128 || type == 129));
      if (echo && avail >= 8) {
        out.src_port = be16(i + 4);
        out.dst_port = be16(i + 4);
      } else {
        out.src_port = 0;
        out.dst_port = 0;
      }
      set_payload(avail >= 8 ? 8 : 4);
      return DecodeError::kNone;
    }
    case kProtoSctp: {
      if (avail < 12) return fail(out, DecodeError::kTruncatedSctp);
      const uint8_t* s = c.data + c.off;
      out.src_port = be16(s);
      out.dst_port = be16(s + 2);
      set_payload(12);
      return DecodeError::kNone;
    }
    default:
      // Other protocols (GRE, ESP, OSPF, ...) carry no ports; their payload starts here.
      out.payload_off = static_cast<uint16_t>(c.off);
      out.payload_len = static_cast<uint16_t>(avail);
      return DecodeError::kNone;
  }
}

DecodeError decode_ipv4(Cursor c, wm_packet& out) {
  if (!c.has(20)) return fail(out, DecodeError::kTruncatedIpv4);
  const uint8_t* ip = c.data + c.off;
  uint32_t ihl = (ip[0] & 0x0f) * 4u;
  if ((ip[0] >> 4) != 4 || ihl < 20) return fail(out, DecodeError::kBadIpv4Header);
  if (!c.has(ihl)) return fail(out, DecodeError::kTruncatedIpv4);
  out.l3_off = static_cast<uint16_t>(c.off);
  out.ip_version = 4;
  out.flags |= WM_PKT_IPV4;
  out.dscp = ip[1] >> 2;
  out.l4_proto = ip[9];
  std::memcpy(out.src_addr, ip + 12, 4);
  std::memcpy(out.dst_addr, ip + 16, 4);
  uint32_t total = be16(ip + 2);
  // TSO/GRO captures carry total length 0; trust the frame then.
  if (total == 0) total = c.cap - c.off;
  if (total < ihl) return fail(out, DecodeError::kBadIpv4Length);
  uint16_t frag = be16(ip + 6);
  uint16_t frag_offset = frag & 0x1fff;
  bool more_fragments = frag & 0x2000;
  uint32_t l4_end = c.off + total;
  if (l4_end > c.cap) l4_end = c.cap;
  c.off += ihl;
  if (out.l4_proto == kProtoIpv6InIpv4 && frag_offset == 0 && !more_fragments &&
      !(out.flags & WM_PKT_TUNNELED) && c.has(40) && (c.data[c.off] >> 4) == 6) {
    // 6in4 (RFC 4213): the conversation is the inner IPv6 one, as nDPI and tshark see it.
    // Only one level is unwrapped, which also bounds the work for nested tunnels.
    out.flags = (out.flags & ~static_cast<uint32_t>(WM_PKT_IPV4)) | WM_PKT_TUNNELED;
    out.ether_type = kEthIpv6;
    Cursor inner{c.data, l4_end, c.off};
    return decode_ipv6(inner, out);
  }
  if (frag_offset != 0 || more_fragments) {
    out.flags |= WM_PKT_FRAGMENT;
    if (frag_offset != 0) {
      // A later fragment carries no L4 header.
      out.payload_off = static_cast<uint16_t>(c.off);
      out.payload_len = static_cast<uint16_t>(l4_end > c.off ? l4_end - c.off : 0);
      return DecodeError::kNone;
    }
    out.flags |= WM_PKT_FIRST_FRAGMENT;
  }
  return decode_l4(c, l4_end, out);
}

DecodeError decode_ipv6(Cursor c, wm_packet& out) {
  if (!c.has(40)) return fail(out, DecodeError::kTruncatedIpv6);
  const uint8_t* ip = c.data + c.off;
  if ((ip[0] >> 4) != 6) return fail(out, DecodeError::kBadIpv6Header);
  out.l3_off = static_cast<uint16_t>(c.off);
  out.ip_version = 6;
  out.flags |= WM_PKT_IPV6;
  out.dscp = static_cast<uint8_t>((be16(ip) >> 6) & 0x3f);
  std::memcpy(out.src_addr, ip + 8, 16);
  std::memcpy(out.dst_addr, ip + 24, 16);
  uint32_t payload = be16(ip + 4);
  uint32_t l4_end = c.off + 40 + payload;
  if (payload == 0 || l4_end > c.cap) l4_end = c.cap;  // jumbogram or cut by snaplen
  uint8_t next = ip[6];
  c.off += 40;
  for (int i = 0;; ++i) {
    if (next != kExtHopByHop && next != kExtRouting && next != kExtFragment && next != kExtAuth &&
        next != kExtDestOpts && next != kExtMobility) {
      break;
    }
    if (i == kMaxIpv6ExtHeaders) {
      out.l4_proto = next;
      return fail(out, DecodeError::kBadIpv6ExtHeader);
    }
    if (c.off + 8 > l4_end) {
      out.l4_proto = next;
      return fail(out, DecodeError::kBadIpv6ExtHeader);
    }
    const uint8_t* ext = c.data + c.off;
    uint32_t len;
    if (next == kExtFragment) {
      len = 8;
      uint16_t frag = be16(ext + 2);
      out.flags |= WM_PKT_FRAGMENT;
      if ((frag & 0xfff8) != 0) {
        out.l4_proto = ext[0];
        out.payload_off = static_cast<uint16_t>(c.off + 8);
        out.payload_len = static_cast<uint16_t>(l4_end > c.off + 8 ? l4_end - c.off - 8 : 0);
        return DecodeError::kNone;
      }
      if ((frag & 1) == 0) {
        // Atomic fragment (offset 0, no more fragments): a whole datagram after all.
        out.flags &= ~static_cast<uint32_t>(WM_PKT_FRAGMENT);
      } else {
        out.flags |= WM_PKT_FIRST_FRAGMENT;
      }
    } else if (next == kExtAuth) {
      len = (ext[1] + 2u) * 4u;
    } else {
      len = (ext[1] + 1u) * 8u;
    }
    if (c.off + len > l4_end) {
      out.l4_proto = next;
      return fail(out, DecodeError::kBadIpv6ExtHeader);
    }
    next = ext[0];
    c.off += len;
  }
  out.l4_proto = next;
  return decode_l4(c, l4_end, out);
}

DecodeError decode_network(Cursor c, uint16_t ether_type, wm_packet& out) {
  out.ether_type = ether_type;
  switch (ether_type) {
    case kEthIpv4:
      return decode_ipv4(c, out);
    case kEthIpv6:
      return decode_ipv6(c, out);
    case kEthArp:
      out.flags |= WM_PKT_ARP;
      out.l3_off = static_cast<uint16_t>(c.off);
      if (!c.has(28)) return fail(out, DecodeError::kTruncatedArp);
      return DecodeError::kNone;
    default:
      return DecodeError::kNone;  // other L2 protocols (LLDP, STP, ...) are valid, just not IP
  }
}

DecodeError decode_mpls(Cursor c, wm_packet& out) {
  for (int i = 0; i < kMaxMplsLabels; ++i) {
    if (!c.has(4)) return fail(out, DecodeError::kTruncatedMpls);
    uint32_t entry = be32(c.data + c.off);
    if (out.mpls_count == 0) out.mpls_label = entry >> 12;
    ++out.mpls_count;
    c.off += 4;
    if (entry & 0x100) {  // bottom of stack
      // MPLS does not say what it carries; the IP version nibble is the usual guess.
      if (!c.has(1)) return fail(out, DecodeError::kTruncatedMpls);
      uint8_t version = c.data[c.off] >> 4;
      if (version == 4) return decode_network(c, kEthIpv4, out);
      if (version == 6) return decode_network(c, kEthIpv6, out);
      return DecodeError::kNone;  // pseudowire or other payload
    }
  }
  return fail(out, DecodeError::kTruncatedMpls);
}

DecodeError decode_ethernet(Cursor c, wm_packet& out) {
  if (!c.has(14)) return fail(out, DecodeError::kTruncatedL2);
  const uint8_t* eth = c.data;
  if (eth[0] & 1) {
    static constexpr uint8_t kBroadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    out.flags |= std::memcmp(eth, kBroadcast, 6) == 0 ? WM_PKT_BROADCAST : WM_PKT_MULTICAST;
  }
  uint16_t type = be16(eth + 12);
  c.off = 14;
  while (type == kEthVlan || type == kEthQinQ || type == kEthQinQOld) {
    if (!c.has(4)) return fail(out, DecodeError::kTruncatedVlan);
    uint16_t tci = be16(c.data + c.off);
    if (out.vlan_count < 2) out.vlan[out.vlan_count] = tci & 0x0fff;
    if (out.vlan_count < 255) ++out.vlan_count;
    type = be16(c.data + c.off + 2);
    c.off += 4;
  }
  if (type == kEthMpls || type == kEthMplsMulticast) {
    out.ether_type = type;
    return decode_mpls(c, out);
  }
  if (type < 0x0600) {
    // 802.3 length field: LLC/SNAP frames (STP and friends). Not IP.
    out.ether_type = 0;
    return DecodeError::kNone;
  }
  return decode_network(c, type, out);
}

}  // namespace

bool link_type_from_dlt(int dlt, LinkType& out) {
  switch (dlt) {
    case 1:  // DLT_EN10MB
      out = LinkType::kEthernet;
      return true;
    case 0:    // DLT_NULL
    case 108:  // DLT_LOOP
      out = LinkType::kNull;
      return true;
    case 12:   // DLT_RAW on most platforms
    case 14:   // DLT_RAW on OpenBSD
    case 101:  // LINKTYPE_RAW
    case 228:  // LINKTYPE_IPV4
    case 229:  // LINKTYPE_IPV6
      out = LinkType::kRawIp;
      return true;
    case 113:  // DLT_LINUX_SLL
      out = LinkType::kLinuxSll;
      return true;
    case 276:  // DLT_LINUX_SLL2
      out = LinkType::kLinuxSll2;
      return true;
    default:
      return false;
  }
}

DecodeError decode_packet(const uint8_t* data, uint32_t cap_len, uint32_t wire_len, LinkType link,
                          wm_packet& out) noexcept {
  const uint8_t* keep_data = data;
  uint64_t ts = out.ts_ns;
  uint16_t port = out.port;
  std::memset(&out, 0, sizeof out);
  out.data = keep_data;
  out.ts_ns = ts;
  out.port = port;
  out.cap_len = cap_len;
  out.wire_len = wire_len < cap_len ? cap_len : wire_len;

  Cursor c{data, cap_len, 0};
  if (link != LinkType::kEthernet) out.flags |= WM_PKT_NO_ETHERNET;
  switch (link) {
    case LinkType::kEthernet:
      return decode_ethernet(c, out);
    case LinkType::kRawIp: {
      if (!c.has(1)) return fail(out, DecodeError::kTruncatedL2);
      uint8_t version = data[0] >> 4;
      if (version == 4) return decode_network(c, kEthIpv4, out);
      if (version == 6) return decode_network(c, kEthIpv6, out);
      return fail(out, DecodeError::kUnknownNetwork);
    }
    case LinkType::kNull: {
      if (!c.has(4)) return fail(out, DecodeError::kTruncatedL2);
      // The family is in the capturing host's byte order; AF_INET is 2 everywhere, AF_INET6
      // is 10 (Linux), 24 (NetBSD/OpenBSD), 28 (FreeBSD) or 30 (macOS).
      uint32_t family =
          data[0] | data[1] << 8 | data[2] << 16 | static_cast<uint32_t>(data[3]) << 24;
      if (family > 0xffff) family = be32(data);
      c.off = 4;
      if (family == 2) return decode_network(c, kEthIpv4, out);
      if (family == 10 || family == 24 || family == 28 || family == 30) {
        return decode_network(c, kEthIpv6, out);
      }
      return fail(out, DecodeError::kUnknownNetwork);
    }
    case LinkType::kLinuxSll: {
      if (!c.has(16)) return fail(out, DecodeError::kTruncatedL2);
      c.off = 16;
      return decode_network(c, be16(data + 14), out);
    }
    case LinkType::kLinuxSll2: {
      if (!c.has(20)) return fail(out, DecodeError::kTruncatedL2);
      c.off = 20;
      return decode_network(c, be16(data), out);
    }
  }
  return DecodeError::kNone;
}

}  // namespace wiremeter::core

#include "l2_parse.hpp"

#include <arpa/inet.h>

#include <cstdio>
#include <cstring>

namespace wiremeter::l2 {

EthHeader parse_ethernet(const uint8_t* data, uint32_t cap_len) noexcept {
  EthHeader h;
  if (!data || cap_len < 14) return h;
  h.ok = true;
  h.dst = be48(data);
  h.src = be48(data + 6);
  uint16_t type = be16(data + 12);
  uint32_t off = 14;
  // Every tag the core skips (0x8100, 0x88a8 and the pre-standard 0x9100), however many.
  while (type == kEthVlan || type == kEthQinQ || type == kEthQinQOld) {
    if (cap_len - off < 4) {
      h.truncated = true;
      break;
    }
    if (h.tag_count < 2) {
      h.tci[h.tag_count] = be16(data + off);
      h.tpid[h.tag_count] = type;
    }
    if (h.tag_count < 255) ++h.tag_count;
    type = be16(data + off + 2);
    off += 4;
  }
  h.type = type;
  h.payload_off = off;
  return h;
}

bool is_ethernet(const wm_packet& p, const EthHeader& eth) noexcept {
  return eth.ok && !(p.flags & WM_PKT_NO_ETHERNET);
}

size_t size_bucket(uint32_t len) noexcept {
  if (len < 64) return 0;
  if (len == 64) return 1;
  if (len <= 127) return 2;
  if (len <= 255) return 3;
  if (len <= 511) return 4;
  if (len <= 1023) return 5;
  if (len <= 1518) return 6;
  if (len <= 9000) return 7;
  return 8;
}

const char* dscp_name(uint8_t dscp) noexcept {
  static constexpr std::array<const char*, 64> kNames = [] {
    std::array<const char*, 64> n = {
        "0",  "1",  "2",  "3",  "4",  "5",  "6",  "7",  "8",  "9",  "10", "11", "12",
        "13", "14", "15", "16", "17", "18", "19", "20", "21", "22", "23", "24", "25",
        "26", "27", "28", "29", "30", "31", "32", "33", "34", "35", "36", "37", "38",
        "39", "40", "41", "42", "43", "44", "45", "46", "47", "48", "49", "50", "51",
        "52", "53", "54", "55", "56", "57", "58", "59", "60", "61", "62", "63"};
    constexpr const char* kCs[8] = {"CS0", "CS1", "CS2", "CS3", "CS4", "CS5", "CS6", "CS7"};
    for (int i = 0; i < 8; ++i) n[static_cast<size_t>(i * 8)] = kCs[i];
    // Assured forwarding (RFC 2597): class c, drop precedence d is 8c + 2d.
    constexpr const char* kAf[4][3] = {{"AF11", "AF12", "AF13"},
                                       {"AF21", "AF22", "AF23"},
                                       {"AF31", "AF32", "AF33"},
                                       {"AF41", "AF42", "AF43"}};
    for (int c = 1; c <= 4; ++c) {
      for (int d = 1; d <= 3; ++d) n[static_cast<size_t>(8 * c + 2 * d)] = kAf[c - 1][d - 1];
    }
    n[46] = "EF";
    n[44] = "VA";
    n[1] = "LE";
    return n;
  }();
  return kNames[dscp & 63];
}

ArpError parse_arp(const uint8_t* a, size_t len, ArpMessage& out) noexcept {
  if (!a || len < 8) return ArpError::kTruncated;
  if (be16(a) != 1 || be16(a + 2) != kEthIpv4 || a[4] != 6 || a[5] != 4) {
    return ArpError::kNotEthernetIpv4;
  }
  if (len < 28) return ArpError::kTruncated;
  out.op = be16(a + 6);
  out.sender_mac = be48(a + 8);
  out.sender_ip = be32(a + 14);
  out.target_mac = be48(a + 18);
  out.target_ip = be32(a + 24);
  return ArpError::kNone;
}

BpduError parse_bpdu(const uint8_t* b, size_t len, Bpdu& out) noexcept {
  if (!b || len < 4) return BpduError::kTruncated;
  if (be16(b) != 0) return BpduError::kBadProtocol;
  out = Bpdu{};
  out.version = b[2];
  out.type = b[3];
  if (out.type == 0x80) return BpduError::kNone;  // TCN: nothing follows
  if (out.type != 0x00 && out.type != 0x02) return BpduError::kUnknownType;
  // Flags, root id, root path cost, bridge id, port id, then the four timers: 35 bytes.
  if (len < 35) return BpduError::kTruncated;
  out.flags = b[4];
  out.root_id = be64(b + 5);
  out.root_cost = be32(b + 13);
  out.bridge_id = be64(b + 17);
  out.port_id = be16(b + 25);
  return BpduError::kNone;
}

const char* bpdu_protocol_name(uint8_t version) noexcept {
  switch (version) {
    case 0:
      return "stp";
    case 2:
      return "rstp";
    case 3:
      return "mstp";
    default:
      return "unknown";
  }
}

void format_mac(uint64_t mac, char (&out)[18]) noexcept {
  std::snprintf(out, sizeof out, "%02x:%02x:%02x:%02x:%02x:%02x",
                static_cast<unsigned>(mac >> 40 & 0xff), static_cast<unsigned>(mac >> 32 & 0xff),
                static_cast<unsigned>(mac >> 24 & 0xff), static_cast<unsigned>(mac >> 16 & 0xff),
                static_cast<unsigned>(mac >> 8 & 0xff), static_cast<unsigned>(mac & 0xff));
}

void format_bridge_id(uint64_t id, char (&out)[32]) noexcept {
  char mac[18];
  format_mac(id & 0xffffffffffffull, mac);
  unsigned top = static_cast<unsigned>(id >> 48);
  std::snprintf(out, sizeof out, "%u/%u/%s", top & 0xf000u, top & 0x0fffu, mac);
}

namespace {

// Printable ASCII, NUL-terminated, cut to fit: safe in JSON and in a terminal.
void copy_text(const uint8_t* s, size_t n, char (&out)[kLldpText]) noexcept {
  size_t k = n < kLldpText - 1 ? n : kLldpText - 1;
  for (size_t i = 0; i < k; ++i)
    out[i] = s[i] >= 0x20 && s[i] < 0x7f ? static_cast<char>(s[i]) : '?';
  out[k] = '\0';
}

// IANA address family 1 (IPv4) or 2 (IPv6) followed by the address; false for anything else.
bool format_network_address(const uint8_t* s, size_t n, char (&out)[kLldpText]) noexcept {
  if (n == 5 && s[0] == 1) return inet_ntop(AF_INET, s + 1, out, sizeof out) != nullptr;
  if (n == 17 && s[0] == 2) return inet_ntop(AF_INET6, s + 1, out, sizeof out) != nullptr;
  return false;
}

// Chassis id subtype 4 and port id subtype 3 are MAC addresses; chassis 5 / port 4 network
// addresses; the other subtypes are names.
void format_id(const uint8_t* v, size_t n, uint8_t mac_subtype, uint8_t addr_subtype,
               char (&out)[kLldpText]) noexcept {
  if (n < 1) {
    out[0] = '\0';
    return;
  }
  uint8_t subtype = v[0];
  const uint8_t* id = v + 1;
  size_t id_len = n - 1;
  if (subtype == mac_subtype && id_len == 6) {
    char mac[18];
    format_mac(be48(id), mac);
    std::memcpy(out, mac, sizeof mac);
    return;
  }
  if (subtype == addr_subtype && format_network_address(id, id_len, out)) return;
  copy_text(id, id_len, out);
}

}  // namespace

LldpError parse_lldp(const uint8_t* d, size_t len, LldpInfo& out) noexcept {
  out = LldpInfo{};
  bool chassis = false, port = false, ttl = false;
  size_t i = 0;
  while (true) {
    if (!d || len - i < 2) return LldpError::kTruncated;  // no End TLV before the data ended
    uint8_t type = d[i] >> 1;
    size_t n = static_cast<size_t>(d[i] & 1) << 8 | d[i + 1];
    i += 2;
    if (len - i < n) return LldpError::kTruncated;
    const uint8_t* v = d + i;
    i += n;
    switch (type) {
      case 0:  // End of LLDPDU
        return chassis && port && ttl ? LldpError::kNone : LldpError::kMissingTlv;
      case 1:
        format_id(v, n, 4, 5, out.chassis_id);
        chassis = n >= 2;
        break;
      case 2:
        format_id(v, n, 3, 4, out.port_id);
        port = n >= 2;
        break;
      case 3:
        if (n >= 2) {
          out.ttl = be16(v);
          ttl = true;
        }
        break;
      case 4:
        copy_text(v, n, out.port_description);
        break;
      case 5:
        copy_text(v, n, out.system_name);
        break;
      case 7:
        if (n >= 4) out.capabilities = be16(v + 2);
        break;
      case 8:
        // Address string length (subtype + address), then the subtype (IANA family): keep the
        // first address only.
        if (!out.management_address[0] && n >= 2 && v[0] >= 1 && static_cast<size_t>(v[0]) < n) {
          format_network_address(v + 1, v[0], out.management_address);
        }
        break;
      default:
        break;  // system description, organizational TLVs, ...: not shown
    }
  }
}

const char* control_name(Control c) noexcept {
  static constexpr std::array<const char*, kControlCount> kNames = {
      "stp", "pvst",       "lldp",  "cdp", "vtp",   "dtp",  "udld", "lacp", "marker",
      "oam", "slow_other", "eapol", "ptp", "pause", "mvrp", "mmrp", "cfm",  "other_link_local"};
  size_t i = static_cast<size_t>(c);
  return i < kControlCount ? kNames[i] : "none";
}

Control classify_control(const uint8_t* data, uint32_t cap_len, const EthHeader& eth,
                         uint32_t& body_off, uint32_t& body_end) noexcept {
  body_off = eth.payload_off;
  body_end = cap_len;
  if (!eth.ok || eth.truncated) return Control::kNone;
  // 01:80:c2:00:00:00 to :0f are reserved for link-local control (802.1Q table 8-1); bridges
  // never forward them.
  bool link_local = (eth.dst & ~0xfull) == 0x0180c2000000ull;
  uint32_t off = eth.payload_off;
  size_t left = cap_len > off ? cap_len - off : 0;
  const uint8_t* p = data + off;
  if (eth.type < 0x0600) {
    if (eth.type < left) {
      left = eth.type;
      body_end = off + eth.type;
    }
    // 802.2 LLC: DSAP, SSAP, control.
    if (left >= 3 && p[0] == 0x42 && p[1] == 0x42 && p[2] == 0x03) {
      body_off = off + 3;
      return Control::kStp;
    }
    if (left >= 8 && p[0] == 0xaa && p[1] == 0xaa && p[2] == 0x03 && p[3] == 0x00 && p[4] == 0x00 &&
        p[5] == 0x0c) {
      body_off = off + 8;
      switch (be16(p + 6)) {
        case 0x010b:
          return Control::kPvst;
        case 0x2000:
          return Control::kCdp;
        case 0x2003:
          return Control::kVtp;
        case 0x2004:
          return Control::kDtp;
        case 0x0111:
          return Control::kUdld;
        default:
          break;
      }
    }
    return link_local ? Control::kOtherLinkLocal : Control::kNone;
  }
  switch (eth.type) {
    case 0x88cc:
      return Control::kLldp;
    case 0x8809:
      if (left < 1) return Control::kSlowOther;
      return p[0] == 1   ? Control::kLacp
             : p[0] == 2 ? Control::kMarker
             : p[0] == 3 ? Control::kOam
                         : Control::kSlowOther;
    case 0x888e:
      return Control::kEapol;
    case 0x88f7:
      return Control::kPtp;
    case 0x8808:
      return Control::kPause;
    case 0x88f5:
      return Control::kMvrp;
    case 0x88f6:
      return Control::kMmrp;
    case 0x8902:
      return Control::kCfm;
    default:
      return link_local ? Control::kOtherLinkLocal : Control::kNone;
  }
}

}  // namespace wiremeter::l2

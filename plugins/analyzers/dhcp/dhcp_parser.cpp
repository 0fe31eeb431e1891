// dhcp: the DHCPv4/v6 wire reader. See dhcp_parser.hpp.
#include "dhcp_parser.hpp"

namespace wiremeter::dhcp {
namespace {

uint32_t be32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
         static_cast<uint32_t>(p[2]) << 8 | p[3];
}
uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

constexpr uint8_t kPad = 0, kEnd = 255;
constexpr uint8_t kOptSubnet = 1, kOptRouter = 3, kOptDns = 6, kOptHostName = 12,
                  kOptDomainName = 15, kOptRequestedIp = 50, kOptLeaseTime = 51, kOptOverload = 52,
                  kOptMessageType = 53, kOptServerId = 54, kOptParamList = 55, kOptMessage = 56,
                  kOptRenewal = 58, kOptRebinding = 59, kOptVendorClass = 60, kOptClientId = 61,
                  kOptUserClass = 77, kOptClientFqdn = 81, kOptRelayAgent = 82;

void set_bytes(Bytes& b, const uint8_t* v, uint8_t len) {
  if (b.present) return;  // the first instance counts
  b.data = v;
  b.len = len;
  b.present = true;
}

bool read_addr(const uint8_t* v, uint8_t len, bool& has, uint32_t& out) {
  if (len != 4) return false;
  if (!has) {
    out = be32(v);
    has = true;
  }
  return true;
}

bool read_addrs(const uint8_t* v, uint8_t len, AddrList& list) {
  if (len == 0 || len % 4) return false;
  if (list.count) return true;
  for (uint8_t i = 0; i + 4 <= len && list.count < kMaxAddrs; i += 4) {
    list.addr[list.count++] = be32(v + i);
  }
  return true;
}

// RFC 4702 section 2.1: the name in DNS wire format (no compression) or, without the E bit, the
// ASCII text. A badly encoded name ends the text where it goes wrong: the option is advisory.
void read_fqdn(const uint8_t* v, uint8_t len, Message& m) {
  if (m.has_client_fqdn) return;
  m.has_client_fqdn = true;
  m.fqdn_flags = v[0];
  const uint8_t* name = v + 3;
  size_t n = len - 3u;
  size_t out = 0;
  auto put = [&](uint8_t c) {
    if (out < m.fqdn_text.size()) m.fqdn_text[out++] = static_cast<char>(c);
  };
  if (m.fqdn_flags & 0x04) {
    for (size_t i = 0; i < n;) {
      uint8_t label = name[i++];
      if (label == 0 || label > 63 || i + label > n) break;
      if (out) put('.');
      for (uint8_t k = 0; k < label; ++k) put(name[i + k]);
      i += label;
    }
  } else {
    for (size_t i = 0; i < n; ++i) put(name[i]);
  }
  m.fqdn_length = static_cast<uint16_t>(out);
}

// RFC 3046: sub-options of one type byte and one length byte.
bool read_relay(const uint8_t* v, uint8_t len, Message& m) {
  if (m.has_relay_info) return true;
  for (size_t i = 0; i < len;) {
    if (i + 2 > len || i + 2 + v[i + 1] > len) return false;
    uint8_t code = v[i], n = v[i + 1];
    if (code == 1) set_bytes(m.relay_circuit_id, v + i + 2, n);
    if (code == 2) set_bytes(m.relay_remote_id, v + i + 2, n);
    i += 2 + n;
  }
  m.has_relay_info = true;
  return true;
}

Error option(uint8_t code, const uint8_t* v, uint8_t len, Message& m) {
  bool ok = true;
  switch (code) {
    case kOptMessageType:
      ok = len == 1;
      if (ok && !m.has_type) {
        m.has_type = true;
        m.type = v[0];
      }
      break;
    case kOptSubnet:
      ok = read_addr(v, len, m.has_subnet_mask, m.subnet_mask);
      break;
    case kOptRequestedIp:
      ok = read_addr(v, len, m.has_requested_ip, m.requested_ip);
      break;
    case kOptServerId:
      ok = read_addr(v, len, m.has_server_id, m.server_id);
      break;
    case kOptLeaseTime:
      ok = read_addr(v, len, m.has_lease_time, m.lease_time);
      break;
    case kOptRenewal:
      ok = read_addr(v, len, m.has_renewal, m.renewal_time);
      break;
    case kOptRebinding:
      ok = read_addr(v, len, m.has_rebinding, m.rebinding_time);
      break;
    case kOptRouter:
      ok = read_addrs(v, len, m.routers);
      break;
    case kOptDns:
      ok = read_addrs(v, len, m.dns_servers);
      break;
    case kOptHostName:
      set_bytes(m.host_name, v, len);
      break;
    case kOptDomainName:
      set_bytes(m.domain_name, v, len);
      break;
    case kOptVendorClass:
      set_bytes(m.vendor_class, v, len);
      break;
    case kOptClientId:
      ok = len >= 1;
      if (ok) set_bytes(m.client_id, v, len);
      break;
    case kOptParamList:
      set_bytes(m.param_list, v, len);
      break;
    case kOptMessage:
      set_bytes(m.message, v, len);
      break;
    case kOptUserClass:
      set_bytes(m.user_class, v, len);
      break;
    case kOptClientFqdn:
      ok = len >= 3;
      if (ok) read_fqdn(v, len, m);
      break;
    case kOptRelayAgent:
      ok = read_relay(v, len, m);
      break;
    case kOptOverload:
      if (len != 1) return Error::kBadOptionLength;
      if (v[0] < 1 || v[0] > 3) return Error::kBadOverload;
      if (!m.overload) m.overload = v[0];
      break;
    default:
      break;
  }
  return ok ? Error::kNone : Error::kBadOptionLength;
}

// One option area: the options field, or `file` / `sname` when overloaded. Ends at the END
// option or at the end of the area (a missing END is common and harmless).
Error walk(const uint8_t* area, size_t len, Message& m) {
  for (size_t i = 0; i < len;) {
    uint8_t code = area[i];
    if (code == kEnd) return Error::kNone;
    if (code == kPad) {
      ++i;
      continue;
    }
    if (i + 2 > len || i + 2 + area[i + 1] > len) return Error::kTruncatedOption;
    uint8_t n = area[i + 1];
    if (Error e = option(code, area + i + 2, n, m); e != Error::kNone) return e;
    i += 2 + static_cast<size_t>(n);
  }
  return Error::kNone;
}

}  // namespace

const char* type_name(uint8_t t) noexcept {
  static constexpr const char* kNames[kTypeCount] = {"BOOTP",
                                                     "DISCOVER",
                                                     "OFFER",
                                                     "REQUEST",
                                                     "DECLINE",
                                                     "ACK",
                                                     "NAK",
                                                     "RELEASE",
                                                     "INFORM",
                                                     "FORCERENEW",
                                                     "LEASEQUERY",
                                                     "LEASEUNASSIGNED",
                                                     "LEASEUNKNOWN",
                                                     "LEASEACTIVE",
                                                     "BULKLEASEQUERY",
                                                     "LEASEQUERYDONE",
                                                     "ACTIVELEASEQUERY",
                                                     "LEASEQUERYSTATUS",
                                                     "TLS",
                                                     "UNKNOWN"};
  return t < kTypeCount ? kNames[t] : "UNKNOWN";
}

const char* v6_type_name(uint8_t t) noexcept {
  static constexpr const char* kNames[kV6TypeCount] = {
      "OTHER",           "SOLICIT",        "ADVERTISE",   "REQUEST",
      "CONFIRM",         "RENEW",          "REBIND",      "REPLY",
      "RELEASE",         "DECLINE",        "RECONFIGURE", "INFORMATION-REQUEST",
      "RELAY-FORW",      "RELAY-REPL",     "LEASEQUERY",  "LEASEQUERY-REPLY",
      "LEASEQUERY-DONE", "LEASEQUERY-DATA"};
  return t < kV6TypeCount ? kNames[t] : "OTHER";
}

const char* error_name(Error e) noexcept {
  switch (e) {
    case Error::kNone:
      return "none";
    case Error::kTruncatedHeader:
      return "truncated_header";
    case Error::kBadOp:
      return "bad_op";
    case Error::kBadHardwareLen:
      return "bad_hardware_length";
    case Error::kTruncatedOption:
      return "truncated_option";
    case Error::kBadOptionLength:
      return "bad_option_length";
    case Error::kBadOverload:
      return "bad_overload";
    case Error::kV6TruncatedOption:
      return "v6_truncated_option";
    case Error::kCount:
      break;
  }
  return "unknown";
}

uint64_t Message::chaddr_mac() const {
  if (htype != 1 || hlen != 6) return 0;
  uint64_t v = 0;
  for (int i = 0; i < 6; ++i) v = v << 8 | chaddr[static_cast<size_t>(i)];
  return v;
}

uint64_t Message::client_id_mac() const {
  if (!client_id.present || client_id.len != 7 || client_id.data[0] != 1) return 0;
  uint64_t v = 0;
  for (int i = 1; i < 7; ++i) v = v << 8 | client_id.data[i];
  return v;
}

Error parse_v4(const uint8_t* d, size_t len, Message& m) noexcept {
  m = Message{};
  if (!d || len < kBootpFixed) return Error::kTruncatedHeader;
  m.op = d[0];
  m.htype = d[1];
  m.hlen = d[2];
  m.hops = d[3];
  m.xid = be32(d + 4);
  m.secs = be16(d + 8);
  m.flags = be16(d + 10);
  m.ciaddr = be32(d + 12);
  m.yiaddr = be32(d + 16);
  m.siaddr = be32(d + 20);
  m.giaddr = be32(d + 24);
  for (size_t i = 0; i < 16; ++i) m.chaddr[i] = d[28 + i];
  if (m.op != 1 && m.op != 2) return Error::kBadOp;
  if (m.hlen > 16) return Error::kBadHardwareLen;
  // RFC 1497's magic cookie; without it, a plain BOOTP message whose vendor area is opaque.
  if (len < kOptionsStart || be32(d + kBootpFixed) != 0x63825363) return Error::kNone;
  m.has_cookie = true;
  if (Error e = walk(d + kOptionsStart, len - kOptionsStart, m); e != Error::kNone) return e;
  // RFC 2131 4.1: with option 52, `file` (1), `sname` (2) or both (3, file first) hold options.
  if (m.overload & 1) {
    if (Error e = walk(d + 108, 128, m); e != Error::kNone) return e;
  }
  if (m.overload & 2) {
    if (Error e = walk(d + 44, 64, m); e != Error::kNone) return e;
  }
  return Error::kNone;
}

Error parse_v6(const uint8_t* d, size_t len, uint8_t& type) noexcept {
  type = 0;
  if (!d || len < 4) {
    if (d && len) type = d[0];
    return Error::kTruncatedHeader;
  }
  type = d[0];
  // RFC 8415 9: relay messages carry hop count, link and peer address (34 bytes) before options.
  size_t at = (type == 12 || type == 13) ? 34 : 4;
  if (len < at) return Error::kTruncatedHeader;
  while (at < len) {
    if (len - at < 4) return Error::kV6TruncatedOption;
    size_t n = be16(d + at + 2);
    if (len - at - 4 < n) return Error::kV6TruncatedOption;
    at += 4 + n;
  }
  return Error::kNone;
}

}  // namespace wiremeter::dhcp

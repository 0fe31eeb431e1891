#include "name_parsers.hpp"

#include <algorithm>
#include <cstring>

namespace wiremeter::ip {
namespace {

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

// ---------------------------------------------------------------------------------------------
// DNS
// ---------------------------------------------------------------------------------------------

constexpr size_t kDnsHeader = 12;
constexpr uint16_t kTypeA = 1, kTypeCname = 5, kTypeAaaa = 28, kClassIn = 1;
// Pointer jumps allowed in one name: real messages chain a few; more is a loop or an attack.
constexpr int kMaxJumps = 32;
// Answer records looked at per message, and CNAME steps followed from the queried name: a
// resolver's answer has a handful of each; the bounds keep the work per message fixed.
constexpr size_t kMaxRecords = 32;
constexpr size_t kMaxChain = 8;

struct NameText {
  char text[kMaxName + 1];
  size_t length = 0;
  std::string_view view() const { return {text, length}; }
};

// Reads the (possibly compressed) name at `off` as lowercased text. `end` (optional) gets the
// offset just after the name where it starts. Pointers may only point backwards and at most
// kMaxJumps times; the wire length is bounded by 255 (RFC 1035 2.3.4), so every walk ends.
bool read_name(const uint8_t* m, size_t len, size_t off, NameText& out, size_t* end) {
  size_t pos = off, wire = 1;  // the root label's byte
  bool jumped = false;
  int jumps = 0;
  out.length = 0;
  for (;;) {
    if (pos >= len) return false;
    uint8_t b = m[pos];
    if ((b & 0xc0) == 0xc0) {
      if (pos + 1 >= len) return false;
      size_t target = static_cast<size_t>(b & 0x3f) << 8 | m[pos + 1];
      if (!jumped && end) *end = pos + 2;
      jumped = true;
      if (target >= pos || target < kDnsHeader || ++jumps > kMaxJumps) return false;
      pos = target;
      continue;
    }
    if (b & 0xc0) return false;  // 0x40/0x80 label types: reserved (RFC 6891 6.1.4)
    if (b == 0) {
      if (!jumped && end) *end = pos + 1;
      return true;
    }
    if (pos + 1 + b > len) return false;
    wire += 1u + b;
    if (wire > 255) return false;
    if (out.length) out.text[out.length++] = '.';
    // wire <= 255 keeps the text within kMaxName: labels + dots = wire - 2.
    out.length += clean_name(m + pos + 1, b, true, out.text + out.length);
    pos += 1u + b;
  }
}

// Offset after the name at `off`, without decoding it; 0 when it runs out of bytes.
size_t skip_name(const uint8_t* m, size_t len, size_t off) {
  size_t pos = off;
  for (int labels = 0; labels < 128; ++labels) {
    if (pos >= len) return 0;
    uint8_t b = m[pos];
    if ((b & 0xc0) == 0xc0) return pos + 2 <= len ? pos + 2 : 0;
    if (b & 0xc0) return 0;
    if (b == 0) return pos + 1;
    pos += 1u + b;
  }
  return 0;
}

struct Rr {
  uint16_t owner, type, rdata, rdlen;
};

bool in_chain(const NameText* chain, size_t n, std::string_view name) {
  for (size_t i = 0; i < n; ++i) {
    if (chain[i].view() == name) return true;
  }
  return false;
}

}  // namespace

const char* source_name(NameSource s) noexcept {
  switch (s) {
    case NameSource::kDns:
      return "dns";
    case NameSource::kDhcp:
      return "dhcp";
    case NameSource::kSni:
      return "sni";
    case NameSource::kCount:
      break;
  }
  return "unknown";
}

size_t clean_name(const uint8_t* in, size_t n, bool lower, char* out) noexcept {
  n = std::min(n, kMaxName);
  for (size_t i = 0; i < n; ++i) {
    uint8_t c = in[i];
    if (c < 0x21 || c > 0x7e) c = '?';
    if (lower && c >= 'A' && c <= 'Z') c = static_cast<uint8_t>(c + ('a' - 'A'));
    out[i] = static_cast<char>(c);
  }
  out[n] = '\0';
  return n;
}

Parse parse_dns_names(const uint8_t* m, size_t len, NameSink& sink) noexcept {
  if (len < kDnsHeader) return Parse::kTruncated;
  uint16_t flags = be16(m + 2);
  bool response = flags & 0x8000;
  uint8_t opcode = (flags >> 11) & 0x0f, rcode = flags & 0x0f;
  if (!response || opcode != 0 || rcode != 0) return Parse::kIgnored;
  uint16_t qdcount = be16(m + 4), ancount = be16(m + 6);

  NameText chain[kMaxChain];
  size_t chain_n = 0;
  size_t pos = kDnsHeader;
  for (uint16_t i = 0; i < qdcount; ++i) {
    size_t end = 0;
    if (i == 0) {
      if (!read_name(m, len, pos, chain[0], &end)) return Parse::kMalformed;
      if (chain[0].length) chain_n = 1;
    } else if (!(end = skip_name(m, len, pos))) {
      return Parse::kTruncated;
    }
    if (end + 4 > len) return Parse::kTruncated;
    pos = end + 4;
  }

  Rr rrs[kMaxRecords];
  size_t n = 0;
  Parse result = Parse::kOk;
  for (uint16_t i = 0; i < ancount; ++i) {
    size_t end = skip_name(m, len, pos);
    if (!end || end + 10 > len) {
      result = Parse::kTruncated;  // the records read so far still count
      break;
    }
    uint16_t type = be16(m + end), rclass = be16(m + end + 2), rdlen = be16(m + end + 8);
    size_t rdata = end + 10;
    if (rdata + rdlen > len) {
      result = Parse::kTruncated;
      break;
    }
    // mDNS sets the top class bit (cache flush, RFC 6762 10.2).
    bool wanted =
        (rclass & 0x7fff) == kClassIn && ((type == kTypeA && rdlen == 4) ||
                                          (type == kTypeAaaa && rdlen == 16) || type == kTypeCname);
    if (wanted && n < kMaxRecords) {
      rrs[n++] = {static_cast<uint16_t>(pos), type, static_cast<uint16_t>(rdata), rdlen};
    }
    pos = rdata + rdlen;
  }

  // The queried name's CNAME chain, in any record order; each pass adds at least one name.
  NameText owner, target;
  for (size_t pass = 0; chain_n && pass < kMaxChain; ++pass) {
    bool grew = false;
    for (size_t i = 0; i < n && chain_n < kMaxChain; ++i) {
      if (rrs[i].type != kTypeCname || !read_name(m, len, rrs[i].owner, owner, nullptr)) continue;
      if (!in_chain(chain, chain_n, owner.view())) continue;
      if (!read_name(m, len, rrs[i].rdata, target, nullptr) || target.length == 0) continue;
      if (in_chain(chain, chain_n, target.view())) continue;
      chain[chain_n++] = target;
      grew = true;
    }
    if (!grew) break;
  }

  for (size_t i = 0; i < n; ++i) {
    if (rrs[i].type == kTypeCname) continue;
    if (!read_name(m, len, rrs[i].owner, owner, nullptr)) {
      result = Parse::kMalformed;
      continue;
    }
    std::string_view name =
        chain_n && in_chain(chain, chain_n, owner.view()) ? chain[0].view() : owner.view();
    if (name.empty()) continue;
    sink.on_name(rrs[i].type == kTypeA ? 4 : 6, m + rrs[i].rdata, name);
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// DHCP
// ---------------------------------------------------------------------------------------------

Parse parse_dhcp_name(const uint8_t* m, size_t len, NameSink& sink) noexcept {
  constexpr size_t kOptions = 240;  // fixed BOOTP part (236) + magic cookie
  if (len < kOptions) return Parse::kTruncated;
  if (m[0] != 1 && m[0] != 2) return Parse::kMalformed;  // op: BOOTREQUEST or BOOTREPLY
  if (m[236] != 99 || m[237] != 130 || m[238] != 83 || m[239] != 99) return Parse::kIgnored;

  uint8_t msg_type = 0;
  const uint8_t *host = nullptr, *fqdn = nullptr, *requested = nullptr;
  size_t host_len = 0, fqdn_len = 0;
  Parse result = Parse::kOk;
  for (size_t i = kOptions; i < len;) {
    uint8_t code = m[i];
    if (code == 255) break;
    if (code == 0) {
      ++i;
      continue;
    }
    if (i + 1 >= len || i + 2 + m[i + 1] > len) {
      result = Parse::kTruncated;
      break;
    }
    uint8_t olen = m[i + 1];
    const uint8_t* v = m + i + 2;
    if (code == 53 && olen == 1) msg_type = v[0];
    if (code == 12 && olen > 0) host = v, host_len = olen;
    if (code == 81 && olen > 3) fqdn = v, fqdn_len = olen;
    if (code == 50 && olen == 4) requested = v;
    i += 2u + olen;
  }
  // DECLINE (4): the address is someone else's; NAK (6), RELEASE (7): no longer the client's.
  if (msg_type == 4 || msg_type == 6 || msg_type == 7) return Parse::kIgnored;

  char name[kMaxName + 1];
  size_t name_len = 0;
  if (host) {
    name_len = clean_name(host, host_len, true, name);
  } else if (fqdn) {
    const uint8_t* d = fqdn + 3;  // flags, RCODE1, RCODE2 (RFC 4702 2)
    size_t n = fqdn_len - 3;
    if (fqdn[0] & 0x04) {
      // E flag: the name in DNS wire format, without compression.
      for (size_t p = 0; p < n && d[p] != 0;) {
        size_t l = d[p];
        if ((l & 0xc0) || p + 1 + l > n || name_len + l + 1 > kMaxName) break;
        if (name_len) name[name_len++] = '.';
        name_len += clean_name(d + p + 1, l, true, name + name_len);
        p += 1 + l;
      }
    } else {
      name_len = clean_name(d, n, true, name);
    }
  }
  while (name_len && name[name_len - 1] == '.') --name_len;  // an FQDN's trailing root dot
  if (name_len == 0) return result == Parse::kOk ? Parse::kIgnored : result;

  static constexpr uint8_t kZero[4] = {};
  const uint8_t* addr = nullptr;
  if (std::memcmp(m + 16, kZero, 4) != 0) {
    addr = m + 16;  // yiaddr: the address the server assigns
  } else if (std::memcmp(m + 12, kZero, 4) != 0) {
    addr = m + 12;  // ciaddr: the client's current address (renewal, INFORM)
  } else if (requested && std::memcmp(requested, kZero, 4) != 0) {
    addr = requested;  // the REQUEST's requested address
  }
  if (!addr) return result == Parse::kOk ? Parse::kIgnored : result;
  sink.on_name(4, addr, {name, name_len});
  return result;
}

// ---------------------------------------------------------------------------------------------
// TLS ClientHello server_name (RFC 8446 4.1.2, RFC 6066 3)
// ---------------------------------------------------------------------------------------------

Parse parse_tls_sni(const uint8_t* d, size_t len, char* out, size_t& out_len) noexcept {
  out_len = 0;
  if (len < 5) return Parse::kTruncated;
  if (d[0] != 0x16 || d[1] != 0x03) return Parse::kIgnored;  // handshake record, TLS 1.x
  size_t record_len = be16(d + 3);
  const uint8_t* h = d + 5;
  size_t have = std::min(len - 5, record_len);
  if (have < 4) return Parse::kTruncated;
  if (h[0] != 1) return Parse::kIgnored;  // not a ClientHello
  size_t declared = 4 + (static_cast<size_t>(h[1]) << 16 | static_cast<size_t>(h[2]) << 8 | h[3]);
  size_t limit = std::min(have, declared);
  // A field that ends past the captured bytes but within the declared lengths is cut by TCP
  // segmentation (a large hello); past the declared lengths, the hello is broken.
  auto check = [&](size_t end) {
    return end <= limit ? Parse::kOk : end <= declared ? Parse::kTruncated : Parse::kMalformed;
  };
  size_t pos = 4 + 2 + 32;  // version, random
  if (Parse r = check(pos + 1); r != Parse::kOk) return r;
  pos += 1u + h[pos];  // session id
  if (Parse r = check(pos + 2); r != Parse::kOk) return r;
  pos += 2u + be16(h + pos);  // cipher suites
  if (Parse r = check(pos + 1); r != Parse::kOk) return r;
  pos += 1u + h[pos];                           // compression methods
  if (pos == declared) return Parse::kIgnored;  // no extensions at all
  if (Parse r = check(pos + 2); r != Parse::kOk) return r;
  size_t ext_end = pos + 2 + be16(h + pos);
  if (ext_end > declared) return Parse::kMalformed;
  pos += 2;
  while (pos < ext_end) {
    if (Parse r = check(pos + 4); r != Parse::kOk) return r;
    uint16_t type = be16(h + pos), elen = be16(h + pos + 2);
    size_t body = pos + 4;
    if (body + elen > ext_end) return Parse::kMalformed;
    if (type == 0) {
      if (Parse r = check(body + elen); r != Parse::kOk) return r;
      if (elen < 2) return Parse::kMalformed;
      size_t list_end = body + 2 + be16(h + body);
      if (list_end > body + elen) return Parse::kMalformed;
      for (size_t q = body + 2; q + 3 <= list_end;) {
        uint8_t name_type = h[q];
        size_t nlen = be16(h + q + 1);
        if (q + 3 + nlen > list_end) return Parse::kMalformed;
        if (name_type == 0 && nlen > 0) {
          out_len = clean_name(h + q + 3, nlen, true, out);
          return Parse::kOk;
        }
        q += 3 + nlen;
      }
      return Parse::kIgnored;
    }
    pos = body + elen;
  }
  return Parse::kIgnored;
}

}  // namespace wiremeter::ip

// quic: the wire-format readers. See quic_parser.hpp for the contract; the comments here say
// why the code reads the bytes the way it does.
#include "quic_parser.hpp"

#include <cstdio>
#include <cstring>

namespace wiremeter::quic {
namespace {

// Initial salts (RFC 9001 5.2, RFC 9369 3.3.1, and the drafts and Google versions that
// Wireshark and nDPI decrypt with the same scheme).
constexpr uint8_t kSaltV1[20] = {0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17,
                                 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a};
constexpr uint8_t kSaltV2[20] = {0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93,
                                 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb, 0xf9, 0xbd, 0x2e, 0xd9};
constexpr uint8_t kSaltDraft22[20] = {0x7f, 0xbc, 0xdb, 0x0e, 0x7c, 0x66, 0xbb, 0xe9, 0x19, 0x3a,
                                      0x96, 0xcd, 0x21, 0x51, 0x9e, 0xbd, 0x7a, 0x02, 0x64, 0x4a};
constexpr uint8_t kSaltDraft23[20] = {0xc3, 0xee, 0xf7, 0x12, 0xc7, 0x2e, 0xbb, 0x5a, 0x11, 0xa7,
                                      0xd2, 0x43, 0x2b, 0xb4, 0x63, 0x65, 0xbe, 0xf9, 0xf5, 0x02};
constexpr uint8_t kSaltDraft29[20] = {0xaf, 0xbf, 0xec, 0x28, 0x99, 0x93, 0xd2, 0x4c, 0x9e, 0x97,
                                      0x86, 0xf1, 0x9c, 0x61, 0x11, 0xe0, 0x43, 0x90, 0xa8, 0x99};
constexpr uint8_t kSaltQ050[20] = {0x50, 0x45, 0x74, 0xef, 0xd0, 0x66, 0xfe, 0x2f, 0x9d, 0x94,
                                   0x5c, 0xfc, 0xdb, 0xd3, 0xa7, 0xf0, 0xd3, 0xb5, 0x6b, 0x45};
constexpr uint8_t kSaltT050[20] = {0x7f, 0xf5, 0x79, 0xe5, 0xac, 0xd0, 0x72, 0x91, 0x55, 0x80,
                                   0x30, 0x4c, 0x43, 0xa2, 0x36, 0x7c, 0x60, 0x48, 0x83, 0x10};
constexpr uint8_t kSaltT051[20] = {0x7a, 0x4e, 0xde, 0xf4, 0xe7, 0xcc, 0xee, 0x5f, 0xa4, 0x50,
                                   0x6c, 0x19, 0x12, 0x4f, 0xc8, 0xcc, 0xda, 0x6e, 0x03, 0x3d};

constexpr uint32_t kV1 = 0x00000001, kV2 = 0x6b3343cf, kV2Draft = 0x709a50c4;
constexpr uint32_t kMvfstDraft22 = 0xfaceb001, kMvfstDraft27 = 0xfaceb002,
                   kMvfstExperimental = 0xfaceb00e;

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t be24(const uint8_t* p) { return uint32_t{p[0]} << 16 | uint32_t{p[1]} << 8 | p[2]; }
uint32_t be32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}
uint32_t le32(const uint8_t* p) {
  return uint32_t{p[3]} << 24 | uint32_t{p[2]} << 16 | uint32_t{p[1]} << 8 | p[0];
}

bool digit(uint8_t c) { return c >= '0' && c <= '9'; }

// 'Q0nn' or 'T0nn': Google's version numbers are ASCII.
bool google_version(uint32_t v, char letter) {
  return (v >> 24) == static_cast<uint8_t>(letter) && ((v >> 16) & 0xff) == '0' &&
         digit((v >> 8) & 0xff) && digit(v & 0xff);
}
int google_number(uint32_t v) {
  return static_cast<int>(((v >> 8) & 0xff) - '0') * 10 + static_cast<int>((v & 0xff) - '0');
}

// RFC 9000 15: versions of the form 0x?a?a?a?a are reserved to exercise version negotiation.
bool grease_version(uint32_t v) { return (v & 0x0f0f0f0f) == 0x0a0a0a0a; }

// Copies `n` bytes as printable ASCII (anything else becomes '?'), cut to the buffer, and
// NUL-terminates: these texts go into JSON, logs and metric labels as they are.
void copy_text(char* dst, size_t cap, size_t& at, const uint8_t* src, size_t n) {
  for (size_t i = 0; i < n && at + 1 < cap; ++i) {
    uint8_t c = src[i];
    dst[at++] = (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
  }
  dst[at] = 0;
}

// A bounded reader for the ClientHello. `cut` is set when a read runs past the bytes present.
struct Cursor {
  const uint8_t* data;
  size_t end;
  size_t pos = 0;
  bool cut = false;
  bool need(size_t n) {
    if (end - pos < n) {
      cut = true;
      return false;
    }
    return true;
  }
};

}  // namespace

const char* error_name(Error e) {
  switch (e) {
    case Error::kNone:
      return "none";
    case Error::kTruncatedHeader:
      return "truncated_header";
    case Error::kBadCidLength:
      return "bad_cid_length";
    case Error::kBadLength:
      return "bad_length";
    case Error::kTooShortToDecrypt:
      return "too_short_to_decrypt";
    case Error::kDecryptFailed:
      return "decrypt_failed";
    case Error::kBadFrame:
      return "bad_frame";
    case Error::kBadClientHello:
      return "bad_client_hello";
    case Error::kBadChlo:
      return "bad_chlo";
    case Error::kCount:
      break;
  }
  return "unknown";
}

const char* packet_type_name(PacketType t) {
  switch (t) {
    case PacketType::kInitial:
      return "initial";
    case PacketType::kZeroRtt:
      return "0rtt";
    case PacketType::kHandshake:
      return "handshake";
    case PacketType::kRetry:
      return "retry";
    case PacketType::kVersionNegotiation:
      return "version_negotiation";
    case PacketType::kShort:
      return "short";
    case PacketType::kGquic:
      return "gquic";
    case PacketType::kCount:
      break;
  }
  return "unknown";
}

VersionInfo version_info(uint32_t v) {
  VersionInfo info;
  info.version = v;
  if (v == kV1) {
    info.known = true;
    info.salt = kSaltV1;
  } else if (v == kV2) {
    info.known = true;
    info.salt = kSaltV2;
    info.v2 = true;
  } else if ((v >> 8) == 0xff0000) {
    // IETF drafts. The Initial protection of RFC 9001 exists from draft-21 on; the salt
    // changed at drafts 23, 29 and 33 (33 and 34 already use v1's).
    uint32_t draft = v & 0xff;
    info.known = draft >= 1 && draft <= 34;
    if (draft >= 33 && draft <= 34) {
      info.salt = kSaltV1;
    } else if (draft >= 29) {
      info.salt = draft <= 32 ? kSaltDraft29 : nullptr;
    } else if (draft >= 23) {
      info.salt = kSaltDraft23;
    } else if (draft >= 21) {
      info.salt = kSaltDraft22;
    }
  } else if (v == kMvfstDraft22) {
    info.known = true;
    info.salt = kSaltDraft22;
  } else if (v == kMvfstDraft27 || v == kMvfstExperimental) {
    info.known = true;
    info.salt = kSaltDraft23;
  } else if ((v >> 4) == 0xfaceb00) {
    info.known = true;  // other mvfst versions: recognized, keys unknown
  } else if (google_version(v, 'Q')) {
    int n = google_number(v);
    info.known = n >= 20;
    info.tls = false;
    if (n < 50) {
      info.gquic_q046 = true;  // Q046 (and the experimental 44/45): clear-text long header
    } else if (n == 50) {
      info.salt = kSaltQ050;
    }
  } else if (google_version(v, 'T')) {
    int n = google_number(v);
    info.known = n >= 48;
    if (n == 50) info.salt = kSaltT050;
    if (n == 51) info.salt = kSaltT051;
  } else if (v == kV2Draft) {
    info.known = true;
  } else if (grease_version(v)) {
    info.known = true;  // a client forcing version negotiation: still a QUIC flow
  }
  return info;
}

void version_name(uint32_t v, char (&out)[24]) {
  if (v == 0) {
    std::snprintf(out, sizeof out, "negotiation");
  } else if (v == kV1) {
    std::snprintf(out, sizeof out, "v1");
  } else if (v == kV2) {
    std::snprintf(out, sizeof out, "v2");
  } else if (v == kV2Draft) {
    std::snprintf(out, sizeof out, "v2-draft");
  } else if ((v >> 8) == 0xff0000 && (v & 0xff) >= 1 && (v & 0xff) <= 34) {
    std::snprintf(out, sizeof out, "draft-%u", v & 0xff);
  } else if (v == kMvfstDraft22) {
    std::snprintf(out, sizeof out, "mvfst-draft-22");
  } else if (v == kMvfstDraft27) {
    std::snprintf(out, sizeof out, "mvfst-draft-27");
  } else if (v == kMvfstExperimental) {
    std::snprintf(out, sizeof out, "mvfst-experimental");
  } else if (google_version(v, 'Q') || google_version(v, 'T')) {
    std::snprintf(out, sizeof out, "%c%c%c%c", static_cast<char>(v >> 24),
                  static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v));
  } else if (grease_version(v)) {
    std::snprintf(out, sizeof out, "grease");
  } else {
    std::snprintf(out, sizeof out, "0x%08x", v);
  }
}

bool read_varint(const uint8_t* data, size_t len, size_t& pos, uint64_t& value) {
  if (pos >= len) return false;
  size_t n = size_t{1} << (data[pos] >> 6);
  if (n > len - pos) return false;
  uint64_t v = data[pos] & 0x3f;
  for (size_t i = 1; i < n; ++i) v = v << 8 | data[pos + i];
  value = v;
  pos += n;
  return true;
}

Error parse_long_header(const uint8_t* data, size_t len, LongHeader& out) {
  out = LongHeader{};
  if (len < 6) return Error::kTruncatedHeader;
  uint8_t first = data[0];
  uint32_t v = be32(data + 1);
  out.version = version_info(v);
  size_t pos = 5;

  if (out.version.gquic_q046) {
    // Q046: one byte holds both CID lengths as nibbles (0, or 3 + nibble), as in the
    // pre-draft-22 IETF headers; the packet runs to the end of the datagram.
    uint8_t lens = data[pos++];
    out.dcid_len = static_cast<uint8_t>((lens >> 4) ? (lens >> 4) + 3 : 0);
    out.scid_len = static_cast<uint8_t>((lens & 0x0f) ? (lens & 0x0f) + 3 : 0);
    if (len - pos < size_t{out.dcid_len} + out.scid_len) return Error::kTruncatedHeader;
    out.dcid = data + pos;
    pos += out.dcid_len;
    out.scid = data + pos;
    pos += out.scid_len;
    out.type = static_cast<PacketType>((first >> 4) & 3);
    out.pn_offset = pos;
    out.packet_len = len;
    return Error::kNone;
  }

  // The invariant part (RFC 8999 5.1): DCID and SCID, each with a one-byte length.
  out.dcid_len = data[pos++];
  if (len - pos < out.dcid_len) return Error::kTruncatedHeader;
  out.dcid = data + pos;
  pos += out.dcid_len;
  if (pos >= len) return Error::kTruncatedHeader;
  out.scid_len = data[pos++];
  if (len - pos < out.scid_len) return Error::kTruncatedHeader;
  out.scid = data + pos;
  pos += out.scid_len;

  if (v == 0) {
    // Version Negotiation: CID lengths up to 255 are legal here (RFC 8999 6), but only the
    // first 20 bytes are kept by anyone.
    out.type = PacketType::kVersionNegotiation;
    out.packet_len = len;
    if (out.dcid_len > kMaxCid) out.dcid_len = kMaxCid;
    if (out.scid_len > kMaxCid) out.scid_len = kMaxCid;
    return Error::kNone;
  }
  if (out.dcid_len > kMaxCid || out.scid_len > kMaxCid) {
    // Only v1-style versions fix the bound; for an unknown version keep what we can show.
    if (out.version.known) return Error::kBadCidLength;
    if (out.dcid_len > kMaxCid) out.dcid_len = kMaxCid;
    if (out.scid_len > kMaxCid) out.scid_len = kMaxCid;
  }
  uint8_t bits = (first >> 4) & 3;
  // RFC 9369 3.2: v2 rotates the packet types by one (Initial 1, 0-RTT 2, Handshake 3, Retry 0).
  if (out.version.v2) bits = static_cast<uint8_t>((bits + 3) & 3);
  out.type = static_cast<PacketType>(bits);
  if (!out.version.known || out.type == PacketType::kRetry) {
    // Past the invariants the layout of an unknown version is unknown; Retry has no Length.
    out.packet_len = len;
    return Error::kNone;
  }
  uint64_t n = 0;
  if (out.type == PacketType::kInitial) {
    if (!read_varint(data, len, pos, n)) return Error::kTruncatedHeader;
    if (n > len - pos) return Error::kBadLength;
    pos += static_cast<size_t>(n);  // the token
  }
  if (!read_varint(data, len, pos, n)) return Error::kTruncatedHeader;
  if (n > len - pos) return Error::kBadLength;
  out.pn_offset = pos;
  out.packet_len = pos + static_cast<size_t>(n);
  return Error::kNone;
}

bool parse_gquic_public_header(const uint8_t* data, size_t len, uint32_t& version,
                               const uint8_t*& cid, size_t& data_offset) {
  // Flags: 0x01 version present, 0x08 8-byte connection ID; 0x80 is unused before Q046, so a
  // set bit means an IETF long header instead.
  if (len < 13 || (data[0] & 0x80) || (data[0] & 0x09) != 0x09) return false;
  uint32_t v = be32(data + 9);
  if (!google_version(v, 'Q') || google_number(v) >= 46) return false;
  version = v;
  cid = data + 1;
  data_offset = 13;
  return true;
}

size_t handshake_message_size(const uint8_t* data, size_t len) {
  return len < 4 ? 0 : 4 + size_t{be24(data + 1)};
}

Error parse_client_hello(const uint8_t* data, size_t len, Hello& out) {
  if (len < 4 || data[0] != 1) return Error::kBadClientHello;
  size_t total = handshake_message_size(data, len);
  bool whole = total <= len;
  Cursor c{data, whole ? total : len, 4};
  // A length that contradicts the message is malformed; running out of captured bytes is not.
  auto result = [&](bool inconsistent) {
    if (inconsistent && whole) return Error::kBadClientHello;
    out.complete = false;
    return Error::kNone;
  };

  if (!c.need(2 + 32)) return result(true);
  out.tls_version_max = be16(data + c.pos);
  c.pos += 2 + 32;  // legacy_version, random
  if (!c.need(1)) return result(true);
  size_t n = data[c.pos++];
  if (n > 32) return Error::kBadClientHello;
  if (!c.need(n)) return result(true);
  c.pos += n;  // legacy_session_id
  if (!c.need(2)) return result(true);
  n = be16(data + c.pos);
  c.pos += 2;
  if (!c.need(n)) return result(true);
  c.pos += n;  // cipher_suites
  if (!c.need(1)) return result(true);
  n = data[c.pos++];
  if (!c.need(n)) return result(true);
  c.pos += n;  // legacy_compression_methods
  if (c.pos == c.end && whole) {
    out.complete = true;  // no extensions at all
    return Error::kNone;
  }
  if (!c.need(2)) return result(true);
  size_t ext_len = be16(data + c.pos);
  c.pos += 2;
  if (whole && ext_len > c.end - c.pos) return Error::kBadClientHello;
  size_t ext_end = c.pos + ext_len < c.end ? c.pos + ext_len : c.end;

  size_t alpn_at = 0, sni_at = 0;
  uint16_t best = 0;
  while (c.pos < ext_end) {
    if (ext_end - c.pos < 4) return result(true);
    uint16_t type = be16(data + c.pos);
    size_t elen = be16(data + c.pos + 2);
    c.pos += 4;
    if (elen > ext_end - c.pos) return result(true);
    const uint8_t* e = data + c.pos;
    c.pos += elen;
    switch (type) {
      case 0x0000: {  // server_name (RFC 6066 3): list of (type, name)
        if (elen < 2 || be16(e) != elen - 2) return Error::kBadClientHello;
        for (size_t p = 2; p + 3 <= elen;) {
          uint8_t name_type = e[p];
          size_t name_len = be16(e + p + 1);
          p += 3;
          if (name_len > elen - p) return Error::kBadClientHello;
          if (name_type == 0 && !out.has_server_name) {
            copy_text(out.server_name, sizeof out.server_name, sni_at, e + p, name_len);
            out.has_server_name = true;
          }
          p += name_len;
        }
        break;
      }
      case 0x0010: {  // application_layer_protocol_negotiation (RFC 7301 3.1)
        if (elen < 2 || be16(e) != elen - 2) return Error::kBadClientHello;
        for (size_t p = 2; p < elen;) {
          size_t plen = e[p++];
          if (plen > elen - p) return Error::kBadClientHello;
          if (alpn_at)
            copy_text(out.alpn, sizeof out.alpn, alpn_at, reinterpret_cast<const uint8_t*>(","), 1);
          copy_text(out.alpn, sizeof out.alpn, alpn_at, e + p, plen);
          out.has_alpn = true;
          p += plen;
        }
        break;
      }
      case 0x002b: {  // supported_versions (RFC 8446 4.2.1), in a ClientHello: a list
        if (elen < 1 || e[0] != elen - 1 || (e[0] & 1)) return Error::kBadClientHello;
        for (size_t p = 1; p + 2 <= elen; p += 2) {
          uint16_t ver = be16(e + p);
          if ((ver & 0x0f0f) == 0x0a0a) continue;  // GREASE (RFC 8701)
          if (ver > best) best = ver;
        }
        if (best) out.tls_version_max = best;  // now: a cut message may end before the loop does
        break;
      }
      case 0x0039:  // quic_transport_parameters (RFC 9001 8.2)
      case 0xffa5:  // the same, as the drafts numbered it
        out.transport_parameters = true;
        break;
      default:
        break;
    }
  }
  out.complete = whole;
  return Error::kNone;
}

Error parse_chlo(const uint8_t* data, size_t len, Hello& out) {
  size_t at = len;
  for (size_t i = 0; i + 4 <= len; ++i) {
    if (std::memcmp(data + i, "CHLO", 4) == 0) {
      at = i;
      break;
    }
  }
  if (at == len) return Error::kNone;
  out.chlo = true;
  // "CHLO", uint16 entry count, uint16 padding, then (tag, uint32 end offset) entries, all
  // little-endian, then the values one after the other.
  if (len - at < 8) {
    out.complete = false;
    return Error::kNone;
  }
  size_t entries = static_cast<size_t>(data[at + 4] | data[at + 5] << 8);
  size_t table = at + 8;
  size_t values = table + entries * 8;
  uint32_t prev_end = 0;
  bool whole = true;
  for (size_t i = 0; i < entries; ++i) {
    size_t entry = table + i * 8;
    if (entry + 8 > len) {
      whole = false;
      break;
    }
    uint32_t end = le32(data + entry + 4);
    if (end < prev_end) return Error::kBadChlo;
    if (values > len || end > len - values) {
      whole = false;
      break;
    }
    const uint8_t* value = data + values + prev_end;
    size_t vlen = end - prev_end;
    size_t w = 0;
    if (std::memcmp(data + entry, "SNI\0", 4) == 0) {
      copy_text(out.server_name, sizeof out.server_name, w, value, vlen);
      out.has_server_name = vlen > 0;
    } else if (std::memcmp(data + entry, "UAID", 4) == 0) {
      copy_text(out.user_agent, sizeof out.user_agent, w, value, vlen);
    }
    prev_end = end;
  }
  out.complete = whole;
  return Error::kNone;
}

const char* tls_version_name(uint16_t v) {
  switch (v) {
    case 0:
      return "";
    case 0x0300:
      return "SSLv3";
    case 0x0301:
      return "TLSv1.0";
    case 0x0302:
      return "TLSv1.1";
    case 0x0303:
      return "TLSv1.2";
    case 0x0304:
      return "TLSv1.3";
    default:
      break;
  }
  // 0x7fxx: the TLS 1.3 drafts that early QUIC drafts negotiated.
  return (v >> 8) == 0x7f ? "TLSv1.3-draft" : "unknown";
}

}  // namespace wiremeter::quic

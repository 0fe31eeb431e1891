#include "tls_parser.hpp"

#include <algorithm>
#include <cstring>

#include "tls_names.hpp"

namespace wiremeter::tls {
namespace {

// A bounds-checked big-endian reader. A read past the end sets `bad` and returns zeros or an
// empty span, so a parser checks once at the end of a block instead of before every field.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> s) : p_(s.data()), n_(s.size()) {}
  bool bad() const { return bad_; }
  bool done() const { return bad_ || pos_ == n_; }
  size_t left() const { return bad_ ? 0 : n_ - pos_; }
  uint8_t u8() { return need(1) ? p_[pos_++] : 0; }
  uint16_t u16() {
    if (!need(2)) return 0;
    auto v = static_cast<uint16_t>(p_[pos_] << 8 | p_[pos_ + 1]);
    pos_ += 2;
    return v;
  }
  uint32_t u24() {
    if (!need(3)) return 0;
    uint32_t v = uint32_t{p_[pos_]} << 16 | uint32_t{p_[pos_ + 1]} << 8 | p_[pos_ + 2];
    pos_ += 3;
    return v;
  }
  std::span<const uint8_t> bytes(size_t n) {
    if (!need(n)) return {};
    std::span<const uint8_t> s(p_ + pos_, n);
    pos_ += n;
    return s;
  }
  // Length-prefixed blocks (1, 2 or 3 length bytes).
  std::span<const uint8_t> block8() { return bytes(u8()); }
  std::span<const uint8_t> block16() { return bytes(u16()); }
  std::span<const uint8_t> block24() { return bytes(u24()); }

 private:
  bool need(size_t n) {
    if (bad_ || n > n_ - pos_) {
      bad_ = true;
      return false;
    }
    return true;
  }
  const uint8_t* p_;
  size_t n_;
  size_t pos_ = 0;
  bool bad_ = false;
};

constexpr uint16_t kExtServerName = 0, kExtSupportedGroups = 10, kExtAlpn = 16,
                   kExtSessionTicket = 35, kExtPreSharedKey = 41, kExtSupportedVersions = 43,
                   kExtKeyShare = 51;

// SHA-256("HelloRetryRequest"), the ServerHello.random of a HelloRetryRequest.
constexpr uint8_t kHelloRetryRandom[32] = {
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c};

// Appends one ALPN protocol to a comma-separated list, whole or not at all. Bytes outside
// printable ASCII (and commas) become '?': the text goes into JSON and logs as it is.
template <typename Len>
void append_protocol(char* out, size_t cap, Len& len, std::span<const uint8_t> proto) {
  size_t need = proto.size() + (len ? 1 : 0);
  if (proto.empty() || len + need + 1 > cap) return;
  if (len) out[len++] = ',';
  for (uint8_t c : proto) {
    out[len++] = (c >= 0x20 && c < 0x7f && c != ',') ? static_cast<char>(c) : '?';
  }
  out[len] = '\0';
}

// server_name (RFC 6066 3): the first host_name entry. Host names are ASCII (IDNs travel as
// A-labels); anything else is shown as '?', and the name is lower-cased as DNS compares it.
bool parse_server_name(std::span<const uint8_t> ext, ClientHello& out) {
  Reader r(ext);
  Reader list(r.block16());
  if (r.bad()) return false;
  while (!list.done()) {
    uint8_t type = list.u8();
    std::span<const uint8_t> name = list.block16();
    if (list.bad()) return false;
    if (type != 0 || out.sni_len) continue;
    size_t n = std::min(name.size(), kMaxServerName);
    for (size_t i = 0; i < n; ++i) {
      uint8_t c = name[i];
      if (c >= 'A' && c <= 'Z') c = static_cast<uint8_t>(c - 'A' + 'a');
      out.sni[i] = (c > 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
    }
    out.sni[n] = '\0';
    out.sni_len = static_cast<uint16_t>(n);
  }
  return true;
}

bool parse_alpn(std::span<const uint8_t> ext, char* out, size_t cap, uint16_t& len) {
  Reader r(ext);
  Reader list(r.block16());
  if (r.bad()) return false;
  while (!list.done()) {
    std::span<const uint8_t> proto = list.block8();
    if (list.bad()) return false;
    append_protocol(out, cap, len, proto);
  }
  return true;
}

}  // namespace

const char* malformed_name(Malformed m) {
  switch (m) {
    case Malformed::kNone:
      return "none";
    case Malformed::kRecordType:
      return "record_type";
    case Malformed::kRecordVersion:
      return "record_version";
    case Malformed::kRecordLength:
      return "record_length";
    case Malformed::kHandshakeLength:
      return "handshake_length";
    case Malformed::kTooManyFragments:
      return "too_many_fragments";
    case Malformed::kClientHello:
      return "client_hello";
    case Malformed::kServerHello:
      return "server_hello";
    case Malformed::kCertificate:
      return "certificate";
    case Malformed::kServerKeyExchange:
      return "server_key_exchange";
    case Malformed::kCount:
      break;
  }
  return "unknown";
}

Malformed parse_client_hello(std::span<const uint8_t> body, ClientHello& out) noexcept {
  out = ClientHello{};
  Reader r(body);
  out.legacy_version = r.u16();
  r.bytes(32);  // random
  std::span<const uint8_t> sid = r.block8();
  Reader suites(r.block16());
  r.block8();  // compression methods
  if (r.bad() || sid.size() > 32) return Malformed::kClientHello;
  out.session_id_len = static_cast<uint8_t>(sid.size());
  if (!sid.empty()) std::memcpy(out.session_id, sid.data(), sid.size());
  while (!suites.done()) {
    uint16_t s = suites.u16();
    if (!suites.bad() && !is_grease(s)) ++out.cipher_count;
  }
  if (suites.bad()) return Malformed::kClientHello;
  if (r.done()) return Malformed::kNone;  // SSL 3.0 style: no extensions
  Reader exts(r.block16());
  if (r.bad()) return Malformed::kClientHello;
  while (!exts.done()) {
    uint16_t type = exts.u16();
    std::span<const uint8_t> data = exts.block16();
    if (exts.bad()) return Malformed::kClientHello;
    switch (type) {
      case kExtServerName:
        if (!parse_server_name(data, out)) return Malformed::kClientHello;
        break;
      case kExtAlpn:
        if (!parse_alpn(data, out.alpn, sizeof out.alpn, out.alpn_len)) {
          return Malformed::kClientHello;
        }
        break;
      case kExtSupportedGroups: {
        Reader g(data);
        Reader list(g.block16());
        while (!list.done()) {
          uint16_t v = list.u16();
          if (!list.bad() && !is_grease(v) && out.group_count < kMaxGroups) {
            out.groups[out.group_count++] = v;
          }
        }
        if (g.bad() || list.bad()) return Malformed::kClientHello;
        break;
      }
      case kExtSupportedVersions: {
        Reader v(data);
        Reader list(v.block8());
        while (!list.done()) {
          uint16_t ver = list.u16();
          // Drafts (0x7fxx) sort above 1.3 numerically but are older: compare the real ones.
          if (!list.bad() && !is_grease(ver) && (ver >> 8) == 3 &&
              ver > out.max_supported_version) {
            out.max_supported_version = ver;
          }
        }
        if (v.bad() || list.bad()) return Malformed::kClientHello;
        break;
      }
      case kExtSessionTicket:
        out.has_session_ticket = !data.empty();
        break;
      case kExtPreSharedKey:
        out.has_pre_shared_key = true;
        break;
      default:
        break;
    }
  }
  return Malformed::kNone;
}

Malformed parse_server_hello(std::span<const uint8_t> body, ServerHello& out) noexcept {
  out = ServerHello{};
  Reader r(body);
  out.legacy_version = r.u16();
  std::span<const uint8_t> random = r.bytes(32);
  std::span<const uint8_t> sid = r.block8();
  out.cipher = r.u16();
  out.compression = r.u8();
  if (r.bad() || sid.size() > 32) return Malformed::kServerHello;
  out.hello_retry_request = std::memcmp(random.data(), kHelloRetryRandom, 32) == 0;
  out.session_id_len = static_cast<uint8_t>(sid.size());
  if (!sid.empty()) std::memcpy(out.session_id, sid.data(), sid.size());
  if (r.done()) return Malformed::kNone;
  Reader exts(r.block16());
  if (r.bad()) return Malformed::kServerHello;
  while (!exts.done()) {
    uint16_t type = exts.u16();
    std::span<const uint8_t> data = exts.block16();
    if (exts.bad()) return Malformed::kServerHello;
    Reader e(data);
    switch (type) {
      case kExtSupportedVersions:
        out.selected_version = e.u16();
        break;
      case kExtKeyShare:
        // ServerHello: one KeyShareEntry; HelloRetryRequest: just the selected group.
        out.key_share_group = e.u16();
        break;
      case kExtPreSharedKey:
        out.pre_shared_key = true;
        break;
      case kExtAlpn: {
        uint16_t len = 0;
        if (!parse_alpn(data, out.alpn, sizeof out.alpn, len)) return Malformed::kServerHello;
        out.alpn_len = static_cast<uint8_t>(len);
        break;
      }
      default:
        break;
    }
    if (e.bad()) return Malformed::kServerHello;
  }
  return Malformed::kNone;
}

Malformed parse_certificate(std::span<const uint8_t> body, bool tls13,
                            CertificateList& out) noexcept {
  out = CertificateList{};
  Reader r(body);
  if (tls13) r.block8();  // certificate_request_context
  Reader list(r.block24());
  if (r.bad()) return Malformed::kCertificate;
  while (!list.done()) {
    std::span<const uint8_t> der = list.block24();
    if (tls13) list.block16();  // the entry's extensions
    if (list.bad() || der.empty()) return Malformed::kCertificate;
    if (out.count < kMaxChain) out.der[out.count++] = der;
    if (out.total < UINT16_MAX) ++out.total;
  }
  return Malformed::kNone;
}

Malformed parse_server_key_exchange_curve(std::span<const uint8_t> body, uint16_t& group) noexcept {
  Reader r(body);
  uint8_t curve_type = r.u8();
  uint16_t named = r.u16();
  if (r.bad()) return Malformed::kServerKeyExchange;
  group = curve_type == 3 ? named : 0;  // 3 = named_curve; explicit curves have no name
  return Malformed::kNone;
}

bool looks_like_client_hello(std::span<const uint8_t> b) noexcept {
  if (b.size() < 3 || b[0] != kHandshake || b[1] != 3 || b[2] > 4) return false;
  return b.size() < 6 || b[5] == kClientHelloType;
}

void RecordWalker::walk(std::span<const uint8_t> stream, bool truncated, DirectionState& st,
                        RecordEvents& events) const noexcept {
  constexpr uint32_t kMaxRecord = (1u << 14) + 2048;  // ciphertext bound, RFC 5246 6.2.3
  while (!st.stopped) {
    uint32_t at = st.next_record;
    if (at > stream.size() || stream.size() - at < 5) {
      if (truncated && at + 5 > capacity_) st.stopped = st.truncated = true;
      return;
    }
    const uint8_t* h = stream.data() + at;
    uint8_t type = h[0];
    uint32_t length = uint32_t{h[3]} << 8 | h[4];
    Malformed bad = type < kChangeCipherSpec || type > kHeartbeat ? Malformed::kRecordType
                    : h[1] != 3                                   ? Malformed::kRecordVersion
                    : length > kMaxRecord                         ? Malformed::kRecordLength
                                                                  : Malformed::kNone;
    if (bad != Malformed::kNone) {
      st.stopped = true;
      events.on_malformed(bad);
      return;
    }
    if (stream.size() - at - 5 < length) {
      // Incomplete: wait for more, unless the record can never fit in the buffer.
      if (size_t{at} + 5 + length > capacity_) st.stopped = st.truncated = true;
      return;
    }
    st.next_record = at + 5 + length;
    ++st.records;
    std::span<const uint8_t> body = stream.subspan(at + 5, length);
    if (st.encrypted) {
      events.on_encrypted_record(type);
      continue;
    }
    switch (type) {
      case kChangeCipherSpec:
        st.encrypted = true;  // the handshake bytes still pending can no longer complete
        st.fragment_count = 0;
        events.on_change_cipher_spec();
        break;
      case kAlert:
        if (length == 2) events.on_alert(body[0], body[1]);
        break;
      case kHandshake:
        handshake_fragment(stream, at + 5, length, st, events);
        break;
      case kApplicationData:
        events.on_encrypted_record(type);
        break;
      default:  // heartbeat
        break;
    }
  }
}

void RecordWalker::handshake_fragment(std::span<const uint8_t> stream, uint32_t offset,
                                      uint32_t length, DirectionState& st,
                                      RecordEvents& events) const noexcept {
  if (length == 0) return;
  if (st.fragment_count == DirectionState::kMaxFragments) {
    st.stopped = true;
    events.on_malformed(Malformed::kTooManyFragments);
    return;
  }
  st.fragments[st.fragment_count++] = {offset, length};
  // Take every complete message off the front of the fragment list.
  while (st.fragment_count && !st.stopped && !st.encrypted) {
    uint64_t available = 0;
    for (uint8_t i = 0; i < st.fragment_count; ++i) available += st.fragments[i].length;
    if (available < 4) return;
    uint8_t header[4];
    {
      // The 4-byte header may itself straddle fragments.
      uint32_t got = 0;
      for (uint8_t i = 0; i < st.fragment_count && got < 4; ++i) {
        uint32_t n = std::min<uint32_t>(4 - got, st.fragments[i].length);
        std::memcpy(header + got, stream.data() + st.fragments[i].offset, n);
        got += n;
      }
    }
    uint8_t type = header[0];
    uint32_t msg_len = uint32_t{header[1]} << 16 | uint32_t{header[2]} << 8 | header[3];
    if (msg_len > capacity_) {
      st.stopped = true;
      events.on_malformed(Malformed::kHandshakeLength);
      return;
    }
    uint32_t total = 4 + msg_len;
    if (available < total) return;
    std::span<const uint8_t> body;
    if (st.fragments[0].length >= total) {
      body = stream.subspan(st.fragments[0].offset + 4, msg_len);
    } else {
      // Spans records: gather it into the scratch buffer, header dropped.
      uint32_t skip = 4, copied = 0;
      for (uint8_t i = 0; i < st.fragment_count && copied < msg_len; ++i) {
        const DirectionState::Fragment& f = st.fragments[i];
        uint32_t from = std::min(skip, f.length);
        skip -= from;
        uint32_t n = std::min(f.length - from, msg_len - copied);
        std::memcpy(scratch_ + copied, stream.data() + f.offset + from, n);
        copied += n;
      }
      body = {scratch_, msg_len};
    }
    // Consume `total` bytes from the front.
    uint32_t left = total;
    uint8_t drop = 0;
    while (left && drop < st.fragment_count) {
      DirectionState::Fragment& f = st.fragments[drop];
      uint32_t n = std::min(left, f.length);
      f.offset += n;
      f.length -= n;
      left -= n;
      if (f.length == 0) ++drop;
    }
    if (drop) {
      std::memmove(st.fragments, st.fragments + drop,
                   (st.fragment_count - drop) * sizeof(DirectionState::Fragment));
      st.fragment_count = static_cast<uint8_t>(st.fragment_count - drop);
    }
    events.on_handshake(type, body);
  }
}

}  // namespace wiremeter::tls

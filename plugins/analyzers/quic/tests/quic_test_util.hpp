// quic tests: builders for the wire formats the plugin reads (TLS ClientHello, gQUIC CHLO,
// CRYPTO frames, protected Initial packets).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "quic_crypto.hpp"
#include "quic_parser.hpp"

namespace wiremeter::quic::test {

using Bytes = std::vector<uint8_t>;

inline void put8(Bytes& b, uint64_t v) { b.push_back(static_cast<uint8_t>(v)); }
inline void put16(Bytes& b, uint64_t v) {
  put8(b, v >> 8);
  put8(b, v);
}
inline void put24(Bytes& b, uint64_t v) {
  put8(b, v >> 16);
  put16(b, v);
}
inline void put32(Bytes& b, uint64_t v) {
  put16(b, v >> 16);
  put16(b, v);
}
inline void put(Bytes& b, const Bytes& more) { b.insert(b.end(), more.begin(), more.end()); }
inline void put(Bytes& b, const std::string& s) { b.insert(b.end(), s.begin(), s.end()); }
// RFC 9000 16: the shortest encoding.
inline void put_varint(Bytes& b, uint64_t v) {
  if (v < 64) {
    put8(b, v);
  } else if (v < 16384) {
    put16(b, 0x4000 | v);
  } else if (v < (1u << 30)) {
    put32(b, 0x80000000u | v);
  } else {
    put32(b, 0xc0000000u | (v >> 32));
    put32(b, v & 0xffffffffu);
  }
}
inline Bytes from_hex(const std::string& h) {
  Bytes b;
  for (size_t i = 0; i + 1 < h.size(); i += 2)
    b.push_back(static_cast<uint8_t>(std::stoi(h.substr(i, 2), nullptr, 16)));
  return b;
}
inline std::string to_hex(const uint8_t* p, size_t n) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    s.push_back(d[p[i] >> 4]);
    s.push_back(d[p[i] & 15]);
  }
  return s;
}

struct HelloSpec {
  std::string sni = "example.com";
  std::vector<std::string> alpn = {"h3"};
  std::vector<uint16_t> versions = {0x3a3a, 0x0304};  // a GREASE value first, as Chrome does
  bool transport_parameters = true;
  size_t padding_extension = 0;  // bytes of a padding extension (21) to make it long
};

// A TLS handshake message: ClientHello with the extensions of `spec`.
inline Bytes client_hello(const HelloSpec& spec) {
  Bytes body;
  put16(body, 0x0303);
  body.insert(body.end(), 32, 0x11);  // random
  put8(body, 0);                      // session id
  put16(body, 4);
  put16(body, 0x1301);
  put16(body, 0x1302);
  put8(body, 1);
  put8(body, 0);  // compression: null
  Bytes ext;
  if (!spec.sni.empty()) {
    Bytes list;
    put8(list, 0);
    put16(list, spec.sni.size());
    put(list, spec.sni);
    put16(ext, 0x0000);
    put16(ext, list.size() + 2);
    put16(ext, list.size());
    put(ext, list);
  }
  if (!spec.alpn.empty()) {
    Bytes list;
    for (auto& p : spec.alpn) {
      put8(list, p.size());
      put(list, p);
    }
    put16(ext, 0x0010);
    put16(ext, list.size() + 2);
    put16(ext, list.size());
    put(ext, list);
  }
  if (!spec.versions.empty()) {
    put16(ext, 0x002b);
    put16(ext, 1 + 2 * spec.versions.size());
    put8(ext, 2 * spec.versions.size());
    for (uint16_t v : spec.versions) put16(ext, v);
  }
  if (spec.transport_parameters) {
    put16(ext, 0x0039);
    put16(ext, 3);
    put8(ext, 0x01);  // max_idle_timeout
    put8(ext, 0x01);
    put8(ext, 0x1e);
  }
  if (spec.padding_extension) {
    put16(ext, 21);
    put16(ext, spec.padding_extension);
    ext.insert(ext.end(), spec.padding_extension, 0);
  }
  put16(body, ext.size());
  put(body, ext);
  Bytes msg;
  put8(msg, 1);
  put24(msg, body.size());
  put(msg, body);
  return msg;
}

inline Bytes crypto_frame(uint64_t offset, const uint8_t* data, size_t n) {
  Bytes f;
  put8(f, 0x06);
  put_varint(f, offset);
  put_varint(f, n);
  f.insert(f.end(), data, data + n);
  return f;
}

// A protected client (or server) Initial packet of `version` carrying `frames`, padded with
// PADDING frames so that the packet is `size` bytes long. Keys from `key_dcid`.
inline Bytes initial_packet(uint32_t version, const Bytes& dcid, const Bytes& scid,
                            const Bytes& key_dcid, uint32_t pn, const Bytes& frames,
                            size_t size = 1200, bool server = false) {
  VersionInfo info = version_info(version);
  Bytes h;
  // Initial type bits: 0 in v1 and drafts, 1 in v2. Packet number length 4 (low bits 3).
  put8(h, 0xc0 | (info.v2 ? 0x10 : 0x00) | 0x03);
  put32(h, version);
  put8(h, dcid.size());
  put(h, dcid);
  put8(h, scid.size());
  put(h, scid);
  put_varint(h, 0);  // token
  size_t fixed = h.size() + 2 /* Length as a 2-byte varint */ + 4 /* pn */ + 16 /* tag */;
  size_t payload = size > fixed + frames.size() ? size - fixed : frames.size();
  put16(h, 0x4000 | (4 + payload + 16));
  size_t pn_offset = h.size();
  put32(h, pn);
  put(h, frames);
  h.insert(h.end(), payload - frames.size(), 0);  // PADDING
  h.insert(h.end(), 16, 0);                       // room for the tag
  InitialCrypto c;
  InitialKeys k;
  if (!c.derive(info, key_dcid.data(), key_dcid.size(), server, k) ||
      !c.encrypt(k, h.data(), h.size(), pn_offset)) {
    return {};
  }
  return h;
}

// A gQUIC CHLO tag/value message with SNI and UAID.
inline Bytes chlo(const std::string& sni, const std::string& uaid) {
  Bytes m;
  put(m, std::string("CHLO"));
  m.push_back(3);
  m.push_back(0);
  m.push_back(0);
  m.push_back(0);
  auto entry = [&](const char* tag, uint32_t end) {
    m.insert(m.end(), tag, tag + 4);
    for (int i = 0; i < 4; ++i) m.push_back(static_cast<uint8_t>(end >> (8 * i)));
  };
  entry("PAD\0", 4);
  entry("SNI\0", 4 + static_cast<uint32_t>(sni.size()));
  entry("UAID", 4 + static_cast<uint32_t>(sni.size() + uaid.size()));
  put(m, std::string("----"));
  put(m, sni);
  put(m, uaid);
  return m;
}

}  // namespace wiremeter::quic::test

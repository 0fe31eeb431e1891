// tls: names of protocol codes as Zeek's ssl.log writes them (versions, cipher suites, groups,
// alerts). Lookups are binary searches in static tables: no allocation, usable on the data path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace wiremeter::tls {

struct NamedCode {
  uint16_t code;
  const char* name;
};

// Generated tables (tls_names_table.cpp), sorted by code.
extern const NamedCode kCipherSuites[];
extern const size_t kCipherSuiteCount;
extern const NamedCode kGroups[];
extern const size_t kGroupCount;

// RFC 8701 GREASE values (0x0a0a, 0x1a1a, ... 0xfafa): clients send them to keep servers honest;
// they mean nothing and are skipped wherever lists are read.
constexpr bool is_grease(uint16_t v) { return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff); }

// Zeek's version strings: "SSLv3", "TLSv10" ... "TLSv13", "TLSv13-draft23", "DTLSv12".
// Unknown codes are written as "unknown-<decimal>" into `buf`, which must hold 24 bytes.
std::string_view version_name(uint16_t version, char* buf, size_t len);
// IANA names ("TLS_AES_128_GCM_SHA256"); unknown suites as "unknown-<decimal>".
std::string_view cipher_name(uint16_t suite, char* buf, size_t len);
// Named groups ("x25519", "secp256r1"); unknown as "unknown-<decimal>".
std::string_view group_name(uint16_t group, char* buf, size_t len);
// RFC 8446 6 alert descriptions ("handshake_failure"); unknown as "unknown-<decimal>".
std::string_view alert_name(uint8_t description, char* buf, size_t len);
// True for suites whose ServerKeyExchange carries an ECDH named curve (ECDHE_*, ECDH_anon_*).
bool cipher_uses_ecdhe(uint16_t suite);

// Versions counted apart in the metrics and reports; everything else is "other".
enum class VersionSlot : uint8_t { kSsl3, kTls10, kTls11, kTls12, kTls13, kOther, kCount };
inline constexpr size_t kVersionSlots = static_cast<size_t>(VersionSlot::kCount);
VersionSlot version_slot(uint16_t version);
const char* version_slot_name(VersionSlot slot);

}  // namespace wiremeter::tls

#include "tls_names.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace wiremeter::tls {
namespace {

const char* find(const NamedCode* table, size_t n, uint16_t code) {
  const NamedCode* end = table + n;
  const NamedCode* it =
      std::lower_bound(table, end, code, [](const NamedCode& e, uint16_t c) { return e.code < c; });
  return it != end && it->code == code ? it->name : nullptr;
}

std::string_view unknown(unsigned code, char* buf, size_t len) {
  int n = std::snprintf(buf, len, "unknown-%u", code);
  return {buf, n < 0 ? 0 : std::min(static_cast<size_t>(n), len ? len - 1 : 0)};
}

struct Alert {
  uint8_t code;
  const char* name;
};
// RFC 8446 section 6 and the older ones of RFC 5246 7.2 (TLS alert registry names).
constexpr Alert kAlerts[] = {
    {0, "close_notify"},
    {10, "unexpected_message"},
    {20, "bad_record_mac"},
    {21, "decryption_failed"},
    {22, "record_overflow"},
    {30, "decompression_failure"},
    {40, "handshake_failure"},
    {41, "no_certificate"},
    {42, "bad_certificate"},
    {43, "unsupported_certificate"},
    {44, "certificate_revoked"},
    {45, "certificate_expired"},
    {46, "certificate_unknown"},
    {47, "illegal_parameter"},
    {48, "unknown_ca"},
    {49, "access_denied"},
    {50, "decode_error"},
    {51, "decrypt_error"},
    {60, "export_restriction"},
    {70, "protocol_version"},
    {71, "insufficient_security"},
    {80, "internal_error"},
    {86, "inappropriate_fallback"},
    {90, "user_canceled"},
    {100, "no_renegotiation"},
    {109, "missing_extension"},
    {110, "unsupported_extension"},
    {111, "certificate_unobtainable"},
    {112, "unrecognized_name"},
    {113, "bad_certificate_status_response"},
    {114, "bad_certificate_hash_value"},
    {115, "unknown_psk_identity"},
    {116, "certificate_required"},
    {120, "no_application_protocol"},
};

}  // namespace

std::string_view version_name(uint16_t v, char* buf, size_t len) {
  switch (v) {
    case 0x0002:
      return "SSLv2";
    case 0x0300:
      return "SSLv3";
    case 0x0301:
      return "TLSv10";
    case 0x0302:
      return "TLSv11";
    case 0x0303:
      return "TLSv12";
    case 0x0304:
      return "TLSv13";
    case 0xfeff:
      return "DTLSv10";
    case 0xfefd:
      return "DTLSv12";
    case 0xfefc:
      return "DTLSv13";
    default:
      break;
  }
  if ((v >> 8) == 0x7f) {  // TLS 1.3 drafts, as Zeek names them
    int n = std::snprintf(buf, len, "TLSv13-draft%u", v & 0xffu);
    return {buf, n < 0 ? 0 : std::min(static_cast<size_t>(n), len ? len - 1 : 0)};
  }
  return unknown(v, buf, len);
}

std::string_view cipher_name(uint16_t suite, char* buf, size_t len) {
  const char* n = find(kCipherSuites, kCipherSuiteCount, suite);
  return n ? std::string_view(n) : unknown(suite, buf, len);
}

std::string_view group_name(uint16_t group, char* buf, size_t len) {
  const char* n = find(kGroups, kGroupCount, group);
  return n ? std::string_view(n) : unknown(group, buf, len);
}

std::string_view alert_name(uint8_t description, char* buf, size_t len) {
  for (const Alert& a : kAlerts) {
    if (a.code == description) return a.name;
  }
  return unknown(description, buf, len);
}

bool cipher_uses_ecdhe(uint16_t suite) {
  const char* n = find(kCipherSuites, kCipherSuiteCount, suite);
  return n && (std::strstr(n, "_ECDHE_") || std::strstr(n, "_ECDH_anon_"));
}

VersionSlot version_slot(uint16_t v) {
  switch (v) {
    case 0x0300:
      return VersionSlot::kSsl3;
    case 0x0301:
      return VersionSlot::kTls10;
    case 0x0302:
      return VersionSlot::kTls11;
    case 0x0303:
      return VersionSlot::kTls12;
    case 0x0304:
      return VersionSlot::kTls13;
    default:
      return VersionSlot::kOther;
  }
}

const char* version_slot_name(VersionSlot slot) {
  switch (slot) {
    case VersionSlot::kSsl3:
      return "SSLv3";
    case VersionSlot::kTls10:
      return "TLSv10";
    case VersionSlot::kTls11:
      return "TLSv11";
    case VersionSlot::kTls12:
      return "TLSv12";
    case VersionSlot::kTls13:
      return "TLSv13";
    case VersionSlot::kOther:
    case VersionSlot::kCount:
      break;
  }
  return "other";
}

}  // namespace wiremeter::tls

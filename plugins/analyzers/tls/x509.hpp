// tls: what the plugin keeps of an X.509 certificate, read with OpenSSL's libcrypto.
//
// Called when a Certificate handshake message is complete, a few times per TLS connection and
// never per packet; the certificate table (tls_tables.hpp) caches results by fingerprint so a
// certificate seen again is not parsed again.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace wiremeter::tls {

inline constexpr size_t kDnText = 256;     // subject and issuer, RFC 2253 text, cut if longer
inline constexpr size_t kNamesText = 512;  // CN and SAN DNS names, NUL-separated

using Sha256 = uint8_t[32];

struct CertInfo {
  uint8_t sha256[32] = {};   // of the DER encoding, as Zeek's cert_chain_fps
  bool parsed = false;       // false: not valid DER X.509 (the fingerprint is still right)
  bool self_signed = false;  // subject == issuer
  bool names_truncated = false;
  uint16_t subject_len = 0, issuer_len = 0, names_len = 0;
  uint8_t name_count = 0;
  int64_t not_before = 0, not_after = 0;  // Unix seconds
  char subject[kDnText] = {};
  char issuer[kDnText] = {};
  // The subject's common name first (when it has one), then each SAN dNSName, each followed by
  // a NUL. Lower-cased.
  char names[kNamesText] = {};

  std::string_view subject_view() const { return {subject, subject_len}; }
  std::string_view issuer_view() const { return {issuer, issuer_len}; }
  template <typename F>
  void for_each_name(F&& visit) const {
    for (size_t at = 0; at < names_len;) {
      std::string_view n(names + at);
      visit(n);
      at += n.size() + 1;
    }
  }
};

// SHA-256 of `data`.
void sha256(std::span<const uint8_t> data, uint8_t out[32]) noexcept;

// Fills `out` from a DER certificate (fingerprint always; the rest when it parses).
void parse_certificate_der(std::span<const uint8_t> der, CertInfo& out) noexcept;

// RFC 6125 6.4 host name matching as Zeek's x509_check_cert_hostname does it: a presented name
// matches the host exactly (case-insensitive), or as a wildcard "*.example.com" standing for
// exactly one left-most label.
bool hostname_matches(std::string_view host, std::string_view presented) noexcept;
bool certificate_matches_host(const CertInfo& cert, std::string_view host) noexcept;

}  // namespace wiremeter::tls

// Builders of TLS handshake bytes and X.509 certificates for the tls plugin's tests.
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdint>
#include <ctime>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace tls_test {

inline std::string u8(unsigned v) { return std::string(1, static_cast<char>(v & 0xff)); }
inline std::string u16(unsigned v) { return u8(v >> 8) + u8(v); }
inline std::string u24(unsigned v) { return u8(v >> 16) + u8(v >> 8) + u8(v); }
inline std::string vec8(const std::string& s) { return u8(static_cast<unsigned>(s.size())) + s; }
inline std::string vec16(const std::string& s) { return u16(static_cast<unsigned>(s.size())) + s; }
inline std::string vec24(const std::string& s) { return u24(static_cast<unsigned>(s.size())) + s; }

inline std::string record(uint8_t type, const std::string& body, unsigned version = 0x0303) {
  return u8(type) + u16(version) + vec16(body);
}
inline std::string handshake(uint8_t type, const std::string& body) {
  return u8(type) + vec24(body);
}
inline std::string extension(unsigned type, const std::string& data) {
  return u16(type) + vec16(data);
}

struct ClientHelloSpec {
  std::string sni;
  std::vector<std::string> alpn;
  std::vector<unsigned> versions;  // supported_versions; empty = no extension
  std::vector<unsigned> groups;
  std::vector<unsigned> suites = {0x0a0a, 0x1301, 0xc02f, 0xc011};
  std::string session_id;
  unsigned legacy_version = 0x0303;
};

inline std::string client_hello_body(const ClientHelloSpec& s) {
  std::string suites;
  for (unsigned c : s.suites) suites += u16(c);
  std::string exts = extension(0x0a0a, "");  // GREASE extension
  if (!s.sni.empty()) exts += extension(0, vec16(u8(0) + vec16(s.sni)));
  if (!s.groups.empty()) {
    std::string g;
    for (unsigned v : s.groups) g += u16(v);
    exts += extension(10, vec16(g));
  }
  if (!s.alpn.empty()) {
    std::string a;
    for (auto& p : s.alpn) a += vec8(p);
    exts += extension(16, vec16(a));
  }
  if (!s.versions.empty()) {
    std::string v;
    for (unsigned x : s.versions) v += u16(x);
    exts += extension(43, vec8(v));
  }
  return u16(s.legacy_version) + std::string(32, 'r') + vec8(s.session_id) + vec16(suites) +
         vec8(u8(0)) + vec16(exts);
}

struct ServerHelloSpec {
  unsigned legacy_version = 0x0303;
  unsigned cipher = 0xc02f;
  std::string session_id;
  unsigned selected_version = 0;  // supported_versions; 0 = none
  unsigned key_share = 0;
  std::string alpn;
  bool psk = false;
  bool hello_retry = false;
};

inline std::string server_hello_body(const ServerHelloSpec& s) {
  static const unsigned char kHrr[32] = {0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11,
                                         0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
                                         0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e,
                                         0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c};
  std::string random =
      s.hello_retry ? std::string(reinterpret_cast<const char*>(kHrr), 32) : std::string(32, 's');
  std::string exts;
  if (s.selected_version) exts += extension(43, u16(s.selected_version));
  if (s.key_share) {
    exts += extension(
        51, s.hello_retry ? u16(s.key_share) : u16(s.key_share) + vec16(std::string(32, 'k')));
  }
  if (!s.alpn.empty()) exts += extension(16, vec16(vec8(s.alpn)));
  if (s.psk) exts += extension(41, u16(0));
  return u16(s.legacy_version) + random + vec8(s.session_id) + u16(s.cipher) + u8(0) + vec16(exts);
}

inline std::string certificate_body(const std::vector<std::string>& ders) {
  std::string list;
  for (auto& d : ders) list += vec24(d);
  return vec24(list);
}

// ECDHE ServerKeyExchange: named_curve, the curve, a point, and a dummy signature.
inline std::string ske_body(unsigned group) {
  return u8(3) + u16(group) + vec8(std::string(65, 'p')) + u16(0x0401) + vec16(std::string(8, 'x'));
}

// A certificate made with OpenSSL: CN, SAN DNS names, validity (Unix seconds). Signed by its
// own key; `issuer_cn` empty = self-signed (issuer == subject), else only the issuer name is set.
inline std::string make_certificate(const std::string& cn, const std::vector<std::string>& sans,
                                    int64_t not_before, int64_t not_after,
                                    const std::string& issuer_cn = "") {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  if (!key) throw std::runtime_error("keygen");
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  ASN1_TIME_set(X509_getm_notBefore(x), static_cast<time_t>(not_before));
  ASN1_TIME_set(X509_getm_notAfter(x), static_cast<time_t>(not_after));
  X509_set_pubkey(x, key);
  X509_NAME* subject = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(subject, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("Test Org"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  if (issuer_cn.empty()) {
    X509_set_issuer_name(x, subject);
  } else {
    X509_NAME* issuer = X509_NAME_new();
    X509_NAME_add_entry_by_txt(issuer, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(issuer_cn.c_str()), -1, -1,
                               0);
    X509_set_issuer_name(x, issuer);
    X509_NAME_free(issuer);
  }
  if (!sans.empty()) {
    std::string value;
    for (auto& s : sans) value += (value.empty() ? "DNS:" : ",DNS:") + s;
    X509_EXTENSION* ext =
        X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, value.c_str());
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
  }
  X509_sign(x, key, EVP_sha256());
  unsigned char* der = nullptr;
  int len = i2d_X509(x, &der);
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  X509_free(x);
  EVP_PKEY_free(key);
  return out;
}

// SHA-256 of a DER certificate computed through X509_digest: a path independent of the plugin's.
inline std::string fingerprint_hex(const std::string& der) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  X509* x = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
  unsigned char md[32];
  unsigned n = 0;
  X509_digest(x, EVP_sha256(), md, &n);
  X509_free(x);
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < n; ++i) {
    out += digits[md[i] >> 4];
    out += digits[md[i] & 15];
  }
  return out;
}

}  // namespace tls_test

#include "x509.hpp"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cstring>
#include <ctime>

namespace wiremeter::tls {
namespace {

char lower_ascii(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// RFC 2253 text of a name, as Zeek writes subject and issuer (X509_NAME_print_ex with
// XN_FLAG_RFC2253, which escapes control and non-ASCII bytes, so the text is printable ASCII).
uint16_t print_name(X509_NAME* name, char* out, size_t cap) {
  out[0] = '\0';
  if (!name) return 0;
  BIO* bio = BIO_new(BIO_s_mem());
  if (!bio) return 0;
  size_t n = 0;
  if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) >= 0) {
    char* text = nullptr;
    long len = BIO_get_mem_data(bio, &text);
    if (text && len > 0) {
      n = std::min(static_cast<size_t>(len), cap - 1);
      for (size_t i = 0; i < n; ++i) {
        char c = text[i];
        out[i] = (c >= 0x20 && c < 0x7f) ? c : '?';
      }
    }
  }
  out[n] = '\0';
  BIO_free(bio);
  return static_cast<uint16_t>(n);
}

int64_t unix_time(const ASN1_TIME* t) {
  std::tm tm{};
  if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return static_cast<int64_t>(timegm(&tm));
}

void add_name(CertInfo& c, const unsigned char* data, int len) {
  if (!data || len <= 0) return;
  size_t n = static_cast<size_t>(len);
  if (c.names_len + n + 1 > sizeof c.names) {
    c.names_truncated = true;
    return;
  }
  for (size_t i = 0; i < n; ++i) {
    char ch = static_cast<char>(data[i]);
    c.names[c.names_len + i] = (ch > 0x20 && ch < 0x7f) ? lower_ascii(ch) : '?';
  }
  c.names_len = static_cast<uint16_t>(c.names_len + n);
  c.names[c.names_len++] = '\0';
  ++c.name_count;
}

}  // namespace

void sha256(std::span<const uint8_t> data, uint8_t out[32]) noexcept {
  unsigned int n = 0;
  if (EVP_Digest(data.data(), data.size(), out, &n, EVP_sha256(), nullptr) != 1) {
    std::memset(out, 0, 32);
  }
}

void parse_certificate_der(std::span<const uint8_t> der, CertInfo& out) noexcept {
  out = CertInfo{};
  sha256(der, out.sha256);
  const unsigned char* p = der.data();
  X509* cert = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
  if (!cert) return;
  out.parsed = true;
  X509_NAME* subject = X509_get_subject_name(cert);
  X509_NAME* issuer = X509_get_issuer_name(cert);
  out.subject_len = print_name(subject, out.subject, sizeof out.subject);
  out.issuer_len = print_name(issuer, out.issuer, sizeof out.issuer);
  out.self_signed = subject && issuer && X509_NAME_cmp(subject, issuer) == 0;
  out.not_before = unix_time(X509_get0_notBefore(cert));
  out.not_after = unix_time(X509_get0_notAfter(cert));

  // Common name(s) first, as Zeek's hostname check also looks at them.
  if (subject) {
    for (int i = X509_NAME_get_index_by_NID(subject, NID_commonName, -1); i >= 0;
         i = X509_NAME_get_index_by_NID(subject, NID_commonName, i)) {
      ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i));
      if (s) add_name(out, ASN1_STRING_get0_data(s), ASN1_STRING_length(s));
    }
  }
  auto* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (sans) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
      const GENERAL_NAME* g = sk_GENERAL_NAME_value(sans, i);
      if (g && g->type == GEN_DNS) {
        add_name(out, ASN1_STRING_get0_data(g->d.dNSName), ASN1_STRING_length(g->d.dNSName));
      }
    }
    GENERAL_NAMES_free(sans);
  }
  X509_free(cert);
}

bool hostname_matches(std::string_view host, std::string_view name) noexcept {
  auto eq = [](std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      if (lower_ascii(a[i]) != lower_ascii(b[i])) return false;
    }
    return true;
  };
  if (host.empty() || name.empty()) return false;
  if (name.size() > 2 && name[0] == '*' && name[1] == '.') {
    // "*.example.com": one whole left-most label, never the bare domain nor two labels.
    size_t dot = host.find('.');
    if (dot == std::string_view::npos || dot == 0) return false;
    return eq(host.substr(dot), name.substr(1));
  }
  return eq(host, name);
}

bool certificate_matches_host(const CertInfo& cert, std::string_view host) noexcept {
  bool match = false;
  cert.for_each_name([&](std::string_view n) { match = match || hostname_matches(host, n); });
  return match;
}

}  // namespace wiremeter::tls

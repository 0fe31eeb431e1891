// tls: the bounded per-worker tables behind the plugin: server names, certificates, cipher
// suite counts, and the record of one handshake kept in the connection log.
//
// Every table has a fixed capacity chosen when the worker is made and allocates nothing after
// its constructor. When a table is full, a new key is not added: the caller counts it as
// overflow, and the keys already present stay exact.
//
// Thread-safety: none of these types locks; the worker that owns them guards them with its
// mutex (Worker::lock()), which the control plane takes to read them.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>
#include <wiremeter/slot_index.hpp>

#include "tls_names.hpp"
#include "tls_parser.hpp"
#include "x509.hpp"

namespace wiremeter::tls {

// Certificate conditions, as bit flags.
enum CertFlag : uint8_t {
  kExpired = 1 << 0,      // notAfter before the time of the handshake
  kExpiring = 1 << 1,     // notAfter within expiring_days of it
  kNotYetValid = 1 << 2,  // notBefore after it
  kSelfSigned = 1 << 3,   // subject == issuer
  kSniMismatch = 1 << 4,  // the leaf names no match for the client's SNI (connections only)
  kUnparsed = 1 << 5,     // not readable as X.509
};
inline constexpr size_t kCertFlagCount = 6;
const char* cert_flag_name(size_t bit);
// Validity flags at `now_s` (Unix seconds).
uint8_t validity_flags(const CertInfo& c, int64_t now_s, uint32_t expiring_days);

struct Addr {
  std::array<uint8_t, 16> bytes{};
  uint8_t version = 0;
};

uint64_t hash_bytes(const void* data, size_t len, uint64_t seed = 0);

// Per server name (SNI).
struct ServerNameEntry {
  uint16_t name_len = 0;
  char name[kMaxServerName + 1] = {};
  uint64_t handshakes = 0, established = 0, resumed = 0, alerts = 0;
  std::array<uint64_t, kVersionSlots> versions{};
  uint64_t first_ns = 0, last_ns = 0;
  uint16_t last_version = 0, last_cipher = 0;
  bool has_certificate = false;
  uint8_t certificate_flags = 0;  // of the latest leaf
  uint8_t certificate_sha256[32] = {};
  std::string_view view() const { return {name, name_len}; }
};

class ServerNameTable {
 public:
  explicit ServerNameTable(uint32_t capacity);
  // The entry for `name`, created when new; nullptr when the table is full.
  ServerNameEntry* at(std::string_view name);
  size_t size() const { return used_; }
  uint64_t overflow() const { return overflow_; }
  const ServerNameEntry& row(size_t i) const { return rows_[i]; }

 private:
  std::vector<ServerNameEntry> rows_;
  uint32_t used_ = 0;
  uint64_t overflow_ = 0;
  SlotIndex index_;
};

// Per certificate (by SHA-256 of its DER).
inline constexpr size_t kServersText = 256;
struct CertificateEntry {
  CertInfo info;
  uint64_t leaf_handshakes = 0;   // handshakes that presented it as the server's certificate
  uint64_t chain_handshakes = 0;  // ... further up the chain (intermediates)
  uint64_t first_ns = 0, last_ns = 0;
  // Server names (SNI) it was presented for: NUL-separated, the first ones that fit.
  uint16_t servers_len = 0;
  uint16_t server_count = 0;  // distinct names listed
  bool servers_truncated = false;
  char servers[kServersText] = {};
  void add_server(std::string_view name);
  template <typename F>
  void for_each_server(F&& visit) const {
    for (size_t at = 0; at < servers_len;) {
      std::string_view n(servers + at);
      visit(n);
      at += n.size() + 1;
    }
  }
};

class CertificateTable {
 public:
  explicit CertificateTable(uint32_t capacity);
  CertificateEntry* find(const uint8_t sha256[32]);
  // Adds a parsed certificate; nullptr when the table is full.
  CertificateEntry* insert(const CertInfo& info);
  size_t size() const { return used_; }
  uint64_t overflow() const { return overflow_; }
  void count_overflow() { ++overflow_; }
  const CertificateEntry& row(size_t i) const { return rows_[i]; }

 private:
  std::vector<CertificateEntry> rows_;
  uint32_t used_ = 0;
  uint64_t overflow_ = 0;
  SlotIndex index_;
};

// Handshakes per negotiated cipher suite. The registry has ~500 suites and a network uses a
// few dozen; 512 distinct ones fit, more go to other().
class CipherCounts {
 public:
  static constexpr uint32_t kCapacity = 512;
  void add(uint16_t suite);
  uint64_t other() const { return other_; }
  template <typename F>
  void for_each(F&& visit) const {
    for (uint32_t i = 0; i < kSlots; ++i) {
      if (count_[i]) visit(suite_[i], count_[i]);
    }
  }

 private:
  static constexpr uint32_t kSlots = 1024;  // open addressing, at most half full
  std::array<uint16_t, kSlots> suite_{};
  std::array<uint64_t, kSlots> count_{};
  uint32_t used_ = 0;
  uint64_t other_ = 0;
};

// One TLS handshake as the connection log keeps it.
struct Connection {
  uint64_t ts_ns = 0;  // the ClientHello's first byte (or first payload seen)
  Addr client, server;
  uint16_t client_port = 0, server_port = 0;
  uint16_t version = 0;         // negotiated; 0: no ServerHello seen
  uint16_t client_version = 0;  // highest the client offered (supported_versions or legacy)
  uint16_t cipher = 0;
  uint16_t curve = 0;  // key exchange group; 0: none seen
  uint16_t cipher_count = 0;
  bool has_client_hello = false, has_server_hello = false;
  bool resumed = false, established = false;
  bool alert = false, alert_from_server = false;
  uint8_t alert_level = 0, alert_description = 0;
  int8_t sni_matches_cert = -1;  // -1: not decided (no SNI or no certificate seen)
  uint8_t cert_flags = 0;        // of the leaf at the time of the handshake
  uint8_t chain_length = 0;      // certificates in the server's Certificate message
  uint8_t chain_kept = 0;        // fingerprints kept below
  std::array<std::array<uint8_t, 32>, 4> chain{};
  bool has_certificate = false;  // the leaf fields below are set
  int64_t not_before = 0, not_after = 0;
  uint16_t sni_len = 0;
  char sni[kMaxServerName + 1] = {};
  char alpn_offered[kAlpnText] = {};
  char alpn[kAlpnSelected] = {};
  char subject[kDnText] = {};
  char issuer[kDnText] = {};
};

}  // namespace wiremeter::tls

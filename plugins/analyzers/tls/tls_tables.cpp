#include "tls_tables.hpp"

#include <cstring>

namespace wiremeter::tls {

const char* cert_flag_name(size_t bit) {
  static constexpr const char* kNames[kCertFlagCount] = {
      "expired", "expiring", "not_yet_valid", "self_signed", "sni_mismatch", "unparsed"};
  return bit < kCertFlagCount ? kNames[bit] : "unknown";
}

uint8_t validity_flags(const CertInfo& c, int64_t now_s, uint32_t expiring_days) {
  uint8_t f = 0;
  if (!c.parsed) return kUnparsed;
  if (c.self_signed) f |= kSelfSigned;
  if (c.not_after < now_s) {
    f |= kExpired;
  } else if (c.not_after - now_s <= int64_t{expiring_days} * 86400) {
    f |= kExpiring;
  }
  if (c.not_before > now_s) f |= kNotYetValid;
  return f;
}

// FNV-1a, then a final mix so that the low bits used by the index are well spread.
uint64_t hash_bytes(const void* data, size_t len, uint64_t seed) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint64_t h = 1469598103934665603ull ^ seed;
  for (size_t i = 0; i < len; ++i) {
    h ^= p[i];
    h *= 1099511628211ull;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return h;
}

ServerNameTable::ServerNameTable(uint32_t capacity) : rows_(capacity), index_(capacity) {}

ServerNameEntry* ServerNameTable::at(std::string_view name) {
  if (name.size() > kMaxServerName) name = name.substr(0, kMaxServerName);
  uint64_t h = hash_bytes(name.data(), name.size());
  uint32_t s = index_.find(h, [&](uint32_t i) { return rows_[i].view() == name; });
  if (s != SlotIndex::kNil) return &rows_[s];
  if (used_ == rows_.size()) {
    ++overflow_;
    return nullptr;
  }
  ServerNameEntry& e = rows_[used_];
  std::memcpy(e.name, name.data(), name.size());
  e.name[name.size()] = '\0';
  e.name_len = static_cast<uint16_t>(name.size());
  index_.insert(used_, h);
  ++used_;
  return &e;
}

void CertificateEntry::add_server(std::string_view name) {
  if (name.empty()) return;
  bool known = false;
  for_each_server([&](std::string_view n) { known = known || n == name; });
  if (known) return;
  if (servers_len + name.size() + 1 > sizeof servers) {
    servers_truncated = true;
    return;
  }
  std::memcpy(servers + servers_len, name.data(), name.size());
  servers_len = static_cast<uint16_t>(servers_len + name.size());
  servers[servers_len++] = '\0';
  ++server_count;
}

CertificateTable::CertificateTable(uint32_t capacity) : rows_(capacity), index_(capacity) {}

CertificateEntry* CertificateTable::find(const uint8_t sha256[32]) {
  uint64_t h = hash_bytes(sha256, 32);
  uint32_t s = index_.find(
      h, [&](uint32_t i) { return std::memcmp(rows_[i].info.sha256, sha256, 32) == 0; });
  return s == SlotIndex::kNil ? nullptr : &rows_[s];
}

CertificateEntry* CertificateTable::insert(const CertInfo& info) {
  if (used_ == rows_.size()) {
    ++overflow_;
    return nullptr;
  }
  CertificateEntry& e = rows_[used_];
  e.info = info;
  index_.insert(used_, hash_bytes(info.sha256, 32));
  ++used_;
  return &e;
}

void CipherCounts::add(uint16_t suite) {
  uint32_t i = static_cast<uint32_t>(hash_bytes(&suite, sizeof suite)) & (kSlots - 1);
  for (;;) {
    if (count_[i] && suite_[i] == suite) {
      ++count_[i];
      return;
    }
    if (!count_[i]) {
      if (used_ == kCapacity) {
        ++other_;
        return;
      }
      ++used_;
      suite_[i] = suite;
      count_[i] = 1;
      return;
    }
    i = (i + 1) & (kSlots - 1);
  }
}

}  // namespace wiremeter::tls

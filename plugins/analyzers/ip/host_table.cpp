#include "host_table.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

namespace wiremeter::ip {
namespace {

// splitmix64's finalizer: addresses of one subnet share their high bytes.
uint64_t mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t load64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

}  // namespace

const char* l4_name(size_t c) noexcept {
  static constexpr const char* kNames[kL4Count] = {"tcp", "udp", "icmp", "other"};
  return c < kL4Count ? kNames[c] : "other";
}

L4Class l4_class(uint8_t ip_proto) noexcept {
  switch (ip_proto) {
    case 6:
      return kL4Tcp;
    case 17:
      return kL4Udp;
    case 1:
    case 58:  // ICMPv6
      return kL4Icmp;
    default:
      return kL4Other;
  }
}

uint64_t Address::hash() const noexcept {
  return mix(load64(bytes.data()) ^ mix(load64(bytes.data() + 8) + version));
}

Address Address::of(uint8_t version, const uint8_t* addr) noexcept {
  Address a;
  a.version = version;
  std::memcpy(a.bytes.data(), addr, version == 4 ? 4 : 16);
  return a;
}

Address HostEntry::address() const noexcept {
  Address a;
  a.bytes = addr;
  a.version = version;
  return a;
}

uint64_t HostEntry::estimate_peers(uint64_t bits) noexcept {
  // Linear counting over 64 bits: n ~ -m ln(zeros / m); exact enough for "a few" and saturating
  // around 266 (m ln m) for a scanner or a server with many clients.
  constexpr double kM = 64;
  int ones = std::popcount(bits);
  if (ones == 0) return 0;
  int zeros = 64 - ones;
  double n = zeros ? -kM * std::log(zeros / kM) : kM * std::log(kM);
  return std::max<uint64_t>(static_cast<uint64_t>(ones), static_cast<uint64_t>(std::llround(n)));
}

void HostEntry::add_peer(uint32_t index, uint64_t bytes) noexcept {
  size_t smallest = 0;
  for (size_t i = 0; i < peer_count; ++i) {
    if (peer[i] == index) {
      peer_bytes[i] += bytes;
      return;
    }
    if (peer_bytes[i] < peer_bytes[smallest]) smallest = i;
  }
  if (peer_count < kPeers) {
    peer[peer_count] = index;
    peer_bytes[peer_count++] = bytes;
    return;
  }
  peer[smallest] = index;  // Space-Saving: inherits the smallest count
  peer_bytes[smallest] += bytes;
}

void HostEntry::add_label(uint16_t id, uint64_t bytes) noexcept {
  for (size_t i = 0; i < label_count; ++i) {
    if (label[i] == id) {
      label_bytes[i] += bytes;
      return;
    }
  }
  if (label_count < kLabels) {
    label[label_count] = id;
    label_bytes[label_count++] = bytes;
  } else {
    other_label_bytes += bytes;
  }
}

HostTable::HostTable(uint32_t capacity)
    : capacity_(std::clamp<uint32_t>(capacity, 1, 1u << 26)),
      index_(std::bit_ceil(static_cast<size_t>(capacity_) * 4 / 3 + 1), 0),
      entries_(capacity_, HostEntry{}),
      dirty_(capacity_, 0),
      snapshot_(capacity_, HostEntry{}) {
  // 75% load at most: linear probes stay short.
  mask_ = index_.size() - 1;
}

uint32_t HostTable::upsert(const Address& a, uint64_t hash, uint64_t ts_ns) noexcept {
  uint64_t tag = hash >> 32 << 32;
  for (uint64_t h = hash & mask_;; h = (h + 1) & mask_) {
    uint64_t slot = index_[h];
    if (slot == 0) {
      if (count_ >= capacity_) return kNone;
      uint32_t i = count_++;
      HostEntry& e = entries_[i];
      e = HostEntry{};
      e.addr = a.bytes;
      e.version = a.version;
      e.first_ns = e.last_ns = ts_ns;
      index_[h] = tag | (static_cast<uint64_t>(i) + 1);
      return i;
    }
    if ((slot >> 32 << 32) == tag) {
      uint32_t i = static_cast<uint32_t>(slot & 0xffffffffu) - 1;
      HostEntry& e = entries_[i];
      if (e.version == a.version && e.addr == a.bytes) {
        if (ts_ns > e.last_ns) e.last_ns = ts_ns;
        if (ts_ns < e.first_ns) e.first_ns = ts_ns;
        return i;
      }
    }
  }
}

uint32_t HostTable::find(const Address& a, uint64_t hash) const noexcept {
  uint64_t tag = hash >> 32 << 32;
  for (uint64_t h = hash & mask_;; h = (h + 1) & mask_) {
    uint64_t slot = index_[h];
    if (slot == 0) return kNone;
    if ((slot >> 32 << 32) == tag) {
      uint32_t i = static_cast<uint32_t>(slot & 0xffffffffu) - 1;
      if (entries_[i].version == a.version && entries_[i].addr == a.bytes) return i;
    }
  }
}

void HostTable::publish() noexcept {
  std::lock_guard lock(mutex_);
  for (uint32_t k = 0; k < dirty_count_; ++k) {
    uint32_t i = dirty_[k];
    entries_[i].dirty = 0;
    snapshot_[i] = entries_[i];
  }
  dirty_count_ = 0;
  snapshot_other_ = other_;
  published_ = count_;
}

NameTable::NameTable(uint32_t capacity)
    : entries_(std::max<uint32_t>(capacity, 1)),
      heads_(std::bit_ceil(static_cast<size_t>(std::max<uint32_t>(capacity, 1)) * 2), kNil),
      mask_(heads_.size() - 1) {}

void NameTable::unlink_lru(uint32_t s) noexcept {
  Entry& e = entries_[s];
  if (e.newer != kNil) entries_[e.newer].older = e.older;
  if (e.older != kNil) entries_[e.older].newer = e.newer;
  if (newest_ == s) newest_ = e.older;
  if (oldest_ == s) oldest_ = e.newer;
  e.newer = e.older = kNil;
}

void NameTable::unlink_chain(uint32_t s) noexcept {
  for (uint32_t* link = &heads_[entries_[s].hash & mask_]; *link != kNil;
       link = &entries_[*link].chain) {
    if (*link == s) {
      *link = entries_[s].chain;
      break;
    }
  }
  entries_[s].chain = kNil;
}

void NameTable::learn(const Address& addr, NameSource source, std::string_view name,
                      uint64_t ts_ns) noexcept {
  if (name.empty()) return;
  if (name.size() > kMaxName) name = name.substr(0, kMaxName);
  uint64_t h = addr.hash() ^ (static_cast<uint64_t>(source) << 56);
  for (unsigned char c : name) h = (h ^ c) * 0x100000001b3ull;  // FNV-1a over the name
  std::lock_guard lock(mutex_);
  uint32_t s = heads_[h & mask_];
  for (; s != kNil; s = entries_[s].chain) {
    const Entry& e = entries_[s];
    if (e.hash == h && e.source == source && e.addr == addr && e.name() == name) break;
  }
  if (s == kNil) {
    if (used_ < entries_.size()) {
      s = used_++;
    } else {
      s = oldest_;
      unlink_lru(s);
      unlink_chain(s);
      ++evicted_;
    }
    Entry& e = entries_[s];
    e.addr = addr;
    e.source = source;
    e.length = static_cast<uint8_t>(name.size());
    std::memcpy(e.text, name.data(), name.size());
    e.text[name.size()] = '\0';
    e.hash = h;
    e.count = 0;
    e.first_ns = ts_ns;
    e.chain = heads_[h & mask_];
    heads_[h & mask_] = s;
  } else {
    unlink_lru(s);
  }
  Entry& e = entries_[s];
  ++e.count;
  e.last_ns = std::max(e.last_ns, ts_ns);
  if (e.count == 1) e.last_ns = ts_ns;
  e.older = newest_;
  e.newer = kNil;
  if (newest_ != kNil) entries_[newest_].newer = s;
  newest_ = s;
  if (oldest_ == kNil) oldest_ = s;
}

size_t NameTable::size() const {
  std::lock_guard lock(mutex_);
  return used_;
}

uint64_t NameTable::evicted() const {
  std::lock_guard lock(mutex_);
  return evicted_;
}

}  // namespace wiremeter::ip

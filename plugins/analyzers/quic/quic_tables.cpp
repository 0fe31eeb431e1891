// quic: the bounded per-worker tables. See quic_tables.hpp.
#include "quic_tables.hpp"

#include <algorithm>
#include <cstring>

namespace wiremeter::quic {

uint64_t text_hash(std::string_view s) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (char c : s) {
    h ^= static_cast<uint8_t>(c);
    h *= 1099511628211ull;
  }
  return h;
}

// ---- Handshake slots ---------------------------------------------------------------------

void HandshakeSlot::add(uint64_t offset, const uint8_t* bytes, size_t n) {
  if (offset >= kCryptoBuffer) return;
  size_t at = static_cast<size_t>(offset);
  size_t take = std::min(n, kCryptoBuffer - at);
  std::memcpy(data.data() + at, bytes, take);
  for (size_t i = at; i < at + take; ++i) have.set(i);
  while (contiguous < kCryptoBuffer && have.test(contiguous)) ++contiguous;
}

HandshakePool::HandshakePool(uint32_t capacity) : slots_(std::min<uint32_t>(capacity, 65535)) {
  free_.reserve(slots_.size());
  for (size_t i = slots_.size(); i > 0; --i) free_.push_back(static_cast<uint16_t>(i));
}

uint16_t HandshakePool::acquire(uint64_t flow_id, uint64_t now_ns) {
  if (free_.empty()) return 0;
  uint16_t ref = free_.back();
  free_.pop_back();
  HandshakeSlot& s = slots_[ref - 1];
  s.flow_id = flow_id;
  s.last_ns = now_ns;
  s.in_use = true;
  s.keys = InitialKeys{};
  s.contiguous = 0;
  s.have.reset();
  ++in_use_;
  return ref;
}

HandshakeSlot* HandshakePool::get(uint16_t ref, uint64_t flow_id) {
  if (ref == 0 || ref > slots_.size()) return nullptr;
  HandshakeSlot& s = slots_[ref - 1];
  return s.in_use && s.flow_id == flow_id ? &s : nullptr;
}

void HandshakePool::release(uint16_t ref, uint64_t flow_id) {
  HandshakeSlot* s = get(ref, flow_id);
  if (!s) return;
  s->in_use = false;
  free_.push_back(ref);
  --in_use_;
}

uint32_t HandshakePool::expire(uint64_t now_ns, uint64_t idle_ns) {
  if (in_use_ == 0) return 0;
  uint32_t n = 0;
  for (size_t i = 0; i < slots_.size(); ++i) {
    HandshakeSlot& s = slots_[i];
    if (s.in_use && now_ns > s.last_ns && now_ns - s.last_ns >= idle_ns) {
      s.in_use = false;
      free_.push_back(static_cast<uint16_t>(i + 1));
      --in_use_;
      ++n;
    }
  }
  return n;
}

// ---- Connections ---------------------------------------------------------------------------

const char* decryption_name(Decryption d) {
  switch (d) {
    case Decryption::kNotAttempted:
      return "not_attempted";
    case Decryption::kOk:
      return "ok";
    case Decryption::kFailed:
      return "failed";
    case Decryption::kUnsupported:
      return "unsupported_version";
    case Decryption::kCleartext:
      return "cleartext";
  }
  return "unknown";
}

ConnectionTable::ConnectionTable(uint32_t capacity)
    : slots_(std::max<uint32_t>(capacity, 1)), used_(slots_.size(), 0), ended_(slots_.size()) {
  free_.reserve(slots_.size());
  for (size_t i = slots_.size(); i > 0; --i) free_.push_back(static_cast<uint32_t>(i));
}

uint32_t ConnectionTable::acquire() {
  uint32_t ref = 0;
  if (!free_.empty()) {
    ref = free_.back();
    free_.pop_back();
  } else if (ended_count_) {
    ref = ended_[ended_head_];
    ended_head_ = (ended_head_ + 1) % ended_.size();
    --ended_count_;
    ++recycled_;
    uint64_t last = live_load(slots_[ref - 1].last_ns);
    if (last >= complete_from_ns_) complete_from_ns_ = last + 1;
  } else {
    return 0;
  }
  slots_[ref - 1] = Connection{};
  used_[ref - 1] = 1;
  return ref;
}

Connection* ConnectionTable::get(uint32_t ref, uint64_t flow_id) {
  if (ref == 0 || ref > slots_.size()) return nullptr;
  Connection& c = slots_[ref - 1];
  return used_[ref - 1] && c.active && c.flow_id == flow_id ? &c : nullptr;
}

void ConnectionTable::end(uint32_t ref) {
  Connection& c = slots_[ref - 1];
  if (!c.active) return;
  c.active = false;
  // Each slot enters the ring once per use, so the ring never holds more than capacity.
  ended_[(ended_head_ + ended_count_) % ended_.size()] = ref;
  ++ended_count_;
}

// ---- Server names --------------------------------------------------------------------------

ServerNameTable::ServerNameTable(uint32_t capacity)
    : rows_(static_cast<size_t>(std::max<uint32_t>(capacity, 1)) + 1),
      index_(std::max<uint32_t>(capacity, 1)) {
  std::memcpy(rows_.back().name, "other", 6);
}

uint32_t ServerNameTable::at(std::string_view name, uint64_t now_ns) {
  uint64_t h = text_hash(name);
  uint32_t slot = index_.find(h, [&](uint32_t s) { return name == rows_[s].name; });
  if (slot == SlotIndex::kNil) {
    if (used_ + 1 >= rows_.size()) {
      ++overflow_;
      if (!rows_.back().first_ns) rows_.back().first_ns = now_ns;
      return static_cast<uint32_t>(rows_.size());
    }
    slot = used_++;
    ServerName& r = rows_[slot];
    size_t n = std::min(name.size(), sizeof r.name - 1);
    std::memcpy(r.name, name.data(), n);
    r.name[n] = 0;
    r.hash = h;
    r.first_ns = now_ns;
    index_.insert(slot, h);
  }
  return slot + 1;
}

// ---- Versions ------------------------------------------------------------------------------

uint8_t VersionCounters::slot(uint32_t version) {
  for (uint8_t i = 0; i < kVersionSlots; ++i) {
    Row& r = rows[i];
    if (!r.used.load(std::memory_order_relaxed)) {
      r.version.store(version, std::memory_order_relaxed);
      r.used.store(true, std::memory_order_release);
      return i;
    }
    if (r.version.load(std::memory_order_relaxed) == version) return i;
  }
  return kVersionSlots;
}

}  // namespace wiremeter::quic

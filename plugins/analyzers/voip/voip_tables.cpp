// voip: the per-worker tables.
#include "voip_tables.hpp"

#include <cstring>

namespace wiremeter::voip {
namespace {

uint32_t pow2_at_least(uint64_t n) {
  uint64_t p = 1;
  while (p < n && p < (uint64_t{1} << 31)) p <<= 1;
  return static_cast<uint32_t>(p);
}

}  // namespace

uint64_t hash_bytes(const void* data, size_t len, uint64_t seed) {
  // FNV-1a, then a final mix so that the low bits used for buckets depend on every byte.
  const auto* p = static_cast<const uint8_t*>(data);
  uint64_t h = 0xcbf29ce484222325ull ^ seed;
  for (size_t i = 0; i < len; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return h;
}

uint64_t hash_addr_port(const Addr& a, uint16_t port) {
  uint8_t buf[19];
  std::memcpy(buf, a.bytes.data(), 16);
  buf[16] = a.version;
  buf[17] = static_cast<uint8_t>(port >> 8);
  buf[18] = static_cast<uint8_t>(port);
  return hash_bytes(buf, sizeof buf);
}

size_t copy_text(std::string_view s, char* out, size_t capacity) {
  if (capacity == 0) return 0;
  size_t n = 0;
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  for (size_t i = 0; i < s.size();) {
    uint8_t b = p[i];
    size_t len = b < 0x80                 ? 1
                 : b >= 0xc2 && b <= 0xdf ? 2
                 : b >= 0xe0 && b <= 0xef ? 3
                 : b >= 0xf0 && b <= 0xf4 ? 4
                                          : 0;
    bool valid = len > 0 && i + len <= s.size();
    for (size_t k = 1; valid && k < len; ++k) valid = (p[i + k] & 0xc0) == 0x80;
    // Overlong and surrogate forms of 3- and 4-byte sequences.
    if (valid && len == 3) {
      valid = !(b == 0xe0 && p[i + 1] < 0xa0) && !(b == 0xed && p[i + 1] >= 0xa0);
    }
    if (valid && len == 4) {
      valid = !(b == 0xf0 && p[i + 1] < 0x90) && !(b == 0xf4 && p[i + 1] >= 0x90);
    }
    if (!valid) len = 1;
    if (n + len >= capacity) break;
    if (!valid) {
      out[n++] = '?';
    } else if (len == 1 && (b < 0x20 || b == 0x7f)) {
      out[n++] = ' ';
    } else {
      std::memcpy(out + n, p + i, len);
      n += len;
    }
    i += len;
  }
  out[n] = '\0';
  return n;
}

// ---- LruIndex ----------------------------------------------------------------------------

LruIndex::LruIndex(uint32_t capacity)
    : mask_(pow2_at_least(capacity ? capacity : 1) - 1),
      heads_(mask_ + 1, kNil),
      next_(capacity ? capacity : 1, kNil),
      newer_(capacity ? capacity : 1, kNil),
      older_(capacity ? capacity : 1, kNil),
      hashes_(capacity ? capacity : 1, 0),
      used_(capacity ? capacity : 1, 0) {
  // Every slot starts on the free list, lowest first.
  for (uint32_t s = static_cast<uint32_t>(used_.size()); s-- > 0;) {
    next_[s] = free_;
    free_ = s;
  }
}

void LruIndex::unlink_lru(uint32_t s) {
  if (newer_[s] != kNil) older_[newer_[s]] = older_[s];
  if (older_[s] != kNil) newer_[older_[s]] = newer_[s];
  if (newest_ == s) newest_ = older_[s];
  if (oldest_ == s) oldest_ = newer_[s];
  newer_[s] = older_[s] = kNil;
}

void LruIndex::unlink_hash(uint32_t s) {
  uint32_t* link = &heads_[hashes_[s] & mask_];
  while (*link != kNil && *link != s) link = &next_[*link];
  if (*link == s) *link = next_[s];
  next_[s] = kNil;
}

uint32_t LruIndex::allocate(uint64_t hash, bool& evicted) {
  evicted = false;
  uint32_t s;
  if (free_ != kNil) {
    s = free_;
    free_ = next_[s];
    ++size_;
  } else {
    s = oldest_;
    evicted = true;
    unlink_lru(s);
    unlink_hash(s);
  }
  used_[s] = 1;
  hashes_[s] = hash;
  uint32_t& head = heads_[hash & mask_];
  next_[s] = head;
  head = s;
  // Most recent.
  older_[s] = newest_;
  newer_[s] = kNil;
  if (newest_ != kNil) newer_[newest_] = s;
  newest_ = s;
  if (oldest_ == kNil) oldest_ = s;
  return s;
}

void LruIndex::touch(uint32_t s) {
  if (!in_use(s) || newest_ == s) return;
  unlink_lru(s);
  older_[s] = newest_;
  if (newest_ != kNil) newer_[newest_] = s;
  newest_ = s;
  if (oldest_ == kNil) oldest_ = s;
}

void LruIndex::release(uint32_t s) {
  if (!in_use(s)) return;
  unlink_lru(s);
  unlink_hash(s);
  used_[s] = 0;
  next_[s] = free_;
  free_ = s;
  --size_;
}

// ---- calls -------------------------------------------------------------------------------

const char* call_state_name(CallState s) {
  switch (s) {
    case CallState::kCalling:
      return "calling";
    case CallState::kTrying:
      return "trying";
    case CallState::kRinging:
      return "ringing";
    case CallState::kEstablished:
      return "established";
    case CallState::kCompleted:
      return "completed";
    case CallState::kFailed:
      return "failed";
    case CallState::kCancelled:
      return "cancelled";
    case CallState::kCount:
      break;
  }
  return "unknown";
}

SipTransaction* Call::find_transaction(Method m, uint32_t cseq) {
  for (SipTransaction& t : transactions) {
    if (t.first_ns && t.method == m && t.cseq == cseq) return &t;
  }
  return nullptr;
}

void Call::add_transaction(Method m, uint32_t cseq, uint64_t ts_ns) {
  // A ring of the latest few: a retransmission follows its original within seconds.
  SipTransaction& t = transactions[next_transaction];
  next_transaction = static_cast<uint8_t>((next_transaction + 1) % kCallTransactions);
  t = SipTransaction{m, cseq, 0, ts_ns ? ts_ns : 1};
}

void Call::add_media(const Sdp& sdp, Side side) {
  for (size_t i = 0; i < sdp.media_count; ++i) {
    const SdpMedia& m = sdp.media[i];
    if (!m.rtp || m.port == 0 || m.addr.version == 0) continue;
    bool known = false;
    for (size_t k = 0; k < media_count; ++k) {
      known |= media[k].addr == m.addr && media[k].port == m.port && media[k].side == side;
    }
    if (known || media_count >= kCallMedia) continue;
    media[media_count++] = MediaEndpoint{m.addr, m.port, side, m.kind};
  }
  for (size_t i = 0; i < sdp.rtpmap_count; ++i) {
    bool known = false;
    for (size_t k = 0; k < rtpmap_count; ++k) known |= rtpmaps[k].pt == sdp.rtpmaps[i].pt;
    if (!known && rtpmap_count < kCallRtpMaps) rtpmaps[rtpmap_count++] = sdp.rtpmaps[i];
  }
}

// Calls are indexed by their Call-ID as stored (cut at kCallIdLen - 1 bytes, made valid
// UTF-8), so that a longer or odd Call-ID finds its row again.
Call* CallTable::find(std::string_view call_id) {
  char buf[kCallIdLen];
  std::string_view key(buf, copy_text(call_id, buf, sizeof buf));
  uint32_t s = index_.find(hash_bytes(key.data(), key.size()),
                           [&](uint32_t slot) { return calls_[slot].call_id.view() == key; });
  return s == LruIndex::kNil ? nullptr : &calls_[s];
}

Call& CallTable::insert(std::string_view call_id, bool& evicted, bool& evicted_active) {
  char buf[kCallIdLen];
  std::string_view key(buf, copy_text(call_id, buf, sizeof buf));
  uint64_t h = hash_bytes(key.data(), key.size());
  uint32_t s = index_.allocate(h, evicted);
  Call& c = calls_[s];
  evicted_active =
      evicted && (c.state == CallState::kCalling || c.state == CallState::kTrying ||
                  c.state == CallState::kRinging || c.state == CallState::kEstablished);
  c = Call{};
  c.call_id.set(key);
  c.hash = h;
  return c;
}

// ---- streams -----------------------------------------------------------------------------

uint64_t StreamKey::hash() const {
  uint8_t buf[16 * 2 + 2 * 2 + 4 + 1];
  std::memcpy(buf, src.bytes.data(), 16);
  std::memcpy(buf + 16, dst.bytes.data(), 16);
  buf[32] = static_cast<uint8_t>(src_port >> 8);
  buf[33] = static_cast<uint8_t>(src_port);
  buf[34] = static_cast<uint8_t>(dst_port >> 8);
  buf[35] = static_cast<uint8_t>(dst_port);
  std::memcpy(buf + 36, &ssrc, 4);
  buf[40] = src.version;
  return hash_bytes(buf, sizeof buf);
}

uint32_t StreamTable::find(const StreamKey& key) const {
  return index_.find(key.hash(), [&](uint32_t s) { return streams_[s].key == key; });
}

uint32_t StreamTable::insert(const StreamKey& key, bool& evicted, Stream& old) {
  uint32_t s = index_.allocate(key.hash(), evicted);
  if (evicted) old = streams_[s];
  streams_[s] = Stream{};
  streams_[s].key = key;
  return s;
}

// ---- media hints -------------------------------------------------------------------------

bool MediaHint::lookup(uint8_t pt, Codec& codec, uint32_t& clock) const {
  for (size_t i = 0; i < rtpmap_count; ++i) {
    if (rtpmaps[i].pt == pt) {
      codec = rtpmaps[i].codec;
      clock = rtpmaps[i].clock;
      return true;
    }
  }
  return false;
}

MediaHints::MediaHints(uint32_t capacity)
    : slots_(static_cast<size_t>(pow2_at_least((capacity + kWays - 1) / kWays)) * kWays),
      set_mask_(slots_.size() / kWays - 1) {}

void MediaHints::add(const Addr& addr, uint16_t port, const Sdp& sdp, uint64_t ts_ns) {
  MediaHint* set = &slots_[(hash_addr_port(addr, port) & set_mask_) * kWays];
  MediaHint* victim = &set[0];
  for (uint32_t w = 0; w < kWays; ++w) {
    MediaHint& h = set[w];
    if (h.used && h.addr == addr && h.port == port) {
      victim = &h;
      break;
    }
    if (!h.used) {
      if (victim->used) victim = &h;
    } else if (victim->used && h.ts_ns < victim->ts_ns) {
      victim = &h;
    }
  }
  MediaHint& h = *victim;
  h = MediaHint{};
  h.addr = addr;
  h.port = port;
  h.used = true;
  h.ts_ns = ts_ns;
  // The dynamic payload types are the ones a receiver cannot know otherwise.
  for (size_t i = 0; i < sdp.rtpmap_count && h.rtpmap_count < h.rtpmaps.size(); ++i) {
    if (sdp.rtpmaps[i].pt >= 96) h.rtpmaps[h.rtpmap_count++] = sdp.rtpmaps[i];
  }
}

const MediaHint* MediaHints::find(const Addr& addr, uint16_t port) const {
  const MediaHint* set = &slots_[(hash_addr_port(addr, port) & set_mask_) * kWays];
  for (uint32_t w = 0; w < kWays; ++w) {
    if (set[w].used && set[w].port == port && set[w].addr == addr) return &set[w];
  }
  return nullptr;
}

}  // namespace wiremeter::voip

// dhcp: bounded per-worker tables and the shared request clock. See dhcp_tables.hpp.
#include "dhcp_tables.hpp"

#include <bit>
#include <cmath>

namespace wiremeter::dhcp {

// splitmix64's finalizer: MACs of one vendor and addresses of one subnet share their high
// bits, transaction ids are often small counters; the raw values would cluster.
uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

void ResponseStats::add(uint64_t us) {
  if (count == 0 || us < min_us) min_us = us;
  if (us > max_us) max_us = us;
  ++count;
  sum_us += us;
  size_t b = 0;
  while (b < kRttBoundsUs.size() && us > kRttBoundsUs[b]) ++b;
  ++buckets[b];
}

void ResponseStats::merge(const ResponseStats& o) {
  if (o.count) {
    if (count == 0 || o.min_us < min_us) min_us = o.min_us;
    if (o.max_us > max_us) max_us = o.max_us;
  }
  count += o.count;
  sum_us += o.sum_us;
  for (size_t i = 0; i < kRttBuckets; ++i) buckets[i] += o.buckets[i];
}

void DistinctMacs::add(uint64_t mac) {
  uint64_t h = mix64(mac) & 1023;
  bits[h >> 6] |= 1ull << (h & 63);
}

uint64_t DistinctMacs::estimate() const {
  constexpr double kM = 1024;
  int ones = 0;
  for (uint64_t w : bits) ones += std::popcount(w);
  int zeros = 1024 - ones;
  // Linear counting: n ~ -m ln(zeros / m); saturates at m ln m (~7100) when every bit is set.
  double n = zeros ? -kM * std::log(zeros / kM) : kM * std::log(kM);
  return static_cast<uint64_t>(std::llround(n));
}

RequestClock::RequestClock(uint32_t slots) {
  size_t n = std::bit_ceil(static_cast<size_t>(slots < 16 ? 16 : slots));
  slots_ = std::vector<std::atomic<uint64_t>>(n);
  for (auto& s : slots_) s.store(0, std::memory_order_relaxed);
  mask_ = n - 1;
}

size_t RequestClock::slot(Kind kind, uint32_t xid) const noexcept {
  return mix64(static_cast<uint64_t>(xid) << 1 | kind) & mask_;
}

namespace {
constexpr uint64_t kUnitNs = 10'000;              // 10 microseconds
constexpr uint64_t kMaxElapsedUnits = 6'000'000;  // a minute
}  // namespace

void RequestClock::record(Kind kind, uint32_t xid, uint64_t ts_ns) noexcept {
  uint64_t word = static_cast<uint64_t>(xid) << 32 | ((ts_ns / kUnitNs) & 0xffffffffu);
  // 0 is the empty slot; a request at that exact instant is timed from 10 us later.
  if (word == 0) word = 1;
  slots_[slot(kind, xid)].store(word, std::memory_order_relaxed);
}

int64_t RequestClock::elapsed_us(Kind kind, uint32_t xid, uint64_t ts_ns) const noexcept {
  uint64_t word = slots_[slot(kind, xid)].load(std::memory_order_relaxed);
  if (word == 0 || word >> 32 != xid) return -1;
  uint32_t then = static_cast<uint32_t>(word);
  uint32_t now = static_cast<uint32_t>(ts_ns / kUnitNs);
  uint32_t units = now - then;  // modulo 2^32: right across the wrap (every 11.9 hours)
  if (units > kMaxElapsedUnits) return -1;
  return static_cast<int64_t>(units) * static_cast<int64_t>(kUnitNs / 1000);
}

}  // namespace wiremeter::dhcp

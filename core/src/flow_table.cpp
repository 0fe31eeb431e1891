#include "wiremeter/core/flow_table.hpp"

#include <sys/mman.h>

#include <cassert>
#include <cstring>
#include <new>

namespace wiremeter::core {
namespace {

constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kProtoUdp = 17;

inline uint64_t mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return x;
}

inline uint64_t endpoint_hash(const uint8_t* addr, uint16_t port) {
  uint64_t a, b;
  std::memcpy(&a, addr, 8);
  std::memcpy(&b, addr + 8, 8);
  return mix64(a ^ mix64(b ^ (static_cast<uint64_t>(port) << 1 | 1)));
}

// Symmetric: both directions of a flow hash the same.
inline uint32_t flow_hash(const wm_packet& p) {
  uint64_t h1 = endpoint_hash(p.src_addr, p.src_port);
  uint64_t h2 = endpoint_hash(p.dst_addr, p.dst_port);
  uint64_t lo = h1 < h2 ? h1 : h2;
  uint64_t hi = h1 < h2 ? h2 : h1;
  uint64_t h = mix64(lo * 0x9e3779b97f4a7c15ull + hi) ^
               (static_cast<uint64_t>(p.l4_proto) << 24 | static_cast<uint64_t>(p.vlan[0]) << 8 |
                p.ip_version);
  uint32_t r = static_cast<uint32_t>(mix64(h));
  return r == 0 ? 1 : r;
}

inline uint8_t timeout_class_of(uint8_t proto) {
  return proto == kProtoTcp ? 0 : proto == kProtoUdp ? 1 : 2;
}

void* map_zeroed(size_t bytes) {
  // Lazily backed: resident memory grows with the flows actually in use, never past the budget.
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  return p;
}

}  // namespace

FlowTable::FlowTable(size_t memory_bytes, uint32_t state_bytes, FlowTimeouts timeouts,
                     uint8_t worker_id)
    : state_bytes_(state_bytes), worker_id_(worker_id) {
  timeout_ns_[0] = timeouts.tcp_ns;
  timeout_ns_[1] = timeouts.udp_ns;
  timeout_ns_[2] = timeouts.other_ns;
  stride_ = (sizeof(FlowRecord) + state_bytes + 15) & ~size_t{15};
  // Largest capacity whose records plus a power-of-two index (>= 2 buckets per flow) fit.
  uint64_t cap = memory_bytes / (stride_ + 2 * sizeof(Bucket));
  if (cap < 64) cap = 64;  // more than one batch of new flows (see allocate)
  if (cap > 0x7fffffffu) cap = 0x7fffffffu;
  uint64_t buckets;
  for (;;) {
    buckets = 1;
    while (buckets < cap * 2) buckets <<= 1;
    if (cap <= 64 || cap * stride_ + buckets * sizeof(Bucket) <= memory_bytes) break;
    cap = cap * 15 / 16;
  }
  capacity_ = static_cast<uint32_t>(cap);
  bucket_mask_ = static_cast<uint32_t>(buckets - 1);
  memory_bytes_ = capacity_ * stride_ + buckets * sizeof(Bucket);
  records_ = static_cast<uint8_t*>(map_zeroed(capacity_ * stride_));
  buckets_ = static_cast<Bucket*>(map_zeroed(buckets * sizeof(Bucket)));
  // Free list threads through `next`; built lazily would save page touches, but one pass over
  // the headers at start-up is cheap and keeps allocate() branch-free.
  for (uint32_t i = 0; i < capacity_; ++i) record(i)->next = i + 1 < capacity_ ? i + 1 : kNil;
  free_head_ = 0;
}

FlowTable::~FlowTable() {
  munmap(records_, capacity_ * stride_);
  munmap(buckets_, (static_cast<size_t>(bucket_mask_) + 1) * sizeof(Bucket));
}

void FlowTable::list_unlink(uint32_t idx) noexcept {
  FlowRecord* r = record(idx);
  uint8_t c = r->timeout_class;
  if (r->prev != kNil)
    record(r->prev)->next = r->next;
  else
    head_[c] = r->next;
  if (r->next != kNil)
    record(r->next)->prev = r->prev;
  else
    tail_[c] = r->prev;
  r->prev = r->next = kNil;
}

void FlowTable::list_push_head(uint32_t idx) noexcept {
  FlowRecord* r = record(idx);
  uint8_t c = r->timeout_class;
  r->prev = kNil;
  r->next = head_[c];
  if (head_[c] != kNil)
    record(head_[c])->prev = idx;
  else
    tail_[c] = idx;
  head_[c] = idx;
}

void FlowTable::index_erase(uint32_t hash, uint32_t idx) noexcept {
  uint32_t b = hash & bucket_mask_;
  while (!(buckets_[b].hash == hash && buckets_[b].record == idx)) {
    assert(buckets_[b].hash != 0);
    b = (b + 1) & bucket_mask_;
  }
  // Backward-shift deletion keeps probe chains intact without tombstones.
  uint32_t hole = b;
  for (uint32_t j = (hole + 1) & bucket_mask_; buckets_[j].hash != 0; j = (j + 1) & bucket_mask_) {
    uint32_t home = buckets_[j].hash & bucket_mask_;
    // Move j into the hole if its home is not strictly between hole and j (cyclically).
    bool between = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
    if (!between) {
      buckets_[hole] = buckets_[j];
      hole = j;
    }
  }
  buckets_[hole] = Bucket{0, 0};
}

void FlowTable::release(uint32_t idx, uint8_t reason) noexcept {
  FlowRecord* r = record(idx);
  r->info.end_reason = reason;
  if (on_end_) on_end_(r->info, state_of(idx));
  index_erase(r->hash, idx);
  list_unlink(idx);
  r->in_use = 0;
  r->next = free_head_;
  free_head_ = idx;
  bump(counters_.active, -1);
}

uint32_t FlowTable::allocate() noexcept {
  if (free_head_ == kNil) {
    // Evict the least recently active flow over all timeout classes, skipping flows of the
    // current batch (their records are still referenced by its packets): those move to the
    // head, where they belong anyway. A batch touches at most kBurstSize flows, far fewer than
    // the minimum capacity, so the loop ends quickly.
    for (uint32_t tries = 0; tries <= capacity_; ++tries) {
      uint32_t victim = kNil;
      for (uint32_t t : tail_) {
        if (t != kNil &&
            (victim == kNil || record(t)->info.last_ns < record(victim)->info.last_ns)) {
          victim = t;
        }
      }
      if (victim == kNil) return kNil;
      if (record(victim)->batch == batch_) {
        list_unlink(victim);
        list_push_head(victim);
        continue;
      }
      release(victim, WM_FLOW_EVICTED);
      bump(counters_.evicted, 1);
      break;
    }
    if (free_head_ == kNil) return kNil;
  }
  uint32_t idx = free_head_;
  free_head_ = record(idx)->next;
  return idx;
}

bool FlowTable::track(wm_packet& pkt) noexcept {
  pkt.flow = nullptr;
  pkt.flow_state = nullptr;
  pkt.direction = WM_DIR_FORWARD;
  if (pkt.ip_version == 0) return false;
  if ((pkt.flags & WM_PKT_FRAGMENT) && !(pkt.flags & WM_PKT_FIRST_FRAGMENT)) return false;

  uint32_t hash = flow_hash(pkt);
  size_t addr_len = pkt.ip_version == 4 ? 4 : 16;
  uint32_t b = hash & bucket_mask_;
  for (; buckets_[b].hash != 0; b = (b + 1) & bucket_mask_) {
    if (buckets_[b].hash != hash) continue;
    uint32_t idx = buckets_[b].record;
    FlowRecord* r = record(idx);
    wm_flow_info& f = r->info;
    if (f.l4_proto != pkt.l4_proto || f.ip_version != pkt.ip_version || f.vlan != pkt.vlan[0]) {
      continue;
    }
    uint8_t dir;
    if (f.port[0] == pkt.src_port && f.port[1] == pkt.dst_port &&
        std::memcmp(f.addr[0], pkt.src_addr, addr_len) == 0 &&
        std::memcmp(f.addr[1], pkt.dst_addr, addr_len) == 0) {
      dir = WM_DIR_FORWARD;
    } else if (f.port[0] == pkt.dst_port && f.port[1] == pkt.src_port &&
               std::memcmp(f.addr[0], pkt.dst_addr, addr_len) == 0 &&
               std::memcmp(f.addr[1], pkt.src_addr, addr_len) == 0) {
      dir = WM_DIR_REVERSE;
    } else {
      continue;
    }
    ++f.packets[dir];
    f.bytes[dir] += pkt.wire_len;
    if (pkt.ts_ns > f.last_ns) f.last_ns = pkt.ts_ns;
    uint32_t now_s = static_cast<uint32_t>(pkt.ts_ns / 1'000'000'000ull);
    r->batch = batch_;
    if (now_s != r->relinked_s && head_[r->timeout_class] != idx) {
      list_unlink(idx);
      list_push_head(idx);
      r->relinked_s = now_s;
    }
    pkt.flow = &f;
    pkt.flow_state = state_of(idx);
    pkt.direction = dir;
    return true;
  }

  uint32_t idx = allocate();
  if (idx == kNil) {
    bump(counters_.no_room, 1);
    return false;
  }
  // allocate() may have evicted a flow and shifted buckets; find the insertion slot anew.
  b = hash & bucket_mask_;
  while (buckets_[b].hash != 0) b = (b + 1) & bucket_mask_;
  buckets_[b] = Bucket{hash, idx};

  FlowRecord* r = record(idx);
  std::memset(r, 0, stride_);
  wm_flow_info& f = r->info;
  f.id = next_id_++;
  f.first_ns = f.last_ns = pkt.ts_ns;
  f.packets[0] = 1;
  f.bytes[0] = pkt.wire_len;
  std::memcpy(f.addr[0], pkt.src_addr, 16);
  std::memcpy(f.addr[1], pkt.dst_addr, 16);
  f.port[0] = pkt.src_port;
  f.port[1] = pkt.dst_port;
  f.vlan = pkt.vlan[0];
  f.ip_version = pkt.ip_version;
  f.l4_proto = pkt.l4_proto;
  f.worker = worker_id_;
  r->hash = hash;
  r->relinked_s = static_cast<uint32_t>(pkt.ts_ns / 1'000'000'000ull);
  r->batch = batch_;
  r->in_use = 1;
  r->timeout_class = timeout_class_of(pkt.l4_proto);
  list_push_head(idx);
  bump(counters_.active, 1);
  bump(counters_.created, 1);

  pkt.flow = &f;
  pkt.flow_state = state_of(idx);
  pkt.direction = WM_DIR_FORWARD;
  return true;
}

void FlowTable::expire(uint64_t now_ns) noexcept {
  for (int c = 0; c < 3; ++c) {
    while (tail_[c] != kNil) {
      const wm_flow_info& f = record(tail_[c])->info;
      if (f.last_ns + timeout_ns_[c] > now_ns) break;
      release(tail_[c], WM_FLOW_IDLE_TIMEOUT);
      bump(counters_.expired, 1);
    }
  }
}

void FlowTable::flush() noexcept {
  for (int c = 0; c < 3; ++c) {
    while (tail_[c] != kNil) release(tail_[c], WM_FLOW_SHUTDOWN);
  }
}

void FlowTable::for_each(const std::function<void(const wm_flow_info&)>& fn) const {
  for (int c = 0; c < 3; ++c) {
    for (uint32_t i = head_[c]; i != kNil; i = record(i)->next) fn(record(i)->info);
  }
}

}  // namespace wiremeter::core

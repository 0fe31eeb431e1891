// ip: the bounded per-worker tables behind the plugin: hosts (with the snapshot the control plane
// reads) and the names learned for addresses.
//
// Every table has a fixed capacity chosen when the worker is made and allocates nothing after
// its constructor, so the data path never touches the heap and memory stays bounded whatever
// the traffic.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <span>
#include <string_view>
#include <vector>

#include "name_parsers.hpp"

namespace wiremeter::ip {

// Peers and application labels remembered per host (see HostEntry).
inline constexpr size_t kPeers = 4;
inline constexpr size_t kLabels = 4;

enum L4Class : uint8_t { kL4Tcp = 0, kL4Udp, kL4Icmp, kL4Other, kL4Count };
const char* l4_name(size_t c) noexcept;
L4Class l4_class(uint8_t ip_proto) noexcept;

// An IPv4 (first 4 bytes, the rest zero) or IPv6 address.
struct Address {
  std::array<uint8_t, 16> bytes{};
  uint8_t version = 0;
  bool operator==(const Address& o) const { return version == o.version && bytes == o.bytes; }
  uint64_t hash() const noexcept;
  static Address of(uint8_t version, const uint8_t* addr) noexcept;
};

// One host as one worker saw it. Trivially copyable: the snapshot is a plain copy.
// 208 bytes; with its snapshot copy and index slot a tracked host costs ~430 bytes per worker.
struct HostEntry {
  std::array<uint8_t, 16> addr;
  uint8_t version;  // 4 or 6; 0 = the "other" bucket
  uint8_t dirty;    // on the worker's list of entries changed since the last snapshot
  uint8_t peer_count;
  uint8_t label_count;
  uint32_t flows;  // flows the host took part in (counted at their first packet)
  uint64_t packets_in, packets_out, bytes_in, bytes_out;  // frame bytes, as tshark counts
  uint64_t first_ns, last_ns;
  std::array<uint64_t, kL4Count> l4_bytes;
  // Distinct peers: each peer sets one bit (by its address hash); the count is the linear-
  // counting estimate of the bits, which merges across workers by OR.
  uint64_t peer_bits;
  // The top peers by bytes, Space-Saving (Metwally et al.): a new peer takes over the smallest
  // slot and inherits its bytes, so a peer with more than 1/kPeers of the host's traffic is
  // always listed, and its bytes overestimate by at most the slot's previous count.
  std::array<uint32_t, kPeers> peer;  // entry index of the peer in the same table
  std::array<uint64_t, kPeers> peer_bytes;
  // Bytes per application label (wm_flow_info.app_label): the first kLabels labels of the host
  // each, the rest summed in other_label_bytes.
  std::array<uint16_t, kLabels> label;
  std::array<uint64_t, kLabels> label_bytes;
  uint64_t other_label_bytes;

  Address address() const noexcept;
  uint64_t peer_estimate() const noexcept { return estimate_peers(peer_bits); }
  static uint64_t estimate_peers(uint64_t bits) noexcept;
  void add_peer(uint32_t index, uint64_t bytes) noexcept;
  void add_label(uint16_t id, uint64_t bytes) noexcept;
};
static_assert(sizeof(HostEntry) == 208, "the documented bytes per host");

// The hosts of one worker: an open-addressing index over dense, append-only entries. When
// `capacity` hosts are known, further hosts are not tracked: their traffic goes to the "other"
// bucket and `untracked` counts their packets, so totals stay right.
//
// Thread-safety: everything but the snapshot readers runs on the owning worker. publish() (from
// worker_tick) copies the entries changed since the last call into the snapshot under a mutex;
// the control plane reads the snapshot under the same mutex, a chunk at a time. The data path
// itself takes no lock.
class HostTable {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;
  explicit HostTable(uint32_t capacity);

  // The entry of an address (created when new), or kNone when the table is full.
  uint32_t upsert(const Address& a, uint64_t hash, uint64_t ts_ns) noexcept;
  uint32_t find(const Address& a, uint64_t hash) const noexcept;
  HostEntry& at(uint32_t index) noexcept { return entries_[index]; }
  HostEntry& other() noexcept { return other_; }
  // Marks an entry changed, for the next publish().
  void touch(uint32_t index) noexcept {
    HostEntry& e = entries_[index];
    if (!e.dirty) {
      e.dirty = 1;
      dirty_[dirty_count_++] = index;
    }
  }
  uint32_t size() const noexcept { return count_; }
  uint32_t capacity() const noexcept { return capacity_; }
  void publish() noexcept;

  // Control plane: calls visit(span<const HostEntry>) for the published entries, kChunk at a
  // time under the lock, then visit_other(const HostEntry&) once.
  template <typename Visit, typename VisitOther>
  void read(Visit&& visit, VisitOther&& visit_other) const {
    constexpr uint32_t kChunk = 4096;  // ~830 KiB: the worker's tick waits at most that copy
    uint32_t n;
    {
      std::lock_guard lock(mutex_);
      n = published_;
    }
    for (uint32_t b = 0; b < n; b += kChunk) {
      std::lock_guard lock(mutex_);
      visit(std::span<const HostEntry>(snapshot_.data() + b, std::min(n, b + kChunk) - b));
    }
    std::lock_guard lock(mutex_);
    visit_other(snapshot_other_);
  }
  uint32_t published() const {
    std::lock_guard lock(mutex_);
    return published_;
  }

  // Memory per tracked host: the entry, its snapshot copy and its dirty-list slot, plus its
  // share of the index (which is 1.33x to 2.67x the capacity in 8-byte slots).
  static constexpr size_t kBytesPerHost = 2 * sizeof(HostEntry) + sizeof(uint32_t);
  size_t allocated_bytes() const {
    return index_.size() * sizeof(uint64_t) + static_cast<size_t>(capacity_) * kBytesPerHost;
  }

 private:
  uint32_t capacity_;
  uint64_t mask_;
  // Slot: (hash high 32 bits) << 32 | (entry index + 1); 0 = empty.
  std::vector<uint64_t> index_;
  std::vector<HostEntry> entries_;
  std::vector<uint32_t> dirty_;
  uint32_t dirty_count_ = 0;
  uint32_t count_ = 0;
  HostEntry other_{};

  mutable std::mutex mutex_;
  std::vector<HostEntry> snapshot_;  // guarded by mutex_
  HostEntry snapshot_other_{};       // guarded by mutex_
  uint32_t published_ = 0;           // guarded by mutex_
};

// Names learned for addresses: one entry per (address, source, name), bounded; when full, the
// least recently confirmed entry gives way (LRU), so the table follows what the network uses.
//
// Thread-safety: learn() on the owning worker and the readers on the control plane both take
// the table's mutex. The worker takes it once per name learned (a DNS response, a DHCP message,
// a ClientHello), never per packet.
class NameTable {
 public:
  struct Entry {
    Address addr;
    NameSource source = NameSource::kDns;
    uint8_t length = 0;
    char text[kMaxName + 1] = {};
    uint64_t hash = 0;
    uint64_t count = 0, first_ns = 0, last_ns = 0;
    uint32_t chain = kNil, newer = kNil, older = kNil;
    std::string_view name() const { return {text, length}; }
  };
  static constexpr uint32_t kNil = UINT32_MAX;

  explicit NameTable(uint32_t capacity);
  void learn(const Address& addr, NameSource source, std::string_view name,
             uint64_t ts_ns) noexcept;
  size_t size() const;
  uint64_t evicted() const;
  size_t allocated_bytes() const {
    return entries_.size() * sizeof(Entry) + heads_.size() * sizeof(uint32_t);
  }
  // Control plane: visit(const Entry&) for every entry, under the lock.
  template <typename F>
  void for_each(F&& visit) const {
    std::lock_guard lock(mutex_);
    for (uint32_t s = newest_; s != kNil; s = entries_[s].older) visit(entries_[s]);
  }

 private:
  void unlink_lru(uint32_t slot) noexcept;
  void unlink_chain(uint32_t slot) noexcept;

  mutable std::mutex mutex_;
  std::vector<Entry> entries_;
  std::vector<uint32_t> heads_;
  uint64_t mask_;
  uint32_t used_ = 0;
  uint32_t newest_ = kNil, oldest_ = kNil;
  uint64_t evicted_ = 0;
};

}  // namespace wiremeter::ip

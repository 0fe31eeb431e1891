// dns: the bounded per-worker tables behind the plugin: servers, resolved names, top queried
// names and outstanding queries.
//
// Every table has a fixed capacity chosen when the worker is made and allocates nothing after
// its constructor, so the data path never touches the heap and memory stays bounded whatever
// the traffic. Where a table is full, the rule for what gives way is part of its contract.
//
// Thread-safety: none of these types locks; the worker that owns them guards the ones the
// control plane reads (see Worker::lock()).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>
#include <wiremeter/slot_index.hpp>

namespace wiremeter::dns {

inline constexpr size_t kStoredName = 256;   // bytes kept of a name's text, NUL included
inline constexpr size_t kAnswerText = 256;   // bytes kept of one answer's text, NUL included
inline constexpr size_t kAnswerBytes = 512;  // the answer texts of one response
inline constexpr size_t kMaxAnswers = 16;
inline constexpr size_t kRcodes = 16;  // the 4-bit header rcode

// Response-time histogram bounds in microseconds (0.5 ms ... 5 s): resolvers on the LAN answer
// in well under a millisecond, recursive lookups over the Internet take tens to hundreds.
inline constexpr std::array<uint64_t, 13> kRttBoundsUs = {
    500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000};
inline constexpr size_t kRttBuckets = kRttBoundsUs.size() + 1;
size_t rtt_bucket(uint64_t rtt_us);

// An IPv4 or IPv6 address (IPv4 in the first 4 bytes, the rest zero).
struct Addr {
  std::array<uint8_t, 16> bytes{};
  uint8_t version = 0;
  bool operator==(const Addr& o) const { return version == o.version && bytes == o.bytes; }
  // 224.0.0.0/4 or ff00::/8.
  bool multicast() const {
    return version == 4 ? (bytes[0] & 0xf0) == 0xe0 : version == 6 && bytes[0] == 0xff;
  }
  uint64_t hash() const;
};

// A name's text in a fixed buffer (cut at kStoredName - 1 bytes on a character boundary).
struct StoredName {
  uint16_t length = 0;
  char text[kStoredName] = {};
  void set(std::string_view s);
  std::string_view view() const { return {text, length}; }
};

// The answer records of one response as text, with their TTLs, in a fixed buffer. Answers that
// do not fit (more than kMaxAnswers, or kAnswerBytes of text) are dropped and `truncated` set.
struct Answers {
  uint8_t count = 0;
  bool truncated = false;
  uint16_t bytes = 0;
  std::array<uint32_t, kMaxAnswers> ttl{};
  char text[kAnswerBytes] = {};  // `count` NUL-terminated strings, one after the other

  void clear() {
    count = 0;
    truncated = false;
    bytes = 0;
  }
  void add(std::string_view answer, uint32_t answer_ttl);
  uint32_t min_ttl() const;
  template <typename F>
  void for_each(F&& visit) const {
    size_t at = 0;
    for (uint8_t i = 0; i < count; ++i) {
      std::string_view s(text + at);
      visit(s, ttl[i]);
      at += s.size() + 1;
    }
  }
};

// Per-server counters. Plain integers: the owning worker writes them under its lock.
struct ServerStats {
  Addr addr;
  uint64_t requests = 0, responses = 0, errors = 0, unanswered = 0, retransmissions = 0;
  uint64_t rtt_count = 0, rtt_sum_us = 0, rtt_min_us = 0, rtt_max_us = 0;
  // The first and last query or response to or from the server; 0 = none yet.
  uint64_t first_ns = 0, last_ns = 0;
  std::array<uint64_t, kRcodes> rcodes{};
  std::array<uint64_t, kRttBuckets> rtt{};  // per bucket, not cumulative

  void add_rtt(uint64_t us);
  void seen(uint64_t ts_ns) {
    if (first_ns == 0 || ts_ns < first_ns) first_ns = ts_ns;
    if (ts_ns > last_ns) last_ns = ts_ns;
  }
  void merge(const ServerStats& o);
};

// Servers by address. When `capacity` servers are known, the counts of any further server go
// to other(): the first servers seen keep their own rows, which on a real network are the
// resolvers that stay busy.
class ServerTable {
 public:
  explicit ServerTable(uint32_t capacity);
  ServerStats& at(const Addr& addr);
  const ServerStats& other() const { return other_; }
  size_t size() const { return used_; }
  const ServerStats& row(size_t i) const { return rows_[i]; }

 private:
  std::vector<ServerStats> rows_;
  uint32_t used_ = 0;
  SlotIndex index_;
  ServerStats other_;
};

// Resolved names: (name, type) with the answers and TTL of the latest successful response.
// When full, the least recently updated entry gives way (LRU), so the table shows what the
// network is resolving now.
class NameTable {
 public:
  struct Entry {
    StoredName name;
    uint16_t type = 0;
    uint64_t hash = 0;
    uint64_t count = 0, first_ns = 0, last_ns = 0;
    Answers answers;
    uint32_t newer = SlotIndex::kNil, older = SlotIndex::kNil;  // LRU list
  };

  explicit NameTable(uint32_t capacity);
  void update(std::string_view name, uint16_t type, const Answers& answers, uint64_t ts_ns);
  size_t size() const { return used_; }
  uint64_t evicted() const { return evicted_; }
  // Most recently updated first.
  template <typename F>
  void for_each(F&& visit) const {
    for (uint32_t s = newest_; s != SlotIndex::kNil; s = entries_[s].older) visit(entries_[s]);
  }

 private:
  void unlink(uint32_t slot);
  void push_newest(uint32_t slot);

  std::vector<Entry> entries_;
  uint32_t used_ = 0;
  uint32_t newest_ = SlotIndex::kNil, oldest_ = SlotIndex::kNil;
  uint64_t evicted_ = 0;
  SlotIndex index_;
};

// The most queried names, by the Space-Saving algorithm (Metwally et al. 2005): `capacity`
// counters; a new name takes over the smallest counter and inherits its count as `error`. Any
// name queried more than total/capacity times is guaranteed to be in the table, and its count
// overestimates by at most `error`. first_ns is when the name took its counter (a name that
// lost its counter and came back starts again), last_ns its latest query.
class TopNames {
 public:
  struct Entry {
    StoredName name;
    uint64_t hash = 0;
    uint64_t count = 0;
    uint64_t error = 0;
    uint64_t first_ns = 0, last_ns = 0;
  };

  explicit TopNames(uint32_t capacity);
  void add(std::string_view name, uint64_t ts_ns);
  uint64_t total() const { return total_; }
  size_t size() const { return used_; }
  template <typename F>
  void for_each(F&& visit) const {
    for (uint32_t s = 0; s < used_; ++s) visit(entries_[s]);
  }

 private:
  void sift_down(uint32_t pos);
  void sift_up(uint32_t pos);
  void swap_heap(uint32_t a, uint32_t b);

  std::vector<Entry> entries_;
  std::vector<uint32_t> heap_;      // slots, a min-heap by count
  std::vector<uint32_t> heap_pos_;  // slot -> position in heap_
  uint32_t used_ = 0;
  uint64_t total_ = 0;
  SlotIndex index_;
};

// A query waiting for its response. Lives in a PendingPool; the flow's FlowState links its
// queries through `next`.
struct PendingQuery {
  enum State : uint8_t { kFree = 0, kPending, kExpired };
  uint64_t flow_id = 0;
  uint64_t ts_ns = 0;
  uint32_t next = 0;  // reference of the flow's next (older) query, or the next free slot
  uint32_t name_hash = 0;
  uint16_t id = 0, qtype = 0;
  uint16_t client_port = 0, server_port = 0;
  State state = kFree;
  uint8_t transport = 0;
  bool has_question = false;
  bool retransmission = false;  // the flow had an outstanding query with its id and name
  Addr client, server;
  StoredName name;
};

// Fixed pool of PendingQuery. References are slot + 1, so that 0 (zero-filled flow state)
// means "none".
class PendingPool {
 public:
  explicit PendingPool(uint32_t capacity) : slots_(capacity) {}
  // Returns a reference to a slot in kPending state, or 0 when every slot is in use.
  uint32_t allocate();
  void release(uint32_t ref);
  PendingQuery& at(uint32_t ref) { return slots_[ref - 1]; }
  bool valid(uint32_t ref) const { return ref >= 1 && ref <= high_water_; }
  // Slots [0, high_water) have been used at least once: the only ones a scan must visit.
  uint32_t high_water() const { return high_water_; }
  PendingQuery& slot(uint32_t i) { return slots_[i]; }
  const PendingQuery& slot(uint32_t i) const { return slots_[i]; }
  uint32_t capacity() const { return static_cast<uint32_t>(slots_.size()); }
  uint32_t in_use() const { return in_use_; }

 private:
  std::vector<PendingQuery> slots_;
  uint32_t free_ = 0;  // reference of the first free slot below high_water_
  uint32_t high_water_ = 0;
  uint32_t in_use_ = 0;
};

}  // namespace wiremeter::dns

// A worker's flow table: both directions of a conversation map to one record.
//
// Owned by exactly one worker; nothing here is thread-safe except the counters, which the
// control plane reads with relaxed loads. Memory is allocated once at construction from the
// worker's share of the memory budget: lookups and inserts never allocate. When the table is
// full, the least recently active flow is evicted to make room. Idle flows expire per
// timeout class (TCP, UDP, other), each kept in its own activity-ordered list so that expiry
// only ever looks at list tails. A flow moves to the head of its list at most once per second
// of capture time: the order is exact to a second, and a hit on a busy flow in a large table
// does not touch two more random cache lines.
#pragma once

#include <wiremeter/abi.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

namespace wiremeter::core {

struct FlowTimeouts {
  uint64_t tcp_ns = 300'000'000'000ull;
  uint64_t udp_ns = 60'000'000'000ull;
  uint64_t other_ns = 30'000'000'000ull;
};

struct FlowTableCounters {
  std::atomic<uint64_t> active{0};
  std::atomic<uint64_t> created{0};
  std::atomic<uint64_t> expired{0};
  std::atomic<uint64_t> evicted{0};
  std::atomic<uint64_t> no_room{0};  // packets left without a flow: table full of this batch
};

// The core flow record. The public wm_flow_info comes first; plugin state follows the record
// at a fixed stride.
struct FlowRecord {
  wm_flow_info info;
  uint32_t hash;
  uint32_t prev;  // activity list links (record indexes); kNil at the ends
  uint32_t next;
  uint32_t relinked_s;  // capture second of the last move to the list head
  uint32_t batch;       // the batch that last touched the flow (see begin_batch)
  uint8_t timeout_class;
  uint8_t in_use;
  uint16_t pad;
};

// The core's own per-flow cost; plugin state comes on top. Issue budget: at most 256 bytes.
static_assert(sizeof(FlowRecord) <= 128, "keep the core flow record within two cache lines");

class FlowTable {
 public:
  static constexpr uint32_t kNil = 0xffffffffu;

  // Called before a record is released (expiry, eviction, shutdown) with its plugin state.
  using EndCallback = std::function<void(const wm_flow_info&, uint8_t* state)>;

  // `memory_bytes` bounds the whole table (records, plugin state and index).
  // `state_bytes` is the per-flow plugin state area, zero-filled on each new flow.
  FlowTable(size_t memory_bytes, uint32_t state_bytes, FlowTimeouts timeouts, uint8_t worker_id);
  ~FlowTable();
  FlowTable(const FlowTable&) = delete;
  FlowTable& operator=(const FlowTable&) = delete;

  void set_end_callback(EndCallback cb) { on_end_ = std::move(cb); }

  // Starts a batch. Flows touched in the current batch are never evicted: earlier packets of
  // the batch still point at their records until the plugins have seen them.
  void begin_batch() noexcept { ++batch_; }

  // Finds or creates the flow of a decoded packet and fills pkt.flow, pkt.flow_state and
  // pkt.direction; updates packet/byte counters and activity. Packets without IP, and
  // non-first fragments, get no flow. Returns false when the packet has no flow.
  bool track(wm_packet& pkt) noexcept;

  // Ends flows idle since before now - timeout.
  void expire(uint64_t now_ns) noexcept;
  // Ends every flow (shutdown, end of an offline run).
  void flush() noexcept;

  uint32_t capacity() const { return capacity_; }
  uint32_t state_bytes() const { return state_bytes_; }
  size_t record_stride() const { return stride_; }
  size_t memory_bytes() const { return memory_bytes_; }
  const FlowTableCounters& counters() const { return counters_; }

  // Visits every active flow (control plane use only while the worker is stopped, and tests).
  void for_each(const std::function<void(const wm_flow_info&)>& fn) const;

 private:
  struct Bucket {
    uint32_t hash;  // 0 marks an empty bucket (real hashes are forced non-zero)
    uint32_t record;
  };

  FlowRecord* record(uint32_t i) const {
    return reinterpret_cast<FlowRecord*>(records_ + static_cast<size_t>(i) * stride_);
  }
  uint8_t* state_of(uint32_t i) const {
    return records_ + static_cast<size_t>(i) * stride_ + sizeof(FlowRecord);
  }
  uint32_t allocate() noexcept;
  void release(uint32_t idx, uint8_t reason) noexcept;
  void list_unlink(uint32_t idx) noexcept;
  void list_push_head(uint32_t idx) noexcept;
  void index_erase(uint32_t hash, uint32_t idx) noexcept;
  static void bump(std::atomic<uint64_t>& c, int64_t d) {
    c.store(c.load(std::memory_order_relaxed) + d, std::memory_order_relaxed);
  }

  uint8_t* records_ = nullptr;
  Bucket* buckets_ = nullptr;
  size_t stride_ = 0;
  size_t memory_bytes_ = 0;
  uint32_t capacity_ = 0;
  uint32_t bucket_mask_ = 0;
  uint32_t state_bytes_ = 0;
  uint32_t free_head_ = kNil;
  uint32_t head_[3] = {kNil, kNil, kNil};  // most recently active per timeout class
  uint32_t tail_[3] = {kNil, kNil, kNil};  // least recently active
  uint64_t timeout_ns_[3];
  uint64_t next_id_ = 1;
  uint32_t batch_ = 0;
  uint8_t worker_id_;
  EndCallback on_end_;
  FlowTableCounters counters_;
};

}  // namespace wiremeter::core

// The data path: one Worker per worker lcore.
//
// A worker polls its RX queues, decodes each packet once, assigns it to a flow, hands the batch
// to every analyzer plugin, and then forwards (bridge) or drops (sink) it. It shares nothing
// with other workers; the control plane reads its counters with relaxed atomic loads.
#pragma once

#include <wiremeter/abi.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "wiremeter/core/decode.hpp"
#include "wiremeter/core/flow_table.hpp"

struct rte_mbuf;

namespace wiremeter::core {

inline constexpr uint16_t kBurstSize = 32;
// Frames that arrive in several mbuf segments (jumbo frames, receive offload, long frames from a
// capture file) are copied into one buffer for the analyzers, up to this many bytes.
inline constexpr uint32_t kMaxLinearFrame = 65535;

// A relaxed single-writer counter (see wiremeter::Counter in the SDK for the rationale).
struct StatCounter {
  std::atomic<uint64_t> v{0};
  void add(uint64_t n) noexcept {
    v.store(v.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  uint64_t get() const noexcept { return v.load(std::memory_order_relaxed); }
};

struct alignas(64) PortCounters {
  StatCounter rx_packets, rx_bytes, tx_packets, tx_bytes, tx_dropped;
};

// What a worker needs to know about a port. Shared read-only between workers, except `mode`,
// which the control plane flips at runtime.
struct PortRuntime {
  uint16_t dpdk_id = 0;
  uint16_t n_queues = 1;
  int peer = -1;                         // index of the bridged port, -1 when unpaired
  std::atomic<uint8_t>* mode = nullptr;  // 0 bridge, 1 sink; shared by both ports of a pair
  LinkType link = LinkType::kEthernet;
  bool capture_timestamps = false;
  uint64_t rx_limit_pps = 0;  // 0 = unlimited (used to pace capture replays)
};

// An analyzer plugin as a worker sees it.
struct AnalyzerSlot {
  const wm_analyzer_hooks* hooks = nullptr;
  void* worker_ctx = nullptr;
  uint32_t flow_state_offset = 0;  // this plugin's slice of the per-flow state area
  void (*worker_tick)(void* worker, uint64_t now_ns) = nullptr;  // ABI 1.1, may be absent
  const std::atomic<bool>* labels_flows = nullptr;  // this plugin sets flow labels (ends first)
};

struct WorkerConfig {
  uint32_t id = 0;
  size_t flow_memory_bytes = 64u << 20;
  uint32_t flow_state_bytes = 0;
  FlowTimeouts timeouts;
};

class Worker {
 public:
  Worker(const WorkerConfig& cfg, std::vector<PortRuntime>* ports,
         std::vector<AnalyzerSlot> analyzers);

  // Polls until stop is set, or (offline) until every port has run dry.
  void run(const std::atomic<bool>& stop, bool stop_when_dry);

  // One burst from `port_index`: decode, flows, plugins. Leaves the mbufs untouched; the
  // pipeline benchmark calls this directly on packets it keeps in memory.
  void analyze(uint16_t port_index, rte_mbuf** pkts, uint16_t n, uint64_t now_ns) noexcept;

  // After analyze(): forward to the peer port (bridge) or free (sink).
  void forward_or_drop(uint16_t port_index, uint16_t queue, rte_mbuf** pkts, uint16_t n) noexcept;

  // Ends all flows (plugins see on_flow_end). Plugin worker contexts stay readable.
  void shutdown() noexcept;
  // Releases the plugins' worker contexts (worker_fini). After shutdown().
  void release_plugins() noexcept;

  uint32_t id() const { return cfg_.id; }
  void add_rx_queue(uint16_t port_index, uint16_t queue) { rx_.push_back({port_index, queue}); }
  const std::vector<PortCounters>& port_counters() const { return port_counters_; }
  const StatCounter& decode_error(DecodeError e) const {
    return decode_errors_[static_cast<size_t>(e)];
  }
  const StatCounter& packets_without_flow() const { return no_flow_; }
  const FlowTable& flows() const { return *flows_; }
  uint64_t last_packet_ns() const { return last_ts_.load(std::memory_order_relaxed); }

 private:
  struct RxQueue {
    uint16_t port_index;
    uint16_t queue;
    uint64_t tokens = 0;  // pacing for rx_limit_pps
    uint64_t last_refill_ns = 0;
  };

  uint64_t packet_time(const PortRuntime& port, rte_mbuf* m, uint64_t now_ns) const noexcept;

  WorkerConfig cfg_;
  std::vector<PortRuntime>* ports_;
  std::vector<AnalyzerSlot> analyzers_;
  std::unique_ptr<FlowTable> flows_;
  std::vector<RxQueue> rx_;
  std::vector<PortCounters> port_counters_;
  StatCounter decode_errors_[static_cast<size_t>(DecodeError::kCount)];
  StatCounter no_flow_;
  std::atomic<uint64_t> last_ts_{0};
  bool capture_clock_ = false;  // offline: time is the capture's, not the wall clock
  wm_packet views_[kBurstSize];
  // One buffer per burst slot for frames in several segments: modules see the whole frame.
  std::unique_ptr<uint8_t[]> linear_;
};

// Wall-clock ns from the TSC, cheap enough to call per burst.
uint64_t wall_clock_ns() noexcept;

}  // namespace wiremeter::core

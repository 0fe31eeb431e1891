// connections: every flow with its 5-tuple, VLAN, packets and bytes per direction, and for TCP
// its state, history, handshake RTT, retransmissions, reordering, zero windows and resets; plus a
// servers table with per-server TCP quality.
//
// Data path: each worker analyzes its flows in their per-flow state and keeps them on an
// intrusive list of active flows. At flow end it writes a FlowSummary to its bounded record log
// and adds it to its servers table. The control plane never reads flow state: when the REST API
// asks for active flows, it raises a request that the worker answers from worker_tick() with a
// snapshot of summaries.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string_view>
#include <utility>
#include <vector>
#include <wiremeter/plugin.hpp>
#include <wiremeter/record_log.hpp>
#include <wiremeter/top_series.hpp>

#include "records.hpp"
#include "tcp_analysis.hpp"

namespace wiremeter::connections {

// Ended flows kept per worker for the REST API and the report; older ones are dropped (counted).
inline constexpr size_t kRecordsPerWorker = 200'000;
// Servers per worker in the servers table; flows of further servers are counted as overflow.
inline constexpr size_t kServersPerWorker = 100'000;
// Ended flows a worker holds back while the control plane copies its servers table, so that the
// worker never waits for that copy.
inline constexpr size_t kServerBacklog = 4096;
// How a worker spreads the copying of a snapshot over its ticks. Copying stalls the worker's
// RX queues: a 1024-descriptor ring fills in about 1 ms at 1 Mpps, so one tick copies for at most
// that long (some 10-20k flows) and a larger table takes several ticks.
struct SnapshotPacing {
  std::chrono::nanoseconds budget{1'000'000};  // per worker_tick
  size_t max_flows = SIZE_MAX;                 // per worker_tick (tests pin the walk's steps)
};
// How long a query waits for fresh snapshots before it serves the previous ones.
inline constexpr std::chrono::milliseconds kSnapshotWait{300};
// How long the graph of a viewed flow goes on after the last look at its detail view.
inline constexpr std::chrono::seconds kWatchLinger{30};
// Handshake RTT histogram bounds, seconds: from a LAN (sub-ms) to satellite links (~0.6 s).
inline constexpr std::array<double, 12> kRttBounds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                      0.05,   0.1,   0.25,   0.5,   1,    2.5};
// Label values of wiremeter_connections_total{proto}: a fixed set keeps cardinality bounded.
inline constexpr std::array<const char*, 6> kProtoLabels = {"tcp",    "udp",  "icmp",
                                                            "icmpv6", "sctp", "other"};

// Live bytes per server, for the graphs of the busiest servers: the servers table learns a
// flow's bytes only when the flow ends, which would draw a long download as one spike at its
// end. A fixed table allocated once per worker: the worker finds (or adds) a flow's server at its
// first packet, and then adds every packet's bytes to that entry.
//
// Aging, with fixed memory: the table is two halves. New servers go into the newer half; a server
// found in the older one keeps counting there. When the newer half is full, the next worker_tick
// clears the older half (its servers are evicted) and makes it the newer one. So the servers added
// or looked up most recently stay; a flow whose entry was cleared finds (or adds) its server again
// at its next packet, and a server that finds the newer half full is metered after the next swap.
//
// The control plane reads the entries while the worker goes on. Within a half, entries are only
// appended until the half is cleared, which bumps the half's epoch: a reader takes the epoch,
// reads, and discards what it read if the epoch changed meanwhile (a seqlock). Keys are stored as
// atomic words so that such a read is never a data race.
class ServerMeter {
 public:
  // `capacity` servers in all, half of them in each half.
  explicit ServerMeter(size_t capacity);
  ServerMeter(const ServerMeter&) = delete;
  ServerMeter& operator=(const ServerMeter&) = delete;

  // Worker: the entry (1-based) of `key`, added to the newer half if new; 0 when that half is
  // full. `expiry` becomes the swap count at which the entry is cleared (for 0: the next swap, to
  // try again then).
  uint32_t find_or_add(const ServerKey& key, uint32_t& expiry) noexcept;
  // Worker: whether an entry (or a refusal) with this `expiry` is void now. A zero-filled flow
  // state (expiry 0) is expired: its first packet looks its server up.
  bool expired(uint32_t expiry) const noexcept { return swaps_ >= expiry; }
  void add(uint32_t entry, uint64_t bytes) noexcept { entries_[entry - 1].bytes.add(bytes); }
  // Worker (worker_tick): swaps the halves if the newer one is full.
  void age() noexcept;

  // Control plane. Entries [h * half_capacity(), + size(h)) of half h are in use and belong to
  // epoch(h); a read of them counts only if still_epoch(h, epoch) afterwards.
  size_t half_capacity() const noexcept { return half_; }
  uint64_t epoch(int h) const noexcept { return epoch_[h].load(std::memory_order_acquire); }
  size_t size(int h) const noexcept { return published_[h].load(std::memory_order_acquire); }
  ServerKey key(size_t i) const noexcept;
  uint64_t bytes(size_t i) const noexcept { return entries_[i].bytes.value(); }
  bool still_epoch(int h, uint64_t epoch) const noexcept {
    std::atomic_thread_fence(std::memory_order_acquire);
    return epoch_[h].load(std::memory_order_relaxed) == epoch;
  }
  // Control plane: whether either half holds `key` now (a linear scan: for a detail view).
  bool holds(const ServerKey& key) const noexcept;

  Counter overflow;  // lookups of a new server refused because the newer half was full
  Counter evicted;   // servers cleared from the older half at a swap

 private:
  static constexpr size_t kKeyWords = 5;
  static_assert(sizeof(ServerKey) == kKeyWords * sizeof(uint32_t), "ServerKey has no padding");
  using KeyWords = std::array<uint32_t, kKeyWords>;
  struct Entry {
    std::array<std::atomic<uint32_t>, kKeyWords> key;  // a ServerKey, word by word
    Counter bytes;  // wire bytes of the server's flows, both directions
  };
  static KeyWords words(const ServerKey& key) noexcept;
  bool key_is(size_t i, const KeyWords& want) const noexcept;
  // Probes half h's index for `key`: its slot there, and the entry (1-based) or 0 if absent.
  std::pair<size_t, uint32_t> probe(int h, size_t hash, const KeyWords& key) const noexcept;

  size_t half_;
  size_t mask_;                        // of each half's index, a power of two >= 2 * half_
  std::unique_ptr<Entry[]> entries_;   // half 0, then half 1
  std::unique_ptr<uint32_t[]> index_;  // open addressing per half: entry, 0 = empty (worker only)
  int newer_ = 0;                      // the half new servers go into (worker only)
  uint32_t swaps_ = 0;                 // worker only
  std::array<std::atomic<size_t>, 2> published_{};
  std::array<std::atomic<uint64_t>, 2> epoch_{};
};

// Per-flow state in the host's flow area (zero-filled at flow creation). 120 bytes.
struct FlowState {
  // Links of the worker's list of active flows. Intrusive, so registering a flow never
  // allocates, and the snapshot walk can step past a flow that ends under it.
  FlowState* prev;
  FlowState* next;
  // The host's record of this flow (stable until on_flow_end); non-null while on the list.
  // The snapshot needs it for the 5-tuple and counters, which the flow state does not repeat.
  const wm_flow_info* flow;
  TcpStats tcp;            // what gets reported
  TcpTracking track;       // sequence numbers and handshake timing, needed only while active
  uint32_t server_entry;   // in the worker's ServerMeter; 0 = not metered
  uint32_t server_expiry;  // ServerMeter::find_or_add: when server_entry is void
};
static_assert(sizeof(FlowState) == 120, "FlowState is per flow: keep it small");

// Active flows as one worker last published them.
struct Snapshot {
  std::shared_ptr<const std::vector<FlowSummary>> flows;
  uint64_t generation = 0;  // the request it answered; 0 = none published yet
  std::chrono::steady_clock::time_point taken;
};

// One per worker thread. on_batch/on_flow_end/worker_tick run on the worker; the methods marked
// "control plane" may run concurrently with them and touch only atomics, Counters and the
// mutex-guarded members.
class Worker {
 public:
  Worker(const wm_worker_info& info, size_t record_capacity, SnapshotPacing pacing = {},
         size_t metered_servers = kServersPerWorker);

  void on_batch(std::span<const wm_packet> packets) noexcept;
  void on_flow_end(const wm_flow_info& flow, FlowState& state) noexcept;
  void worker_tick(uint64_t now_ns) noexcept;

  // Control plane: asks for a snapshot answering request `generation` (a growing number).
  void request_snapshot(uint64_t generation) noexcept;
  uint64_t published_generation() const noexcept {
    return published_gen_.load(std::memory_order_acquire);
  }
  Snapshot snapshot() const;                                          // control plane
  const RecordLog<FlowSummary>& records() const { return records_; }  // thread-safe
  ServerTable servers() const;                                        // control plane: a copy
  const ServerMeter& server_meter() const { return meter_; }          // thread-safe

  // Counters for collect(); written by the worker only.
  Counter active;  // flows on the active list
  std::array<Counter, kProtoLabels.size()> started;
  Counter retx_packets, resets;
  std::array<Counter, kRttBounds.size() + 1> rtt_buckets;  // per bucket, not cumulative
  Counter rtt_sum_us;
  Counter lost_records;  // records or servers lost to a failed allocation

  // Flows someone is viewing in the detail view: the worker counts their bytes for the graph.
  // The control plane assigns a slot (flow id + 1; 0 = free); only the worker writes the counter.
  static constexpr size_t kWatchSlots = 4;
  std::array<std::atomic<uint64_t>, kWatchSlots> watch_id{};
  std::array<Counter, kWatchSlots> watch_bytes;
  std::atomic<bool> watching{false};

 private:
  void link(FlowState& s, const wm_flow_info* flow) noexcept;
  void unlink(FlowState& s) noexcept;
  void observe_rtt(uint64_t us) noexcept;
  void add_to_servers(const FlowSummary* f);

  FlowStateSlot<FlowState> slot_;
  SnapshotPacing pacing_;
  FlowState* head_ = nullptr;  // newest first

  // Snapshot in progress (worker only).
  bool building_ = false;
  uint64_t building_gen_ = 0;
  FlowState* cursor_ = nullptr;  // next flow to copy; on_flow_end moves it past an ending flow
  std::vector<FlowSummary> building_flows_;

  // Shared with the control plane.
  std::atomic<uint64_t> requested_gen_{0};
  std::atomic<uint64_t> published_gen_{0};
  mutable std::mutex snapshot_mutex_;
  Snapshot published_;  // guarded by snapshot_mutex_
  RecordLog<FlowSummary> records_;
  mutable std::mutex servers_mutex_;
  ServerTable servers_;                      // guarded by servers_mutex_
  std::vector<FlowSummary> server_backlog_;  // worker only; capacity kServerBacklog
  ServerMeter meter_;
};

// One per process, on the control plane.
class Plugin {
 public:
  using Worker = connections::Worker;
  using FlowState = connections::FlowState;

  explicit Plugin(Host& host);
  std::unique_ptr<Worker> make_worker(const wm_worker_info& info);
  void collect(std::span<Worker* const> workers, MetricSink& sink);
  void write_json(std::span<Worker* const> workers, JsonWriter& out);
  int query(std::span<Worker* const> workers, std::string_view path, const Query& q,
            JsonWriter& out);

 private:
  struct Snapshots {
    std::vector<Snapshot> per_worker;
    bool fresh = true;  // every worker answered this request
    double age_ms = 0;  // of the oldest snapshot used
  };
  Snapshots fresh_snapshots(std::span<Worker* const> workers);

  int query_flows(std::span<Worker* const> workers, const Query& q, JsonWriter& out);
  int query_flow(std::span<Worker* const> workers, std::string_view id, const Query& q,
                 JsonWriter& out);
  int query_servers(std::span<Worker* const> workers, const Query& q, JsonWriter& out);
  int query_server(std::span<Worker* const> workers, std::string_view key, const Query& q,
                   JsonWriter& out);
  // The servers table: all time (the workers' tables of ended flows), or rebuilt from the flows
  // kept when a window is given; plus the active flows of `snaps`.
  ServerTable server_table(std::span<Worker* const> workers, const Snapshots& snaps, bool windowed,
                           uint64_t from_ns, uint64_t to_ns) const;

 public:
  // Each second: the series "connections.<worker>:<id>.bps" of the flows being viewed, and
  // "connections.server.<addr>:<port>/<proto>.bps" of the busiest servers.
  void on_tick(std::span<Worker* const> workers, uint64_t now_ns);

 private:
  void update_server_series(std::span<Worker* const> workers, uint64_t now_ns);
  // The busiest servers by bit rate (top 10, and the one whose detail view is open). on_tick
  // updates it, query watches: guarded by series_mutex_.
  std::mutex series_mutex_;
  TopSeries server_series_;
  // What on_tick last read of one worker's ServerMeter, to turn its totals into bytes per
  // second by entry index (no keys, no strings: there are 100k entries per worker).
  struct MeterReading {
    std::vector<uint64_t> last_bytes;                       // by entry: its total at the last tick
    std::array<uint64_t, 2> epoch{UINT64_MAX, UINT64_MAX};  // of each half at the last tick
    std::array<size_t, 2> read{};  // entries of each half whose last_bytes may be non-zero
  };
  std::vector<MeterReading> meter_readings_;  // by worker (on_tick only)
  uint64_t last_server_tick_ns_ = 0;          // on_tick only

  // Starts (or renews) the graph of an active flow; false when every watch slot is taken.
  bool watch(std::span<Worker* const> workers, uint32_t worker, uint64_t id);
  struct Watch {
    uint32_t worker = 0;
    size_t slot = 0;
    uint64_t id = 0;
    std::chrono::steady_clock::time_point last_view;
    uint64_t last_bytes = 0;  // the worker's counter at the last tick
  };
  std::mutex watch_mutex_;
  std::vector<Watch> watches_;  // guarded by watch_mutex_
  uint64_t last_tick_ns_ = 0;

  const char* app_name(const FlowSummary& f) const { return host_.label_name(f.app_label); }

  Host& host_;  // outlives the plugin
  int active_id_, total_id_, retx_id_, resets_id_, rtt_id_, dropped_id_, meter_evictions_id_,
      meter_overflow_id_;
  uint64_t snapshot_request_ = 0;
};

}  // namespace wiremeter::connections

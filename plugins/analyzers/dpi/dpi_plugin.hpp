// dpi: an L7 protocol label for every flow, from nDPI 4.2.
//
// Each worker owns one nDPI detection module (nDPI keeps per-packet scratch state in it, so it
// cannot be shared between threads) and a fixed pool of nDPI flow structs. A flow borrows a
// struct while nDPI inspects it and gives it back as soon as detection is complete, deciding
// "complete" the way ndpiReader does: a protocol is known and nDPI has nothing more to dissect,
// or the per-flow packet limit is reached. Only the compact result (label, category, a bounded
// hostname/SNI) stays in the flow state, so memory for nDPI state follows the number of flows
// still being inspected, not the number of flows tracked.
//
// Labels are the text ndpiReader prints (ndpi_protocol2name: "TLS.Google", "DNS"). Packets and
// bytes are counted per label per worker and merged on the control plane; packets seen before a
// flow is classified are counted under its label once it is known, so per-label totals cover
// whole flows, as ndpiReader's do. Bytes are frame bytes on the wire (wire_len), as ndpiReader
// and tshark count them; the per-flow bytes of the JSON view are the core's flow counters. Ended
// flows go to a bounded per-worker RecordLog for the JSON view and the flows list.
//
// nDPI itself still allocates inside a flow struct for some protocols (URLs, certificate names,
// TLS reassembly); that memory is bounded per flow and freed when the struct goes back to the
// pool.
#pragma once

#include <sys/mman.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>
#include <wiremeter/flow_roles.hpp>
#include <wiremeter/plugin.hpp>
#include <wiremeter/record_log.hpp>
#include <wiremeter/top_series.hpp>

#include "dpi_config.hpp"

struct ndpi_detection_module_struct;
struct ndpi_flow_struct;

namespace wiremeter::dpi {

inline constexpr size_t kHostLen = 48;       // bytes kept of a hostname/SNI, NUL included
inline constexpr size_t kLabelLen = 64;      // longest label, NUL included ("Master.App")
inline constexpr uint32_t kMaxLabels = 512;  // distinct labels per worker; beyond, "other"
inline constexpr size_t kTopLabels = 20;     // metric label values besides "other"
inline constexpr size_t kSeriesLabels = 10;  // protocols with a history series (busiest now)
inline constexpr uint16_t kOtherLabel = 0;   // label table entry that collects the overflow

enum class Status : uint8_t {
  kNew = 0,     // zero-filled state: no packet inspected yet
  kInspecting,  // holds an nDPI flow struct from the pool
  kClassified,  // label known, nDPI struct returned
  kNoMemory,    // the pool was empty when the flow started: counted as Unknown, not inspected
};

// Per-flow state, next to the core's flow record. Zero-filled at flow creation.
struct FlowState {
  uint32_t ndpi_slot;        // 1-based handle into the worker's FlowPool; 0 = none held
  uint32_t pending_packets;  // seen before classification; added to the label when known
  uint64_t pending_bytes;
  uint16_t label;     // index into the worker's LabelTable, once classified
  uint16_t category;  // ndpi_protocol_category_t, once classified
  uint16_t packets;   // packets inspected, for the give-up limit
  Status status;
  uint8_t label_shared;  // the flow's app_label was set for the other modules
  FlowRoles roles;       // which side is the client, for the list of ended flows
  char host[kHostLen];   // hostname/SNI nDPI extracted, NUL-terminated, possibly truncated
};

// A fixed array of T in anonymous memory: zero-filled, and only pages actually touched become
// resident, so reserving for the worst case up front costs address space, not RAM.
// Thread-safety: none of its own; the owner decides who touches which element.
template <typename T>
class MappedArray {
  static_assert(std::is_trivially_copyable_v<T> && std::is_trivially_destructible_v<T>,
                "elements start as zero-filled memory");

 public:
  explicit MappedArray(size_t n) : n_(n) {
    if (n_ == 0) return;
    void* p = mmap(nullptr, n_ * sizeof(T), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    data_ = static_cast<T*>(p);
  }
  ~MappedArray() {
    if (data_) munmap(data_, n_ * sizeof(T));
  }
  MappedArray(const MappedArray&) = delete;
  MappedArray& operator=(const MappedArray&) = delete;

  T& operator[](size_t i) const noexcept { return data_[i]; }
  size_t size() const noexcept { return n_; }

 private:
  T* data_ = nullptr;
  size_t n_;
};

// nDPI flow structs (sizeof(ndpi_flow_struct) is several hundred bytes, plus what nDPI
// allocates inside it), reserved once per worker. Acquire/release are O(1) and never allocate.
// Thread-safety: the owning worker only, except in_use() which any thread may read.
class FlowPool {
 public:
  explicit FlowPool(uint32_t capacity);
  ~FlowPool();  // frees what nDPI allocated inside structs still in use
  FlowPool(const FlowPool&) = delete;
  FlowPool& operator=(const FlowPool&) = delete;

  // A zeroed struct's handle (>= 1), or 0 when all are in use.
  uint32_t acquire() noexcept;
  // Frees nDPI's allocations inside the struct and makes it available again.
  void release(uint32_t handle) noexcept;
  ndpi_flow_struct* get(uint32_t handle) const noexcept;

  uint32_t capacity() const noexcept { return capacity_; }
  uint64_t in_use() const noexcept { return in_use_.value(); }

 private:
  uint32_t capacity_;
  size_t stride_;
  MappedArray<uint8_t> storage_;
  MappedArray<uint32_t> free_;  // stack of free handles
  MappedArray<uint8_t> used_;   // per handle, so the destructor finds structs still in use
  uint32_t n_free_;
  Counter in_use_;
};

// The labels one worker has seen, with their counters.
// Thread-safety: the worker adds entries and counts; the control plane reads entries below
// published(). An entry's key, name and category are written before it is published (release)
// and never change afterwards, so readers need no lock; its counters and times are Counters.
class LabelTable {
 public:
  struct Entry {
    uint32_t key;       // master << 16 | app
    uint16_t category;  // nDPI's default category of the protocol pair
    char name[kLabelLen];
    Counter flows, packets, bytes;
    // First and last packet (ns) of the label's flows on this worker, for the time window of
    // the protocols list. 0 = none yet.
    Counter first_ns, last_ns;
  };

  LabelTable();  // entry kOtherLabel is "other", for labels beyond kMaxLabels

  // Worker only. The entry index for key, or -1 when it has none yet.
  int find(uint32_t key) const noexcept;
  // Worker only. Adds key with its name; returns kOtherLabel when the table is full.
  uint16_t add(uint32_t key, const char* name, uint16_t category) noexcept;
  Entry& at(uint16_t i) noexcept { return entries_[i]; }
  // Worker only. Widens entry i's [first_ns, last_ns] to cover a flow's packets (0 = unknown).
  void seen(uint16_t i, uint64_t first_ns, uint64_t last_ns) noexcept;

  uint32_t published() const noexcept { return count_.load(std::memory_order_acquire); }
  const Entry& entry(uint32_t i) const noexcept { return entries_[i]; }

 private:
  static constexpr uint32_t kSlots = 2 * kMaxLabels;  // open addressing, at most half full
  static uint32_t slot_of(uint32_t key) noexcept { return (key * 2654435761u) >> 22; }

  std::unique_ptr<Entry[]> entries_;
  std::array<uint16_t, kSlots> slots_{};  // entry index + 1; 0 = empty. Worker only.
  std::atomic<uint32_t> count_{0};
};
static_assert(2 * kMaxLabels == 1u << 10, "slot_of() yields 10 bits");

// One ended flow as the JSON view lists it.
struct EndedFlow {
  uint64_t id;
  uint64_t start_ns, end_ns;  // first and last packet
  // Client first: [0] is the client's side (its address, what it sent), [1] the server's.
  uint64_t packets[2];
  uint64_t bytes[2];
  uint8_t addr[2][16];
  uint16_t port[2];
  uint16_t vlan;
  uint16_t label;
  uint16_t category;
  uint8_t ip_version;
  uint8_t l4_proto;
  char host[kHostLen];
};

// One per worker thread.
class DpiWorker {
 public:
  // Starts an nDPI module with the configured files. Throws std::runtime_error when nDPI cannot
  // start or a file does not load.
  // `host` (optional) receives the labels for the other modules (wm_flow_info.app_label).
  DpiWorker(const wm_worker_info& info, const Config& config, const Host* host = nullptr);
  ~DpiWorker();
  DpiWorker(const DpiWorker&) = delete;
  DpiWorker& operator=(const DpiWorker&) = delete;

  void on_batch(std::span<const wm_packet> packets) noexcept;
  void on_flow_end(const wm_flow_info& flow, FlowState& state) noexcept;

  // Read by the control plane while the worker runs; each is safe for that (see the classes).
  const LabelTable& labels() const { return labels_; }
  // The latest ended flows (RecordLog: a short lock per flow end, never per packet).
  const RecordLog<EndedFlow>& ended() const { return ended_; }
  // Ended flows no longer listed: overwritten in the log, or not kept at all (ended_flows 0).
  uint64_t ended_dropped() const { return ended_.dropped() + ended_not_kept_.value(); }
  const FlowPool& pool() const { return pool_; }
  uint64_t no_memory() const { return no_memory_.value(); }
  uint32_t id() const { return id_; }

  // nDPI's name of a category. Control plane, before traffic (the names are fixed by then).
  std::string category_name(uint16_t category) const;

 private:
  void start(FlowState& s, const wm_packet& p) noexcept;
  void inspect(const wm_packet& p, FlowState& s) noexcept;
  // `first_ns`/`last_ns`: the flow's first packet and the packet now (0 = unknown).
  void give_up(FlowState& s, uint64_t first_ns, uint64_t last_ns) noexcept;
  // Keeps the result, returns the nDPI struct to the pool and counts the flow under its label.
  void classify(FlowState& s, uint16_t master, uint16_t app, uint16_t category, uint64_t first_ns,
                uint64_t last_ns) noexcept;
  uint16_t label_of(uint16_t master, uint16_t app) noexcept;
  void share_label(const wm_flow_info* flow, FlowState& s) noexcept;
  uint32_t packet_limit(uint8_t l4_proto) const noexcept;

  FlowStateSlot<FlowState> slot_;
  uint32_t id_;
  Config config_;
  ndpi_detection_module_struct* ndpi_ = nullptr;
  FlowPool pool_;
  LabelTable labels_;
  bool keep_ended_;  // ended_flows > 0 (a RecordLog keeps at least one record)
  RecordLog<EndedFlow> ended_;
  Counter ended_not_kept_;
  Counter no_memory_;
  const Host* host_;
  std::vector<uint16_t> shared_ids_;  // host-wide label id by LabelTable index (0: not yet)
};

class DpiPlugin {
 public:
  using Worker = DpiWorker;
  using FlowState = dpi::FlowState;

  // Per-label totals over all workers.
  struct Totals {
    std::string name;
    uint64_t flows = 0, packets = 0, bytes = 0;
    std::string category = {};           // "" for "other"
    uint64_t first_ns = 0, last_ns = 0;  // 0 = unknown
  };

  explicit DpiPlugin(Host& host);  // throws on a bad config section or unreadable file
  std::unique_ptr<DpiWorker> make_worker(const wm_worker_info& info);
  void collect(std::span<DpiWorker* const> workers, MetricSink& sink);
  const Host& host() const { return host_; }
  void write_json(std::span<DpiWorker* const> workers, JsonWriter& out);
  // Each second: history series "dpi.<protocol>.bps" for the kSeriesLabels protocols with the
  // most bits/s in that second (the graph of traffic per protocol).
  void on_tick(std::span<DpiWorker* const> workers, uint64_t now_ns);
  // GET /api/v1/dpi/protocols, protocols/<label>, flows: lists sorted, filtered and paged here.
  int query(std::span<DpiWorker* const> workers, std::string_view path, const Query& q,
            JsonWriter& out);

  // Labels merged by name over all workers, most bytes first (ties by name), without labels
  // that saw no flow. Categories are named once make_worker() has run.
  std::vector<Totals> totals(std::span<DpiWorker* const> workers) const;
  // Keeps the first `top` of a sorted list and folds the rest into one "other" entry (which is
  // also where a label table's own "other" goes), so metrics have at most top + 1 series.
  static std::vector<Totals> top_n(const std::vector<Totals>& sorted, size_t top);

 private:
  Host& host_;
  Config config_;
  std::string category_name(uint16_t category) const;
  void write_flow(JsonWriter& out, const DpiWorker& w, const EndedFlow& f) const;

  std::vector<std::string> categories_;  // names by category id; set by the first make_worker
  int flows_id_, packets_id_, bytes_id_, no_memory_id_, inspecting_id_, dropped_id_;
  TopSeries series_{kSeriesLabels};
};

}  // namespace wiremeter::dpi

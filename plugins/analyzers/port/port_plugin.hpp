// port: per-port interface statistics.
//
// Counts what the workers analyze per port (packets, bytes, frame-size distribution) and
// combines it with the driver's counters (drops, errors) and the core's TX counters.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>
#include <wiremeter/json.hpp>
#include <wiremeter/plugin.hpp>
#include <wiremeter/query.hpp>

namespace wiremeter::port {

// Frame-size buckets of RFC 2819 (etherStatsPkts64Octets ... 1024to1518), plus larger frames.
inline constexpr std::array<double, 6> kSizeBounds = {64, 127, 255, 511, 1023, 1518};
inline constexpr size_t kSizeBuckets = kSizeBounds.size() + 1;
inline constexpr uint16_t kMaxPorts = 64;
static_assert(kMaxPorts <= 64, "on_batch marks the ports of a batch in one 64-bit mask");

// The history series recorded per port, "port.<port>.<suffix>"; the first is the detail view's
// graph.
inline constexpr std::array<std::string_view, 5> kSeriesSuffixes = {"rx_bps", "tx_bps", "rx_pps",
                                                                    "tx_pps", "rx_peak_1ms_bps"};

size_t size_bucket(uint32_t frame_len);

// Seconds of per-second microburst peaks kept for the history view.
inline constexpr size_t kBurstHistory = 64;

// Microbursts: the busiest millisecond of each second. A link that averages 10% can still drop
// frames when it runs at line rate for a few milliseconds; the 1 s average hides that.
// Worker-only state, except the published Counters.
struct BurstTracker {
  void add(uint64_t ts_ns, uint32_t bytes) noexcept {
    uint64_t ms = ts_ns / 1'000'000;
    if (ms != cur_ms) roll(ms);
    cur_ms_bytes += bytes;
  }
  // Closes the current millisecond (and second) once time has moved on; also called from
  // worker_tick so that a link that fell silent still reports its last second.
  void roll(uint64_t ms) noexcept;
  void publish(uint64_t second, uint64_t peak_bytes) noexcept;

  uint64_t cur_ms = 0, cur_ms_bytes = 0, cur_s = 0;
  Counter cur_s_peak;            // peak so far in the second in progress
  Counter last_s, last_s_peak;   // the last complete second and its peak (bytes in 1 ms)
  Counter max_peak, max_peak_s;  // the busiest millisecond seen, and its second
  std::array<Counter, kBurstHistory> ring_s, ring_peak;  // recent seconds, by second % size
};

// Per-worker counters. Written by the owning worker only.
class PortWorker {
 public:
  struct PerPort {
    Counter packets, bytes;
    std::array<Counter, kSizeBuckets> sizes;
    BurstTracker burst;
    // Timestamps of the first and last batch with a frame of this port (0: none yet); set once
    // per batch, so to within a batch's time span.
    Counter first_ns, last_ns;
  };

  void on_batch(std::span<const wm_packet> packets) noexcept;
  void worker_tick(uint64_t now_ns) noexcept;
  const PerPort& port(uint16_t p) const { return ports_[p]; }

 private:
  std::array<PerPort, kMaxPorts> ports_;
  uint16_t ports_seen_ = 0;  // highest port index seen + 1: worker_tick only visits these
};

class PortPlugin {
 public:
  using Worker = PortWorker;

  explicit PortPlugin(Host& host);
  std::unique_ptr<PortWorker> make_worker(const wm_worker_info& info);
  void collect(std::span<PortWorker* const> workers, MetricSink& sink);
  void write_json(std::span<PortWorker* const> workers, JsonWriter& out);
  void on_tick(std::span<PortWorker* const> workers, uint64_t now_ns);
  // Views: "ports" (the list) and "ports/<name or id>" (one port, its microbursts and graphs).
  int query(std::span<PortWorker* const> workers, std::string_view path, const Query& q,
            JsonWriter& out);

 private:
  struct Totals {
    std::string name;
    uint16_t id = 0;
    uint64_t first_ns = 0, last_ns = 0;  // 0: no frame seen
    uint64_t rx_packets = 0, rx_bytes = 0;
    std::array<uint64_t, kSizeBuckets> sizes{};
    wm_port_info info{};
    // Microbursts, combined over workers (see bursts()).
    uint64_t burst_second = 0;
    double burst_peak_bps = 0, burst_max_bps = 0;
    uint64_t burst_max_second = 0;
    std::vector<std::pair<uint64_t, double>> burst_history;  // (second, peak bit/s), oldest first
  };
  std::vector<Totals> totals(std::span<PortWorker* const> workers) const;
  void bursts(std::span<PortWorker* const> workers, uint16_t port, Totals& t) const;

  struct Rate {
    uint64_t rx_packets = 0, rx_bytes = 0, tx_packets = 0, tx_bytes = 0;
    double rx_pps = 0, rx_bps = 0, tx_pps = 0, tx_bps = 0;
  };
  Rate rate(size_t port) const { return port < rates_.size() ? rates_[port] : Rate{}; }
  static void write_counters(JsonWriter& out, const Totals& t, const Rate& r);
  static void write_bursts(JsonWriter& out, const Totals& t);
  static void write_sizes(JsonWriter& out, const Totals& t);
  static void write_seen(JsonWriter& out, const Totals& t);

  Host& host_;
  int rx_packets_, rx_bytes_, tx_packets_, tx_bytes_, dropped_, errors_, sizes_, link_up_,
      burst_peak_;
  uint64_t last_tick_ns_ = 0;
  std::vector<Rate> rates_;
};

}  // namespace wiremeter::port

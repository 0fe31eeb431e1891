// port: per-port interface statistics.
//
// Counts what the workers analyze per port (packets, bytes, frame-size distribution) and
// combines it with the driver's counters (drops, errors) and the core's TX counters.
#pragma once

#include <wiremeter/plugin.hpp>

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace wiremeter::port {

// Frame-size buckets of RFC 2819 (etherStatsPkts64Octets ... 1024to1518), plus larger frames.
inline constexpr std::array<double, 6> kSizeBounds = {64, 127, 255, 511, 1023, 1518};
inline constexpr size_t kSizeBuckets = kSizeBounds.size() + 1;
inline constexpr uint16_t kMaxPorts = 64;

size_t size_bucket(uint32_t frame_len);

// Per-worker counters. Written by the owning worker only.
class PortWorker {
 public:
  struct PerPort {
    Counter packets, bytes;
    std::array<Counter, kSizeBuckets> sizes;
  };

  void on_batch(std::span<const wm_packet> packets) noexcept;
  const PerPort& port(uint16_t p) const { return ports_[p]; }

 private:
  std::array<PerPort, kMaxPorts> ports_;
};

class PortPlugin {
 public:
  using Worker = PortWorker;

  explicit PortPlugin(Host& host);
  std::unique_ptr<PortWorker> make_worker(const wm_worker_info& info);
  void collect(std::span<PortWorker* const> workers, MetricSink& sink);
  void write_json(std::span<PortWorker* const> workers, JsonWriter& out);
  void on_tick(std::span<PortWorker* const> workers, uint64_t now_ns);

 private:
  struct Totals {
    std::string name;
    uint64_t rx_packets = 0, rx_bytes = 0;
    std::array<uint64_t, kSizeBuckets> sizes{};
    wm_port_info info{};
  };
  std::vector<Totals> totals(std::span<PortWorker* const> workers) const;

  struct Rate {
    uint64_t rx_packets = 0, rx_bytes = 0, tx_packets = 0, tx_bytes = 0;
    double rx_pps = 0, rx_bps = 0, tx_pps = 0, tx_bps = 0;
  };

  Host& host_;
  int rx_packets_, rx_bytes_, tx_packets_, tx_bytes_, dropped_, errors_, sizes_, link_up_;
  uint64_t last_tick_ns_ = 0;
  std::vector<Rate> rates_;
};

}  // namespace wiremeter::port

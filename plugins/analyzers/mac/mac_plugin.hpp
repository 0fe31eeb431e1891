// mac: per MAC address statistics (issue 3, the "mac" module).
//
// For every station (unicast MAC) seen on the wire: packets and bytes sent and received, the
// number of distinct peers, the IP addresses it uses (learned from ARP and DHCP ACKs) and its
// vendor from the IEEE OUI registry. Exposed as two aggregate metrics (no per-MAC series: the
// cardinality would be unbounded), the JSON view and GET /api/v1/mac/macs.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>
#include <wiremeter/plugin.hpp>
#include <wiremeter/top_series.hpp>

#include "oui.hpp"

namespace wiremeter::mac {

// Distinct MACs one worker tracks. The index has 65536 slots; 75% load keeps linear probes short.
inline constexpr uint32_t kMaxMacs = 49152;
inline constexpr size_t kMaxPeers = 8;  // peers remembered exactly; beyond, estimated
inline constexpr size_t kMaxIps = 4;
// The write_json view lists the busiest MACs only; GET /api/v1/mac/macs pages through all.
inline constexpr size_t kJsonMaxMacs = 1000;

struct IpAddr {
  uint8_t version;  // 4 or 6; 0 = unused
  std::array<uint8_t, 16> addr;
  bool operator==(const IpAddr&) const = default;
};

// One station. Trivially copyable so that the control plane can copy it out in chunks.
struct MacEntry {
  uint64_t mac;                   // the 48-bit address in the low bits
  uint64_t tx_packets, tx_bytes;  // as source
  uint64_t rx_packets, rx_bytes;  // as unicast destination
  uint64_t first_ns, last_ns;
  // Peers: the first kMaxPeers exactly; every peer also sets one bit of a 64-bit sketch, and
  // once the exact list overflowed the count is the sketch's linear-counting estimate.
  std::array<uint64_t, kMaxPeers> peers;
  uint64_t peer_bits;
  uint8_t peer_count;
  bool peers_overflow;
  uint8_t ip_count;
  std::array<IpAddr, kMaxIps> ips;

  uint64_t peer_estimate() const noexcept;
};

// One per worker thread.
//
// Thread-safety: on_batch runs on the worker. The table is read by the control plane through
// snapshot()/keys(), under mutex_, which the worker takes once per batch (not per packet): an
// uncontended lock costs ~20 ns per 32 packets, and a copy of whole entries under the lock is
// simpler and safer than relaxed atomics for each of the ~30 fields of an entry. The control
// plane copies in chunks so that it never blocks the worker for long. `dropped` is a Counter
// and may be read at any time.
class MacWorker {
 public:
  explicit MacWorker(uint32_t max_macs = kMaxMacs);

  void on_batch(std::span<const wm_packet> packets) noexcept;

  // Control plane: a copy of the entries, or only their MACs.
  std::vector<MacEntry> snapshot() const;
  std::vector<uint64_t> keys() const;

  Counter dropped;  // sightings of new MACs not tracked because the table was full

 private:
  MacEntry* upsert(uint64_t mac, uint64_t ts_ns) noexcept;
  void learn_ip(uint64_t mac, uint64_t ts_ns, uint8_t version, const uint8_t* addr) noexcept;
  void learn_arp(const wm_packet& p) noexcept;
  void learn_dhcp(const wm_packet& p) noexcept;
  template <typename F>
  void for_chunks(F&& f) const;

  uint32_t max_macs_;
  // Open-addressing index: (mac << 16) | (entry index + 1); 0 = empty. Entries are dense and
  // append-only (never moved or removed), so the control plane can copy [0, count_) in chunks.
  std::vector<uint64_t> index_;
  uint64_t mask_;
  std::vector<MacEntry> entries_;
  uint32_t count_ = 0;  // guarded by mutex_
  mutable std::mutex mutex_;
};

// A MAC merged over all workers, for the JSON view and the query hook.
struct MacRow {
  uint64_t mac = 0;
  std::string mac_text, vendor;
  uint64_t tx_packets = 0, tx_bytes = 0, rx_packets = 0, rx_bytes = 0;
  uint64_t peers = 0;
  std::vector<std::string> ips;
  uint64_t first_ns = 0, last_ns = 0;
};

std::string format_mac(uint64_t mac);

class MacPlugin {
 public:
  using Worker = MacWorker;

  explicit MacPlugin(Host& host);
  std::unique_ptr<MacWorker> make_worker(const wm_worker_info& info);
  void collect(std::span<MacWorker* const> workers, MetricSink& sink);
  void write_json(std::span<MacWorker* const> workers, JsonWriter& out);
  int query(std::span<MacWorker* const> workers, std::string_view path, const Query& q,
            JsonWriter& out);
  // Each second: history series "mac.<mac>.bps" for the 10 busiest MACs.
  void on_tick(std::span<MacWorker* const> workers, uint64_t now_ns);

 private:
  std::vector<MacRow> rows(std::span<MacWorker* const> workers) const;
  static uint64_t dropped(std::span<MacWorker* const> workers);

  Host& host_;
  OuiRegistry oui_;
  int addresses_, dropped_;
  TopSeries series_;
};

}  // namespace wiremeter::mac

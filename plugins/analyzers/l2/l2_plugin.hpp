// l2: layer-2 statistics (issue 3, the "l2" module).
//
// Per frame: VLAN and QinQ (per outer VLAN and per outer/inner pair), MPLS top labels with the
// stack depth, DSCP (from the core's decode) and the outer tag's 802.1p priority, the RMON size
// distribution and broadcast/multicast/unicast by destination MAC, overall and per port, and the
// busiest multicast groups. ARP: requests, replies, gratuitous ARP, probes, unanswered requests,
// the IPv4 -> MAC bindings and the addresses claimed by two MACs. Link-local control protocols:
// spanning-tree bridges (STP/RSTP/MSTP, PVST+), LLDP neighbours, and the presence of CDP, LACP,
// 802.1X, PTP and the others of l2_parse.hpp's Control.
//
// Data path: each worker keeps its tables to itself (no lock, no atomics, no allocation per
// packet) and publishes a copy for the control plane in worker_tick, about every 100 ms and once
// more at shutdown; the control plane reads copies only. Numbers in the REST API are therefore
// up to ~100 ms old.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>
#include <wiremeter/counter_window.hpp>
#include <wiremeter/plugin.hpp>
#include <wiremeter/rate_feed.hpp>
#include <wiremeter/top_series.hpp>

#include "l2_config.hpp"
#include "l2_parse.hpp"
#include "l2_tables.hpp"

namespace wiremeter::l2 {

// Ports with their own size and cast counters; frames of higher port ids count in the totals
// only (and in `ports_beyond`).
inline constexpr uint16_t kMaxPorts = 64;
inline constexpr size_t kVlanIds = 4096;
inline constexpr size_t kMplsDepths = 8;  // 1..7 labels, and 8 or more (the core stops at 8)

struct Traffic {
  uint64_t packets = 0, bytes = 0, first_ns = 0, last_ns = 0;
  void add(uint64_t len, uint64_t ts) noexcept {
    if (packets == 0 || ts < first_ns) first_ns = ts;
    if (ts > last_ns) last_ns = ts;
    ++packets;
    bytes += len;
  }
  void merge(const Traffic& o) noexcept {
    if (!o.packets) return;
    if (!packets || o.first_ns < first_ns) first_ns = o.first_ns;
    if (o.last_ns > last_ns) last_ns = o.last_ns;
    packets += o.packets;
    bytes += o.bytes;
  }
};

enum class Cast : uint8_t { kUnicast, kMulticast, kBroadcast, kCount };
inline constexpr size_t kCastCount = static_cast<size_t>(Cast::kCount);
const char* cast_name(Cast c);

// Sizes and casts of one port (or of all).
struct PortStats {
  std::array<uint64_t, kSizeBuckets> sizes{};
  uint64_t size_sum = 0;  // of the bucketed lengths (FCS included), for the histogram's _sum
  std::array<uint64_t, kCastCount> cast_packets{}, cast_bytes{};
  uint64_t non_ethernet = 0;  // frames of a capture with another link type: no MAC header
  void merge(const PortStats& o) noexcept;
};

struct LabelStats {
  Traffic traffic;
  std::array<uint64_t, kMplsDepths> depth{};  // index = labels in the stack - 1
};

struct GroupStats {
  Traffic traffic;
};

struct Binding {
  uint64_t mac = 0, previous_mac = 0;  // previous_mac: 0 while the MAC never changed
  uint64_t first_ns = 0, last_ns = 0, mac_since_ns = 0;
  uint64_t packets = 0;  // ARP messages that stated this binding
  uint32_t changes = 0;  // times another MAC claimed the address
  uint16_t vlan = 0, port = 0;
};

struct Pending {
  uint64_t ts_ns = 0;
  uint32_t retries = 0;
};

struct ConflictKey {
  uint32_t ip = 0;
  uint64_t mac_low = 0, mac_high = 0;  // the two MACs, in order
  bool operator==(const ConflictKey&) const = default;
};
struct ConflictKeyHash {
  uint64_t operator()(const ConflictKey& k) const {
    return mix64(k.ip ^ mix64(k.mac_low ^ mix64(k.mac_high)));
  }
};
struct Conflict {
  uint64_t first_ns = 0, last_ns = 0;
  uint64_t conflicts = 0;  // switches within the conflict window: both MACs in use
  uint64_t changes = 0;    // switches after the window: the address moved
  uint64_t last_mac = 0;   // the MAC that claimed the address last
};

struct StpKey {
  uint64_t bridge_id = 0;
  uint16_t port_id = 0, vlan = 0, rx_port = 0;
  bool operator==(const StpKey&) const = default;
};
struct StpKeyHash {
  uint64_t operator()(const StpKey& k) const {
    return mix64(k.bridge_id ^ mix64(static_cast<uint64_t>(k.port_id) << 32 |
                                     static_cast<uint64_t>(k.vlan) << 16 | k.rx_port));
  }
};
struct StpBridge {
  uint64_t root_id = 0, src_mac = 0;
  uint32_t root_cost = 0;
  uint8_t version = 0, type = 0, flags = 0;
  bool pvst = false;
  uint64_t bpdus = 0, topology_changes = 0;  // BPDUs with the TC flag
  uint64_t first_ns = 0, last_ns = 0;
};

struct LldpNeighbour {
  LldpInfo info;
  uint64_t src_mac = 0;
  uint64_t frames = 0, first_ns = 0, last_ns = 0;
  uint16_t rx_port = 0, vlan = 0;
};

struct ControlStats {
  Traffic traffic;
  uint64_t last_src = 0;
};

struct ArpCounters {
  uint64_t requests = 0, replies = 0, other_ops = 0;
  uint64_t announcements = 0;        // sender IP == target IP (request or reply)
  uint64_t unsolicited_replies = 0;  // a reply to no request this worker saw
  uint64_t probes = 0;               // sender IP 0.0.0.0 (RFC 5227)
  uint64_t probe_replies = 0;        // replies to a probe (target IP 0.0.0.0): address in use
  uint64_t answered = 0, unanswered = 0, retries = 0;
  uint64_t conflicts = 0, changes = 0;  // events, as the conflicts table counts them
  uint64_t gratuitous() const { return announcements + unsolicited_replies; }
  void merge(const ArpCounters& o) noexcept;
};

enum class Malformed : uint8_t {
  kArpTruncated,
  kArpNotEthernetIpv4,  // another hardware or protocol type (ARP over other media, ...)
  kBpduTruncated,
  kBpduBadProtocol,
  kBpduUnknownType,
  kLldpTruncated,
  kLldpMissingTlv,  // no chassis id, port id or TTL before the End TLV
  kCount,
};
inline constexpr size_t kMalformedCount = static_cast<size_t>(Malformed::kCount);
const char* malformed_name(Malformed m);

enum class Table : uint8_t {
  kVlanPairs,
  kMplsLabels,
  kMulticastGroups,
  kArpBindings,
  kArpPending,
  kArpConflicts,
  kStpBridges,
  kLldpNeighbours,
  kCount,
};
inline constexpr size_t kTableCount = static_cast<size_t>(Table::kCount);
const char* table_name(Table t);

struct Totals {
  uint64_t frames = 0, bytes = 0;
  uint64_t untagged = 0, tagged = 0, qinq = 0, extra_tags = 0;  // extra: more than two tags
  uint64_t mpls = 0, ip = 0, non_ip = 0;
  uint64_t stp_tcn = 0;  // topology change notification BPDUs (they name no bridge)
  uint64_t ports_beyond = 0;
  std::array<uint64_t, kMalformedCount> malformed{};
  std::array<uint64_t, kTableCount> overflow{};
  void merge(const Totals& o) noexcept;
};

// Everything one worker counts. The worker owns one; publish() copies it into the snapshot that
// the control plane reads (tables only when they changed).
struct Tables {
  explicit Tables(const Config& c);
  void publish_from(Tables& live);

  Totals totals;
  PortStats all;
  std::array<PortStats, kMaxPorts> ports{};
  std::array<bool, kMaxPorts> port_seen{};
  std::vector<Traffic> vlans;              // kVlanIds, by outer VLAN id
  FixedMap<uint64_t, Traffic> vlan_pairs;  // outer << 12 | inner
  std::array<Traffic, 64> dscp{};
  std::array<Traffic, 8> pcp{};
  FixedMap<uint64_t, LabelStats> labels;
  FixedMap<uint64_t, GroupStats> groups;
  ArpCounters arp;
  FixedMap<uint64_t, Binding> bindings;  // IPv4, host order
  FixedMap<uint64_t, Pending> pending;   // requester IP << 32 | target IP
  FixedMap<ConflictKey, Conflict, ConflictKeyHash> conflicts;
  std::array<ControlStats, kControlCount> control{};
  FixedMap<StpKey, StpBridge, StpKeyHash> stp;
  FixedMap<uint64_t, LldpNeighbour> lldp;  // hash of chassis id, port id and receiving port
};

// One per worker thread.
//
// Thread-safety: on_batch and worker_tick run on the worker's thread (worker_tick also once at
// shutdown, after the worker stopped). The control plane reads only the published snapshot,
// through read(), under a mutex that the worker takes in worker_tick only, never per packet.
class Worker {
 public:
  explicit Worker(const Config& config);

  void on_batch(std::span<const wm_packet> packets) noexcept;
  void worker_tick(uint64_t now_ns) noexcept;

  // Control plane: calls f(const Tables&) on the published snapshot.
  template <typename F>
  void read(F&& f) const {
    std::lock_guard lock(mutex_);
    f(static_cast<const Tables&>(published_));
  }

 private:
  void count_frame(const wm_packet& p, const EthHeader& eth, bool ethernet) noexcept;
  void handle_arp(const wm_packet& p, uint16_t vlan) noexcept;
  void learn(uint32_t ip, uint64_t mac, uint64_t ts, uint16_t port, uint16_t vlan) noexcept;
  void record_conflict(uint32_t ip, uint64_t old_mac, uint64_t new_mac, bool in_window,
                       uint64_t ts) noexcept;
  void handle_control(const wm_packet& p, const EthHeader& eth) noexcept;
  void handle_bpdu(const wm_packet& p, const EthHeader& eth, uint32_t off, uint32_t end,
                   bool pvst) noexcept;
  void handle_lldp(const wm_packet& p, const EthHeader& eth, uint32_t off, uint32_t end) noexcept;
  void malformed(Malformed m) noexcept { ++live_.totals.malformed[static_cast<size_t>(m)]; }
  void overflow(Table t) noexcept { ++live_.totals.overflow[static_cast<size_t>(t)]; }

  Config config_;
  Tables live_;
  Tables published_;
  mutable std::mutex mutex_;
  LldpInfo lldp_scratch_;  // parsed here, not on the stack of the hot path
};

class Plugin {
 public:
  using Worker = l2::Worker;

  explicit Plugin(Host& host);
  std::unique_ptr<Worker> make_worker(const wm_worker_info& info);
  void collect(std::span<Worker* const> workers, MetricSink& sink);
  void write_json(std::span<Worker* const> workers, JsonWriter& out);
  int query(std::span<Worker* const> workers, std::string_view path, const Query& q,
            JsonWriter& out);
  // Each second: the graphs of the busiest VLANs, MPLS labels, DSCP and PCP values
  // ("l2.vlan.<id>.bps", "l2.mpls.<label>.bps", "l2.dscp.<dscp>.bps", "l2.pcp.<pcp>.bps") and
  // ARP senders ("l2.arp.<ip>.arp_per_s"), and of those whose detail view is open; and the
  // snapshots of the ARP, size and cast counters that the time windows of their views need.
  void on_tick(std::span<Worker* const> workers, uint64_t now_ns);

  const Config& config() const { return config_; }

 private:
  std::string port_name(uint16_t port) const;

  Host& host_;
  Config config_;
  int vlan_packets_, vlan_bytes_, dscp_packets_, dscp_bytes_, pcp_packets_, mpls_packets_,
      arp_requests_, arp_replies_, arp_gratuitous_, arp_probes_, arp_unanswered_, arp_conflicts_,
      arp_changes_, arp_bindings_, control_packets_, frame_size_, broadcast_packets_,
      broadcast_bytes_, multicast_packets_, multicast_bytes_, unicast_packets_, unicast_bytes_,
      malformed_, overflow_;
  TopSeries vlan_series_, mpls_series_, dscp_series_, pcp_series_, arp_series_;
  // Labels (up to 1M) and bindings (up to millions) are too many to format each second.
  RateFeed mpls_feed_, arp_feed_;
  // History of the summary counters for `from`/`to` on the arp, sizes and cast views: overall,
  // and per port from the tick that first saw the port (with zeros at the tick before it).
  CounterWindow<ArpCounters> arp_window_;
  CounterWindow<PortStats> all_window_;
  std::map<uint16_t, CounterWindow<PortStats>> port_windows_;
  uint64_t last_tick_ns_;
};

}  // namespace wiremeter::l2

// ip: per IPv4/IPv6 host statistics (issue 3, the "ip" module).
//
// For every address seen in an IP header: packets and frame bytes sent and received, first and
// last seen, the flows it took part in, its distinct peers and top peers by bytes, its bytes per
// L4 protocol (TCP, UDP, ICMP, other) and per application label (wm_flow_info.app_label, which
// the dpi module sets), and the names learned passively for it from DNS answers, DHCP and the
// TLS server_name. Served as the JSON report, GET /api/v1/ip/hosts, hosts/<address> and names,
// and as metrics for the busiest hosts plus "other".
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>
#include <wiremeter/plugin.hpp>
#include <wiremeter/top_series.hpp>

#include "host_table.hpp"
#include "ip_config.hpp"
#include "name_parsers.hpp"

namespace wiremeter::ip {

// Per-flow state, zero-filled by the core at flow creation: 16 bytes per flow.
struct FlowState {
  // Bytes of the flow before it had an application label, attributed to the label once it
  // comes (saturating: labels come within the first packets).
  uint32_t unlabeled_bytes;
  uint16_t label;  // the label the flow's bytes go to; 0 = none yet
  uint8_t flags;   // FlowFlag
  uint8_t reserved;
  // With kFlowHostsKnown: the host table entries of the flow's initiator [0] and responder [1]
  // (hosts never leave the table, so an index stays valid), each with its peer-sketch bit
  // (kPeerBitShift). Spares the two address lookups on every later packet of the flow.
  uint32_t host[2];
};
enum FlowFlag : uint8_t {
  kFlowCounted = 1,        // the hosts' flow counts include this flow
  kFlowClientPayload = 2,  // the initiator's first payload was looked at (TLS SNI)
  kFlowServerPayload = 4,  // the responder's first payload was looked at (DNS over TCP)
  kFlowHostsKnown = 8,     // host[] is set
};
inline constexpr uint32_t kPeerBitShift = 26;  // host index below, peer bit (0..63) above
inline constexpr uint32_t kHostIndexMask = (1u << kPeerBitShift) - 1;

// Reasons a name could not be read, per source; metric labels.
enum class NameError : uint8_t { kMalformed = 0, kTruncated, kCount };
inline constexpr size_t kNameErrors = static_cast<size_t>(NameError::kCount);

// One per worker thread.
//
// Thread-safety: on_batch, on_flow_end and worker_tick run on the worker's thread. The host
// table is read by the control plane through its snapshot (published by worker_tick); the name
// table has its own lock, taken by the worker once per name learned. Counters any time.
class Worker {
 public:
  Worker(uint32_t state_offset, const Settings& settings);

  void on_batch(std::span<const wm_packet> packets) noexcept;
  void on_flow_end(const wm_flow_info& flow, FlowState& state) noexcept;
  void worker_tick(uint64_t now_ns) noexcept;

  const HostTable& hosts() const { return hosts_; }
  const NameTable& names() const { return names_; }

  Counter ip_packets, ip_bytes;
  Counter untracked_packets;  // host sightings folded into "other" because the table was full
  std::array<Counter, kNameSources> names_learned;
  std::array<std::array<Counter, kNameErrors>, kNameSources> name_errors;

 private:
  // Passes the parsers' (address, name) pairs to the name table.
  struct Learner final : NameSink {
    Worker* worker = nullptr;
    NameSource source = NameSource::kDns;
    uint64_t ts_ns = 0;
    void on_name(uint8_t version, const uint8_t* addr, std::string_view name) noexcept override;
  };

  // Looks the packet's hosts up (or takes them from the flow's state) and counts the packet.
  void count(const wm_packet& p, FlowState* state) noexcept;
  void learn_names(const wm_packet& p, FlowState* state) noexcept;
  void note(NameSource source, Parse result) noexcept;

  FlowStateSlot<FlowState> slot_;
  HostTable hosts_;
  NameTable names_;
  Learner learner_;
  // Entries of this packet's endpoints, for on_batch's flow step.
  uint32_t src_index_ = HostTable::kNone, dst_index_ = HostTable::kNone;
};

// A host merged over the workers (control plane).
struct HostRow {
  Address addr;
  bool other = false;  // the bucket of untracked hosts
  uint64_t packets_in = 0, packets_out = 0, bytes_in = 0, bytes_out = 0;
  uint64_t first_ns = 0, last_ns = 0, flows = 0, peer_bits = 0;
  std::array<uint64_t, kL4Count> l4_bytes{};
  std::array<uint16_t, 2 * kLabels> label{};
  std::array<uint64_t, 2 * kLabels> label_bytes{};
  uint8_t label_count = 0;
  uint64_t other_label_bytes = 0;
  std::string name;  // the most recently learned name; filled where needed

  uint64_t bytes() const { return bytes_in + bytes_out; }
  uint64_t packets() const { return packets_in + packets_out; }
  void merge(const HostEntry& e);
};

struct NameRow {
  Address addr;
  NameSource source = NameSource::kDns;
  std::string name;
  uint64_t count = 0, first_ns = 0, last_ns = 0;
};

struct PeerRow {
  Address addr;
  uint64_t bytes = 0;
};

std::string format_address(const Address& a);
// Parses "10.1.2.3" or "2001:db8::1"; false when it is neither.
bool parse_address(std::string_view text, Address& out);

class Plugin {
 public:
  using Worker = ip::Worker;
  using FlowState = ip::FlowState;

  explicit Plugin(Host& host);
  std::unique_ptr<Worker> make_worker(const wm_worker_info& info);
  void collect(std::span<Worker* const> workers, MetricSink& sink);
  void write_json(std::span<Worker* const> workers, JsonWriter& out);
  void on_tick(std::span<Worker* const> workers, uint64_t now_ns);
  int query(std::span<Worker* const> workers, std::string_view path, const Query& q,
            JsonWriter& out);

  // Merged views (control plane; they allocate). rows() leaves HostRow::name empty; the other
  // bucket, when it has traffic, is the last row when `with_other`.
  static std::vector<HostRow> rows(std::span<Worker* const> workers, bool with_other);
  static std::vector<NameRow> names(std::span<Worker* const> workers);
  // The merged detail of one address: false when no worker tracks it.
  static bool detail(std::span<Worker* const> workers, const Address& addr, HostRow& row,
                     std::vector<PeerRow>& peers);

  const Settings& settings() const { return settings_; }

 private:
  void write_row(JsonWriter& w, const HostRow& r, const std::vector<const NameRow*>* names,
                 const std::vector<PeerRow>* peers) const;
  void write_labels(JsonWriter& w, const HostRow& r) const;
  int query_hosts(std::span<Worker* const> workers, const Query& q, JsonWriter& out);
  int query_host(std::span<Worker* const> workers, std::string_view addr, const Query& q,
                 JsonWriter& out);
  int query_names(std::span<Worker* const> workers, const Query& q, JsonWriter& out);

  Host& host_;
  Settings settings_;
  int hosts_id_, untracked_id_, host_bytes_id_, host_packets_id_, names_learned_id_,
      name_errors_id_;
  std::atomic<double> bytes_per_second_{0};
  uint64_t last_tick_ns_ = 0, last_bytes_ = 0;
  TopSeries series_;  // the busiest hosts' bit rates
};

}  // namespace wiremeter::ip

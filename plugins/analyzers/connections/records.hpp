// connections: what leaves the data path — flow summaries (ended flows and active-flow
// snapshots), the servers table they aggregate into, and their JSON form.
//
// A FlowSummary is a plain copy: the worker makes it, the control plane reads it, and nobody
// shares it while it changes. ServerTable is not thread-safe; the worker guards its own with a
// mutex.
#pragma once

#include <wiremeter/abi.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <wiremeter/json.hpp>

#include "tcp_analysis.hpp"

namespace wiremeter::connections {

inline constexpr uint8_t kProtoTcp = 6;

// One flow as reported: the host's flow record plus the TCP analysis. ~150 bytes.
struct FlowSummary {
  uint64_t id;
  uint64_t first_ns;
  uint64_t last_ns;
  uint64_t packets[2];  // by wm_direction: from the initiator, from the responder
  uint64_t bytes[2];    // captured frame bytes, as tshark's conversation "Bytes"
  uint8_t addr[2][16];  // initiator, responder
  uint16_t port[2];
  uint16_t vlan;
  uint8_t ip_version;
  uint8_t proto;
  uint8_t worker;
  uint8_t end_reason;  // wm_flow_end_reason; WM_FLOW_ACTIVE in snapshots
  uint16_t app_label;  // the host's shared application label id (set by dpi); 0 = unknown
  // Which side serves: the responder unless the handshake or the ports say otherwise (a capture
  // that started after the SYN sees the server's packet first).
  bool server_is_initiator;
  TcpStats tcp;

  // Index into addr/port/packets/bytes of the client and the server.
  int client() const { return server_is_initiator ? 1 : 0; }
  int server() const { return server_is_initiator ? 0 : 1; }
  uint64_t total_bytes() const { return bytes[0] + bytes[1]; }
  uint64_t total_packets() const { return packets[0] + packets[1]; }
  uint64_t duration_ns() const { return last_ns > first_ns ? last_ns - first_ns : 0; }
};

FlowSummary summarize(const wm_flow_info& flow, const TcpStats& tcp, uint8_t end_reason);

const char* end_reason_name(uint8_t reason);
std::string format_addr(const uint8_t* addr, uint8_t ip_version);  // inet_ntop
// "tcp", "udp", ... for the bounded `proto` metric label.
const char* proto_label(uint8_t proto);

// Writes the flow as the REST API and the offline report show it. `app` is the name of
// f.app_label ("" or null when unknown).
void write_flow(JsonWriter& out, const FlowSummary& f, const char* app);

// Key of the servers table: (server address, port, IP protocol).
struct ServerKey {
  uint8_t addr[16];
  uint16_t port;
  uint8_t ip_version;
  uint8_t proto;
  bool operator==(const ServerKey& o) const;
};
struct ServerKeyHash {
  size_t operator()(const ServerKey& k) const;
};

struct ServerStats {
  uint64_t flows = 0;
  uint64_t packets = 0;
  uint64_t bytes = 0;
  uint64_t first_ns = 0;
  uint64_t last_ns = 0;
  // TCP quality.
  uint64_t tcp_packets = 0;  // packets of TCP flows, the denominator of the retransmission ratio
  uint64_t retx_packets = 0;
  uint64_t resets = 0;
  uint64_t unanswered = 0;  // SYNs that never got a SYN/ACK
  uint64_t rtt_count = 0;   // handshakes measured
  uint64_t rtt_sum_us = 0;
  uint64_t rtt_min_us = 0;
  uint64_t rtt_max_us = 0;

  void add(const FlowSummary& f);
  void merge(const ServerStats& o);
  double retransmission_ratio() const {
    return tcp_packets ? static_cast<double>(retx_packets) / static_cast<double>(tcp_packets) : 0;
  }
  double rtt_avg_us() const {
    return rtt_count ? static_cast<double>(rtt_sum_us) / static_cast<double>(rtt_count) : 0;
  }
};

ServerKey server_key(const FlowSummary& f);
// The same key for an active flow, from what its TCP analysis has seen so far (the data path's
// live per-server meter).
ServerKey server_key(const wm_flow_info& flow, const TcpStats& tcp) noexcept;
// "<addr>:<port>/<proto>", IPv6 in brackets: the servers/<key> path and the graph's name.
std::string server_key_text(const ServerKey& k);

// Per-(server, port, proto) aggregates, bounded: servers beyond the limit are counted in
// `overflow` (their flows are not lost from the flow records, only from this table).
class ServerTable {
 public:
  explicit ServerTable(size_t max_servers = 0) : max_(max_servers) {}
  void add(const FlowSummary& f);
  void merge(const ServerTable& o);
  const std::unordered_map<ServerKey, ServerStats, ServerKeyHash>& rows() const { return rows_; }
  uint64_t overflow() const { return overflow_; }

 private:
  size_t max_;  // 0 = unbounded (the control plane's merged copies)
  std::unordered_map<ServerKey, ServerStats, ServerKeyHash> rows_;
  uint64_t overflow_ = 0;
};

void write_server(JsonWriter& out, const ServerKey& key, const ServerStats& s);

}  // namespace wiremeter::connections

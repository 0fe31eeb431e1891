// connections: flow summaries, the servers table and their JSON form.
#include "records.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <wiremeter/flow_roles.hpp>

namespace wiremeter::connections {
namespace {

constexpr uint8_t kProtoUdp = 17, kProtoSctp = 132;

bool server_is_initiator(const wm_flow_info& f, const TcpStats& tcp) {
  return wiremeter::server_is_initiator(f, tcp.flags & kSawSyn, tcp.flags & kSynFromReverse,
                                        tcp.flags & kSawSynAck, tcp.flags & kSynAckFromReverse);
}

double seconds(uint64_t ns) { return static_cast<double>(ns) / 1e9; }
double millis(uint64_t us) { return static_cast<double>(us) / 1e3; }

}  // namespace

FlowSummary summarize(const wm_flow_info& flow, const TcpStats& tcp, uint8_t end_reason) {
  FlowSummary s{};
  s.id = flow.id;
  s.first_ns = flow.first_ns;
  s.last_ns = flow.last_ns;
  for (int d = 0; d < 2; ++d) {
    s.packets[d] = flow.packets[d];
    s.bytes[d] = flow.bytes[d];
    std::memcpy(s.addr[d], flow.addr[d], 16);
    s.port[d] = flow.port[d];
  }
  s.vlan = flow.vlan;
  s.ip_version = flow.ip_version;
  s.proto = flow.l4_proto;
  s.worker = flow.worker;
  s.end_reason = end_reason;
  s.app_label = flow.app_label;
  s.server_is_initiator = server_is_initiator(flow, tcp);
  s.tcp = tcp;
  return s;
}

const char* end_reason_name(uint8_t reason) {
  switch (reason) {
    case WM_FLOW_ACTIVE:
      return "active";
    case WM_FLOW_IDLE_TIMEOUT:
      return "idle_timeout";
    case WM_FLOW_EVICTED:
      return "evicted";
    case WM_FLOW_SHUTDOWN:
      return "shutdown";
    default:
      return "unknown";
  }
}

std::string format_addr(const uint8_t* addr, uint8_t ip_version) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (!inet_ntop(ip_version == 6 ? AF_INET6 : AF_INET, addr, buf, sizeof buf)) return "?";
  return buf;
}

const char* proto_label(uint8_t proto) {
  switch (proto) {
    case kProtoTcp:
      return "tcp";
    case kProtoUdp:
      return "udp";
    case 1:
      return "icmp";
    case 58:
      return "icmpv6";
    case kProtoSctp:
      return "sctp";
    default:
      return "other";
  }
}

void write_flow(JsonWriter& out, const FlowSummary& f, const char* app) {
  int c = f.client(), s = f.server();
  out.begin_object()
      .field("flow", std::to_string(f.worker) + ":" + std::to_string(f.id))
      .field("proto", static_cast<uint32_t>(f.proto))
      .field("ip_version", static_cast<uint32_t>(f.ip_version))
      .field("client", format_addr(f.addr[c], f.ip_version))
      .field("client_port", static_cast<uint32_t>(f.port[c]))
      .field("server", format_addr(f.addr[s], f.ip_version))
      .field("server_port", static_cast<uint32_t>(f.port[s]))
      .field("vlan", static_cast<uint32_t>(f.vlan));
  out.key("app");
  (app && *app) ? out.value(app) : out.null();
  out.field("start", seconds(f.first_ns)).field("duration", seconds(f.duration_ns()));
  out.key("packets").begin_array().value(f.packets[c]).value(f.packets[s]).end_array();
  out.key("bytes").begin_array().value(f.bytes[c]).value(f.bytes[s]).end_array();
  out.key("tcp");
  if (f.proto != kProtoTcp) {
    out.null();
  } else {
    const TcpStats& t = f.tcp;
    out.begin_object()
        .field("state", state_name(t.state))
        .field("history", history_string(t, f.server_is_initiator));
    out.key("rtt_syn_synack_ms");
    (t.flags & kHaveRttSyn) ? out.value(millis(t.rtt_syn_us)) : out.null();
    out.key("rtt_synack_ack_ms");
    (t.flags & kHaveRttAck) ? out.value(millis(t.rtt_ack_us)) : out.null();
    out.key("handshake_ms");
    t.has_handshake_rtt() ? out.value(millis(t.handshake_us())) : out.null();
    out.field("retransmitted_packets", t.retx_packets)
        .field("retransmitted_bytes", t.retx_bytes)
        .field("out_of_order", t.out_of_order)
        .field("zero_window", t.zero_window)
        .field("resets", static_cast<uint32_t>(t.resets))
        .end_object();
  }
  out.field("end", end_reason_name(f.end_reason)).end_object();
}

bool ServerKey::operator==(const ServerKey& o) const {
  return port == o.port && ip_version == o.ip_version && proto == o.proto &&
         std::memcmp(addr, o.addr, sizeof addr) == 0;
}

size_t ServerKeyHash::operator()(const ServerKey& k) const {
  uint64_t a, b;
  std::memcpy(&a, k.addr, 8);
  std::memcpy(&b, k.addr + 8, 8);
  uint64_t h = a * 0x9e3779b97f4a7c15ull;
  h ^= b + 0x632be59bd9b4e019ull + (h << 6) + (h >> 2);
  h ^= (static_cast<uint64_t>(k.port) << 16 | static_cast<uint64_t>(k.proto) << 8 | k.ip_version) *
       0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return static_cast<size_t>(h);
}

ServerKey server_key(const FlowSummary& f) {
  ServerKey k{};
  std::memcpy(k.addr, f.addr[f.server()], 16);
  k.port = f.port[f.server()];
  k.ip_version = f.ip_version;
  k.proto = f.proto;
  return k;
}

ServerKey server_key(const wm_flow_info& flow, const TcpStats& tcp) noexcept {
  int server = server_is_initiator(flow, tcp) ? 0 : 1;
  ServerKey k{};
  std::memcpy(k.addr, flow.addr[server], 16);
  k.port = flow.port[server];
  k.ip_version = flow.ip_version;
  k.proto = flow.l4_proto;
  return k;
}

std::string server_key_text(const ServerKey& k) {
  std::string addr = format_addr(k.addr, k.ip_version);
  if (k.ip_version == 6) addr = "[" + addr + "]";
  return addr + ":" + std::to_string(k.port) + "/" + std::to_string(k.proto);
}

void ServerStats::add(const FlowSummary& f) {
  ++flows;
  packets += f.total_packets();
  bytes += f.total_bytes();
  if (first_ns == 0 || f.first_ns < first_ns) first_ns = f.first_ns;
  last_ns = std::max(last_ns, f.last_ns);
  if (f.proto != kProtoTcp) return;
  tcp_packets += f.total_packets();
  retx_packets += f.tcp.retx_packets;
  resets += f.tcp.resets;
  if ((f.tcp.flags & kSawSyn) && !(f.tcp.flags & kSawSynAck)) ++unanswered;
  if (f.tcp.has_handshake_rtt()) {
    uint64_t us = f.tcp.handshake_us();
    rtt_min_us = rtt_count == 0 ? us : std::min(rtt_min_us, us);
    rtt_max_us = std::max(rtt_max_us, us);
    rtt_sum_us += us;
    ++rtt_count;
  }
}

void ServerStats::merge(const ServerStats& o) {
  if (o.rtt_count) {
    rtt_min_us = rtt_count == 0 ? o.rtt_min_us : std::min(rtt_min_us, o.rtt_min_us);
    rtt_max_us = std::max(rtt_max_us, o.rtt_max_us);
  }
  if (o.first_ns && (first_ns == 0 || o.first_ns < first_ns)) first_ns = o.first_ns;
  last_ns = std::max(last_ns, o.last_ns);
  flows += o.flows;
  packets += o.packets;
  bytes += o.bytes;
  tcp_packets += o.tcp_packets;
  retx_packets += o.retx_packets;
  resets += o.resets;
  unanswered += o.unanswered;
  rtt_count += o.rtt_count;
  rtt_sum_us += o.rtt_sum_us;
}

void ServerTable::add(const FlowSummary& f) {
  ServerKey k = server_key(f);
  auto it = rows_.find(k);
  if (it == rows_.end()) {
    if (max_ && rows_.size() >= max_) {
      ++overflow_;
      return;
    }
    it = rows_.emplace(k, ServerStats{}).first;
  }
  it->second.add(f);
}

void ServerTable::merge(const ServerTable& o) {
  for (const auto& [k, v] : o.rows_) rows_[k].merge(v);
  overflow_ += o.overflow_;
}

void write_server(JsonWriter& out, const ServerKey& key, const ServerStats& s) {
  out.begin_object()
      .field("server", format_addr(key.addr, key.ip_version))
      .field("port", static_cast<uint32_t>(key.port))
      .field("proto", static_cast<uint32_t>(key.proto))
      .field("flows", s.flows)
      .field("packets", s.packets)
      .field("bytes", s.bytes)
      .field("first_seen", seconds(s.first_ns))
      .field("last_seen", seconds(s.last_ns));
  out.key("tcp");
  if (key.proto != kProtoTcp) {
    out.null();
  } else {
    out.begin_object().key("handshake_ms");
    if (s.rtt_count) {
      out.begin_object()
          .field("count", s.rtt_count)
          .field("min", millis(s.rtt_min_us))
          .field("avg", s.rtt_avg_us() / 1e3)
          .field("max", millis(s.rtt_max_us))
          .end_object();
    } else {
      out.null();
    }
    out.field("retransmitted_packets", s.retx_packets)
        .field("retransmission_ratio", s.retransmission_ratio())
        .field("resets", s.resets)
        .field("unanswered_syns", s.unanswered)
        .end_object();
  }
  out.end_object();
}

}  // namespace wiremeter::connections

// l2: the control plane (Plugin): the merge of the workers' snapshots, metrics, the JSON report
// and the REST views.
#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <map>
#include <optional>
#include <tuple>
#include <unordered_map>

#include "l2_plugin.hpp"

namespace wiremeter::l2 {
namespace {

// ---- The merge of all workers ------------------------------------------------------------------

struct VlanRow {
  uint16_t outer = 0;
  int inner = -1;  // -1: the outer VLAN as a whole
  Traffic traffic;
};
struct LabelRow {
  uint32_t label = 0;
  LabelStats stats;
};
struct GroupRow {
  uint64_t mac = 0;
  Traffic traffic;
};
struct BindingRow {
  uint32_t ip = 0;
  Binding binding;
};
struct ConflictRow {
  ConflictKey key;
  Conflict conflict;
};
struct StpRow {
  StpKey key;
  StpBridge bridge;
};
struct CodeRow {  // a DSCP or PCP value
  uint8_t value = 0;
  Traffic traffic;
};
struct ControlRow {
  Control protocol = Control::kNone;
  ControlStats stats;
};

struct Merged {
  Totals totals;
  PortStats all;
  std::map<uint16_t, PortStats> ports;
  std::vector<Traffic> vlans = std::vector<Traffic>(kVlanIds);
  std::map<uint64_t, Traffic> vlan_pairs;
  std::array<Traffic, 64> dscp{};
  std::array<Traffic, 8> pcp{};
  std::map<uint64_t, LabelStats> labels;
  std::unordered_map<uint64_t, Traffic> groups;
  ArpCounters arp;
  uint64_t arp_pending = 0;
  std::unordered_map<uint64_t, Binding> bindings;
  std::vector<ConflictRow> conflicts;
  std::array<ControlStats, kControlCount> control{};
  std::vector<StpRow> stp;
  std::vector<LldpNeighbour> lldp;
};

// Tables merge by key: counts add up, first/last seen widen. A binding seen by two workers
// keeps the MAC of the newest sighting. Conflicts, STP bridges and LLDP neighbours are decided
// per worker (ARP and control frames carry no flow, so one RSS queue usually gets them all).
Merged merge(std::span<Worker* const> workers) {
  Merged m;
  std::map<std::tuple<uint32_t, uint64_t, uint64_t>, size_t> conflict_at;
  std::unordered_map<uint64_t, size_t> lldp_at;
  std::map<std::tuple<uint64_t, uint16_t, uint16_t, uint16_t>, size_t> stp_at;
  for (Worker* w : workers) {
    if (!w) continue;
    w->read([&](const Tables& t) {
      m.totals.merge(t.totals);
      m.all.merge(t.all);
      for (uint16_t p = 0; p < kMaxPorts; ++p) {
        if (t.port_seen[p]) m.ports[p].merge(t.ports[p]);
      }
      for (size_t v = 0; v < kVlanIds; ++v) m.vlans[v].merge(t.vlans[v]);
      t.vlan_pairs.for_each([&](uint64_t k, const Traffic& x) { m.vlan_pairs[k].merge(x); });
      for (size_t i = 0; i < 64; ++i) m.dscp[i].merge(t.dscp[i]);
      for (size_t i = 0; i < 8; ++i) m.pcp[i].merge(t.pcp[i]);
      t.labels.for_each([&](uint64_t k, const LabelStats& x) {
        LabelStats& l = m.labels[k];
        l.traffic.merge(x.traffic);
        for (size_t d = 0; d < kMplsDepths; ++d) l.depth[d] += x.depth[d];
      });
      t.groups.for_each([&](uint64_t k, const GroupStats& x) { m.groups[k].merge(x.traffic); });
      m.arp.merge(t.arp);
      m.arp_pending += t.pending.size();
      t.bindings.for_each([&](uint64_t ip, const Binding& b) {
        auto [it, fresh] = m.bindings.try_emplace(ip, b);
        if (fresh) return;
        Binding& r = it->second;
        uint64_t packets = r.packets + b.packets;
        uint32_t changes = r.changes + b.changes;
        uint64_t first = std::min(r.first_ns, b.first_ns);
        if (b.last_ns > r.last_ns) r = b;
        r.packets = packets;
        r.changes = changes;
        r.first_ns = first;
      });
      t.conflicts.for_each([&](const ConflictKey& k, const Conflict& c) {
        auto [it, fresh] =
            conflict_at.try_emplace({k.ip, k.mac_low, k.mac_high}, m.conflicts.size());
        if (fresh) {
          m.conflicts.push_back({k, c});
          return;
        }
        Conflict& r = m.conflicts[it->second].conflict;
        if (c.last_ns > r.last_ns) r.last_mac = c.last_mac;
        r.first_ns = std::min(r.first_ns, c.first_ns);
        r.last_ns = std::max(r.last_ns, c.last_ns);
        r.conflicts += c.conflicts;
        r.changes += c.changes;
      });
      for (size_t i = 0; i < kControlCount; ++i) {
        const ControlStats& c = t.control[i];
        if (!c.traffic.packets) continue;
        if (c.traffic.last_ns >= m.control[i].traffic.last_ns) m.control[i].last_src = c.last_src;
        m.control[i].traffic.merge(c.traffic);
      }
      t.stp.for_each([&](const StpKey& k, const StpBridge& b) {
        auto [it, fresh] =
            stp_at.try_emplace({k.bridge_id, k.port_id, k.vlan, k.rx_port}, m.stp.size());
        if (fresh) {
          m.stp.push_back({k, b});
          return;
        }
        StpBridge& r = m.stp[it->second].bridge;
        uint64_t bpdus = r.bpdus + b.bpdus, tc = r.topology_changes + b.topology_changes;
        uint64_t first = std::min(r.first_ns, b.first_ns);
        if (b.last_ns > r.last_ns) r = b;
        r.bpdus = bpdus;
        r.topology_changes = tc;
        r.first_ns = first;
      });
      t.lldp.for_each([&](uint64_t k, const LldpNeighbour& n) {
        auto [it, fresh] = lldp_at.try_emplace(k, m.lldp.size());
        if (fresh) {
          m.lldp.push_back(n);
          return;
        }
        LldpNeighbour& r = m.lldp[it->second];
        uint64_t frames = r.frames + n.frames, first = std::min(r.first_ns, n.first_ns);
        if (n.last_ns > r.last_ns) r = n;
        r.frames = frames;
        r.first_ns = first;
      });
    });
  }
  return m;
}

// ---- Formatting --------------------------------------------------------------------------------

// Unix seconds with microseconds, through integer microseconds so that the decimal is exact.
double seconds(uint64_t ns) { return static_cast<double>(ns / 1000) / 1e6; }

std::string mac_text(uint64_t mac) {
  char buf[18];
  format_mac(mac, buf);
  return buf;
}

std::string ip_text(uint32_t ip) {
  uint8_t b[4] = {static_cast<uint8_t>(ip >> 24), static_cast<uint8_t>(ip >> 16),
                  static_cast<uint8_t>(ip >> 8), static_cast<uint8_t>(ip)};
  char buf[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, b, buf, sizeof buf);
  return buf;
}

std::string bridge_text(uint64_t id) {
  char buf[32];
  format_bridge_id(id, buf);
  return buf;
}

void write_traffic(JsonWriter& w, const Traffic& t) {
  w.field("packets", t.packets)
      .field("bytes", t.bytes)
      .field("first_seen", seconds(t.first_ns))
      .field("last_seen", seconds(t.last_ns));
}

void write_vlan(JsonWriter& w, const VlanRow& r) {
  w.begin_object().field("vlan", static_cast<uint32_t>(r.outer));
  if (r.inner >= 0) w.field("inner", r.inner);
  write_traffic(w, r.traffic);
  w.end_object();
}

void write_label_depth(JsonWriter& w, const LabelRow& r) {
  w.key("depth").begin_object();
  for (size_t d = 0; d < kMplsDepths; ++d) {
    if (r.stats.depth[d])
      w.field(d + 1 == kMplsDepths ? "8+" : std::to_string(d + 1), r.stats.depth[d]);
  }
  w.end_object();
}

void write_label(JsonWriter& w, const LabelRow& r) {
  w.begin_object().field("label", r.label);
  write_traffic(w, r.stats.traffic);
  write_label_depth(w, r);
  w.end_object();
}

void write_group(JsonWriter& w, const GroupRow& r) {
  w.begin_object().field("mac", mac_text(r.mac));
  write_traffic(w, r.traffic);
  w.end_object();
}

void write_dscp(JsonWriter& w, const CodeRow& r) {
  w.begin_object().field("dscp", static_cast<uint32_t>(r.value)).field("name", dscp_name(r.value));
  write_traffic(w, r.traffic);
  w.end_object();
}

void write_pcp(JsonWriter& w, const CodeRow& r) {
  w.begin_object().field("pcp", static_cast<uint32_t>(r.value));
  write_traffic(w, r.traffic);
  w.end_object();
}

void write_binding(JsonWriter& w, const BindingRow& r) {
  const Binding& b = r.binding;
  w.begin_object()
      .field("ip", ip_text(r.ip))
      .field("mac", mac_text(b.mac))
      .field("packets", b.packets)
      .field("changes", b.changes);
  w.key("previous_mac");
  if (b.previous_mac) {
    w.value(mac_text(b.previous_mac));
  } else {
    w.null();
  }
  w.field("vlan", static_cast<uint32_t>(b.vlan))
      .field("port", static_cast<uint32_t>(b.port))
      .field("first_seen", seconds(b.first_ns))
      .field("mac_since", seconds(b.mac_since_ns))
      .field("last_seen", seconds(b.last_ns))
      .end_object();
}

const char* conflict_kind(const Conflict& c) { return c.conflicts ? "conflict" : "changed"; }

void write_conflict(JsonWriter& w, const ConflictRow& r) {
  const Conflict& c = r.conflict;
  uint64_t other = c.last_mac == r.key.mac_low ? r.key.mac_high : r.key.mac_low;
  w.begin_object()
      .field("ip", ip_text(r.key.ip))
      .field("kind", conflict_kind(c))
      .key("macs")
      .begin_array()
      .value(mac_text(other))
      .value(mac_text(c.last_mac))
      .end_array()
      .field("current_mac", mac_text(c.last_mac))
      .field("count", c.conflicts + c.changes)
      .field("conflicts", c.conflicts)
      .field("changes", c.changes)
      .field("first_seen", seconds(c.first_ns))
      .field("last_seen", seconds(c.last_ns))
      .end_object();
}

void write_stp(JsonWriter& w, const StpRow& r) {
  const StpBridge& b = r.bridge;
  char port_id[8];
  std::snprintf(port_id, sizeof port_id, "0x%04x", static_cast<unsigned>(r.key.port_id));
  w.begin_object()
      .field("protocol", bpdu_protocol_name(b.version))
      .field("pvst", b.pvst)
      .field("bridge_id", bridge_text(r.key.bridge_id))
      .field("root_id", bridge_text(b.root_id))
      .field("root_path_cost", b.root_cost)
      .field("port_id", port_id)
      .field("vlan", static_cast<uint32_t>(r.key.vlan))
      .field("port", static_cast<uint32_t>(r.key.rx_port))
      .field("source", mac_text(b.src_mac))
      .field("topology_change", static_cast<bool>(b.flags & 0x01))
      .field("topology_changes", b.topology_changes)
      .field("bpdus", b.bpdus)
      .field("first_seen", seconds(b.first_ns))
      .field("last_seen", seconds(b.last_ns))
      .end_object();
}

void write_lldp(JsonWriter& w, const LldpNeighbour& n) {
  w.begin_object()
      .field("chassis_id", n.info.chassis_id)
      .field("port_id", n.info.port_id)
      .field("port_description", n.info.port_description)
      .field("system_name", n.info.system_name)
      .field("management_address", n.info.management_address)
      .field("capabilities", static_cast<uint32_t>(n.info.capabilities))
      .field("ttl", static_cast<uint32_t>(n.info.ttl))
      .field("source", mac_text(n.src_mac))
      .field("port", static_cast<uint32_t>(n.rx_port))
      .field("vlan", static_cast<uint32_t>(n.vlan))
      .field("frames", n.frames)
      .field("first_seen", seconds(n.first_ns))
      .field("last_seen", seconds(n.last_ns))
      .end_object();
}

void write_control(JsonWriter& w, const ControlRow& r) {
  w.begin_object().field("protocol", control_name(r.protocol));
  write_traffic(w, r.stats.traffic);
  w.field("last_source", mac_text(r.stats.last_src)).end_object();
}

void write_sizes(JsonWriter& w, const PortStats& s) {
  w.begin_object();
  for (size_t i = 0; i < kSizeBuckets; ++i) w.field(kSizeBucketNames[i], s.sizes[i]);
  w.end_object();
}

void write_cast(JsonWriter& w, const PortStats& s) {
  w.begin_object();
  for (size_t i = 0; i < kCastCount; ++i) {
    w.key(cast_name(static_cast<Cast>(i)))
        .begin_object()
        .field("packets", s.cast_packets[i])
        .field("bytes", s.cast_bytes[i])
        .end_object();
  }
  w.field("non_ethernet", s.non_ethernet).end_object();
}

// ---- Rows for the lists ------------------------------------------------------------------------

std::vector<VlanRow> vlan_rows(const Merged& m, bool pairs) {
  std::vector<VlanRow> rows;
  if (pairs) {
    for (auto& [k, t] : m.vlan_pairs) {
      rows.push_back({static_cast<uint16_t>(k >> 12), static_cast<int>(k & 0x0fff), t});
    }
  } else {
    for (size_t v = 0; v < kVlanIds; ++v) {
      if (m.vlans[v].packets) rows.push_back({static_cast<uint16_t>(v), -1, m.vlans[v]});
    }
  }
  return rows;
}

std::vector<LabelRow> label_rows(const Merged& m) {
  std::vector<LabelRow> rows;
  for (auto& [k, s] : m.labels) rows.push_back({static_cast<uint32_t>(k), s});
  return rows;
}

std::vector<GroupRow> group_rows(const Merged& m) {
  std::vector<GroupRow> rows;
  for (auto& [k, t] : m.groups) rows.push_back({k, t});
  return rows;
}

std::vector<BindingRow> binding_rows(const Merged& m) {
  std::vector<BindingRow> rows;
  for (auto& [ip, b] : m.bindings) rows.push_back({static_cast<uint32_t>(ip), b});
  return rows;
}

template <size_t N>
std::vector<CodeRow> code_rows(const std::array<Traffic, N>& a) {
  std::vector<CodeRow> rows;
  for (size_t i = 0; i < N; ++i) {
    if (a[i].packets) rows.push_back({static_cast<uint8_t>(i), a[i]});
  }
  return rows;
}

std::vector<ControlRow> control_rows(const Merged& m) {
  std::vector<ControlRow> rows;
  for (size_t i = 0; i < kControlCount; ++i) {
    if (m.control[i].traffic.packets) rows.push_back({static_cast<Control>(i), m.control[i]});
  }
  return rows;
}

template <typename R, typename Get>
typename ListPage<R>::Less by(Get get) {
  return [get](const R& a, const R& b) { return get(a) < get(b); };
}

// Columns every Traffic-bearing row sorts by.
template <typename R, typename Get>
std::map<std::string, typename ListPage<R>::Less> traffic_columns(Get traffic) {
  return {{"packets", by<R>([traffic](const R& r) { return traffic(r).packets; })},
          {"bytes", by<R>([traffic](const R& r) { return traffic(r).bytes; })},
          {"first_seen", by<R>([traffic](const R& r) { return traffic(r).first_ns; })},
          {"last_seen", by<R>([traffic](const R& r) { return traffic(r).last_ns; })}};
}

bool parse_uint(std::string_view s, uint64_t max, uint64_t& out) {
  if (s.empty() || s.size() > 10) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size() && out <= max;
}

// Keys of the graphed entities; the series is "l2.<key><suffix>".
std::string mpls_key(uint64_t label) { return "mpls." + std::to_string(label); }
std::string dscp_key(size_t dscp) { return "dscp." + std::to_string(dscp); }
std::string pcp_key(size_t pcp) { return "pcp." + std::to_string(pcp); }
std::string arp_key(uint32_t ip) { return "arp." + ip_text(ip); }
std::string series_name(const std::string& key, const char* suffix) { return "l2." + key + suffix; }

// The keys read back, for the graphed ones (RateFeed::finish).
bool parse_mpls_key(std::string_view key, uint64_t& label) {
  constexpr std::string_view kPrefix = "mpls.";
  return key.starts_with(kPrefix) && parse_uint(key.substr(kPrefix.size()), (1u << 20) - 1, label);
}
bool parse_arp_key(std::string_view key, uint64_t& ip) {
  constexpr std::string_view kPrefix = "arp.";
  if (!key.starts_with(kPrefix)) return false;
  std::string text(key.substr(kPrefix.size()));
  uint8_t b[4];
  if (inet_pton(AF_INET, text.c_str(), b) != 1) return false;
  ip = static_cast<uint64_t>(b[0]) << 24 | static_cast<uint64_t>(b[1]) << 16 |
       static_cast<uint64_t>(b[2]) << 8 | b[3];
  return true;
}

constexpr size_t kTopMetricLabels = 20;
constexpr size_t kReportGroups = 100;

}  // namespace

// ---- Plugin ------------------------------------------------------------------------------------

Plugin::Plugin(Host& host)
    : host_(host),
      config_(parse_config(host.config_json())),
      vlan_series_(config_.series_top),
      mpls_series_(config_.series_top),
      dscp_series_(config_.series_top),
      pcp_series_(config_.series_top),
      arp_series_(config_.series_top, 60, 1.0, ".arp_per_s"),
      last_tick_ns_(host.now_ns()) {
  // Nothing counted yet: a window reaching back to the start counts everything.
  arp_window_.record(last_tick_ns_, ArpCounters{});
  all_window_.record(last_tick_ns_, PortStats{});
  auto reg = [&](const char* name, const char* help, wm_metric_type type) {
    return host.register_metric(name, help, type);
  };
  vlan_packets_ =
      reg("wiremeter_l2_vlan_packets_total",
          "Frames per outer VLAN id (the 20 busiest, the rest as other).", WM_METRIC_COUNTER);
  vlan_bytes_ = reg("wiremeter_l2_vlan_bytes_total",
                    "Frame bytes per outer VLAN id (the 20 busiest by frames, the rest as other).",
                    WM_METRIC_COUNTER);
  dscp_packets_ =
      reg("wiremeter_l2_dscp_packets_total", "IP packets per DSCP code point.", WM_METRIC_COUNTER);
  dscp_bytes_ = reg("wiremeter_l2_dscp_bytes_total",
                    "Frame bytes of IP packets per DSCP code point.", WM_METRIC_COUNTER);
  pcp_packets_ =
      reg("wiremeter_l2_pcp_packets_total",
          "VLAN-tagged frames per 802.1p priority (PCP) of the outer tag.", WM_METRIC_COUNTER);
  mpls_packets_ =
      reg("wiremeter_l2_mpls_packets_total",
          "MPLS frames per top label (the 20 busiest, the rest as other).", WM_METRIC_COUNTER);
  arp_requests_ =
      reg("wiremeter_l2_arp_requests_total", "ARP requests (probes included).", WM_METRIC_COUNTER);
  arp_replies_ = reg("wiremeter_l2_arp_replies_total", "ARP replies.", WM_METRIC_COUNTER);
  arp_gratuitous_ = reg("wiremeter_l2_arp_gratuitous_total",
                        "Gratuitous ARP: announcements (sender IP = target IP) and unsolicited "
                        "replies.",
                        WM_METRIC_COUNTER);
  arp_probes_ =
      reg("wiremeter_l2_arp_probes_total", "ARP probes (sender IP 0.0.0.0).", WM_METRIC_COUNTER);
  arp_unanswered_ =
      reg("wiremeter_l2_arp_unanswered_total",
          "ARP requests without a reply within the reply timeout.", WM_METRIC_COUNTER);
  arp_conflicts_ =
      reg("wiremeter_l2_arp_conflicts_total",
          "An IPv4 address claimed by a second MAC within the conflict window.", WM_METRIC_COUNTER);
  arp_changes_ =
      reg("wiremeter_l2_arp_changes_total",
          "An IPv4 address claimed by another MAC after the conflict window.", WM_METRIC_COUNTER);
  arp_bindings_ =
      reg("wiremeter_l2_arp_bindings", "IPv4 to MAC bindings learned from ARP.", WM_METRIC_GAUGE);
  control_packets_ =
      reg("wiremeter_l2_control_packets_total",
          "Link-local control frames per protocol (STP, LLDP, CDP, LACP, ...).", WM_METRIC_COUNTER);
  frame_size_ = reg("wiremeter_l2_frame_size_bytes",
                    "Frame sizes with FCS, per port (RMON buckets; 9000 splits jumbo frames).",
                    WM_METRIC_HISTOGRAM);
  broadcast_packets_ = reg("wiremeter_l2_broadcast_packets_total",
                           "Frames to ff:ff:ff:ff:ff:ff, per port.", WM_METRIC_COUNTER);
  broadcast_bytes_ = reg("wiremeter_l2_broadcast_bytes_total",
                         "Frame bytes to ff:ff:ff:ff:ff:ff, per port.", WM_METRIC_COUNTER);
  multicast_packets_ =
      reg("wiremeter_l2_multicast_packets_total",
          "Frames to a group MAC other than broadcast, per port.", WM_METRIC_COUNTER);
  multicast_bytes_ =
      reg("wiremeter_l2_multicast_bytes_total",
          "Frame bytes to a group MAC other than broadcast, per port.", WM_METRIC_COUNTER);
  unicast_packets_ = reg("wiremeter_l2_unicast_packets_total", "Frames to a unicast MAC, per port.",
                         WM_METRIC_COUNTER);
  unicast_bytes_ = reg("wiremeter_l2_unicast_bytes_total",
                       "Frame bytes to a unicast MAC, per port.", WM_METRIC_COUNTER);
  malformed_ = reg("wiremeter_l2_malformed_total", "Malformed ARP, BPDU and LLDP frames by reason.",
                   WM_METRIC_COUNTER);
  overflow_ =
      reg("wiremeter_l2_table_overflow_total",
          "New keys not tracked because a worker's table was full, by table.", WM_METRIC_COUNTER);
}

std::unique_ptr<Worker> Plugin::make_worker(const wm_worker_info&) {
  return std::make_unique<Worker>(config_);
}

std::string Plugin::port_name(uint16_t port) const {
  auto info = host_.port_info(port);
  return info && info->name ? std::string(info->name) : "port" + std::to_string(port);
}

void Plugin::collect(std::span<Worker* const> workers, MetricSink& sink) {
  Merged m = merge(workers);

  // Outer VLANs: the busiest by frames, the rest summed as "other".
  std::vector<VlanRow> vlans = vlan_rows(m, false);
  std::sort(vlans.begin(), vlans.end(), [](const VlanRow& a, const VlanRow& b) {
    return a.traffic.packets != b.traffic.packets ? a.traffic.packets > b.traffic.packets
                                                  : a.outer < b.outer;
  });
  Traffic other_vlans;
  for (size_t i = 0; i < vlans.size(); ++i) {
    if (i >= kTopMetricLabels) {
      other_vlans.merge(vlans[i].traffic);
      continue;
    }
    std::string id = std::to_string(vlans[i].outer);
    sink.sample(vlan_packets_, {{"vlan", id.c_str()}},
                static_cast<double>(vlans[i].traffic.packets));
    sink.sample(vlan_bytes_, {{"vlan", id.c_str()}}, static_cast<double>(vlans[i].traffic.bytes));
  }
  if (vlans.size() > kTopMetricLabels) {
    sink.sample(vlan_packets_, {{"vlan", "other"}}, static_cast<double>(other_vlans.packets));
    sink.sample(vlan_bytes_, {{"vlan", "other"}}, static_cast<double>(other_vlans.bytes));
  }

  // DSCP: every code point seen, and CS0 always so that rate() has a series from the start.
  for (size_t i = 0; i < 64; ++i) {
    if (i != 0 && !m.dscp[i].packets) continue;
    Labels l{{"dscp", dscp_name(static_cast<uint8_t>(i))}};
    sink.sample(dscp_packets_, l, static_cast<double>(m.dscp[i].packets));
    sink.sample(dscp_bytes_, l, static_cast<double>(m.dscp[i].bytes));
  }
  static constexpr const char* kPcp[8] = {"0", "1", "2", "3", "4", "5", "6", "7"};
  for (size_t i = 0; i < 8; ++i) {
    sink.sample(pcp_packets_, {{"pcp", kPcp[i]}}, static_cast<double>(m.pcp[i].packets));
  }

  std::vector<LabelRow> labels = label_rows(m);
  std::sort(labels.begin(), labels.end(), [](const LabelRow& a, const LabelRow& b) {
    return a.stats.traffic.packets != b.stats.traffic.packets
               ? a.stats.traffic.packets > b.stats.traffic.packets
               : a.label < b.label;
  });
  uint64_t other_labels = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i >= kTopMetricLabels) {
      other_labels += labels[i].stats.traffic.packets;
      continue;
    }
    std::string id = std::to_string(labels[i].label);
    sink.sample(mpls_packets_, {{"label", id.c_str()}},
                static_cast<double>(labels[i].stats.traffic.packets));
  }
  if (labels.size() > kTopMetricLabels) {
    sink.sample(mpls_packets_, {{"label", "other"}}, static_cast<double>(other_labels));
  }

  sink.sample(arp_requests_, {}, static_cast<double>(m.arp.requests));
  sink.sample(arp_replies_, {}, static_cast<double>(m.arp.replies));
  sink.sample(arp_gratuitous_, {}, static_cast<double>(m.arp.gratuitous()));
  sink.sample(arp_probes_, {}, static_cast<double>(m.arp.probes));
  sink.sample(arp_unanswered_, {}, static_cast<double>(m.arp.unanswered));
  sink.sample(arp_conflicts_, {}, static_cast<double>(m.arp.conflicts));
  sink.sample(arp_changes_, {}, static_cast<double>(m.arp.changes));
  sink.sample(arp_bindings_, {}, static_cast<double>(m.bindings.size()));

  for (size_t i = 0; i < kControlCount; ++i) {
    if (!m.control[i].traffic.packets) continue;
    sink.sample(control_packets_, {{"protocol", control_name(static_cast<Control>(i))}},
                static_cast<double>(m.control[i].traffic.packets));
  }

  for (auto& entry : m.ports) {
    const PortStats& s = entry.second;  // a plain reference: lambdas below capture it
    std::string name = port_name(entry.first);
    Labels l{{"port", name.c_str()}};
    std::array<uint64_t, kSizeBuckets> cumulative{};
    uint64_t running = 0;
    for (size_t i = 0; i < kSizeBuckets; ++i) cumulative[i] = running += s.sizes[i];
    sink.histogram(frame_size_, l, kSizeBounds, cumulative, static_cast<double>(s.size_sum));
    auto cast = [&](Cast c, int packets_id, int bytes_id) {
      size_t i = static_cast<size_t>(c);
      sink.sample(packets_id, l, static_cast<double>(s.cast_packets[i]));
      sink.sample(bytes_id, l, static_cast<double>(s.cast_bytes[i]));
    };
    cast(Cast::kBroadcast, broadcast_packets_, broadcast_bytes_);
    cast(Cast::kMulticast, multicast_packets_, multicast_bytes_);
    cast(Cast::kUnicast, unicast_packets_, unicast_bytes_);
  }

  for (size_t i = 0; i < kMalformedCount; ++i) {
    sink.sample(malformed_, {{"reason", malformed_name(static_cast<Malformed>(i))}},
                static_cast<double>(m.totals.malformed[i]));
  }
  for (size_t i = 0; i < kTableCount; ++i) {
    sink.sample(overflow_, {{"table", table_name(static_cast<Table>(i))}},
                static_cast<double>(m.totals.overflow[i]));
  }
}

void Plugin::write_json(std::span<Worker* const> workers, JsonWriter& out) {
  Merged m = merge(workers);
  const Totals& t = m.totals;
  out.begin_object()
      .field("frames", t.frames)
      .field("bytes", t.bytes)
      .field("untagged", t.untagged)
      .field("tagged", t.tagged)
      .field("qinq", t.qinq)
      .field("more_than_two_tags", t.extra_tags)
      .field("mpls_frames", t.mpls)
      .field("ip", t.ip)
      .field("non_ip", t.non_ip)
      .field("non_ethernet", m.all.non_ethernet);

  out.key("vlans").begin_array();
  for (const VlanRow& r : vlan_rows(m, false)) write_vlan(out, r);
  out.end_array();
  out.key("vlan_pairs").begin_array();
  for (const VlanRow& r : vlan_rows(m, true)) write_vlan(out, r);
  out.end_array();

  out.key("mpls").begin_object().key("labels").begin_array();
  std::array<uint64_t, kMplsDepths> depth{};
  for (const LabelRow& r : label_rows(m)) {
    write_label(out, r);
    for (size_t d = 0; d < kMplsDepths; ++d) depth[d] += r.stats.depth[d];
  }
  out.end_array().key("depth").begin_object();
  for (size_t d = 0; d < kMplsDepths; ++d) {
    if (depth[d]) out.field(d + 1 == kMplsDepths ? "8+" : std::to_string(d + 1), depth[d]);
  }
  out.end_object().end_object();

  out.key("qos").begin_object().key("dscp").begin_array();
  for (const CodeRow& r : code_rows(m.dscp)) write_dscp(out, r);
  out.end_array().key("pcp").begin_array();
  for (const CodeRow& r : code_rows(m.pcp)) write_pcp(out, r);
  out.end_array().end_object();

  const ArpCounters& a = m.arp;
  out.key("arp")
      .begin_object()
      .field("requests", a.requests)
      .field("replies", a.replies)
      .field("gratuitous", a.gratuitous())
      .field("announcements", a.announcements)
      .field("unsolicited_replies", a.unsolicited_replies)
      .field("probes", a.probes)
      .field("probe_replies", a.probe_replies)
      .field("other_ops", a.other_ops)
      .field("answered", a.answered)
      .field("unanswered", a.unanswered)
      .field("pending", m.arp_pending)
      .field("retries", a.retries)
      .field("conflict_events", a.conflicts)
      .field("change_events", a.changes);
  std::vector<BindingRow> bindings = binding_rows(m);
  std::sort(bindings.begin(), bindings.end(),
            [](const BindingRow& x, const BindingRow& y) { return x.ip < y.ip; });
  out.key("bindings").begin_array();
  for (const BindingRow& r : bindings) write_binding(out, r);
  out.end_array();
  std::sort(m.conflicts.begin(), m.conflicts.end(), [](const ConflictRow& x, const ConflictRow& y) {
    return std::tie(x.key.ip, x.key.mac_low, x.key.mac_high) <
           std::tie(y.key.ip, y.key.mac_low, y.key.mac_high);
  });
  out.key("conflicts").begin_array();
  for (const ConflictRow& r : m.conflicts) write_conflict(out, r);
  out.end_array().end_object();

  out.key("control").begin_object().key("protocols").begin_array();
  for (const ControlRow& r : control_rows(m)) write_control(out, r);
  out.end_array().key("stp").begin_array();
  for (const StpRow& r : m.stp) write_stp(out, r);
  out.end_array().field("stp_tcn", t.stp_tcn).key("lldp").begin_array();
  for (const LldpNeighbour& n : m.lldp) write_lldp(out, n);
  out.end_array().end_object();

  out.key("sizes").begin_object().key("all");
  write_sizes(out, m.all);
  out.key("ports").begin_array();
  for (auto& [port, s] : m.ports) {
    out.begin_object().field("port", static_cast<uint32_t>(port)).field("name", port_name(port));
    out.key("buckets");
    write_sizes(out, s);
    out.end_object();
  }
  out.end_array().end_object();

  out.key("cast").begin_object().key("all");
  write_cast(out, m.all);
  out.key("ports").begin_array();
  for (auto& [port, s] : m.ports) {
    out.begin_object().field("port", static_cast<uint32_t>(port)).field("name", port_name(port));
    out.key("cast");
    write_cast(out, s);
    out.end_object();
  }
  out.end_array();
  std::vector<GroupRow> groups = group_rows(m);
  size_t shown = std::min(groups.size(), kReportGroups);
  std::partial_sort(groups.begin(), groups.begin() + static_cast<std::ptrdiff_t>(shown),
                    groups.end(), [](const GroupRow& x, const GroupRow& y) {
                      return x.traffic.packets != y.traffic.packets
                                 ? x.traffic.packets > y.traffic.packets
                                 : x.mac < y.mac;
                    });
  out.key("multicast_groups").begin_array();
  for (size_t i = 0; i < shown; ++i) write_group(out, groups[i]);
  out.end_array().field("multicast_groups_total", static_cast<uint64_t>(groups.size()));
  out.end_object();

  out.key("malformed").begin_object();
  for (size_t i = 0; i < kMalformedCount; ++i) {
    out.field(malformed_name(static_cast<Malformed>(i)), t.malformed[i]);
  }
  out.end_object().key("overflow").begin_object();
  for (size_t i = 0; i < kTableCount; ++i) {
    out.field(table_name(static_cast<Table>(i)), t.overflow[i]);
  }
  out.end_object().field("ports_beyond", t.ports_beyond).end_object();
}

void Plugin::on_tick(std::span<Worker* const> workers, uint64_t now_ns) {
  // Not merge(): it copies every binding into a map each second. Only what the graphs and the
  // windows need; labels and bindings go to their RateFeeds by number, without a string each.
  std::vector<Traffic> vlans(kVlanIds);
  std::array<Traffic, 64> dscp{};
  std::array<Traffic, 8> pcp{};
  ArpCounters arp;
  PortStats all;
  std::map<uint16_t, PortStats> ports;
  for (Worker* w : workers) {
    if (!w) continue;
    w->read([&](const Tables& t) {
      all.merge(t.all);
      for (uint16_t p = 0; p < kMaxPorts; ++p) {
        if (t.port_seen[p]) ports[p].merge(t.ports[p]);
      }
      for (size_t v = 0; v < kVlanIds; ++v) vlans[v].merge(t.vlans[v]);
      for (size_t i = 0; i < dscp.size(); ++i) dscp[i].merge(t.dscp[i]);
      for (size_t i = 0; i < pcp.size(); ++i) pcp[i].merge(t.pcp[i]);
      arp.merge(t.arp);
      t.labels.for_each(
          [&](uint64_t label, const LabelStats& l) { mpls_feed_.add(label, l.traffic.bytes); });
      t.bindings.for_each([&](uint64_t ip, const Binding& b) { arp_feed_.add(ip, b.packets); });
    });
  }

  // VLANs (4096), DSCP (64) and PCP (8) values are few enough to hand over whole.
  std::vector<std::pair<std::string, uint64_t>> totals;
  for (size_t id = 0; id < vlans.size(); ++id) {
    if (vlans[id].packets) totals.emplace_back("vlan." + std::to_string(id), vlans[id].bytes);
  }
  vlan_series_.update(host_, now_ns, totals);
  totals.clear();
  for (size_t i = 0; i < dscp.size(); ++i) {
    if (dscp[i].packets) totals.emplace_back(dscp_key(i), dscp[i].bytes);
  }
  dscp_series_.update(host_, now_ns, totals);
  totals.clear();
  for (size_t i = 0; i < pcp.size(); ++i) {
    if (pcp[i].packets) totals.emplace_back(pcp_key(i), pcp[i].bytes);
  }
  pcp_series_.update(host_, now_ns, totals);

  mpls_feed_.finish(host_, now_ns, mpls_series_, mpls_key, parse_mpls_key);
  arp_feed_.finish(
      host_, now_ns, arp_series_, [](uint64_t ip) { return arp_key(static_cast<uint32_t>(ip)); },
      parse_arp_key);

  arp_window_.record(now_ns, arp);
  all_window_.record(now_ns, all);
  for (auto& [port, s] : ports) {
    auto [it, fresh] = port_windows_.try_emplace(port);
    if (fresh) it->second.record(last_tick_ns_, PortStats{});  // the port was quiet until then
    it->second.record(now_ns, s);
  }
  last_tick_ns_ = now_ns;
}

int Plugin::query(std::span<Worker* const> workers, std::string_view path, const Query& q,
                  JsonWriter& out) {
  static constexpr std::string_view kVlanDetail = "vlans/", kBindingDetail = "arp/bindings/",
                                    kLabelDetail = "mpls/", kPcpDetail = "qos/pcp/",
                                    kDscpDetail = "qos/";
  auto starts = [&](std::string_view prefix) { return path.substr(0, prefix.size()) == prefix; };
  // The summary views answer for a time window when given `from` or `to`.
  auto windowed = [&] { return q.get("from") || q.get("to"); };

  if (path == "vlans") {
    q.allow_only({"sort", "order", "page", "size", "filter", "from", "to", "qinq"});
    std::string qinq = q.get_or("qinq", "0");
    if (qinq != "0" && qinq != "1") throw QueryError("qinq: must be 0 or 1");
    using R = VlanRow;
    auto cols = traffic_columns<R>([](const R& r) -> const Traffic& { return r.traffic; });
    cols["vlan"] = [](const R& a, const R& b) {
      return std::tie(a.outer, a.inner) < std::tie(b.outer, b.inner);
    };
    ListPage<R> page(q, cols, "packets", cols["vlan"]);
    TimeWindow win(q);
    std::string needle = lower(q.get_or("filter", ""));
    std::vector<R> rows = vlan_rows(merge(workers), qinq == "1");
    std::erase_if(rows, [&](const R& r) {
      std::string id =
          std::to_string(r.outer) + (r.inner >= 0 ? "/" + std::to_string(r.inner) : "");
      return !win.overlaps(r.traffic.first_ns, r.traffic.last_ns) || !contains(id, needle);
    });
    page.write(rows, out, write_vlan);
    return 200;
  }
  if (path.substr(0, kVlanDetail.size()) == kVlanDetail) {
    q.allow_only({});
    uint64_t id = 0;
    if (!parse_uint(path.substr(kVlanDetail.size()), kVlanIds - 1, id)) {
      throw QueryError("vlan: expected an id from 0 to 4095");
    }
    Merged m = merge(workers);
    if (!m.vlans[id].packets) {
      out.begin_object().field("error", "no traffic on VLAN " + std::to_string(id)).end_object();
      return 404;
    }
    std::string key = "vlan." + std::to_string(id);
    vlan_series_.watch(key);  // looking at a VLAN graphs it
    out.begin_object().field("vlan", id).field("series", "l2." + key + ".bps");
    write_traffic(out, m.vlans[id]);
    out.key("inner").begin_array();
    for (const VlanRow& r : vlan_rows(m, true)) {
      if (r.outer == id) write_vlan(out, r);
    }
    out.end_array().end_object();
    return 200;
  }
  if (path == "mpls") {
    q.allow_only({"sort", "order", "page", "size", "filter", "from", "to"});
    using R = LabelRow;
    auto cols = traffic_columns<R>([](const R& r) -> const Traffic& { return r.stats.traffic; });
    cols["label"] = by<R>([](const R& r) { return r.label; });
    ListPage<R> page(q, cols, "packets", cols["label"]);
    TimeWindow win(q);
    std::string needle = lower(q.get_or("filter", ""));
    std::vector<R> rows = label_rows(merge(workers));
    std::erase_if(rows, [&](const R& r) {
      return !win.overlaps(r.stats.traffic.first_ns, r.stats.traffic.last_ns) ||
             !contains(std::to_string(r.label), needle);
    });
    page.write(rows, out, write_label);
    return 200;
  }
  if (starts(kLabelDetail)) {
    q.allow_only({});
    uint64_t label = 0;
    if (!parse_uint(path.substr(kLabelDetail.size()), (1u << 20) - 1, label)) {
      throw QueryError("label: expected an MPLS label from 0 to 1048575");
    }
    Merged m = merge(workers);
    auto it = m.labels.find(label);
    if (it == m.labels.end()) {
      out.begin_object().field("error", "no traffic with MPLS label " + std::to_string(label));
      out.end_object();
      return 404;
    }
    std::string key = mpls_key(label);
    mpls_series_.watch(key);  // looking at a label graphs it
    out.begin_object().field("label", label).field("series", series_name(key, ".bps"));
    write_traffic(out, it->second.traffic);
    write_label_depth(out, {static_cast<uint32_t>(label), it->second});
    out.end_object();
    return 200;
  }
  if (path == "qos" || path == "qos/pcp") {
    bool pcp = path == "qos/pcp";
    q.allow_only({"sort", "order", "page", "size", "filter", "from", "to"});
    using R = CodeRow;
    auto cols = traffic_columns<R>([](const R& r) -> const Traffic& { return r.traffic; });
    cols[pcp ? "pcp" : "dscp"] = by<R>([](const R& r) { return r.value; });
    ListPage<R> page(q, cols, "packets", by<R>([](const R& r) { return r.value; }));
    TimeWindow win(q);
    std::string needle = lower(q.get_or("filter", ""));
    Merged m = merge(workers);
    std::vector<R> rows = pcp ? code_rows(m.pcp) : code_rows(m.dscp);
    std::erase_if(rows, [&](const R& r) {
      std::string text =
          std::to_string(r.value) + (pcp ? "" : std::string(" ") + dscp_name(r.value));
      return !win.overlaps(r.traffic.first_ns, r.traffic.last_ns) || !contains(text, needle);
    });
    page.write(rows, out, pcp ? write_pcp : write_dscp);
    return 200;
  }
  if (starts(kPcpDetail)) {
    q.allow_only({});
    uint64_t pcp = 0;
    if (!parse_uint(path.substr(kPcpDetail.size()), 7, pcp)) {
      throw QueryError("pcp: expected a priority from 0 to 7");
    }
    Merged m = merge(workers);
    if (!m.pcp[pcp].packets) {
      out.begin_object().field("error", "no tagged frames with priority " + std::to_string(pcp));
      out.end_object();
      return 404;
    }
    std::string key = pcp_key(pcp);
    pcp_series_.watch(key);
    out.begin_object().field("pcp", pcp).field("series", series_name(key, ".bps"));
    write_traffic(out, m.pcp[pcp]);
    out.end_object();
    return 200;
  }
  if (starts(kDscpDetail)) {
    q.allow_only({});
    // A number, or a name as the lists write it (EF, AF41, cs6).
    std::string_view id = path.substr(kDscpDetail.size());
    uint64_t dscp = 0;
    bool known = parse_uint(id, 63, dscp);
    for (uint8_t i = 0; i < 64 && !known && !id.empty(); ++i) {
      if (lower(dscp_name(i)) == lower(id)) {
        dscp = i;
        known = true;
      }
    }
    if (!known) throw QueryError("dscp: expected a code point from 0 to 63 or its name");
    Merged m = merge(workers);
    if (!m.dscp[dscp].packets) {
      out.begin_object()
          .field("error",
                 std::string("no IP packets with DSCP ") + dscp_name(static_cast<uint8_t>(dscp)))
          .end_object();
      return 404;
    }
    std::string key = dscp_key(dscp);
    dscp_series_.watch(key);
    out.begin_object()
        .field("dscp", dscp)
        .field("name", dscp_name(static_cast<uint8_t>(dscp)))
        .field("series", series_name(key, ".bps"));
    write_traffic(out, m.dscp[dscp]);
    out.end_object();
    return 200;
  }
  if (path == "arp") {
    q.allow_only({"from", "to"});
    Merged m = merge(workers);
    ArpCounters a = m.arp;
    out.begin_object();
    if (windowed()) {
      uint64_t now = host_.now_ns();
      TimeWindow window(q);
      auto w = arp_window_.window(window.from_ns, window.to_ns, m.arp, now);
      a = w.counts;
      out.field("from", seconds(w.from_ns)).field("to", seconds(w.to_ns));
    }
    // pending and bindings are states, not events: the current ones, window or not.
    out.field("requests", a.requests)
        .field("replies", a.replies)
        .field("gratuitous", a.gratuitous())
        .field("announcements", a.announcements)
        .field("unsolicited_replies", a.unsolicited_replies)
        .field("probes", a.probes)
        .field("probe_replies", a.probe_replies)
        .field("other_ops", a.other_ops)
        .field("answered", a.answered)
        .field("unanswered", a.unanswered)
        .field("pending", m.arp_pending)
        .field("retries", a.retries)
        .field("conflict_events", a.conflicts)
        .field("change_events", a.changes)
        .field("bindings", static_cast<uint64_t>(m.bindings.size()))
        .end_object();
    return 200;
  }
  if (path == "arp/bindings") {
    q.allow_only({"sort", "order", "page", "size", "filter", "from", "to"});
    using R = BindingRow;
    ListPage<R> page(q,
                     {{"ip", by<R>([](const R& r) { return r.ip; })},
                      {"mac", by<R>([](const R& r) { return r.binding.mac; })},
                      {"packets", by<R>([](const R& r) { return r.binding.packets; })},
                      {"changes", by<R>([](const R& r) { return r.binding.changes; })},
                      {"first_seen", by<R>([](const R& r) { return r.binding.first_ns; })},
                      {"last_seen", by<R>([](const R& r) { return r.binding.last_ns; })}},
                     "last_seen", by<R>([](const R& r) { return r.ip; }));
    TimeWindow win(q);
    std::string needle = lower(q.get_or("filter", ""));
    std::vector<R> rows = binding_rows(merge(workers));
    std::erase_if(rows, [&](const R& r) {
      if (!win.overlaps(r.binding.first_ns, r.binding.last_ns)) return true;
      return !contains(ip_text(r.ip), needle) && !contains(mac_text(r.binding.mac), needle);
    });
    page.write(rows, out, write_binding);
    return 200;
  }
  if (path.substr(0, kBindingDetail.size()) == kBindingDetail) {
    q.allow_only({});
    std::string text(path.substr(kBindingDetail.size()));
    uint8_t b[4];
    if (inet_pton(AF_INET, text.c_str(), b) != 1) throw QueryError("ip: expected an IPv4 address");
    uint32_t ip = static_cast<uint32_t>(b[0]) << 24 | static_cast<uint32_t>(b[1]) << 16 |
                  static_cast<uint32_t>(b[2]) << 8 | b[3];
    Merged m = merge(workers);
    auto it = m.bindings.find(ip);
    if (it == m.bindings.end()) {
      out.begin_object().field("error", "no ARP binding for " + text).end_object();
      return 404;
    }
    std::string key = arp_key(ip);
    arp_series_.watch(key);  // looking at a binding graphs its ARP messages
    out.begin_object().field("series", series_name(key, ".arp_per_s")).key("binding");
    write_binding(out, {ip, it->second});
    out.key("conflicts").begin_array();
    for (const ConflictRow& r : m.conflicts) {
      if (r.key.ip == ip) write_conflict(out, r);
    }
    out.end_array().end_object();
    return 200;
  }
  if (path == "arp/conflicts") {
    q.allow_only({"sort", "order", "page", "size", "filter", "from", "to", "kind"});
    std::string kind = q.get_or("kind", "");
    if (!kind.empty() && kind != "conflict" && kind != "changed") {
      throw QueryError("kind: must be conflict or changed");
    }
    using R = ConflictRow;
    ListPage<R> page(
        q,
        {{"ip", by<R>([](const R& r) { return r.key.ip; })},
         {"count", by<R>([](const R& r) { return r.conflict.conflicts + r.conflict.changes; })},
         {"first_seen", by<R>([](const R& r) { return r.conflict.first_ns; })},
         {"last_seen", by<R>([](const R& r) { return r.conflict.last_ns; })}},
        "last_seen", [](const R& a, const R& b) {
          return std::tie(a.key.ip, a.key.mac_low, a.key.mac_high) <
                 std::tie(b.key.ip, b.key.mac_low, b.key.mac_high);
        });
    TimeWindow win(q);
    std::string needle = lower(q.get_or("filter", ""));
    std::vector<R> rows = merge(workers).conflicts;
    std::erase_if(rows, [&](const R& r) {
      if (!win.overlaps(r.conflict.first_ns, r.conflict.last_ns)) return true;
      if (!kind.empty() && kind != conflict_kind(r.conflict)) return true;
      return !contains(ip_text(r.key.ip), needle) && !contains(mac_text(r.key.mac_low), needle) &&
             !contains(mac_text(r.key.mac_high), needle);
    });
    page.write(rows, out, write_conflict);
    return 200;
  }
  if (path == "control") {
    q.allow_only({"sort", "order", "page", "size", "filter", "from", "to"});
    using R = ControlRow;
    auto cols = traffic_columns<R>([](const R& r) -> const Traffic& { return r.stats.traffic; });
    cols["protocol"] = [](const R& a, const R& b) {
      return std::string_view(control_name(a.protocol)) < control_name(b.protocol);
    };
    ListPage<R> page(q, cols, "packets", cols["protocol"]);
    TimeWindow win(q);
    std::string needle = lower(q.get_or("filter", ""));
    std::vector<R> rows = control_rows(merge(workers));
    std::erase_if(rows, [&](const R& r) {
      return !win.overlaps(r.stats.traffic.first_ns, r.stats.traffic.last_ns) ||
             !contains(control_name(r.protocol), needle);
    });
    page.write(rows, out, write_control);
    return 200;
  }
  if (path == "control/stp") {
    q.allow_only({"sort", "order", "page", "size", "filter", "from", "to"});
    using R = StpRow;
    ListPage<R> page(
        q,
        {{"bridge_id", by<R>([](const R& r) { return r.key.bridge_id; })},
         {"root_id", by<R>([](const R& r) { return r.bridge.root_id; })},
         {"bpdus", by<R>([](const R& r) { return r.bridge.bpdus; })},
         {"topology_changes", by<R>([](const R& r) { return r.bridge.topology_changes; })},
         {"last_seen", by<R>([](const R& r) { return r.bridge.last_ns; })}},
        "last_seen", [](const R& a, const R& b) {
          return std::tie(a.key.bridge_id, a.key.port_id, a.key.vlan, a.key.rx_port) <
                 std::tie(b.key.bridge_id, b.key.port_id, b.key.vlan, b.key.rx_port);
        });
    TimeWindow win(q);
    std::string needle = lower(q.get_or("filter", ""));
    std::vector<R> rows = merge(workers).stp;
    std::erase_if(rows, [&](const R& r) {
      if (!win.overlaps(r.bridge.first_ns, r.bridge.last_ns)) return true;
      return !contains(bridge_text(r.key.bridge_id), needle) &&
             !contains(bridge_text(r.bridge.root_id), needle) &&
             !contains(mac_text(r.bridge.src_mac), needle);
    });
    page.write(rows, out, write_stp);
    return 200;
  }
  if (path == "control/lldp") {
    q.allow_only({"sort", "order", "page", "size", "filter", "from", "to"});
    using R = LldpNeighbour;
    auto text = [](const char* s) { return std::string_view(s); };
    ListPage<R> page(
        q,
        {{"chassis_id", by<R>([text](const R& r) { return text(r.info.chassis_id); })},
         {"system_name", by<R>([text](const R& r) { return text(r.info.system_name); })},
         {"frames", by<R>([](const R& r) { return r.frames; })},
         {"ttl", by<R>([](const R& r) { return r.info.ttl; })},
         {"last_seen", by<R>([](const R& r) { return r.last_ns; })}},
        "last_seen", [text](const R& a, const R& b) {
          return std::tuple(text(a.info.chassis_id), text(a.info.port_id), a.rx_port) <
                 std::tuple(text(b.info.chassis_id), text(b.info.port_id), b.rx_port);
        });
    TimeWindow win(q);
    std::string needle = lower(q.get_or("filter", ""));
    std::vector<R> rows = merge(workers).lldp;
    std::erase_if(rows, [&](const R& r) {
      if (!win.overlaps(r.first_ns, r.last_ns)) return true;
      return !contains(r.info.chassis_id, needle) && !contains(r.info.port_id, needle) &&
             !contains(r.info.system_name, needle) && !contains(mac_text(r.src_mac), needle);
    });
    page.write(rows, out, write_lldp);
    return 200;
  }
  if (path == "sizes" || path == "cast") {
    q.allow_only({"port", "from", "to"});
    bool sizes = path == "sizes";
    Merged m = merge(workers);
    std::optional<uint64_t> only;
    if (q.get("port")) only = q.get_uint("port", 0, 0, 65535);
    out.begin_object();
    if (windowed()) {
      // Every port's window is bracketed by the same ticks as the total's: one from/to.
      uint64_t now = host_.now_ns();
      TimeWindow window(q);
      auto w = all_window_.window(window.from_ns, window.to_ns, m.all, now);
      m.all = w.counts;
      for (auto& [port, s] : m.ports) {
        auto it = port_windows_.find(port);
        if (it != port_windows_.end()) {
          s = it->second.window(window.from_ns, window.to_ns, s, now).counts;
        } else if (window.to_ns <= last_tick_ns_) {
          s = PortStats{};  // first seen after the last tick: nothing up to it
        }
      }
      out.field("from", seconds(w.from_ns)).field("to", seconds(w.to_ns));
    }
    auto write = [&](const PortStats& s) { sizes ? write_sizes(out, s) : write_cast(out, s); };
    if (sizes) {
      out.key("bounds").begin_array();
      for (std::string_view n : kSizeBucketNames) out.value(n);
      out.end_array();
    }
    if (!only) {
      out.key("all");
      write(m.all);
    }
    out.key("ports").begin_array();
    for (auto& [port, s] : m.ports) {
      if (only && *only != port) continue;
      out.begin_object().field("port", static_cast<uint32_t>(port)).field("name", port_name(port));
      out.key(sizes ? "buckets" : "cast");
      write(s);
      out.end_object();
    }
    out.end_array().end_object();
    return 200;
  }
  if (path == "cast/groups") {
    q.allow_only({"sort", "order", "page", "size", "filter", "from", "to"});
    using R = GroupRow;
    auto cols = traffic_columns<R>([](const R& r) -> const Traffic& { return r.traffic; });
    cols["mac"] = by<R>([](const R& r) { return r.mac; });
    ListPage<R> page(q, cols, "packets", cols["mac"]);
    TimeWindow win(q);
    std::string needle = lower(q.get_or("filter", ""));
    std::vector<R> rows = group_rows(merge(workers));
    std::erase_if(rows, [&](const R& r) {
      return !win.overlaps(r.traffic.first_ns, r.traffic.last_ns) ||
             !contains(mac_text(r.mac), needle);
    });
    page.write(rows, out, write_group);
    return 200;
  }
  return 404;
}

}  // namespace wiremeter::l2

WIREMETER_ANALYZER_PLUGIN(wiremeter::l2::Plugin)

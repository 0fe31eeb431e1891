// l2: the data path (Worker). The control plane is in l2_views.cpp.
#include "l2_plugin.hpp"

#include <algorithm>
#include <cstring>

namespace wiremeter::l2 {

const char* cast_name(Cast c) {
  switch (c) {
    case Cast::kUnicast:
      return "unicast";
    case Cast::kMulticast:
      return "multicast";
    case Cast::kBroadcast:
      return "broadcast";
    default:
      return "unknown";
  }
}

const char* malformed_name(Malformed m) {
  static constexpr std::array<const char*, kMalformedCount> kNames = {
      "arp_truncated",     "arp_not_ethernet_ipv4", "bpdu_truncated",  "bpdu_bad_protocol",
      "bpdu_unknown_type", "lldp_truncated",        "lldp_missing_tlv"};
  return kNames[static_cast<size_t>(m)];
}

const char* table_name(Table t) {
  static constexpr std::array<const char*, kTableCount> kNames = {
      "vlan_pairs",  "mpls_labels",   "multicast_groups", "arp_bindings",
      "arp_pending", "arp_conflicts", "stp_bridges",      "lldp_neighbours"};
  return kNames[static_cast<size_t>(t)];
}

void PortStats::merge(const PortStats& o) noexcept {
  for (size_t i = 0; i < kSizeBuckets; ++i) sizes[i] += o.sizes[i];
  size_sum += o.size_sum;
  for (size_t i = 0; i < kCastCount; ++i) {
    cast_packets[i] += o.cast_packets[i];
    cast_bytes[i] += o.cast_bytes[i];
  }
  non_ethernet += o.non_ethernet;
}

void ArpCounters::merge(const ArpCounters& o) noexcept {
  requests += o.requests;
  replies += o.replies;
  other_ops += o.other_ops;
  announcements += o.announcements;
  unsolicited_replies += o.unsolicited_replies;
  probes += o.probes;
  probe_replies += o.probe_replies;
  answered += o.answered;
  unanswered += o.unanswered;
  retries += o.retries;
  conflicts += o.conflicts;
  changes += o.changes;
}

void Totals::merge(const Totals& o) noexcept {
  frames += o.frames;
  bytes += o.bytes;
  untagged += o.untagged;
  tagged += o.tagged;
  qinq += o.qinq;
  extra_tags += o.extra_tags;
  mpls += o.mpls;
  ip += o.ip;
  non_ip += o.non_ip;
  stp_tcn += o.stp_tcn;
  ports_beyond += o.ports_beyond;
  for (size_t i = 0; i < kMalformedCount; ++i) malformed[i] += o.malformed[i];
  for (size_t i = 0; i < kTableCount; ++i) overflow[i] += o.overflow[i];
}

Tables::Tables(const Config& c)
    : vlans(kVlanIds),
      vlan_pairs(c.vlan_pairs),
      labels(c.mpls_labels),
      groups(c.multicast_groups),
      bindings(c.arp_bindings),
      pending(c.arp_pending),
      conflicts(c.arp_conflicts),
      stp(c.stp_bridges),
      lldp(c.lldp_neighbours) {}

void Tables::publish_from(Tables& live) {
  totals = live.totals;
  all = live.all;
  ports = live.ports;
  port_seen = live.port_seen;
  vlans = live.vlans;  // same size: copies into the existing storage
  vlan_pairs.publish_from(live.vlan_pairs);
  dscp = live.dscp;
  pcp = live.pcp;
  labels.publish_from(live.labels);
  groups.publish_from(live.groups);
  arp = live.arp;
  bindings.publish_from(live.bindings);
  pending.publish_from(live.pending);
  conflicts.publish_from(live.conflicts);
  control = live.control;
  stp.publish_from(live.stp);
  lldp.publish_from(live.lldp);
}

Worker::Worker(const Config& config) : config_(config), live_(config), published_(config) {}

namespace {

uint64_t fnv1a(uint64_t h, const char* s) {
  for (; *s; ++s) h = (h ^ static_cast<uint8_t>(*s)) * 0x100000001b3ull;
  return (h ^ 0xff) * 0x100000001b3ull;  // a separator, so "ab"+"c" differs from "a"+"bc"
}

}  // namespace

void Worker::count_frame(const wm_packet& p, const EthHeader& eth, bool ethernet) noexcept {
  Tables& t = live_;
  ++t.totals.frames;
  t.totals.bytes += p.wire_len;
  PortStats* port = nullptr;
  if (p.port < kMaxPorts) {
    port = &t.ports[p.port];
    t.port_seen[p.port] = true;
  } else {
    ++t.totals.ports_beyond;
  }
  // RMON sizes count the FCS, which captures and DPDK (which strips it) leave out.
  uint32_t sized = p.wire_len + (ethernet ? 4 : 0);
  size_t bucket = size_bucket(sized);
  ++t.all.sizes[bucket];
  t.all.size_sum += sized;
  if (port) {
    ++port->sizes[bucket];
    port->size_sum += sized;
  }
  if (!ethernet) {
    ++t.all.non_ethernet;
    if (port) ++port->non_ethernet;
    return;
  }
  Cast cast = eth.dst == kBroadcastMac ? Cast::kBroadcast
              : is_group(eth.dst)      ? Cast::kMulticast
                                       : Cast::kUnicast;
  size_t c = static_cast<size_t>(cast);
  ++t.all.cast_packets[c];
  t.all.cast_bytes[c] += p.wire_len;
  if (port) {
    ++port->cast_packets[c];
    port->cast_bytes[c] += p.wire_len;
  }
  if (cast == Cast::kMulticast) {
    bool fresh;
    if (GroupStats* g = t.groups.upsert(eth.dst, fresh)) {
      g->traffic.add(p.wire_len, p.ts_ns);
    } else {
      overflow(Table::kMulticastGroups);
    }
  }
  if (eth.tag_count == 0) {
    ++t.totals.untagged;
  } else {
    ++t.totals.tagged;
    uint16_t outer = eth.tci[0] & 0x0fff;
    t.vlans[outer].add(p.wire_len, p.ts_ns);
    t.pcp[eth.tci[0] >> 13].add(p.wire_len, p.ts_ns);
    if (eth.tag_count >= 2) {
      ++t.totals.qinq;
      if (eth.tag_count > 2) ++t.totals.extra_tags;
      uint64_t key = static_cast<uint64_t>(outer) << 12 | (eth.tci[1] & 0x0fff);
      bool fresh;
      if (Traffic* pair = t.vlan_pairs.upsert(key, fresh)) {
        pair->add(p.wire_len, p.ts_ns);
      } else {
        overflow(Table::kVlanPairs);
      }
    }
  }
}

void Worker::on_batch(std::span<const wm_packet> packets) noexcept {
  Tables& t = live_;
  for (const wm_packet& p : packets) {
    EthHeader eth = parse_ethernet(p.data, p.cap_len);
    bool ethernet = is_ethernet(p, eth);
    count_frame(p, eth, ethernet);
    if (p.mpls_count) {
      ++t.totals.mpls;
      bool fresh;
      if (LabelStats* l = t.labels.upsert(p.mpls_label, fresh)) {
        l->traffic.add(p.wire_len, p.ts_ns);
        ++l->depth[std::min<size_t>(p.mpls_count, kMplsDepths) - 1];
      } else {
        overflow(Table::kMplsLabels);
      }
    }
    if (p.ip_version == 4 || p.ip_version == 6) {
      ++t.totals.ip;
      t.dscp[p.dscp & 63].add(p.wire_len, p.ts_ns);
    } else {
      ++t.totals.non_ip;
    }
    if (p.flags & WM_PKT_ARP) handle_arp(p, p.vlan_count ? p.vlan[0] : 0);
    if (ethernet && p.ip_version == 0) handle_control(p, eth);
  }
}

// ---- ARP --------------------------------------------------------------------------------------

void Worker::handle_arp(const wm_packet& p, uint16_t vlan) noexcept {
  ArpMessage m;
  size_t avail = p.l3_off < p.cap_len ? p.cap_len - p.l3_off : 0;
  ArpError err = parse_arp(avail ? p.data + p.l3_off : nullptr, avail, m);
  if (err == ArpError::kTruncated) return malformed(Malformed::kArpTruncated);
  if (err == ArpError::kNotEthernetIpv4) return malformed(Malformed::kArpNotEthernetIpv4);
  ArpCounters& a = live_.arp;
  uint64_t ts = p.ts_ns;
  if (m.op == 1) {
    ++a.requests;
    if (m.sender_ip == 0) {
      ++a.probes;  // the prober owns no address yet: nothing to learn, no answer expected
      return;
    }
    learn(m.sender_ip, m.sender_mac, ts, p.port, vlan);
    if (m.sender_ip == m.target_ip) {
      ++a.announcements;
      return;
    }
    bool fresh;
    uint64_t key = static_cast<uint64_t>(m.sender_ip) << 32 | m.target_ip;
    if (Pending* q = live_.pending.upsert(key, fresh)) {
      if (fresh) {
        q->ts_ns = ts;
      } else {
        ++q->retries;  // the same question again: still one request waiting for its answer
        ++a.retries;
      }
    } else {
      overflow(Table::kArpPending);
    }
  } else if (m.op == 2) {
    ++a.replies;
    if (m.target_ip == 0) {
      ++a.probe_replies;
    } else if (m.sender_ip == m.target_ip) {
      ++a.announcements;
    } else if (live_.pending.erase(static_cast<uint64_t>(m.target_ip) << 32 | m.sender_ip)) {
      ++a.answered;
    } else {
      ++a.unsolicited_replies;
    }
    if (m.sender_ip != 0) learn(m.sender_ip, m.sender_mac, ts, p.port, vlan);
  } else {
    ++a.other_ops;  // RARP, InARP: no IPv4 binding stated the usual way
  }
}

void Worker::learn(uint32_t ip, uint64_t mac, uint64_t ts, uint16_t port, uint16_t vlan) noexcept {
  if (mac == 0 || is_group(mac)) return;  // not a station
  bool fresh;
  Binding* b = live_.bindings.upsert(ip, fresh);
  if (!b) return overflow(Table::kArpBindings);
  if (fresh) {
    b->mac = mac;
    b->first_ns = b->mac_since_ns = ts;
  } else if (b->mac != mac) {
    uint64_t quiet = ts > b->last_ns ? ts - b->last_ns : 0;
    bool in_window = quiet <= static_cast<uint64_t>(config_.arp_conflict_window_ms) * 1'000'000;
    record_conflict(ip, b->mac, mac, in_window, ts);
    b->previous_mac = b->mac;
    b->mac = mac;
    b->mac_since_ns = ts;
    ++b->changes;
  }
  b->last_ns = std::max(b->last_ns, ts);
  ++b->packets;
  b->port = port;
  b->vlan = vlan;
}

void Worker::record_conflict(uint32_t ip, uint64_t old_mac, uint64_t new_mac, bool in_window,
                             uint64_t ts) noexcept {
  ArpCounters& a = live_.arp;
  if (in_window) {
    ++a.conflicts;
  } else {
    ++a.changes;
  }
  ConflictKey key{ip, std::min(old_mac, new_mac), std::max(old_mac, new_mac)};
  bool fresh;
  Conflict* c = live_.conflicts.upsert(key, fresh);
  if (!c) return overflow(Table::kArpConflicts);
  if (fresh) c->first_ns = ts;
  c->last_ns = std::max(c->last_ns, ts);
  c->last_mac = new_mac;
  if (in_window) {
    ++c->conflicts;
  } else {
    ++c->changes;
  }
}

// ---- Control protocols ------------------------------------------------------------------------

void Worker::handle_control(const wm_packet& p, const EthHeader& eth) noexcept {
  uint32_t body = 0, end = 0;
  Control c = classify_control(p.data, p.cap_len, eth, body, end);
  if (c == Control::kNone) return;
  ControlStats& s = live_.control[static_cast<size_t>(c)];
  s.traffic.add(p.wire_len, p.ts_ns);
  s.last_src = eth.src;
  if (c == Control::kStp || c == Control::kPvst) {
    handle_bpdu(p, eth, body, end, c == Control::kPvst);
  }
  if (c == Control::kLldp) handle_lldp(p, eth, body, end);
}

void Worker::handle_bpdu(const wm_packet& p, const EthHeader& eth, uint32_t off, uint32_t end,
                         bool pvst) noexcept {
  Bpdu b;
  size_t avail = off < end ? end - off : 0;
  switch (parse_bpdu(avail ? p.data + off : nullptr, avail, b)) {
    case BpduError::kNone:
      break;
    case BpduError::kTruncated:
      return malformed(Malformed::kBpduTruncated);
    case BpduError::kBadProtocol:
      return malformed(Malformed::kBpduBadProtocol);
    case BpduError::kUnknownType:
      return malformed(Malformed::kBpduUnknownType);
  }
  if (b.tcn()) {
    ++live_.totals.stp_tcn;
    return;
  }
  StpKey key{b.bridge_id, b.port_id, static_cast<uint16_t>(eth.tag_count ? eth.tci[0] & 0x0fff : 0),
             p.port};
  bool fresh;
  StpBridge* s = live_.stp.upsert(key, fresh);
  if (!s) return overflow(Table::kStpBridges);
  if (fresh) s->first_ns = p.ts_ns;
  s->last_ns = std::max(s->last_ns, p.ts_ns);
  s->root_id = b.root_id;
  s->root_cost = b.root_cost;
  s->version = b.version;
  s->type = b.type;
  s->flags = b.flags;
  s->pvst = pvst;
  s->src_mac = eth.src;
  ++s->bpdus;
  if (b.topology_change()) ++s->topology_changes;
}

void Worker::handle_lldp(const wm_packet& p, const EthHeader& eth, uint32_t off,
                         uint32_t end) noexcept {
  LldpInfo& info = lldp_scratch_;
  size_t avail = off < end ? end - off : 0;
  switch (parse_lldp(avail ? p.data + off : nullptr, avail, info)) {
    case LldpError::kNone:
      break;
    case LldpError::kTruncated:
      return malformed(Malformed::kLldpTruncated);
    case LldpError::kMissingTlv:
      return malformed(Malformed::kLldpMissingTlv);
  }
  uint64_t key = fnv1a(fnv1a(0xcbf29ce484222325ull ^ p.port, info.chassis_id), info.port_id);
  bool fresh;
  LldpNeighbour* n = live_.lldp.upsert(key, fresh);
  if (!n) return overflow(Table::kLldpNeighbours);
  if (fresh) n->first_ns = p.ts_ns;
  n->last_ns = std::max(n->last_ns, p.ts_ns);
  n->info = info;  // the latest advertisement wins (a TTL of 0 says the neighbour is leaving)
  n->src_mac = eth.src;
  n->rx_port = p.port;
  n->vlan = static_cast<uint16_t>(eth.tag_count ? eth.tci[0] & 0x0fff : 0);
  ++n->frames;
}

// ---- Tick -------------------------------------------------------------------------------------

void Worker::worker_tick(uint64_t now_ns) noexcept {
  uint64_t timeout = static_cast<uint64_t>(config_.arp_reply_timeout_ms) * 1'000'000;
  uint64_t expired = 0;
  live_.pending.erase_if([&](uint64_t, const Pending& q) {
    bool old = now_ns > q.ts_ns && now_ns - q.ts_ns >= timeout;
    expired += old;
    return old;
  });
  live_.arp.unanswered += expired;
  std::lock_guard lock(mutex_);
  published_.publish_from(live_);
}

}  // namespace wiremeter::l2

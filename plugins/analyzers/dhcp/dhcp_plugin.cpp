// dhcp: the data path (Worker) and the control plane (Plugin: metrics, report, REST lists).
#include "dhcp_plugin.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <map>
#include <tuple>
#include <unordered_map>
#include <utility>

namespace wiremeter::dhcp {
namespace {

constexpr uint8_t kProtoUdp = 17;
constexpr uint32_t kBroadcast = 0xffffffff;
constexpr uint32_t kInfiniteLease = 0xffffffff;

bool v4_port(uint16_t p) { return p == 67 || p == 68; }
bool v6_port(uint16_t p) { return p == 546 || p == 547; }

enum class Kind { kNone, kV4, kV6 };

// Both ports must be DHCP ports: client 68 <-> server 67, relay 67 <-> 67. Requiring one only
// would read any UDP flow that happens to use 68 as an ephemeral port.
Kind classify(const wm_packet& p) {
  if (!(p.flags & WM_PKT_L4) || p.l4_proto != kProtoUdp) return Kind::kNone;
  if (p.ip_version == 4 && v4_port(p.src_port) && v4_port(p.dst_port)) return Kind::kV4;
  if (p.ip_version == 6 && v6_port(p.src_port) && v6_port(p.dst_port)) return Kind::kV6;
  return Kind::kNone;
}

uint32_t ip4(const uint8_t* a) {
  return static_cast<uint32_t>(a[0]) << 24 | static_cast<uint32_t>(a[1]) << 16 |
         static_cast<uint32_t>(a[2]) << 8 | a[3];
}

// The payload the view describes, clipped to the captured bytes.
std::pair<const uint8_t*, size_t> payload_of(const wm_packet& p) {
  if (!p.data || p.payload_len == 0 || p.payload_off >= p.cap_len) return {nullptr, 0};
  size_t n = std::min<size_t>(p.payload_len, p.cap_len - p.payload_off);
  return {p.data + p.payload_off, n};
}

// The reason a message may be short although nothing is wrong with it, or -1.
int incomplete_reason(const wm_packet& p, size_t len) {
  if (p.flags & WM_PKT_FRAGMENT) return static_cast<int>(Incomplete::kIpFragment);
  if (static_cast<size_t>(p.l4_off) + 8 <= p.cap_len) {
    const uint8_t* udp = p.data + p.l4_off;
    size_t udp_len = static_cast<size_t>(udp[4] << 8 | udp[5]);
    if (udp_len >= 8 && udp_len - 8 > len) return static_cast<int>(Incomplete::kSnaplen);
  }
  return -1;
}

void set_hex(ShortText& out, const Bytes& b) {
  static constexpr char kHex[] = "0123456789abcdef";
  char buf[64];
  size_t n = 0;
  for (uint8_t i = 0; i < b.len && n + 3 <= sizeof buf - 1; ++i) {
    if (i) buf[n++] = ':';
    buf[n++] = kHex[b.data[i] >> 4];
    buf[n++] = kHex[b.data[i] & 15];
  }
  out.set(std::string_view(buf, n));
}

}  // namespace

const char* incomplete_name(Incomplete i) {
  switch (i) {
    case Incomplete::kIpFragment:
      return "ip_fragment";
    case Incomplete::kSnaplen:
      return "snaplen";
    case Incomplete::kCount:
      break;
  }
  return "unknown";
}

std::string format_ip(uint32_t ip) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", ip >> 24, ip >> 16 & 0xff, ip >> 8 & 0xff,
                ip & 0xff);
  return buf;
}

std::string format_mac(uint64_t mac) {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x",
                static_cast<unsigned>(mac >> 40 & 0xff), static_cast<unsigned>(mac >> 32 & 0xff),
                static_cast<unsigned>(mac >> 24 & 0xff), static_cast<unsigned>(mac >> 16 & 0xff),
                static_cast<unsigned>(mac >> 8 & 0xff), static_cast<unsigned>(mac & 0xff));
  return buf;
}

bool parse_mac(std::string_view s, uint64_t& mac) {
  if (s.size() != 17) return false;
  uint64_t v = 0;
  for (size_t i = 0; i < 17; ++i) {
    char c = s[i];
    if (i % 3 == 2) {
      if (c != ':' && c != '-') return false;
      continue;
    }
    int d = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                   : -1;
    if (d < 0) return false;
    v = v << 4 | static_cast<uint64_t>(d);
  }
  mac = v;
  return true;
}

bool parse_ip(std::string_view s, uint32_t& ip) {
  uint32_t v = 0;
  size_t at = 0;
  for (int part = 0; part < 4; ++part) {
    if (part && (at >= s.size() || s[at++] != '.')) return false;
    size_t digits = 0;
    uint32_t n = 0;
    while (at < s.size() && s[at] >= '0' && s[at] <= '9' && digits < 3) {
      n = n * 10 + static_cast<uint32_t>(s[at++] - '0');
      ++digits;
    }
    if (!digits || n > 255) return false;
    v = v << 8 | n;
  }
  if (at != s.size()) return false;
  ip = v;
  return true;
}

// Zeek: a client message from an address sets client_addr (always); a reply sets it to the
// assigned address only while it is unset. So the latest sender address wins, else the first
// assigned one.
uint32_t tx_client_addr(const Transaction& t) {
  if (t.client_addr_sent.known()) return t.client_addr_sent.value;
  return t.client_addr_assigned.known() ? t.client_addr_assigned.value : 0;
}

// Zeek: option 61 of Ethernet type sets mac (always); a reply's chaddr only while it is unset;
// at the end, the client's chaddr if still unset.
uint64_t tx_mac(const Transaction& t) {
  if (t.mac_client_id.known()) return t.mac_client_id.value;
  if (t.mac_reply.known()) return t.mac_reply.value;
  return t.mac_chaddr.known() ? t.mac_chaddr.value : 0;
}

// ------------------------------------------------------------------------------------------
// Worker (data path)
// ------------------------------------------------------------------------------------------

Worker::Worker(const Limits& limits, RequestClock* clock)
    : limits_(limits),
      clock_(clock),
      clients_(limits.clients),
      servers_(limits.servers),
      leases_(limits.leases),
      open_(limits.open_transactions),
      log_(limits.transactions) {
  expired_.reserve(limits.open_transactions);
}

void Worker::on_batch(std::span<const wm_packet> packets) noexcept {
  // Every packet moves "now" on, DHCP or not: leases expire on a quiet network too.
  if (!packets.empty() && packets.back().ts_ns > latest_ns.value()) {
    latest_ns.set(packets.back().ts_ns);
  }
  // Most traffic is not DHCP: the port check decides before the lock is taken.
  size_t first = 0;
  while (first < packets.size() && classify(packets[first]) == Kind::kNone) ++first;
  if (first == packets.size()) return;
  std::lock_guard lock(mutex_);
  for (size_t i = first; i < packets.size(); ++i) {
    const wm_packet& p = packets[i];
    Kind kind = classify(p);
    if (kind == Kind::kNone) continue;
    if (kind == Kind::kV4) {
      handle_v4(p);
    } else {
      handle_v6(p);
    }
  }
}

void Worker::handle_v6(const wm_packet& p) noexcept {
  auto [data, len] = payload_of(p);
  uint8_t type = 0;
  Error e = parse_v6(data, len, type);
  if (e != Error::kNone) {
    int reason = incomplete_reason(p, len);
    if (reason >= 0) {
      incomplete[static_cast<size_t>(reason)].add();
    } else {
      malformed[static_cast<size_t>(e)].add();
    }
    return;
  }
  v6_messages[v6_type_index(type)].add();
}

void Worker::handle_v4(const wm_packet& p) noexcept {
  auto [data, len] = payload_of(p);
  Error e = parse_v4(data, len, msg_);
  if (e != Error::kNone) {
    int reason = incomplete_reason(p, len);
    if (reason >= 0) {
      incomplete[static_cast<size_t>(reason)].add();
    } else {
      malformed[static_cast<size_t>(e)].add();
    }
    return;
  }
  const Message& m = msg_;
  uint8_t type = m.type_idx();
  messages[type].add();

  if (m.from_client()) {
    // The answer may come back on another worker: the clock is shared.
    if (type == kDiscover) clock_->record(RequestClock::kDiscover, m.xid, p.ts_ns);
    if (type == kRequest || type == kInform) {
      clock_->record(RequestClock::kRequest, m.xid, p.ts_ns);
    }
  }
  uint64_t mac = m.chaddr_mac();
  if (!mac) mac = m.client_id_mac();
  uint32_t server = m.from_client() ? 0 : update_server(p, mac);
  if (mac) {
    update_client(p, mac, server);
    update_lease(p, mac, server);
  } else {
    no_mac.add();
  }
  update_transaction(p);
}

uint32_t Worker::update_server(const wm_packet& p, uint64_t mac) noexcept {
  const Message& m = msg_;
  // The server identifier names the server even when a relay forwarded its reply.
  uint32_t source = ip4(p.src_addr);
  uint32_t id = m.has_server_id ? m.server_id : source;
  if (id == 0) return 0;
  bool created = false;
  ServerEntry& s = servers_.upsert(id, created);
  if (created) s.first_ns = p.ts_ns;
  s.last_ns = std::max(s.last_ns, p.ts_ns);
  s.source.set(source, p.ts_ns);
  uint8_t type = m.type_idx();
  ++s.messages[type];
  if (type == kOffer) {
    ++s.offers;
    int64_t us = clock_->elapsed_us(RequestClock::kDiscover, m.xid, p.ts_ns);
    if (us >= 0) {
      s.discover_offer.add(static_cast<uint64_t>(us));
      offer_rtt_sum_us.add(static_cast<uint64_t>(us));
      size_t b = 0;
      while (b < kRttBoundsUs.size() && static_cast<uint64_t>(us) > kRttBoundsUs[b]) ++b;
      offer_rtt[b].add();
    } else {
      untimed_offers.add();
    }
  } else if (type == kAck || type == kNak) {
    if (type == kAck) {
      ++s.acks;
      if (m.yiaddr) ++s.leases_granted;
    } else {
      ++s.naks;
    }
    int64_t us = clock_->elapsed_us(RequestClock::kRequest, m.xid, p.ts_ns);
    if (us >= 0) {
      s.request_ack.add(static_cast<uint64_t>(us));
      ack_rtt_sum_us.add(static_cast<uint64_t>(us));
      size_t b = 0;
      while (b < kRttBoundsUs.size() && static_cast<uint64_t>(us) > kRttBoundsUs[b]) ++b;
      ack_rtt[b].add();
    } else {
      untimed_acks.add();
    }
  } else {
    ++s.other;
  }
  if (mac && (type == kOffer || type == kAck || type == kNak)) s.clients.add(mac);
  if (type == kOffer || type == kAck) {
    if (m.has_subnet_mask) s.subnet_mask.set(m.subnet_mask, p.ts_ns);
    if (m.has_lease_time) s.lease_time.set(m.lease_time, p.ts_ns);
    if (m.routers.count) s.routers.set(m.routers, p.ts_ns);
    if (m.dns_servers.count) s.dns_servers.set(m.dns_servers, p.ts_ns);
    if (m.domain_name.present) {
      ShortText d;
      d.set(m.domain_name);
      s.domain.set(d, p.ts_ns);
    }
  }
  return id;
}

void Worker::update_client(const wm_packet& p, uint64_t mac, uint32_t server) noexcept {
  const Message& m = msg_;
  bool created = false;
  ClientEntry& c = clients_.upsert(mac, created);
  uint64_t ts = p.ts_ns;
  if (created) c.first_ns = ts;
  c.last_ns = std::max(c.last_ns, ts);
  uint8_t type = m.type_idx();
  ++c.messages[type];
  c.last_type.set(type, ts);
  auto text = [&](Stamped<ShortText>& field, const Bytes& b) {
    if (!b.present) return;
    ShortText t;
    t.set(b);
    field.set(t, ts);
  };
  if (m.from_client()) {
    text(c.host_name, m.host_name);
    text(c.vendor_class, m.vendor_class);
    if (m.has_client_fqdn) {
      ShortText t;
      t.set(m.fqdn());
      c.client_fqdn.set(t, ts);
    }
    if (m.client_id.present) {
      ShortText t;
      set_hex(t, m.client_id);
      c.client_id.set(t, ts);
    }
    if (m.param_list.present) {
      ParamList pl;
      pl.set(m.param_list);
      c.params.set(pl, ts);
    }
    if (m.has_requested_ip) c.requested_ip.set(m.requested_ip, ts);
    // A relayed message's source is the relay; its ciaddr is the client's own.
    uint32_t src = ip4(p.src_addr);
    if (m.giaddr == 0 && src != 0 && src != kBroadcast) {
      c.client_ip.set(src, ts);
    } else if (m.ciaddr) {
      c.client_ip.set(m.ciaddr, ts);
    }
    if (m.giaddr) c.relay.set(m.giaddr, ts);
    if (m.relay_circuit_id.present) {
      ShortText t;
      set_hex(t, m.relay_circuit_id);
      c.circuit_id.set(t, ts);
    }
    if (m.relay_remote_id.present) {
      ShortText t;
      set_hex(t, m.relay_remote_id);
      c.remote_id.set(t, ts);
    }
  } else if (type == kOffer && m.yiaddr) {
    c.offered_ip.set(m.yiaddr, ts);
  } else if (type == kAck && m.yiaddr) {
    c.assigned_ip.set(m.yiaddr, ts);
    c.lease_time.set(m.has_lease_time ? m.lease_time : 0, ts);
    c.server.set(server, ts);
  }
}

void Worker::update_lease(const wm_packet& p, uint64_t mac, uint32_t server) noexcept {
  const Message& m = msg_;
  uint8_t type = m.type_idx();
  bool created = false;
  if (type == kAck && !m.from_client() && m.yiaddr) {
    LeaseEntry& l = leases_.upsert(m.yiaddr, created);
    if (!created && l.start_ns && l.mac == mac) ++l.renewals;
    l.mac = mac;
    l.start_ns = p.ts_ns;
    l.has_lease_time = m.has_lease_time;
    l.lease_time = m.lease_time;
    l.server = server;
    if (m.host_name.present) {
      l.host_name.set(m.host_name);
    } else if (ClientEntry* c = clients_.find(mac); c && c->host_name.known()) {
      l.host_name = c->host_name.value;
    } else {
      l.host_name = ShortText{};
    }
  } else if (type == kRelease && m.from_client() && m.ciaddr) {
    LeaseEntry& l = leases_.upsert(m.ciaddr, created);
    if (!l.mac) l.mac = mac;
    l.released_ns = p.ts_ns;
  } else if (type == kDecline && m.from_client() && m.has_requested_ip) {
    LeaseEntry& l = leases_.upsert(m.requested_ip, created);
    if (!l.mac) l.mac = mac;
    l.declined_ns = p.ts_ns;
  }
}

void Worker::close(uint64_t xid) noexcept {
  Transaction* t = open_.find(xid);
  if (!t) return;
  t->open = false;
  log_.push(*t);
  open_.erase(xid);
}

void Worker::expire(uint64_t now_ns) noexcept {
  expired_.clear();
  open_.for_each([&](const Transaction& t) {
    if (now_ns < t.first_ns + kTxMinAgeNs) return;
    if (now_ns > t.last_ns + kTxIdleNs || now_ns > t.first_ns + kTxMaxAgeNs) {
      if (expired_.size() < expired_.capacity()) expired_.push_back(t.key);
    }
  });
  for (uint64_t xid : expired_) close(xid);
}

void Worker::worker_tick(uint64_t now_ns) noexcept {
  // The core's clock: wall time live, capture time offline.
  if (now_ns > latest_ns.value()) latest_ns.set(now_ns);
  std::lock_guard lock(mutex_);
  if (open_.size()) expire(now_ns);
}

void Worker::update_transaction(const wm_packet& p) noexcept {
  const Message& m = msg_;
  uint64_t ts = p.ts_ns;
  Transaction* t = open_.find(m.xid);
  if (t && ts >= t->first_ns + kTxMinAgeNs &&
      (ts > t->last_ns + kTxIdleNs || ts > t->first_ns + kTxMaxAgeNs)) {
    close(m.xid);  // the earlier exchange is over; this message starts a new record
    t = nullptr;
  }
  if (!t && open_.full()) close(open_.oldest()->key);  // keeps the log complete
  bool created = false;
  Transaction& x = open_.upsert(m.xid, created);
  if (created) {
    x.first_ns = ts;
    x.open = true;
  }
  x.last_ns = std::max(x.last_ns, ts);
  x.msg_ts[x.messages] = ts;
  x.msg_type[x.messages] = m.type_idx();
  ++x.messages;

  auto text = [&](Stamped<ShortText>& field, const Bytes& b) {
    if (!b.present) return;
    ShortText s;
    s.set(b);
    field.set(s, ts);
  };
  uint32_t src = ip4(p.src_addr);
  if (m.from_client()) {
    if (src != 0 && src != kBroadcast) x.client_addr_sent.set(src, ts);
    text(x.host_name, m.host_name);
    if (m.has_client_fqdn) {
      ShortText s;
      s.set(m.fqdn());
      x.client_fqdn.set(s, ts);
    }
    if (uint64_t cid = m.client_id_mac()) {
      x.mac_client_id.set(cid, ts);
    } else if (uint64_t ch = m.chaddr_mac()) {
      x.mac_chaddr.set(ch, ts);
    }
    if (m.has_requested_ip) x.requested_addr.set(m.requested_ip, ts);
    text(x.client_message, m.message);
    if (m.param_list.present) {
      ParamList pl;
      pl.set(m.param_list);
      x.params.set(pl, ts);
    }
    text(x.vendor_class, m.vendor_class);
    if (m.giaddr) x.relay.set(m.giaddr, ts);
  } else {
    if (m.yiaddr) {
      x.server_addr.set(src, ts);
      x.assigned_addr.set(m.yiaddr, ts);
      if (!x.client_addr_assigned.known()) x.client_addr_assigned.set(m.yiaddr, ts);
    }
    if (uint64_t ch = m.chaddr_mac(); ch && !x.mac_reply.known()) x.mac_reply.set(ch, ts);
    text(x.domain, m.domain_name);
    if (m.has_lease_time) x.lease_time.set(m.lease_time, ts);
    text(x.server_message, m.message);
    if (m.has_server_id) x.server_id.set(m.server_id, ts);
    if (m.has_subnet_mask) x.subnet_mask.set(m.subnet_mask, ts);
    if (m.routers.count) x.routers.set(m.routers, ts);
    if (m.dns_servers.count) x.dns_servers.set(m.dns_servers, ts);
  }
  if (x.messages == kMaxTxMessages) {
    x.full = true;
    close(m.xid);
  }
}

// ------------------------------------------------------------------------------------------
// Merging (control plane)
// ------------------------------------------------------------------------------------------

namespace {

void merge_client(ClientEntry& a, const ClientEntry& b) {
  a.first_ns = std::min(a.first_ns, b.first_ns);
  a.last_ns = std::max(a.last_ns, b.last_ns);
  for (size_t i = 0; i < kTypeCount; ++i) a.messages[i] += b.messages[i];
  a.last_type.merge_latest(b.last_type);
  a.host_name.merge_latest(b.host_name);
  a.client_fqdn.merge_latest(b.client_fqdn);
  a.vendor_class.merge_latest(b.vendor_class);
  a.client_id.merge_latest(b.client_id);
  a.params.merge_latest(b.params);
  a.requested_ip.merge_latest(b.requested_ip);
  a.client_ip.merge_latest(b.client_ip);
  a.offered_ip.merge_latest(b.offered_ip);
  a.assigned_ip.merge_latest(b.assigned_ip);
  a.lease_time.merge_latest(b.lease_time);
  a.server.merge_latest(b.server);
  a.relay.merge_latest(b.relay);
  a.circuit_id.merge_latest(b.circuit_id);
  a.remote_id.merge_latest(b.remote_id);
}

void merge_server(ServerEntry& a, const ServerEntry& b) {
  a.first_ns = std::min(a.first_ns, b.first_ns);
  a.last_ns = std::max(a.last_ns, b.last_ns);
  a.offers += b.offers;
  a.acks += b.acks;
  a.naks += b.naks;
  a.other += b.other;
  for (size_t i = 0; i < kTypeCount; ++i) a.messages[i] += b.messages[i];
  a.leases_granted += b.leases_granted;
  a.clients.merge(b.clients);
  a.discover_offer.merge(b.discover_offer);
  a.request_ack.merge(b.request_ack);
  a.source.merge_latest(b.source);
  a.subnet_mask.merge_latest(b.subnet_mask);
  a.lease_time.merge_latest(b.lease_time);
  a.routers.merge_latest(b.routers);
  a.dns_servers.merge_latest(b.dns_servers);
  a.domain.merge_latest(b.domain);
}

void merge_lease(LeaseEntry& a, const LeaseEntry& b) {
  uint64_t renewals = a.renewals + b.renewals;
  uint64_t released = std::max(a.released_ns, b.released_ns);
  uint64_t declined = std::max(a.declined_ns, b.declined_ns);
  if (b.start_ns > a.start_ns || (!a.mac && b.mac)) {
    uint64_t key = a.key;
    a = b;
    a.key = key;
  }
  a.renewals = renewals;
  a.released_ns = released;
  a.declined_ns = declined;
}

void merge_tx(Transaction& a, const Transaction& b) {
  // Messages interleave by time; the fields follow Zeek's rules (tx_client_addr, tx_mac).
  std::array<uint64_t, kMaxTxMessages> ts{};
  std::array<uint8_t, kMaxTxMessages> type{};
  size_t i = 0, j = 0, n = 0;
  while (n < kMaxTxMessages && (i < a.messages || j < b.messages)) {
    bool from_a = j >= b.messages || (i < a.messages && a.msg_ts[i] <= b.msg_ts[j]);
    ts[n] = from_a ? a.msg_ts[i] : b.msg_ts[j];
    type[n] = from_a ? a.msg_type[i++] : b.msg_type[j++];
    ++n;
  }
  a.msg_ts = ts;
  a.msg_type = type;
  a.messages = static_cast<uint8_t>(n);
  a.first_ns = std::min(a.first_ns, b.first_ns);
  a.last_ns = std::max(a.last_ns, b.last_ns);
  a.open = a.open || b.open;
  a.full = a.full || b.full;
  a.client_addr_sent.merge_latest(b.client_addr_sent);
  a.client_addr_assigned.merge_earliest(b.client_addr_assigned);
  a.server_addr.merge_latest(b.server_addr);
  a.mac_client_id.merge_latest(b.mac_client_id);
  a.mac_reply.merge_earliest(b.mac_reply);
  a.mac_chaddr.merge_latest(b.mac_chaddr);
  a.host_name.merge_latest(b.host_name);
  a.client_fqdn.merge_latest(b.client_fqdn);
  a.domain.merge_latest(b.domain);
  a.client_message.merge_latest(b.client_message);
  a.server_message.merge_latest(b.server_message);
  a.requested_addr.merge_latest(b.requested_addr);
  a.assigned_addr.merge_latest(b.assigned_addr);
  a.lease_time.merge_latest(b.lease_time);
  a.server_id.merge_latest(b.server_id);
  a.subnet_mask.merge_latest(b.subnet_mask);
  a.relay.merge_latest(b.relay);
  a.routers.merge_latest(b.routers);
  a.dns_servers.merge_latest(b.dns_servers);
  a.params.merge_latest(b.params);
  a.vendor_class.merge_latest(b.vendor_class);
}

// Whether record `b` (starting no earlier than `a`) belongs to the same exchange as `a`: the
// rules of Worker::update_transaction, applied to b's first message. A record one worker closed
// by those rules is never joined again with its successor.
bool same_exchange(const Transaction& a, const Transaction& b) {
  if (a.key != b.key || a.full) return false;
  uint64_t at = b.first_ns;
  bool closed = at >= a.first_ns + kTxMinAgeNs &&
                (at > a.last_ns + kTxIdleNs || at > a.first_ns + kTxMaxAgeNs);
  return !closed;
}

double seconds(uint64_t ns) { return static_cast<double>(ns / 1000) / 1e6; }

void ip_or_null(JsonWriter& w, std::string_view key, const Stamped<uint32_t>& v) {
  w.key(key);
  if (v.known()) {
    w.value(format_ip(v.value));
  } else {
    w.null();
  }
}

void text_or_null(JsonWriter& w, std::string_view key, const Stamped<ShortText>& v) {
  w.key(key);
  if (v.known()) {
    w.value(v.value.view());
  } else {
    w.null();
  }
}

void addrs(JsonWriter& w, std::string_view key, const Stamped<AddrList>& v) {
  w.key(key).begin_array();
  for (uint8_t i = 0; v.known() && i < v.value.count; ++i) w.value(format_ip(v.value.addr[i]));
  w.end_array();
}

void params(JsonWriter& w, const Stamped<ParamList>& v) {
  w.key("params").begin_array();
  for (uint8_t i = 0; v.known() && i < v.value.count; ++i) {
    w.value(static_cast<uint32_t>(v.value.codes[i]));
  }
  w.end_array();
}

void lease_time(JsonWriter& w, std::string_view key, bool known, uint32_t seconds_value) {
  w.key(key);
  if (!known) {
    w.null();
  } else if (seconds_value == kInfiniteLease) {
    w.value("infinite");
  } else {
    w.value(static_cast<uint64_t>(seconds_value));
  }
}

void write_rtt(JsonWriter& w, std::string_view key, const ResponseStats& s) {
  w.key(key);
  if (!s.count) {
    w.null();
    return;
  }
  w.begin_object()
      .field("count", s.count)
      .field("min", static_cast<double>(s.min_us) / 1000.0)
      .field("avg", static_cast<double>(s.sum_us) / 1000.0 / static_cast<double>(s.count))
      .field("max", static_cast<double>(s.max_us) / 1000.0)
      .end_object();
}

uint64_t total_messages(const ClientEntry& c) {
  uint64_t n = 0;
  for (uint64_t v : c.messages) n += v;
  return n;
}

void write_client(JsonWriter& w, const ClientEntry& c) {
  w.begin_object().field("mac", format_mac(c.key));
  text_or_null(w, "host_name", c.host_name);
  text_or_null(w, "client_fqdn", c.client_fqdn);
  text_or_null(w, "vendor_class", c.vendor_class);
  text_or_null(w, "client_id", c.client_id);
  params(w, c.params);
  ip_or_null(w, "requested_ip", c.requested_ip);
  ip_or_null(w, "client_ip", c.client_ip);
  ip_or_null(w, "offered_ip", c.offered_ip);
  ip_or_null(w, "assigned_ip", c.assigned_ip);
  lease_time(w, "lease_time", c.lease_time.known() && c.lease_time.value, c.lease_time.value);
  w.key("server");
  if (c.server.known() && c.server.value) {
    w.value(format_ip(c.server.value));
  } else {
    w.null();
  }
  ip_or_null(w, "relay", c.relay);
  text_or_null(w, "circuit_id", c.circuit_id);
  text_or_null(w, "remote_id", c.remote_id);
  w.key("last_message");
  if (c.last_type.known()) {
    w.value(type_name(c.last_type.value));
  } else {
    w.null();
  }
  w.key("messages").begin_object();
  for (uint8_t t = 0; t < kTypeCount; ++t) {
    if (c.messages[t]) w.field(type_name(t), c.messages[t]);
  }
  w.end_object();
  w.field("messages_total", total_messages(c))
      .field("first_seen", seconds(c.first_ns))
      .field("last_seen", seconds(c.last_ns))
      .end_object();
}

// `detail`: the server's detail view adds its messages by type.
void write_server(JsonWriter& w, const ServerEntry& s, bool detail) {
  w.begin_object().field("server", format_ip(static_cast<uint32_t>(s.key)));
  ip_or_null(w, "source", s.source);
  w.field("offers", s.offers)
      .field("acks", s.acks)
      .field("naks", s.naks)
      .field("other", s.other)
      .field("leases_granted", s.leases_granted)
      .field("clients", s.clients.estimate());
  write_rtt(w, "discover_offer_ms", s.discover_offer);
  write_rtt(w, "request_ack_ms", s.request_ack);
  ip_or_null(w, "subnet_mask", s.subnet_mask);
  addrs(w, "routers", s.routers);
  addrs(w, "dns_servers", s.dns_servers);
  text_or_null(w, "domain", s.domain);
  lease_time(w, "lease_time", s.lease_time.known(), s.lease_time.value);
  if (detail) {
    uint64_t total = 0;
    w.key("messages").begin_object();
    for (uint8_t t = 0; t < kTypeCount; ++t) {
      if (s.messages[t]) w.field(type_name(t), s.messages[t]);
      total += s.messages[t];
    }
    w.end_object();
    w.field("messages_total", total);
  }
  w.field("first_seen", seconds(s.first_ns)).field("last_seen", seconds(s.last_ns)).end_object();
}

void time_or_null(JsonWriter& w, std::string_view key, uint64_t ns) {
  w.key(key);
  if (ns) {
    w.value(seconds(ns));
  } else {
    w.null();
  }
}

void write_lease(JsonWriter& w, const LeaseRow& r) {
  const LeaseEntry& l = r.lease;
  w.begin_object()
      .field("ip", format_ip(static_cast<uint32_t>(l.key)))
      .field("mac", format_mac(l.mac));
  w.key("host_name");
  if (l.host_name.length) {
    w.value(l.host_name.view());
  } else {
    w.null();
  }
  w.field("state", r.state);
  time_or_null(w, "start", l.start_ns);
  lease_time(w, "lease_time", l.start_ns && l.has_lease_time, l.lease_time);
  time_or_null(w, "expiry", r.expiry_ns);
  w.key("server");
  if (l.start_ns && l.server) {
    w.value(format_ip(l.server));
  } else {
    w.null();
  }
  w.field("renewals", l.renewals);
  time_or_null(w, "released", l.released_ns);
  time_or_null(w, "declined", l.declined_ns);
  w.end_object();
}

void write_transaction(JsonWriter& w, const Transaction& t) {
  char xid[12];
  std::snprintf(xid, sizeof xid, "0x%08x", static_cast<unsigned>(t.key));
  w.begin_object()
      .field("ts", seconds(t.first_ns))
      .field("xid", xid)
      .field("duration", seconds(t.last_ns - t.first_ns))
      .field("open", t.open);
  w.key("msg_types").begin_array();
  for (uint8_t i = 0; i < t.messages; ++i) w.value(type_name(t.msg_type[i]));
  w.end_array();
  uint32_t client = tx_client_addr(t);
  w.key("client_addr");
  if (client) {
    w.value(format_ip(client));
  } else {
    w.null();
  }
  ip_or_null(w, "server_addr", t.server_addr);
  uint64_t mac = tx_mac(t);
  w.key("mac");
  if (mac) {
    w.value(format_mac(mac));
  } else {
    w.null();
  }
  text_or_null(w, "host_name", t.host_name);
  text_or_null(w, "client_fqdn", t.client_fqdn);
  text_or_null(w, "domain", t.domain);
  ip_or_null(w, "requested_addr", t.requested_addr);
  ip_or_null(w, "assigned_addr", t.assigned_addr);
  lease_time(w, "lease_time", t.lease_time.known(), t.lease_time.value);
  text_or_null(w, "client_message", t.client_message);
  text_or_null(w, "server_message", t.server_message);
  ip_or_null(w, "server_id", t.server_id);
  ip_or_null(w, "subnet_mask", t.subnet_mask);
  addrs(w, "routers", t.routers);
  addrs(w, "dns_servers", t.dns_servers);
  params(w, t.params);
  text_or_null(w, "vendor_class", t.vendor_class);
  ip_or_null(w, "relay", t.relay);
  w.end_object();
}

bool client_matches(const ClientEntry& c, const std::string& needle) {
  if (needle.empty()) return true;
  auto ip = [&](const Stamped<uint32_t>& v) {
    return v.known() && contains(format_ip(v.value), needle);
  };
  return contains(format_mac(c.key), needle) || contains(c.host_name.value.view(), needle) ||
         contains(c.client_fqdn.value.view(), needle) ||
         contains(c.vendor_class.value.view(), needle) || ip(c.assigned_ip) || ip(c.requested_ip) ||
         ip(c.client_ip) || ip(c.offered_ip);
}

bool tx_matches(const Transaction& t, const std::string& needle) {
  if (needle.empty()) return true;
  auto ip = [&](uint32_t v) { return v && contains(format_ip(v), needle); };
  uint64_t mac = tx_mac(t);
  if ((mac && contains(format_mac(mac), needle)) || ip(tx_client_addr(t)) ||
      ip(t.server_addr.known() ? t.server_addr.value : 0) ||
      ip(t.assigned_addr.known() ? t.assigned_addr.value : 0) ||
      ip(t.requested_addr.known() ? t.requested_addr.value : 0) ||
      contains(t.host_name.value.view(), needle) || contains(t.client_fqdn.value.view(), needle)) {
    return true;
  }
  for (uint8_t i = 0; i < t.messages; ++i) {
    if (contains(type_name(t.msg_type[i]), needle)) return true;
  }
  return false;
}

constexpr std::array<double, kRttBoundsUs.size()> kRttBoundsSeconds = seconds_from_us(kRttBoundsUs);

uint64_t latest(std::span<Worker* const> workers) {
  uint64_t n = 0;
  for (Worker* w : workers) {
    if (w) n = std::max(n, w->latest_ns.value());
  }
  return n;
}

}  // namespace

// ------------------------------------------------------------------------------------------
// Plugin (control plane)
// ------------------------------------------------------------------------------------------

Plugin::Plugin(Host& host)
    : host_(host),
      limits_(parse_limits(host.config_json())),
      clock_(std::make_unique<RequestClock>(limits_.request_slots)),
      messages_id_(host.register_metric("wiremeter_dhcp_messages_total",
                                        "DHCPv4 messages by message type (option 53; BOOTP: "
                                        "without option 53).",
                                        WM_METRIC_COUNTER)),
      v6_messages_id_(host.register_metric("wiremeter_dhcp_v6_messages_total",
                                           "DHCPv6 messages by message type.", WM_METRIC_COUNTER)),
      malformed_id_(host.register_metric("wiremeter_dhcp_malformed_total",
                                         "DHCP messages that could not be read, by reason.",
                                         WM_METRIC_COUNTER)),
      incomplete_id_(host.register_metric(
          "wiremeter_dhcp_incomplete_total",
          "DHCP messages cut by IP fragmentation or the snap length (not read).",
          WM_METRIC_COUNTER)),
      response_id_(host.register_metric(
          "wiremeter_dhcp_response_seconds",
          "Time from a DISCOVER to an OFFER, and from a REQUEST or INFORM to the ACK or NAK, "
          "of the same transaction id.",
          WM_METRIC_HISTOGRAM)),
      server_offers_id_(host.register_metric(
          "wiremeter_dhcp_server_offers_total",
          "OFFERs per DHCP server (the 20 busiest servers, the rest as \"other\").",
          WM_METRIC_COUNTER)),
      server_acks_id_(host.register_metric("wiremeter_dhcp_server_acks_total",
                                           "ACKs per DHCP server (top 20 + other).",
                                           WM_METRIC_COUNTER)),
      server_naks_id_(host.register_metric("wiremeter_dhcp_server_naks_total",
                                           "NAKs per DHCP server (top 20 + other).",
                                           WM_METRIC_COUNTER)),
      clients_id_(host.register_metric("wiremeter_dhcp_clients",
                                       "DHCP clients (MAC addresses) in the clients table.",
                                       WM_METRIC_GAUGE)),
      leases_id_(host.register_metric("wiremeter_dhcp_leases",
                                      "Leases in the leases table, by state.", WM_METRIC_GAUGE)),
      evicted_id_(host.register_metric(
          "wiremeter_dhcp_evicted_total",
          "Entries that gave way in a full per-worker table (least recently updated first), by "
          "table.",
          WM_METRIC_COUNTER)) {}

std::unique_ptr<Worker> Plugin::make_worker(const wm_worker_info&) {
  return std::make_unique<Worker>(limits_, clock_.get());
}

Plugin::Totals Plugin::totals(std::span<Worker* const> workers) {
  Totals t;
  for (Worker* w : workers) {
    if (!w) continue;
    for (size_t i = 0; i < kTypeCount; ++i) t.messages[i] += w->messages[i].value();
    for (size_t i = 0; i < kV6TypeCount; ++i) t.v6_messages[i] += w->v6_messages[i].value();
    for (size_t i = 0; i < kErrorCount; ++i) t.malformed[i] += w->malformed[i].value();
    for (size_t i = 0; i < kIncompleteCount; ++i) t.incomplete[i] += w->incomplete[i].value();
    t.no_mac += w->no_mac.value();
    t.untimed_offers += w->untimed_offers.value();
    t.untimed_acks += w->untimed_acks.value();
    t.latest_ns = std::max(t.latest_ns, w->latest_ns.value());
    for (size_t i = 0; i < kRttBuckets; ++i) {
      t.offer_rtt.buckets[i] += w->offer_rtt[i].value();
      t.offer_rtt.count += w->offer_rtt[i].value();
      t.ack_rtt.buckets[i] += w->ack_rtt[i].value();
      t.ack_rtt.count += w->ack_rtt[i].value();
    }
    t.offer_rtt.sum_us += w->offer_rtt_sum_us.value();
    t.ack_rtt.sum_us += w->ack_rtt_sum_us.value();
    t.transactions_dropped += w->transactions().dropped();
    auto lock = w->lock();
    t.evicted_clients += w->clients().evicted();
    t.evicted_servers += w->servers().evicted();
    t.evicted_leases += w->leases().evicted();
    t.evicted_open += w->open_transactions().evicted();
  }
  return t;
}

// One table of every worker, merged by key: the first worker's entry, with the others' merged
// into it by `merge` (a client's broadcast and the server's reply can reach different workers).
template <typename Row, typename TableOf, typename Merge>
std::vector<Row> merge_tables(std::span<Worker* const> workers, TableOf&& table_of, Merge&& merge) {
  std::vector<Row> out;
  std::unordered_map<uint64_t, size_t> at;
  for (Worker* w : workers) {
    if (!w) continue;
    auto lock = w->lock();
    table_of(*w).for_each([&](const auto& e) {
      auto [it, fresh] = at.try_emplace(e.key, out.size());
      if (fresh) {
        out.push_back(Row{e});
      } else {
        merge(out[it->second], e);
      }
    });
  }
  return out;
}

std::vector<ClientEntry> Plugin::clients(std::span<Worker* const> workers) {
  return merge_tables<ClientEntry>(
      workers, [](Worker & w) -> auto& { return w.clients(); }, merge_client);
}

std::vector<ServerEntry> Plugin::servers(std::span<Worker* const> workers) {
  return merge_tables<ServerEntry>(
      workers, [](Worker & w) -> auto& { return w.servers(); }, merge_server);
}

void Plugin::message_totals(std::span<Worker* const> workers, const Limits& limits,
                            std::vector<MessageCount>& scratch, RateFeed& clients,
                            RateFeed& servers) {
  // The worker takes the same lock per DHCP message: under it only plain copies into storage
  // sized beforehand; summing and the feeds' maps come after.
  // Sized for full tables once, so that the copy never allocates and never leaves rows out (a
  // row left out would look evicted, and its whole total like one second's when it is back).
  scratch.reserve(limits.clients + limits.servers);
  for (Worker* w : workers) {
    if (!w) continue;
    scratch.clear();
    size_t client_rows = 0;
    {
      auto lock = w->lock();
      w->clients().for_each([&](const ClientEntry& c) {
        scratch.push_back({c.key, total_messages(c)});
      });
      client_rows = scratch.size();
      w->servers().for_each([&](const ServerEntry& s) {
        uint64_t n = 0;
        for (uint64_t v : s.messages) n += v;
        scratch.push_back({s.key, n});
      });
    }
    for (size_t i = 0; i < scratch.size(); ++i) {
      (i < client_rows ? clients : servers).add(scratch[i].key, scratch[i].messages);
    }
  }
}

std::vector<LeaseRow> Plugin::leases(std::span<Worker* const> workers, uint64_t now_ns,
                                     const std::vector<ClientEntry>& clients) {
  std::vector<LeaseRow> out = merge_tables<LeaseRow>(
      workers, [](Worker & w) -> auto& { return w.leases(); },
      [](LeaseRow& r, const LeaseEntry& l) { merge_lease(r.lease, l); });
  std::unordered_map<uint64_t, const ClientEntry*> by_mac;
  for (const ClientEntry& c : clients) by_mac[c.key] = &c;
  for (LeaseRow& r : out) {
    LeaseEntry& l = r.lease;
    if (!l.host_name.length) {
      // The REQUEST with the host name may have reached another worker than the ACK.
      auto it = by_mac.find(l.mac);
      if (it != by_mac.end() && it->second->host_name.known()) {
        l.host_name = it->second->host_name.value;
      }
    }
    if (l.start_ns && l.has_lease_time && l.lease_time != kInfiniteLease) {
      r.expiry_ns = l.start_ns + static_cast<uint64_t>(l.lease_time) * 1'000'000'000ull;
    }
    if (l.released_ns > l.start_ns) {
      r.state = "released";
    } else if (l.declined_ns > l.start_ns) {
      r.state = "declined";
    } else if (r.expiry_ns && r.expiry_ns <= now_ns) {
      r.state = "expired";
    } else {
      r.state = "active";
    }
  }
  return out;
}

std::vector<Transaction> Plugin::transactions(std::span<Worker* const> workers) {
  std::vector<Transaction> all;
  for (Worker* w : workers) {
    if (!w) continue;
    w->transactions().for_each([&](const Transaction& t) { all.push_back(t); });
    auto lock = w->lock();
    w->open_transactions().for_each([&](const Transaction& t) { all.push_back(t); });
  }
  std::sort(all.begin(), all.end(), [](const Transaction& a, const Transaction& b) {
    return std::tie(a.key, a.first_ns) < std::tie(b.key, b.first_ns);
  });
  std::vector<Transaction> out;
  for (const Transaction& t : all) {
    if (!out.empty() && same_exchange(out.back(), t)) {
      merge_tx(out.back(), t);
    } else {
      out.push_back(t);
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const Transaction& a, const Transaction& b) {
    return a.first_ns < b.first_ns;
  });
  return out;
}

void Plugin::collect(std::span<Worker* const> workers, MetricSink& sink) {
  Totals t = totals(workers);
  for (uint8_t i = 0; i < kTypeCount; ++i) {
    // DISCOVER .. INFORM always, so that rate() has a series before the first one.
    if ((i >= kDiscover && i <= kInform) || t.messages[i]) {
      sink.sample(messages_id_, {{"type", type_name(i)}}, static_cast<double>(t.messages[i]));
    }
  }
  for (uint8_t i = 0; i < kV6TypeCount; ++i) {
    if (t.v6_messages[i]) {
      sink.sample(v6_messages_id_, {{"type", v6_type_name(i)}},
                  static_cast<double>(t.v6_messages[i]));
    }
  }
  for (size_t e = 1; e < kErrorCount; ++e) {
    sink.sample(malformed_id_, {{"reason", error_name(static_cast<Error>(e))}},
                static_cast<double>(t.malformed[e]));
  }
  for (size_t i = 0; i < kIncompleteCount; ++i) {
    sink.sample(incomplete_id_, {{"reason", incomplete_name(static_cast<Incomplete>(i))}},
                static_cast<double>(t.incomplete[i]));
  }
  sink.histogram(response_id_, {{"exchange", "discover_offer"}}, kRttBoundsSeconds,
                 cumulative(t.offer_rtt.buckets), static_cast<double>(t.offer_rtt.sum_us) / 1e6);
  sink.histogram(response_id_, {{"exchange", "request_ack"}}, kRttBoundsSeconds,
                 cumulative(t.ack_rtt.buckets), static_cast<double>(t.ack_rtt.sum_us) / 1e6);

  // Per server: the 20 busiest by OFFERs + ACKs + NAKs, the others summed as "other".
  constexpr size_t kTopServers = 20;
  std::vector<ServerEntry> srv = servers(workers);
  auto busy = [](const ServerEntry& s) { return s.offers + s.acks + s.naks; };
  std::sort(srv.begin(), srv.end(), [&](const ServerEntry& a, const ServerEntry& b) {
    return busy(a) != busy(b) ? busy(a) > busy(b) : a.key < b.key;
  });
  ServerEntry other;
  for (size_t i = kTopServers; i < srv.size(); ++i) merge_server(other, srv[i]);
  bool has_other = srv.size() > kTopServers;
  if (has_other) srv.resize(kTopServers);
  auto emit = [&](const std::string& name, const ServerEntry& s) {
    Labels l{{"server", name.c_str()}};
    sink.sample(server_offers_id_, l, static_cast<double>(s.offers));
    sink.sample(server_acks_id_, l, static_cast<double>(s.acks));
    sink.sample(server_naks_id_, l, static_cast<double>(s.naks));
  };
  for (const ServerEntry& s : srv) emit(format_ip(static_cast<uint32_t>(s.key)), s);
  if (has_other) emit("other", other);

  std::vector<ClientEntry> cl = clients(workers);
  sink.sample(clients_id_, {}, static_cast<double>(cl.size()));
  std::map<std::string, uint64_t> states = {
      {"active", 0}, {"expired", 0}, {"released", 0}, {"declined", 0}};
  for (const LeaseRow& r : leases(workers, t.latest_ns, cl)) ++states[r.state];
  for (auto& [state, n] : states) {
    sink.sample(leases_id_, {{"state", state.c_str()}}, static_cast<double>(n));
  }
  sink.sample(evicted_id_, {{"table", "clients"}}, static_cast<double>(t.evicted_clients));
  sink.sample(evicted_id_, {{"table", "servers"}}, static_cast<double>(t.evicted_servers));
  sink.sample(evicted_id_, {{"table", "leases"}}, static_cast<double>(t.evicted_leases));
  sink.sample(evicted_id_, {{"table", "open_transactions"}}, static_cast<double>(t.evicted_open));
  sink.sample(evicted_id_, {{"table", "transactions"}},
              static_cast<double>(t.transactions_dropped));
}

void Plugin::on_tick(std::span<Worker* const> workers, uint64_t now_ns) {
  uint64_t n = 0;
  for (Worker* w : workers) {
    if (!w) continue;
    for (const Counter& c : w->messages) n += c.value();
  }
  if (last_tick_ns_ && now_ns > last_tick_ns_ && n >= last_messages_) {
    double rate =
        static_cast<double>(n - last_messages_) * 1e9 / static_cast<double>(now_ns - last_tick_ns_);
    messages_per_s_.store(rate, std::memory_order_relaxed);
    host_.record_series("messages_per_s", rate);
  }
  last_tick_ns_ = now_ns;
  last_messages_ = n;
  message_totals(workers, limits_, tick_scratch_, client_feed_, server_feed_);
  client_feed_.finish(host_, now_ns, client_series_, format_mac, parse_mac);
  server_feed_.finish(
      host_, now_ns, server_series_,
      [](uint64_t ip) { return format_ip(static_cast<uint32_t>(ip)); },
      [](std::string_view key, uint64_t& ip) {
        uint32_t v4 = 0;
        if (!parse_ip(key, v4)) return false;
        ip = v4;
        return true;
      });
}

void Plugin::write_json(std::span<Worker* const> workers, JsonWriter& out) {
  Totals t = totals(workers);
  uint64_t total = 0;
  for (uint64_t n : t.messages) total += n;
  out.begin_object().field("messages_total", total);
  out.key("messages").begin_object();
  for (uint8_t i = 0; i < kTypeCount; ++i) {
    if ((i >= kDiscover && i <= kInform) || t.messages[i]) {
      out.field(type_name(i), t.messages[i]);
    }
  }
  out.end_object();
  out.key("v6_messages").begin_object();
  for (uint8_t i = 0; i < kV6TypeCount; ++i) {
    if (t.v6_messages[i]) out.field(v6_type_name(i), t.v6_messages[i]);
  }
  out.end_object();
  out.field("messages_per_s", messages_per_s_.load(std::memory_order_relaxed));
  out.key("response_ms").begin_object();
  auto avg = [](const ResponseStats& s) -> double {
    return s.count ? static_cast<double>(s.sum_us) / 1000.0 / static_cast<double>(s.count) : 0;
  };
  out.key("discover_offer")
      .begin_object()
      .field("count", t.offer_rtt.count)
      .field("avg", avg(t.offer_rtt))
      .end_object();
  out.key("request_ack")
      .begin_object()
      .field("count", t.ack_rtt.count)
      .field("avg", avg(t.ack_rtt))
      .end_object();
  out.end_object();
  out.field("untimed_offers", t.untimed_offers)
      .field("untimed_acks", t.untimed_acks)
      .field("without_mac", t.no_mac);

  std::vector<ClientEntry> cl = clients(workers);
  std::sort(cl.begin(), cl.end(), [](const ClientEntry& a, const ClientEntry& b) {
    return a.last_ns != b.last_ns ? a.last_ns > b.last_ns : a.key < b.key;
  });
  out.key("clients").begin_array();
  for (const ClientEntry& c : cl) write_client(out, c);
  out.end_array();

  std::vector<ServerEntry> srv = servers(workers);
  std::sort(srv.begin(), srv.end(), [](const ServerEntry& a, const ServerEntry& b) {
    return a.acks != b.acks ? a.acks > b.acks : a.key < b.key;
  });
  out.key("servers").begin_array();
  for (const ServerEntry& s : srv) write_server(out, s, false);
  out.end_array();

  std::vector<LeaseRow> ls = leases(workers, t.latest_ns, cl);
  std::sort(ls.begin(), ls.end(),
            [](const LeaseRow& a, const LeaseRow& b) { return a.lease.key < b.lease.key; });
  out.key("leases").begin_array();
  for (const LeaseRow& r : ls) write_lease(out, r);
  out.end_array();

  std::vector<Transaction> tx = transactions(workers);
  out.key("transactions").begin_array();
  for (const Transaction& x : tx) write_transaction(out, x);
  out.end_array();
  out.field("transactions_dropped", t.transactions_dropped);

  out.key("evicted")
      .begin_object()
      .field("clients", t.evicted_clients)
      .field("servers", t.evicted_servers)
      .field("leases", t.evicted_leases)
      .field("open_transactions", t.evicted_open)
      .end_object();
  out.key("malformed").begin_object();
  for (size_t e = 1; e < kErrorCount; ++e) {
    out.field(error_name(static_cast<Error>(e)), t.malformed[e]);
  }
  out.end_object();
  out.key("incomplete").begin_object();
  for (size_t i = 0; i < kIncompleteCount; ++i) {
    out.field(incomplete_name(static_cast<Incomplete>(i)), t.incomplete[i]);
  }
  out.end_object();
  out.end_object();
}

namespace {

void time_window(const Query& q, uint64_t& from, uint64_t& to) {
  from = q.get_time_ns("from", 0);
  to = q.get_time_ns("to", UINT64_MAX);
  if (from > to) throw QueryError("from: must not be after to");
}

}  // namespace

int Plugin::query(std::span<Worker* const> workers, std::string_view path, const Query& q,
                  JsonWriter& out) {
  if (path == "clients") {
    q.allow_only({"sort", "order", "page", "size", "filter", "from", "to"});
    using R = ClientEntry;
    auto ip = [](const Stamped<uint32_t>& v) { return v.known() ? v.value : 0u; };
    ListPage<R> page(
        q,
        {{"last_seen", [](const R& a, const R& b) { return a.last_ns < b.last_ns; }},
         {"first_seen", [](const R& a, const R& b) { return a.first_ns < b.first_ns; }},
         {"mac", [](const R& a, const R& b) { return a.key < b.key; }},
         {"host_name",
          [](const R& a, const R& b) {
            return a.host_name.value.view() < b.host_name.value.view();
          }},
         {"assigned_ip",
          [ip](const R& a, const R& b) { return ip(a.assigned_ip) < ip(b.assigned_ip); }},
         {"messages",
          [](const R& a, const R& b) { return total_messages(a) < total_messages(b); }}},
        "last_seen", [](const R& a, const R& b) { return a.key < b.key; });
    uint64_t from, to;
    time_window(q, from, to);
    std::string needle = lower(q.get_or("filter", ""));
    std::vector<R> rows = clients(workers);
    std::erase_if(rows, [&](const R& c) {
      return c.last_ns < from || c.first_ns > to || !client_matches(c, needle);
    });
    page.write(rows, out, write_client);
    return 200;
  }
  if (path.rfind("clients/", 0) == 0) {
    q.allow_only({});
    uint64_t mac = 0;
    if (!parse_mac(path.substr(8), mac)) {
      throw QueryError("expected a MAC address as aa:bb:cc:dd:ee:ff");
    }
    std::vector<ClientEntry> cl = clients(workers);
    auto it =
        std::find_if(cl.begin(), cl.end(), [&](const ClientEntry& c) { return c.key == mac; });
    if (it == cl.end()) {
      out.begin_object().field("error", "no such client: " + format_mac(mac)).end_object();
      return 404;
    }
    // The client row, its graph, its leases and its transactions: everything known about one
    // device.
    std::string key = format_mac(mac);
    client_series_.watch(key);  // looking at a client graphs it from now on
    out.begin_object().key("client");
    write_client(out, *it);
    out.field("series", "dhcp." + key + ".messages_per_s");
    out.key("leases").begin_array();
    for (const LeaseRow& r : leases(workers, latest(workers), cl)) {
      if (r.lease.mac == mac) write_lease(out, r);
    }
    out.end_array();
    out.key("transactions").begin_array();
    for (const Transaction& t : transactions(workers)) {
      if (tx_mac(t) == mac) write_transaction(out, t);
    }
    out.end_array();
    out.end_object();
    return 200;
  }
  if (path == "servers") {
    q.allow_only({"sort", "order", "page", "size", "filter", "from", "to"});
    TimeWindow window(q);
    using R = ServerEntry;
    auto avg = [](const ResponseStats& s) {
      return s.count ? static_cast<double>(s.sum_us) / static_cast<double>(s.count) : -1.0;
    };
    ListPage<R> page(
        q,
        {{"server", [](const R& a, const R& b) { return a.key < b.key; }},
         {"offers", [](const R& a, const R& b) { return a.offers < b.offers; }},
         {"acks", [](const R& a, const R& b) { return a.acks < b.acks; }},
         {"naks", [](const R& a, const R& b) { return a.naks < b.naks; }},
         {"leases_granted",
          [](const R& a, const R& b) { return a.leases_granted < b.leases_granted; }},
         {"clients",
          [](const R& a, const R& b) { return a.clients.estimate() < b.clients.estimate(); }},
         {"discover_offer",
          [avg](const R& a, const R& b) { return avg(a.discover_offer) < avg(b.discover_offer); }},
         {"request_ack",
          [avg](const R& a, const R& b) { return avg(a.request_ack) < avg(b.request_ack); }},
         {"last_seen", [](const R& a, const R& b) { return a.last_ns < b.last_ns; }}},
        "acks", [](const R& a, const R& b) { return a.key < b.key; });
    std::string needle = lower(q.get_or("filter", ""));
    std::vector<R> rows = servers(workers);
    std::erase_if(rows, [&](const R& s) {
      if (!window.overlaps(s.first_ns, s.last_ns)) return true;
      return !contains(format_ip(static_cast<uint32_t>(s.key)), needle) &&
             !(s.source.known() && contains(format_ip(s.source.value), needle)) &&
             !contains(s.domain.value.view(), needle);
    });
    page.write(rows, out, [](JsonWriter& w, const R& s) { write_server(w, s, false); });
    return 200;
  }
  if (path.rfind("servers/", 0) == 0) {
    q.allow_only({});
    uint32_t ip = 0;
    if (!parse_ip(path.substr(8), ip)) throw QueryError("expected an IPv4 address as 192.0.2.1");
    std::vector<ServerEntry> srv = servers(workers);
    auto it =
        std::find_if(srv.begin(), srv.end(), [&](const ServerEntry& s) { return s.key == ip; });
    if (it == srv.end()) {
      out.begin_object().field("error", "no such server: " + format_ip(ip)).end_object();
      return 404;
    }
    // The server row with its messages by type, its graph and the leases it handed out.
    std::string key = format_ip(ip);
    server_series_.watch(key);  // looking at a server graphs it from now on
    out.begin_object().key("server");
    write_server(out, *it, true);
    out.field("series", "dhcp." + key + ".messages_per_s");
    std::vector<ClientEntry> cl = clients(workers);
    std::vector<LeaseRow> handed_out = leases(workers, latest(workers), cl);
    std::erase_if(handed_out,
                  [&](const LeaseRow& r) { return !r.lease.start_ns || r.lease.server != ip; });
    std::sort(handed_out.begin(), handed_out.end(),
              [](const LeaseRow& a, const LeaseRow& b) { return a.lease.key < b.lease.key; });
    out.key("leases").begin_array();
    for (const LeaseRow& r : handed_out) write_lease(out, r);
    out.end_array();
    out.end_object();
    return 200;
  }
  if (path == "leases") {
    q.allow_only({"sort", "order", "page", "size", "filter", "state", "from", "to"});
    using R = LeaseRow;
    ListPage<R> page(
        q,
        {{"start", [](const R& a, const R& b) { return a.lease.start_ns < b.lease.start_ns; }},
         {"expiry", [](const R& a, const R& b) { return a.expiry_ns < b.expiry_ns; }},
         {"ip", [](const R& a, const R& b) { return a.lease.key < b.lease.key; }},
         {"mac", [](const R& a, const R& b) { return a.lease.mac < b.lease.mac; }},
         {"host_name",
          [](const R& a, const R& b) {
            return a.lease.host_name.view() < b.lease.host_name.view();
          }},
         {"lease_time",
          [](const R& a, const R& b) { return a.lease.lease_time < b.lease.lease_time; }}},
        "start", [](const R& a, const R& b) { return a.lease.key < b.lease.key; });
    std::string state = q.get_or("state", "");
    if (!state.empty() && state != "active" && state != "expired" && state != "released" &&
        state != "declined") {
      throw QueryError("state: must be one of active, expired, released, declined");
    }
    uint64_t from, to;
    time_window(q, from, to);
    std::string needle = lower(q.get_or("filter", ""));
    std::vector<ClientEntry> cl = clients(workers);
    std::vector<R> rows = leases(workers, latest(workers), cl);
    std::erase_if(rows, [&](const R& r) {
      const LeaseEntry& l = r.lease;
      if (!state.empty() && state != r.state) return true;
      // Held at some time in [from, to]: started before `to`, not over before `from`.
      uint64_t start = l.start_ns ? l.start_ns : std::max(l.released_ns, l.declined_ns);
      uint64_t end = r.expiry_ns ? r.expiry_ns : UINT64_MAX;
      if (l.released_ns > l.start_ns) end = l.released_ns;
      if (start > to || end < from) return true;
      return !contains(format_ip(static_cast<uint32_t>(l.key)), needle) &&
             !contains(format_mac(l.mac), needle) && !contains(l.host_name.view(), needle);
    });
    page.write(rows, out, write_lease);
    return 200;
  }
  if (path == "transactions") {
    q.allow_only({"sort", "order", "page", "size", "filter", "from", "to"});
    using R = const Transaction*;
    ListPage<R> page(
        q,
        {{"ts", [](R a, R b) { return a->first_ns < b->first_ns; }},
         {"duration", [](R a, R b) { return a->last_ns - a->first_ns < b->last_ns - b->first_ns; }},
         {"xid", [](R a, R b) { return a->key < b->key; }},
         {"mac", [](R a, R b) { return tx_mac(*a) < tx_mac(*b); }},
         {"messages", [](R a, R b) { return a->messages < b->messages; }}},
        "ts", [](R a, R b) { return a < b; });  // rows point into one vector: a total order
    uint64_t from, to;
    time_window(q, from, to);
    std::string needle = lower(q.get_or("filter", ""));
    std::vector<Transaction> all = transactions(workers);
    std::vector<R> rows;
    rows.reserve(all.size());
    for (const Transaction& t : all) {
      if (t.first_ns <= to && t.last_ns >= from && tx_matches(t, needle)) rows.push_back(&t);
    }
    page.write(rows, out, [](JsonWriter& w, R t) { write_transaction(w, *t); });
    return 200;
  }
  return 404;
}

}  // namespace wiremeter::dhcp

WIREMETER_ANALYZER_PLUGIN(wiremeter::dhcp::Plugin)

#include "mac_plugin.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <bit>
#include <cctype>
#include <cmath>
#include <cstring>
#include <unordered_map>
#include <unordered_set>

namespace wiremeter::mac {
namespace {

constexpr uint8_t kUdp = 17;
constexpr uint16_t kDhcpServerPort = 67, kDhcpClientPort = 68;
// Entries copied per lock acquisition: ~200 KiB, a few microseconds of worker stall at most.
constexpr uint32_t kCopyChunk = 1024;

uint64_t read48(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 6; ++i) v = v << 8 | p[i];
  return v;
}
uint16_t read16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

// A station address: unicast (group bit clear) and not all zeros (unset fields, ARP targets).
bool is_station(const uint8_t* mac) { return !(mac[0] & 0x01) && read48(mac) != 0; }

// splitmix64's finalizer: MACs of one vendor share their high bits, so the raw value would
// cluster in the index.
uint64_t mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

std::string format_ip(const IpAddr& ip) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(ip.version == 4 ? AF_INET : AF_INET6, ip.addr.data(), buf, sizeof buf);
  return buf;
}

void write_row(JsonWriter& out, const MacRow& r) {
  out.begin_object()
      .field("mac", r.mac_text)
      .field("vendor", r.vendor)
      .field("tx_packets", r.tx_packets)
      .field("tx_bytes", r.tx_bytes)
      .field("rx_packets", r.rx_packets)
      .field("rx_bytes", r.rx_bytes)
      .field("peers", r.peers);
  out.key("ips").begin_array();
  for (const auto& ip : r.ips) out.value(ip);
  out.end_array()
      .field("first_seen", static_cast<double>(r.first_ns) / 1e9)
      .field("last_seen", static_cast<double>(r.last_ns) / 1e9)
      .end_object();
}

}  // namespace

std::string format_mac(uint64_t mac) {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x",
                static_cast<unsigned>(mac >> 40 & 0xff), static_cast<unsigned>(mac >> 32 & 0xff),
                static_cast<unsigned>(mac >> 24 & 0xff), static_cast<unsigned>(mac >> 16 & 0xff),
                static_cast<unsigned>(mac >> 8 & 0xff), static_cast<unsigned>(mac & 0xff));
  return buf;
}

uint64_t MacEntry::peer_estimate() const noexcept {
  if (!peers_overflow) return peer_count;
  // Linear counting over 64 bits: n ~ -m ln(zeros / m). Saturates at m ln m (~266) when every
  // bit is set; good enough to tell "a few" from "a scanner".
  constexpr double kM = 64;
  int zeros = 64 - std::popcount(peer_bits);
  double n = zeros ? -kM * std::log(zeros / kM) : kM * std::log(kM);
  return std::max<uint64_t>(kMaxPeers + 1, static_cast<uint64_t>(std::llround(n)));
}

MacWorker::MacWorker(uint32_t max_macs) : max_macs_(std::clamp<uint32_t>(max_macs, 1, 65535)) {
  // The index packs entry index + 1 into 16 bits, hence at most 65535 entries.
  size_t slots = std::bit_ceil(static_cast<size_t>(max_macs_) * 4 / 3 + 1);
  index_.assign(slots, 0);
  mask_ = slots - 1;
  entries_.assign(max_macs_, MacEntry{});
}

MacEntry* MacWorker::upsert(uint64_t mac, uint64_t ts_ns) noexcept {
  for (uint64_t h = mix(mac) & mask_;; h = (h + 1) & mask_) {
    uint64_t slot = index_[h];
    if (slot == 0) {
      if (count_ >= max_macs_) {
        dropped.add();
        return nullptr;
      }
      MacEntry& e = entries_[count_];
      e = MacEntry{};
      e.mac = mac;
      e.first_ns = e.last_ns = ts_ns;
      index_[h] = mac << 16 | (count_ + 1);
      ++count_;
      return &e;
    }
    if (slot >> 16 == mac) {
      MacEntry& e = entries_[(slot & 0xffff) - 1];
      e.last_ns = std::max(e.last_ns, ts_ns);
      return &e;
    }
  }
}

namespace {

void add_peer(MacEntry& e, uint64_t peer) noexcept {
  e.peer_bits |= 1ull << (mix(peer) & 63);
  if (e.peers_overflow) return;
  for (uint8_t i = 0; i < e.peer_count; ++i) {
    if (e.peers[i] == peer) return;
  }
  if (e.peer_count < kMaxPeers) {
    e.peers[e.peer_count++] = peer;
  } else {
    e.peers_overflow = true;
  }
}

}  // namespace

void MacWorker::learn_ip(uint64_t mac, uint64_t ts_ns, uint8_t version,
                         const uint8_t* addr) noexcept {
  IpAddr ip{};
  ip.version = version;
  std::memcpy(ip.addr.data(), addr, version == 4 ? 4 : 16);
  if (version == 4 && !(ip.addr[0] | ip.addr[1] | ip.addr[2] | ip.addr[3])) return;  // 0.0.0.0
  MacEntry* e = upsert(mac, ts_ns);
  if (!e) return;
  for (uint8_t i = 0; i < e->ip_count; ++i) {
    if (e->ips[i] == ip) return;
  }
  // Keeps the first addresses: later ones on a busy router MAC would be other hosts' anyway.
  if (e->ip_count < kMaxIps) e->ips[e->ip_count++] = ip;
}

// ARP over Ethernet for IPv4: htype 1, ptype 0x0800, hlen 6, plen 4, then sender MAC/IP at 8/14.
// Requests and replies both state the sender's binding; ARP probes (sender IP 0) are skipped.
void MacWorker::learn_arp(const wm_packet& p) noexcept {
  constexpr size_t kArpLen = 28;
  if (p.l3_off == 0 || static_cast<size_t>(p.l3_off) + kArpLen > p.cap_len) return;
  const uint8_t* a = p.data + p.l3_off;
  if (read16(a) != 1 || read16(a + 2) != 0x0800 || a[4] != 6 || a[5] != 4) return;
  uint16_t op = read16(a + 6);
  if ((op != 1 && op != 2) || !is_station(a + 8)) return;
  learn_ip(read48(a + 8), p.ts_ns, 4, a + 14);
}

// BOOTP/DHCP reply (RFC 2131): op 2, htype 1, hlen 6, yiaddr at 16, chaddr at 28, magic cookie
// at 236, options from 240. Only an ACK (option 53 = 5) confirms the lease.
void MacWorker::learn_dhcp(const wm_packet& p) noexcept {
  constexpr size_t kOptions = 240;
  if (static_cast<size_t>(p.payload_off) + p.payload_len > p.cap_len) return;
  const uint8_t* d = p.data + p.payload_off;
  size_t len = p.payload_len;
  if (len < kOptions || d[0] != 2 || d[1] != 1 || d[2] != 6) return;
  if (d[236] != 99 || d[237] != 130 || d[238] != 83 || d[239] != 99) return;
  bool ack = false;
  for (size_t i = kOptions; i < len;) {
    uint8_t code = d[i];
    if (code == 255) break;  // end
    if (code == 0) {         // pad
      ++i;
      continue;
    }
    if (i + 1 >= len || i + 2 + d[i + 1] > len) break;
    if (code == 53 && d[i + 1] == 1) ack = d[i + 2] == 5;
    i += 2 + d[i + 1];
  }
  if (ack && is_station(d + 28)) learn_ip(read48(d + 28), p.ts_ns, 4, d + 16);
}

void MacWorker::on_batch(std::span<const wm_packet> packets) noexcept {
  std::lock_guard lock(mutex_);
  for (const wm_packet& p : packets) {
    if (p.cap_len < 14 || (p.flags & WM_PKT_NO_ETHERNET)) continue;  // no MAC header to read
    const uint8_t* dst = p.data;
    const uint8_t* src = p.data + 6;
    MacEntry* s = is_station(src) ? upsert(read48(src), p.ts_ns) : nullptr;
    // Broadcast and multicast destinations are groups, not stations: no rx, no peer.
    MacEntry* d = is_station(dst) ? upsert(read48(dst), p.ts_ns) : nullptr;
    if (s) {
      ++s->tx_packets;
      s->tx_bytes += p.wire_len;
    }
    if (d) {
      ++d->rx_packets;
      d->rx_bytes += p.wire_len;
    }
    if (s && d) {
      add_peer(*s, d->mac);
      add_peer(*d, s->mac);
    }
    if (p.flags & WM_PKT_ARP) {
      learn_arp(p);
    } else if (p.l4_proto == kUdp && (p.flags & WM_PKT_L4) && p.ip_version == 4 &&
               p.src_port == kDhcpServerPort &&
               (p.dst_port == kDhcpClientPort || p.dst_port == kDhcpServerPort)) {
      learn_dhcp(p);  // server -> client, or server -> relay
    }
  }
}

template <typename F>
void MacWorker::for_chunks(F&& f) const {
  uint32_t n;
  {
    std::lock_guard lock(mutex_);
    n = count_;
  }
  // Entries are append-only and never move, so [0, n) stays valid between the chunks.
  for (uint32_t begin = 0; begin < n; begin += kCopyChunk) {
    std::lock_guard lock(mutex_);
    f(begin, std::min(n, begin + kCopyChunk));
  }
}

std::vector<MacEntry> MacWorker::snapshot() const {
  std::vector<MacEntry> out;
  for_chunks([&](uint32_t b, uint32_t e) {
    out.insert(out.end(), entries_.begin() + b, entries_.begin() + e);
  });
  return out;
}

std::vector<uint64_t> MacWorker::keys() const {
  std::vector<uint64_t> out;
  for_chunks([&](uint32_t b, uint32_t e) {
    for (uint32_t i = b; i < e; ++i) out.push_back(entries_[i].mac);
  });
  return out;
}

MacPlugin::MacPlugin(Host& host)
    : host_(host),
      addresses_(host.register_metric("wiremeter_mac_addresses",
                                      "Distinct MAC addresses tracked (all workers).",
                                      WM_METRIC_GAUGE)),
      dropped_(host.register_metric(
          "wiremeter_mac_addresses_dropped_total",
          "Sightings of new MAC addresses not tracked because a worker's table was full.",
          WM_METRIC_COUNTER)) {
  host.expect_no_settings();
  if (oui_.load_csv(kOuiCsvPath) && oui_.size() > 0) {
    host.info("OUI registry: " + std::to_string(oui_.size()) + " vendors from " + kOuiCsvPath);
  } else if (oui_.load_txt(kOuiTxtPath) && oui_.size() > 0) {
    host.info("OUI registry: " + std::to_string(oui_.size()) + " vendors from " + kOuiTxtPath);
  } else {
    host.warn(std::string("no OUI registry at ") + kOuiCsvPath + " or " + kOuiTxtPath +
              " (install ieee-data): vendors are empty");
  }
}

std::unique_ptr<MacWorker> MacPlugin::make_worker(const wm_worker_info&) {
  return std::make_unique<MacWorker>();
}

uint64_t MacPlugin::dropped(std::span<MacWorker* const> workers) {
  uint64_t n = 0;
  for (MacWorker* w : workers) {
    if (w) n += w->dropped.value();
  }
  return n;
}

void MacPlugin::collect(std::span<MacWorker* const> workers, MetricSink& sink) {
  // Distinct over workers: a MAC talking to several flows is seen by several workers.
  std::unordered_set<uint64_t> macs;
  for (MacWorker* w : workers) {
    if (!w) continue;
    for (uint64_t m : w->keys()) macs.insert(m);
  }
  sink.sample(addresses_, {}, static_cast<double>(macs.size()));
  sink.sample(dropped_, {}, static_cast<double>(dropped(workers)));
}

// Merged by MAC: counters add up, IPs are united, peers take the maximum (peer sets of
// different workers overlap, so a sum would overcount), first/last seen widen.
std::vector<MacRow> MacPlugin::rows(std::span<MacWorker* const> workers) const {
  std::vector<MacRow> out;
  std::unordered_map<uint64_t, size_t> at;
  for (MacWorker* w : workers) {
    if (!w) continue;
    for (const MacEntry& e : w->snapshot()) {
      auto [it, fresh] = at.try_emplace(e.mac, out.size());
      if (fresh) {
        MacRow r;
        r.mac = e.mac;
        r.mac_text = format_mac(e.mac);
        r.vendor = std::string(oui_.vendor(e.mac));
        r.first_ns = e.first_ns;
        out.push_back(std::move(r));
      }
      MacRow& r = out[it->second];
      r.tx_packets += e.tx_packets;
      r.tx_bytes += e.tx_bytes;
      r.rx_packets += e.rx_packets;
      r.rx_bytes += e.rx_bytes;
      r.peers = std::max(r.peers, e.peer_estimate());
      r.first_ns = std::min(r.first_ns, e.first_ns);
      r.last_ns = std::max(r.last_ns, e.last_ns);
      for (uint8_t i = 0; i < e.ip_count; ++i) {
        std::string ip = format_ip(e.ips[i]);
        if (std::find(r.ips.begin(), r.ips.end(), ip) == r.ips.end()) r.ips.push_back(ip);
      }
    }
  }
  return out;
}

void MacPlugin::write_json(std::span<MacWorker* const> workers, JsonWriter& out) {
  std::vector<MacRow> r = rows(workers);
  size_t shown = std::min(r.size(), kJsonMaxMacs);
  auto by_bytes = [](const MacRow& a, const MacRow& b) {
    uint64_t x = a.tx_bytes + a.rx_bytes, y = b.tx_bytes + b.rx_bytes;
    return x != y ? x > y : a.mac < b.mac;
  };
  std::partial_sort(r.begin(), r.begin() + static_cast<std::ptrdiff_t>(shown), r.end(), by_bytes);
  out.begin_object().key("macs").begin_array();
  for (size_t i = 0; i < shown; ++i) write_row(out, r[i]);
  out.end_array()
      .field("total", static_cast<uint64_t>(r.size()))
      .field("dropped", dropped(workers))
      .end_object();
}

void MacPlugin::on_tick(std::span<MacWorker* const> workers, uint64_t now_ns) {
  std::vector<std::pair<std::string, uint64_t>> bytes;
  for (MacRow& r : rows(workers))
    bytes.emplace_back(std::move(r.mac_text), r.tx_bytes + r.rx_bytes);
  series_.update(host_, now_ns, bytes);
}

// Views: "macs" (the list) and "macs/<mac>" (one MAC, with the name of its graph's series when
// it is among the busiest).
int MacPlugin::query(std::span<MacWorker* const> workers, std::string_view path, const Query& q,
                     JsonWriter& out) {
  if (path.starts_with("macs/")) {
    q.allow_only({});
    std::string mac = lower(std::string(path.substr(5)));
    for (const MacRow& r : rows(workers)) {
      if (r.mac_text != mac) continue;
      out.begin_object().key("mac");
      write_row(out, r);
      series_.watch(r.mac_text);  // looking at a MAC graphs it, busy or not
      out.field("series", "mac." + r.mac_text + ".bps");
      out.end_object();
      return 200;
    }
    out.begin_object().field("error", "no such MAC: " + mac).end_object();
    return 404;
  }
  if (path != "macs") return 404;
  q.allow_only({"sort", "order", "page", "size", "filter", "from", "to"});
  TimeWindow window(q);
  using R = MacRow;
  ListPage<R> page(
      q,
      {{"bytes",
        [](const R& a, const R& b) { return a.tx_bytes + a.rx_bytes < b.tx_bytes + b.rx_bytes; }},
       {"packets",
        [](const R& a, const R& b) {
          return a.tx_packets + a.rx_packets < b.tx_packets + b.rx_packets;
        }},
       {"last_seen", [](const R& a, const R& b) { return a.last_ns < b.last_ns; }},
       {"first_seen", [](const R& a, const R& b) { return a.first_ns < b.first_ns; }},
       {"peers", [](const R& a, const R& b) { return a.peers < b.peers; }}},
      "bytes", [](const R& a, const R& b) { return a.mac < b.mac; });
  std::string needle = lower(q.get_or("filter", ""));
  std::vector<R> r = rows(workers);
  std::erase_if(r, [&](const R& x) {
    if (!window.overlaps(x.first_ns, x.last_ns)) return true;
    if (needle.empty()) return false;
    if (x.mac_text.find(needle) != std::string::npos) return false;
    if (lower(x.vendor).find(needle) != std::string::npos) return false;
    for (const auto& ip : x.ips) {
      if (lower(ip).find(needle) != std::string::npos) return false;
    }
    return true;
  });
  page.write(r, out, write_row);
  return 200;
}

}  // namespace wiremeter::mac

WIREMETER_ANALYZER_PLUGIN(wiremeter::mac::MacPlugin)

// ip: the data path (Worker) and the control plane (Plugin: metrics, report, REST views).
#include "ip_plugin.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <bit>
#include <cctype>
#include <cstring>
#include <map>
#include <optional>
#include <tuple>
#include <unordered_map>
#include <utility>

namespace wiremeter::ip {
namespace {

constexpr uint8_t kProtoTcp = 6, kProtoUdp = 17;
// The report lists the busiest hosts and the newest names; the REST views page through all.
constexpr size_t kJsonMaxHosts = 1000;
constexpr size_t kJsonMaxNames = 1000;

// DNS responses come from the server's port: DNS, mDNS (RFC 6762), LLMNR (RFC 4795).
bool dns_port(uint16_t port) { return port == 53 || port == 5353 || port == 5355; }
bool dhcp_port(uint16_t port) { return port == 67 || port == 68; }

// The payload the view describes, clipped to the captured bytes.
std::pair<const uint8_t*, size_t> payload_of(const wm_packet& p) {
  if (!p.data || p.payload_len == 0 || p.payload_off >= p.cap_len) return {nullptr, 0};
  return {p.data + p.payload_off, std::min<size_t>(p.payload_len, p.cap_len - p.payload_off)};
}

// Unix seconds with microseconds (exact in a double), as the other modules write them.
double seconds(uint64_t ns) { return static_cast<double>(ns / 1000) / 1e6; }

struct AddressHash {
  size_t operator()(const Address& a) const { return a.hash(); }
};

// version, then bytes: a total order for tie-breaks and stable output.
bool address_less(const Address& a, const Address& b) {
  return std::tie(a.version, a.bytes) < std::tie(b.version, b.bytes);
}

// A CIDR prefix ("10.0.0.0/8", "2001:db8::/32", or an address alone for /32 or /128).
struct Prefix {
  Address base;
  unsigned bits = 0;
  bool contains(const Address& a) const {
    if (a.version != base.version) return false;
    unsigned full = bits / 8, rest = bits % 8;
    if (std::memcmp(a.bytes.data(), base.bytes.data(), full) != 0) return false;
    if (rest == 0) return true;
    uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
    return (a.bytes[full] & mask) == (base.bytes[full] & mask);
  }
};

Prefix parse_prefix(const std::string& text) {
  Prefix p;
  size_t slash = text.find('/');
  if (!parse_address(text.substr(0, slash), p.base)) {
    throw QueryError("prefix: expected an address or CIDR prefix such as 10.0.0.0/8");
  }
  unsigned max = p.base.version == 4 ? 32 : 128;
  p.bits = max;
  if (slash != std::string::npos) {
    std::string b = text.substr(slash + 1);
    if (b.empty() || b.size() > 3 || !std::all_of(b.begin(), b.end(), ::isdigit) ||
        std::stoul(b) > max) {
      throw QueryError("prefix: bad prefix length");
    }
    p.bits = static_cast<unsigned>(std::stoul(b));
  }
  return p;
}

}  // namespace

std::string format_address(const Address& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (a.version == 4) {
    inet_ntop(AF_INET, a.bytes.data(), buf, sizeof buf);
  } else if (a.version == 6) {
    inet_ntop(AF_INET6, a.bytes.data(), buf, sizeof buf);
  }
  return buf;
}

bool parse_address(std::string_view text, Address& out) {
  std::string s(text);
  out = Address{};
  if (inet_pton(AF_INET, s.c_str(), out.bytes.data()) == 1) {
    out.version = 4;
    return true;
  }
  if (inet_pton(AF_INET6, s.c_str(), out.bytes.data()) == 1) {
    out.version = 6;
    return true;
  }
  return false;
}

// ------------------------------------------------------------------------------------------
// Worker (data path)
// ------------------------------------------------------------------------------------------

Worker::Worker(uint32_t state_offset, const Settings& settings)
    : slot_(state_offset), hosts_(settings.max_hosts), names_(settings.max_names) {
  learner_.worker = this;
}

void Worker::Learner::on_name(uint8_t version, const uint8_t* addr,
                              std::string_view name) noexcept {
  worker->names_.learn(Address::of(version, addr), source, name, ts_ns);
  worker->names_learned[static_cast<size_t>(source)].add();
}

void Worker::note(NameSource source, Parse result) noexcept {
  auto& e = name_errors[static_cast<size_t>(source)];
  if (result == Parse::kMalformed) e[static_cast<size_t>(NameError::kMalformed)].add();
  if (result == Parse::kTruncated) e[static_cast<size_t>(NameError::kTruncated)].add();
}

void Worker::count(const wm_packet& p, FlowState* state) noexcept {
  uint64_t bytes = p.wire_len;
  L4Class l4 = l4_class(p.l4_proto);
  uint32_t src_bit, dst_bit;
  if (state && (state->flags & kFlowHostsKnown)) {
    int src_side = p.direction == WM_DIR_REVERSE ? 1 : 0;
    uint32_t s = state->host[src_side], d = state->host[1 - src_side];
    src_index_ = s & kHostIndexMask;
    dst_index_ = d & kHostIndexMask;
    src_bit = s >> kPeerBitShift;
    dst_bit = d >> kPeerBitShift;
    for (uint32_t i : {src_index_, dst_index_}) {
      HostEntry& e = hosts_.at(i);
      if (p.ts_ns > e.last_ns) e.last_ns = p.ts_ns;
      if (p.ts_ns < e.first_ns) e.first_ns = p.ts_ns;
    }
  } else {
    Address src = Address::of(p.ip_version, p.src_addr);
    Address dst = Address::of(p.ip_version, p.dst_addr);
    uint64_t hs = src.hash(), hd = dst.hash();
    src_index_ = hosts_.upsert(src, hs, p.ts_ns);
    dst_index_ = hosts_.upsert(dst, hd, p.ts_ns);
    src_bit = static_cast<uint32_t>(hs >> 58);
    dst_bit = static_cast<uint32_t>(hd >> 58);
    if (state && src_index_ != HostTable::kNone && dst_index_ != HostTable::kNone) {
      int src_side = p.direction == WM_DIR_REVERSE ? 1 : 0;
      state->host[src_side] = src_index_ | src_bit << kPeerBitShift;
      state->host[1 - src_side] = dst_index_ | dst_bit << kPeerBitShift;
      state->flags |= kFlowHostsKnown;
    }
  }
  HostEntry& other = hosts_.other();
  auto fold_other = [&] {
    untracked_packets.add();
    if (other.first_ns == 0 || p.ts_ns < other.first_ns) other.first_ns = p.ts_ns;
    if (p.ts_ns > other.last_ns) other.last_ns = p.ts_ns;
  };
  HostEntry* s = &other;
  HostEntry* d = &other;
  if (src_index_ != HostTable::kNone) {
    s = &hosts_.at(src_index_);
    hosts_.touch(src_index_);
  } else {
    fold_other();
  }
  if (dst_index_ != HostTable::kNone) {
    d = &hosts_.at(dst_index_);
    hosts_.touch(dst_index_);
  } else {
    fold_other();
  }
  ++s->packets_out;
  s->bytes_out += bytes;
  s->l4_bytes[l4] += bytes;
  ++d->packets_in;
  d->bytes_in += bytes;
  if (d != s) d->l4_bytes[l4] += bytes;
  if (src_index_ != HostTable::kNone && dst_index_ != HostTable::kNone &&
      src_index_ != dst_index_) {
    s->add_peer(dst_index_, bytes);
    d->add_peer(src_index_, bytes);
    s->peer_bits |= 1ull << dst_bit;
    d->peer_bits |= 1ull << src_bit;
  }
}

void Worker::on_batch(std::span<const wm_packet> packets) noexcept {
  for (const wm_packet& p : packets) {
    if (p.ip_version != 4 && p.ip_version != 6) continue;
    ip_packets.add();
    ip_bytes.add(p.wire_len);
    FlowState* state = slot_.get(p);
    count(p, state && p.flow ? state : nullptr);
    if (state && p.flow) {
      HostEntry* s = src_index_ != HostTable::kNone ? &hosts_.at(src_index_) : &hosts_.other();
      HostEntry* d = dst_index_ != HostTable::kNone ? &hosts_.at(dst_index_) : &hosts_.other();
      if (!(state->flags & kFlowCounted)) {
        state->flags |= kFlowCounted;
        ++s->flows;
        if (d != s) ++d->flows;
      }
      uint16_t label = p.flow->app_label;
      if (label) {
        // The bytes before the label was known go to it now, so that a host's label bytes
        // cover its flows whole.
        uint64_t add = p.wire_len;
        if (state->label == 0) {
          add += state->unlabeled_bytes;
          state->unlabeled_bytes = 0;
        }
        state->label = label;
        s->add_label(label, add);
        if (d != s) d->add_label(label, add);
      } else if (state->label == 0) {
        uint64_t n = static_cast<uint64_t>(state->unlabeled_bytes) + p.wire_len;
        state->unlabeled_bytes = static_cast<uint32_t>(std::min<uint64_t>(n, UINT32_MAX));
      }
    }
    if ((p.flags & WM_PKT_L4) && p.payload_len) learn_names(p, state && p.flow ? state : nullptr);
  }
}

void Worker::learn_names(const wm_packet& p, FlowState* state) noexcept {
  auto [data, len] = payload_of(p);
  if (!data) return;
  learner_.ts_ns = p.ts_ns;
  if (p.l4_proto == kProtoUdp) {
    if (dns_port(p.src_port)) {
      learner_.source = NameSource::kDns;
      note(NameSource::kDns, parse_dns_names(data, len, learner_));
    } else if (dhcp_port(p.src_port) && dhcp_port(p.dst_port)) {
      learner_.source = NameSource::kDhcp;
      note(NameSource::kDhcp, parse_dhcp_name(data, len, learner_));
    }
    return;
  }
  if (p.l4_proto != kProtoTcp || !state) return;
  if (p.direction == WM_DIR_FORWARD && !(state->flags & kFlowClientPayload)) {
    // The ClientHello is the client's first payload, on any port (443, 8443, 993, ...).
    state->flags |= kFlowClientPayload;
    if (data[0] != 0x16) return;
    char name[kMaxName + 1];
    size_t name_len = 0;
    Parse r = parse_tls_sni(data, len, name, name_len);
    note(NameSource::kSni, r);
    if (r == Parse::kOk && name_len) {
      learner_.source = NameSource::kSni;
      learner_.on_name(p.ip_version, p.dst_addr, {name, name_len});
    }
  } else if (p.direction == WM_DIR_REVERSE && p.src_port == 53 &&
             !(state->flags & kFlowServerPayload)) {
    // DNS over TCP: the first response, when it starts in the responder's first segment.
    state->flags |= kFlowServerPayload;
    if (len < 2) return;
    size_t msg_len = static_cast<size_t>(data[0]) << 8 | data[1];
    learner_.source = NameSource::kDns;
    note(NameSource::kDns, parse_dns_names(data + 2, std::min(msg_len, len - 2), learner_));
  }
}

void Worker::on_flow_end(const wm_flow_info& flow, FlowState& state) noexcept {
  // A label decided at the end of the flow (DPI giving up; labellers end first) takes the flow's
  // bytes.
  if (!flow.app_label || state.label != 0) return;
  uint64_t bytes =
      state.unlabeled_bytes == UINT32_MAX ? flow.bytes[0] + flow.bytes[1] : state.unlabeled_bytes;
  state.label = flow.app_label;
  state.unlabeled_bytes = 0;
  if (!bytes) return;
  Address a0 = Address::of(flow.ip_version, flow.addr[0]);
  Address a1 = Address::of(flow.ip_version, flow.addr[1]);
  uint32_t i0 = hosts_.find(a0, a0.hash()), i1 = hosts_.find(a1, a1.hash());
  HostEntry* e0 = i0 != HostTable::kNone ? &hosts_.at(i0) : &hosts_.other();
  HostEntry* e1 = i1 != HostTable::kNone ? &hosts_.at(i1) : &hosts_.other();
  e0->add_label(flow.app_label, bytes);
  if (e1 != e0) e1->add_label(flow.app_label, bytes);
  if (i0 != HostTable::kNone) hosts_.touch(i0);
  if (i1 != HostTable::kNone) hosts_.touch(i1);
}

void Worker::worker_tick(uint64_t) noexcept { hosts_.publish(); }

// ------------------------------------------------------------------------------------------
// Merging (control plane)
// ------------------------------------------------------------------------------------------

void HostRow::merge(const HostEntry& e) {
  if (packets() == 0 || (e.first_ns && e.first_ns < first_ns)) first_ns = e.first_ns;
  last_ns = std::max(last_ns, e.last_ns);
  packets_in += e.packets_in;
  packets_out += e.packets_out;
  bytes_in += e.bytes_in;
  bytes_out += e.bytes_out;
  flows += e.flows;
  peer_bits |= e.peer_bits;
  for (size_t i = 0; i < kL4Count; ++i) l4_bytes[i] += e.l4_bytes[i];
  for (size_t i = 0; i < e.label_count && i < kLabels; ++i) {
    size_t k = 0;
    while (k < label_count && label[k] != e.label[i]) ++k;
    if (k < label_count) {
      label_bytes[k] += e.label_bytes[i];
    } else if (label_count < label.size()) {
      label[label_count] = e.label[i];
      label_bytes[label_count++] = e.label_bytes[i];
    } else {
      other_label_bytes += e.label_bytes[i];
    }
  }
  other_label_bytes += e.other_label_bytes;
}

std::vector<HostRow> Plugin::rows(std::span<Worker* const> workers, bool with_other) {
  size_t total = 0, live = 0;
  for (Worker* w : workers) {
    if (!w) continue;
    total += w->hosts().published();
    ++live;
  }
  std::vector<HostRow> out;
  out.reserve(total + 1);
  HostRow other;
  other.other = true;
  // One worker: its entries are distinct already. Several: merge by address through a flat
  // open-addressing index (a host's flows are spread over the workers).
  std::vector<uint32_t> index(live > 1 ? std::bit_ceil(total * 2 + 2) : 0, UINT32_MAX);
  size_t mask = index.empty() ? 0 : index.size() - 1;
  for (Worker* w : workers) {
    if (!w) continue;
    w->hosts().read(
        [&](std::span<const HostEntry> chunk) {
          for (const HostEntry& e : chunk) {
            Address a = e.address();
            if (index.empty()) {
              out.emplace_back().addr = a;
              out.back().merge(e);
              continue;
            }
            size_t h = a.hash() & mask;
            while (index[h] != UINT32_MAX && !(out[index[h]].addr == a)) h = (h + 1) & mask;
            if (index[h] == UINT32_MAX) {
              index[h] = static_cast<uint32_t>(out.size());
              out.emplace_back().addr = a;
            }
            out[index[h]].merge(e);
          }
        },
        [&](const HostEntry& o) { other.merge(o); });
  }
  if (with_other && other.packets()) out.push_back(std::move(other));
  return out;
}

std::vector<NameRow> Plugin::names(std::span<Worker* const> workers) {
  std::map<std::tuple<uint8_t, std::array<uint8_t, 16>, uint8_t, std::string>, NameRow> merged;
  for (Worker* w : workers) {
    if (!w) continue;
    w->names().for_each([&](const NameTable::Entry& e) {
      NameRow& r = merged[{e.addr.version, e.addr.bytes, static_cast<uint8_t>(e.source),
                           std::string(e.name())}];
      if (r.count == 0 || e.first_ns < r.first_ns) r.first_ns = e.first_ns;
      r.last_ns = std::max(r.last_ns, e.last_ns);
      r.count += e.count;
    });
  }
  std::vector<NameRow> rows;
  rows.reserve(merged.size());
  for (auto& [key, r] : merged) {
    r.addr.version = std::get<0>(key);
    r.addr.bytes = std::get<1>(key);
    r.source = static_cast<NameSource>(std::get<2>(key));
    r.name = std::get<3>(key);
    rows.push_back(std::move(r));
  }
  return rows;
}

bool Plugin::detail(std::span<Worker* const> workers, const Address& addr, HostRow& row,
                    std::vector<PeerRow>& peers) {
  row = HostRow{};
  row.addr = addr;
  bool found = false;
  std::unordered_map<Address, uint64_t, AddressHash> peer_bytes;
  for (Worker* w : workers) {
    if (!w) continue;
    // Two passes over the snapshot: the entry, then the entries its peer slots point at.
    HostEntry entry{};
    bool here = false;
    uint32_t position = 0;
    w->hosts().read(
        [&](std::span<const HostEntry> chunk) {
          for (const HostEntry& e : chunk) {
            if (!here && e.version == addr.version && e.addr == addr.bytes) {
              entry = e;
              here = true;
            }
          }
          position += static_cast<uint32_t>(chunk.size());
        },
        [](const HostEntry&) {});
    if (!here) continue;
    found = true;
    row.merge(entry);
    position = 0;
    w->hosts().read(
        [&](std::span<const HostEntry> chunk) {
          for (size_t k = 0; k < entry.peer_count; ++k) {
            uint32_t i = entry.peer[k];
            if (i >= position && i < position + chunk.size()) {
              peer_bytes[chunk[i - position].address()] += entry.peer_bytes[k];
            }
          }
          position += static_cast<uint32_t>(chunk.size());
        },
        [](const HostEntry&) {});
  }
  peers.clear();
  for (auto& [a, b] : peer_bytes) peers.push_back({a, b});
  std::sort(peers.begin(), peers.end(), [](const PeerRow& x, const PeerRow& y) {
    return x.bytes != y.bytes ? x.bytes > y.bytes : address_less(x.addr, y.addr);
  });
  return found;
}

// ------------------------------------------------------------------------------------------
// Plugin (control plane)
// ------------------------------------------------------------------------------------------

Plugin::Plugin(Host& host)
    : host_(host),
      settings_(parse_settings(host.config_json())),
      hosts_id_(host.register_metric(
          "wiremeter_ip_hosts", "Distinct IP addresses tracked (all workers).", WM_METRIC_GAUGE)),
      untracked_id_(host.register_metric(
          "wiremeter_ip_untracked_packets_total",
          "Host sightings (a packet's source or destination) folded into the \"other\" host "
          "because a worker's host table was full.",
          WM_METRIC_COUNTER)),
      host_bytes_id_(host.register_metric(
          "wiremeter_ip_host_bytes_total",
          "Frame bytes per host and direction (the busiest hosts by bytes; the rest as "
          "\"other\").",
          WM_METRIC_COUNTER)),
      host_packets_id_(host.register_metric(
          "wiremeter_ip_host_packets_total",
          "Packets per host and direction (the busiest hosts by bytes; the rest as \"other\").",
          WM_METRIC_COUNTER)),
      names_learned_id_(host.register_metric(
          "wiremeter_ip_names_learned_total",
          "Host names learned passively, by source (dns answers, dhcp, tls sni).",
          WM_METRIC_COUNTER)),
      name_errors_id_(host.register_metric(
          "wiremeter_ip_name_errors_total",
          "Messages the name readers could not read whole, by source and reason.",
          WM_METRIC_COUNTER)) {}

std::unique_ptr<Worker> Plugin::make_worker(const wm_worker_info& info) {
  return std::make_unique<Worker>(info.flow_state_offset, settings_);
}

void Plugin::collect(std::span<Worker* const> workers, MetricSink& sink) {
  std::vector<HostRow> r = rows(workers, true);
  HostRow other;
  if (!r.empty() && r.back().other) {
    other = std::move(r.back());
    r.pop_back();
  }
  sink.sample(hosts_id_, {}, static_cast<double>(r.size()));
  uint64_t untracked = 0;
  std::array<uint64_t, kNameSources> learned{};
  std::array<std::array<uint64_t, kNameErrors>, kNameSources> errors{};
  for (Worker* w : workers) {
    if (!w) continue;
    untracked += w->untracked_packets.value();
    for (size_t s = 0; s < kNameSources; ++s) {
      learned[s] += w->names_learned[s].value();
      for (size_t e = 0; e < kNameErrors; ++e) errors[s][e] += w->name_errors[s][e].value();
    }
  }
  sink.sample(untracked_id_, {}, static_cast<double>(untracked));
  for (size_t s = 0; s < kNameSources; ++s) {
    const char* src = source_name(static_cast<NameSource>(s));
    sink.sample(names_learned_id_, {{"source", src}}, static_cast<double>(learned[s]));
    sink.sample(name_errors_id_, {{"source", src}, {"reason", "malformed"}},
                static_cast<double>(errors[s][0]));
    sink.sample(name_errors_id_, {{"source", src}, {"reason", "truncated"}},
                static_cast<double>(errors[s][1]));
  }

  // The busiest hosts by bytes get series of their own; the rest and the untracked bucket sum
  // up in "other", so that the label's values stay bounded.
  size_t top = std::min<size_t>(settings_.metrics_top, r.size());
  auto by_bytes = [](const HostRow& a, const HostRow& b) {
    return a.bytes() != b.bytes() ? a.bytes() > b.bytes() : address_less(a.addr, b.addr);
  };
  std::partial_sort(r.begin(), r.begin() + static_cast<std::ptrdiff_t>(top), r.end(), by_bytes);
  for (size_t i = top; i < r.size(); ++i) {
    other.packets_in += r[i].packets_in;
    other.packets_out += r[i].packets_out;
    other.bytes_in += r[i].bytes_in;
    other.bytes_out += r[i].bytes_out;
  }
  auto emit = [&](const char* host, const HostRow& h) {
    sink.sample(host_bytes_id_, {{"host", host}, {"direction", "in"}},
                static_cast<double>(h.bytes_in));
    sink.sample(host_bytes_id_, {{"host", host}, {"direction", "out"}},
                static_cast<double>(h.bytes_out));
    sink.sample(host_packets_id_, {{"host", host}, {"direction", "in"}},
                static_cast<double>(h.packets_in));
    sink.sample(host_packets_id_, {{"host", host}, {"direction", "out"}},
                static_cast<double>(h.packets_out));
  };
  for (size_t i = 0; i < top; ++i) {
    std::string host = format_address(r[i].addr);
    emit(host.c_str(), r[i]);
  }
  if (other.packets() || r.size() > top) emit("other", other);
}

void Plugin::write_labels(JsonWriter& w, const HostRow& r) const {
  w.key("l7").begin_object();
  uint64_t labeled = r.other_label_bytes;
  for (size_t i = 0; i < r.label_count; ++i) {
    const char* name = host_.label_name(r.label[i]);
    w.field(name && *name ? name : "label_" + std::to_string(r.label[i]), r.label_bytes[i]);
    labeled += r.label_bytes[i];
  }
  if (r.other_label_bytes) w.field("other", r.other_label_bytes);
  // Bytes of flows without a label (yet): no dpi module, or not decided.
  w.field("unknown", r.bytes() > labeled ? r.bytes() - labeled : 0);
  w.end_object();
}

void Plugin::write_row(JsonWriter& w, const HostRow& r, const std::vector<const NameRow*>* names,
                       const std::vector<PeerRow>* peers) const {
  w.begin_object();
  if (r.other) {
    w.field("address", "other").key("version").null();
  } else {
    w.field("address", format_address(r.addr))
        .field("version", static_cast<uint32_t>(r.addr.version));
  }
  w.field("name", r.name)
      .field("packets", r.packets())
      .field("bytes", r.bytes())
      .field("packets_in", r.packets_in)
      .field("packets_out", r.packets_out)
      .field("bytes_in", r.bytes_in)
      .field("bytes_out", r.bytes_out)
      .field("flows", r.flows)
      .field("peers", HostEntry::estimate_peers(r.peer_bits))
      .field("first_seen", seconds(r.first_ns))
      .field("last_seen", seconds(r.last_ns));
  w.key("l4").begin_object();
  for (size_t i = 0; i < kL4Count; ++i) w.field(l4_name(i), r.l4_bytes[i]);
  w.end_object();
  write_labels(w, r);
  if (names) {
    w.key("names").begin_array();
    for (const NameRow* n : *names) {
      w.begin_object()
          .field("name", n->name)
          .field("source", source_name(n->source))
          .field("count", n->count)
          .field("first_seen", seconds(n->first_ns))
          .field("last_seen", seconds(n->last_ns))
          .end_object();
    }
    w.end_array();
  }
  if (peers) {
    w.key("top_peers").begin_array();
    for (const PeerRow& p : *peers) {
      w.begin_object()
          .field("address", format_address(p.addr))
          .field("bytes", p.bytes)
          .end_object();
    }
    w.end_array();
  }
  w.end_object();
}

namespace {

// Names by address, newest first; the first is the host's name.
using NamesByAddress = std::unordered_map<Address, std::vector<const NameRow*>, AddressHash>;
NamesByAddress index_names(const std::vector<NameRow>& names) {
  NamesByAddress by;
  for (const NameRow& n : names) by[n.addr].push_back(&n);
  for (auto& [a, v] : by) {
    std::sort(v.begin(), v.end(), [](const NameRow* x, const NameRow* y) {
      return std::tie(y->last_ns, x->name) < std::tie(x->last_ns, y->name);
    });
  }
  return by;
}

void write_name_row(JsonWriter& w, const NameRow& n) {
  w.begin_object()
      .field("address", format_address(n.addr))
      .field("name", n.name)
      .field("source", source_name(n.source))
      .field("count", n.count)
      .field("first_seen", seconds(n.first_ns))
      .field("last_seen", seconds(n.last_ns))
      .end_object();
}

}  // namespace

void Plugin::write_json(std::span<Worker* const> workers, JsonWriter& out) {
  std::vector<HostRow> r = rows(workers, true);
  HostRow other;
  bool has_other = !r.empty() && r.back().other;
  if (has_other) {
    other = std::move(r.back());
    r.pop_back();
  }
  std::vector<NameRow> n = names(workers);
  NamesByAddress by = index_names(n);
  size_t shown = std::min(r.size(), kJsonMaxHosts);
  std::partial_sort(r.begin(), r.begin() + static_cast<std::ptrdiff_t>(shown), r.end(),
                    [](const HostRow& a, const HostRow& b) {
                      return a.bytes() != b.bytes() ? a.bytes() > b.bytes()
                                                    : address_less(a.addr, b.addr);
                    });
  uint64_t packets = 0, bytes = 0, untracked = 0, evicted = 0, allocated = 0;
  std::array<uint64_t, kNameSources> learned{};
  std::array<std::array<uint64_t, kNameErrors>, kNameSources> errors{};
  for (Worker* w : workers) {
    if (!w) continue;
    packets += w->ip_packets.value();
    bytes += w->ip_bytes.value();
    untracked += w->untracked_packets.value();
    evicted += w->names().evicted();
    allocated += w->hosts().allocated_bytes() + w->names().allocated_bytes();
    for (size_t s = 0; s < kNameSources; ++s) {
      learned[s] += w->names_learned[s].value();
      for (size_t e = 0; e < kNameErrors; ++e) errors[s][e] += w->name_errors[s][e].value();
    }
  }
  out.begin_object()
      .field("ip_packets", packets)
      .field("ip_bytes", bytes)
      .field("bytes_per_second", bytes_per_second_.load())
      .field("hosts_total", static_cast<uint64_t>(r.size()))
      .field("untracked_packets", untracked);
  out.key("names_learned").begin_object();
  for (size_t s = 0; s < kNameSources; ++s) {
    out.field(source_name(static_cast<NameSource>(s)), learned[s]);
  }
  out.end_object().key("name_errors").begin_object();
  for (size_t s = 0; s < kNameSources; ++s) {
    out.key(source_name(static_cast<NameSource>(s)))
        .begin_object()
        .field("malformed", errors[s][0])
        .field("truncated", errors[s][1])
        .end_object();
  }
  out.end_object();
  // What tracking costs, per worker: the figures behind the capacity settings.
  out.key("memory")
      .begin_object()
      .field("bytes_per_flow", static_cast<uint64_t>(sizeof(FlowState)))
      .field("bytes_per_host", static_cast<uint64_t>(HostTable::kBytesPerHost))
      .field("bytes_per_name", static_cast<uint64_t>(sizeof(NameTable::Entry)))
      .field("max_hosts_per_worker", settings_.max_hosts)
      .field("max_names_per_worker", settings_.max_names)
      .field("allocated_bytes", allocated)
      .end_object();
  out.key("hosts").begin_array();
  for (size_t i = 0; i < shown; ++i) {
    auto it = by.find(r[i].addr);
    if (it != by.end()) r[i].name = it->second.front()->name;
    static const std::vector<const NameRow*> kNone;
    write_row(out, r[i], it != by.end() ? &it->second : &kNone, nullptr);
  }
  out.end_array().key("other");
  if (has_other) {
    write_row(out, other, nullptr, nullptr);
  } else {
    out.null();
  }
  // Newest names first.
  std::vector<const NameRow*> newest;
  newest.reserve(n.size());
  for (const NameRow& x : n) newest.push_back(&x);
  size_t names_shown = std::min(newest.size(), kJsonMaxNames);
  std::partial_sort(newest.begin(), newest.begin() + static_cast<std::ptrdiff_t>(names_shown),
                    newest.end(), [](const NameRow* a, const NameRow* b) {
                      return a->last_ns != b->last_ns ? a->last_ns > b->last_ns : a->name < b->name;
                    });
  out.field("names_total", static_cast<uint64_t>(n.size()))
      .field("names_evicted", evicted)
      .key("names")
      .begin_array();
  for (size_t i = 0; i < names_shown; ++i) write_name_row(out, *newest[i]);
  out.end_array().end_object();
}

void Plugin::on_tick(std::span<Worker* const> workers, uint64_t now_ns) {
  uint64_t bytes = 0;
  for (Worker* w : workers) {
    if (w) bytes += w->ip_bytes.value();
  }
  if (last_tick_ns_ && now_ns > last_tick_ns_ && bytes >= last_bytes_) {
    double rate = static_cast<double>(bytes - last_bytes_) * 1e9 /
                  static_cast<double>(now_ns - last_tick_ns_);
    bytes_per_second_.store(rate);
    host_.record_series("bytes_per_second", rate);
  }
  last_tick_ns_ = now_ns;
  last_bytes_ = bytes;
  // The graphs of the busiest hosts: "ip.<address>.bps".
  std::vector<std::pair<std::string, uint64_t>> per_host;
  for (const HostRow& r : rows(workers, false))
    per_host.emplace_back(format_address(r.addr), r.bytes());
  series_.update(host_, now_ns, per_host);
}

int Plugin::query(std::span<Worker* const> workers, std::string_view path, const Query& q,
                  JsonWriter& out) {
  if (path == "hosts") return query_hosts(workers, q, out);
  if (path == "names") return query_names(workers, q, out);
  if (path.starts_with("hosts/")) return query_host(workers, path.substr(6), q, out);
  return 404;
}

int Plugin::query_hosts(std::span<Worker* const> workers, const Query& q, JsonWriter& out) {
  q.allow_only({"sort", "order", "page", "size", "filter", "prefix", "from", "to"});
  using R = HostRow;
  ListPage<R> page(
      q,
      {{"bytes", [](const R& a, const R& b) { return a.bytes() < b.bytes(); }},
       {"packets", [](const R& a, const R& b) { return a.packets() < b.packets(); }},
       {"bytes_in", [](const R& a, const R& b) { return a.bytes_in < b.bytes_in; }},
       {"bytes_out", [](const R& a, const R& b) { return a.bytes_out < b.bytes_out; }},
       {"packets_in", [](const R& a, const R& b) { return a.packets_in < b.packets_in; }},
       {"packets_out", [](const R& a, const R& b) { return a.packets_out < b.packets_out; }},
       {"flows", [](const R& a, const R& b) { return a.flows < b.flows; }},
       {"peers",
        [](const R& a, const R& b) {
          return std::popcount(a.peer_bits) < std::popcount(b.peer_bits);
        }},
       {"first_seen", [](const R& a, const R& b) { return a.first_ns < b.first_ns; }},
       {"last_seen", [](const R& a, const R& b) { return a.last_ns < b.last_ns; }},
       {"address", [](const R& a, const R& b) { return address_less(a.addr, b.addr); }},
       {"name", [](const R& a, const R& b) { return a.name < b.name; }}},
      "bytes", [](const R& a, const R& b) { return address_less(a.addr, b.addr); });
  std::string needle = lower(q.get_or("filter", ""));
  std::optional<Prefix> prefix;
  if (auto p = q.get("prefix")) prefix = parse_prefix(*p);
  uint64_t from = q.get_time_ns("from", 0), to = q.get_time_ns("to", UINT64_MAX);
  bool by_name = q.get_or("sort", "bytes") == "name";

  std::vector<R> r = rows(workers, false);
  std::vector<NameRow> n = names(workers);
  NamesByAddress by = index_names(n);
  if (from || to != UINT64_MAX) {
    // Hosts active in the window: seen at or after `from`, and first seen by `to`.
    std::erase_if(r, [&](const R& x) { return x.last_ns < from || x.first_ns > to; });
  }
  if (prefix) std::erase_if(r, [&](const R& x) { return !prefix->contains(x.addr); });
  if (!needle.empty()) {
    std::erase_if(r, [&](const R& x) {
      if (format_address(x.addr).find(needle) != std::string::npos) return false;
      auto it = by.find(x.addr);
      if (it == by.end()) return true;
      for (const NameRow* nr : it->second) {
        if (nr->name.find(needle) != std::string::npos) return false;
      }
      return true;
    });
  }
  if (by_name) {
    for (R& x : r) {
      auto it = by.find(x.addr);
      if (it != by.end()) x.name = it->second.front()->name;
    }
  }
  page.write(r, out, [&](JsonWriter& w, R& x) {
    auto it = by.find(x.addr);
    if (it != by.end()) x.name = it->second.front()->name;
    write_row(w, x, nullptr, nullptr);
  });
  return 200;
}

int Plugin::query_host(std::span<Worker* const> workers, std::string_view text, const Query& q,
                       JsonWriter& out) {
  q.allow_only({});
  Address addr;
  if (!parse_address(text, addr)) throw QueryError("expected an IPv4 or IPv6 address");
  HostRow row;
  std::vector<PeerRow> peers;
  std::vector<NameRow> all = names(workers);
  NamesByAddress by = index_names(all);
  auto it = by.find(addr);
  bool found = detail(workers, addr, row, peers);
  if (!found && it == by.end()) {
    out.begin_object().field("error", "no such host: " + std::string(text)).end_object();
    return 404;
  }
  static const std::vector<const NameRow*> kNone;
  if (it != by.end()) row.name = it->second.front()->name;
  // A host known only by name (a DNS answer for an address not contacted yet) has zero traffic.
  out.begin_object().key("host");
  write_row(out, row, it != by.end() ? &it->second : &kNone, &peers);
  std::string key = format_address(addr);
  series_.watch(key);  // looking at a host graphs it, busy or not
  out.field("series", "ip." + key + ".bps");
  out.end_object();
  return 200;
}

int Plugin::query_names(std::span<Worker* const> workers, const Query& q, JsonWriter& out) {
  q.allow_only({"sort", "order", "page", "size", "filter", "source", "from", "to"});
  using R = NameRow;
  ListPage<R> page(
      q,
      {{"name", [](const R& a, const R& b) { return a.name < b.name; }},
       {"address", [](const R& a, const R& b) { return address_less(a.addr, b.addr); }},
       {"count", [](const R& a, const R& b) { return a.count < b.count; }},
       {"first_seen", [](const R& a, const R& b) { return a.first_ns < b.first_ns; }},
       {"last_seen", [](const R& a, const R& b) { return a.last_ns < b.last_ns; }}},
      "last_seen", [](const R& a, const R& b) {
        return std::tie(a.name, a.source) < std::tie(b.name, b.source) ||
               (a.name == b.name && a.source == b.source && address_less(a.addr, b.addr));
      });
  std::string needle = lower(q.get_or("filter", ""));
  std::string source = q.get_or("source", "");
  if (!source.empty() && source != "dns" && source != "dhcp" && source != "sni") {
    throw QueryError("source: must be dns, dhcp or sni");
  }
  uint64_t from = q.get_time_ns("from", 0), to = q.get_time_ns("to", UINT64_MAX);
  std::vector<R> r = names(workers);
  std::erase_if(r, [&](const R& x) {
    if (x.last_ns < from || x.first_ns > to) return true;
    if (!source.empty() && source != source_name(x.source)) return true;
    if (needle.empty()) return false;
    return x.name.find(needle) == std::string::npos &&
           format_address(x.addr).find(needle) == std::string::npos;
  });
  page.write(r, out, write_name_row);
  return 200;
}

}  // namespace wiremeter::ip

WIREMETER_ANALYZER_PLUGIN(wiremeter::ip::Plugin)

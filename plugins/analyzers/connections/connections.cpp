// connections: the data path (per-flow analysis, the active-flow list, snapshots, records) and
// the plugin's metrics and offline report. The REST views are in views.cpp.
#include "connections.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <tuple>

namespace wiremeter::connections {
namespace {

size_t proto_index(uint8_t proto) {
  std::string_view label = proto_label(proto);
  for (size_t i = 0; i < kProtoLabels.size(); ++i) {
    if (label == kProtoLabels[i]) return i;
  }
  return kProtoLabels.size() - 1;
}

}  // namespace

ServerMeter::ServerMeter(size_t capacity)
    : half_(std::max<size_t>(capacity / 2, 1)),
      mask_(std::bit_ceil(half_ * 2) - 1),
      entries_(std::make_unique<Entry[]>(half_ * 2)),
      index_(std::make_unique<uint32_t[]>((mask_ + 1) * 2)) {}

ServerMeter::KeyWords ServerMeter::words(const ServerKey& key) noexcept {
  KeyWords w;
  std::memcpy(w.data(), &key, sizeof key);
  return w;
}

ServerKey ServerMeter::key(size_t i) const noexcept {
  KeyWords w;
  for (size_t j = 0; j < kKeyWords; ++j) w[j] = entries_[i].key[j].load(std::memory_order_relaxed);
  ServerKey k;
  std::memcpy(&k, w.data(), sizeof k);
  return k;
}

bool ServerMeter::key_is(size_t i, const KeyWords& want) const noexcept {
  // The last word (port, version, protocol) first: it tells most keys apart.
  for (size_t j = kKeyWords; j-- > 0;) {
    if (entries_[i].key[j].load(std::memory_order_relaxed) != want[j]) return false;
  }
  return true;
}

std::pair<size_t, uint32_t> ServerMeter::probe(int h, size_t hash,
                                               const KeyWords& key) const noexcept {
  // Half full at most, so a probe ends soon at an empty slot.
  const uint32_t* index = &index_[static_cast<size_t>(h) * (mask_ + 1)];
  for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
    uint32_t e = index[i];
    if (e == 0 || key_is(e - 1, key)) return {i, e};
  }
}

uint32_t ServerMeter::find_or_add(const ServerKey& key, uint32_t& expiry) noexcept {
  size_t hash = ServerKeyHash{}(key);
  KeyWords w = words(key);
  auto [slot, e] = probe(newer_, hash, w);
  if (e) {
    expiry = swaps_ + 2;  // the newer half is cleared at the swap after next
    return e;
  }
  if (auto [_, old] = probe(1 - newer_, hash, w); old) {
    expiry = swaps_ + 1;
    return old;
  }
  size_t n = published_[newer_].load(std::memory_order_relaxed);
  if (n >= half_) {
    overflow.add();
    expiry = swaps_ + 1;  // try again once the halves have swapped
    return 0;
  }
  size_t i = static_cast<size_t>(newer_) * half_ + n;
  entries_[i].bytes.set(0);
  for (size_t j = 0; j < kKeyWords; ++j) entries_[i].key[j].store(w[j], std::memory_order_relaxed);
  index_[static_cast<size_t>(newer_) * (mask_ + 1) + slot] = static_cast<uint32_t>(i + 1);
  published_[newer_].store(n + 1, std::memory_order_release);  // the entry is in place before
  expiry = swaps_ + 2;
  return static_cast<uint32_t>(i + 1);
}

void ServerMeter::age() noexcept {
  if (published_[newer_].load(std::memory_order_relaxed) < half_) return;
  int older = 1 - newer_;
  evicted.add(published_[older].load(std::memory_order_relaxed));
  // A reader that sees the new epoch sees the emptied half (release); one that reads an entry
  // rewritten after the fence sees the new epoch when it checks (fence to fence).
  published_[older].store(0, std::memory_order_relaxed);
  epoch_[older].store(epoch_[older].load(std::memory_order_relaxed) + 1, std::memory_order_release);
  std::atomic_thread_fence(std::memory_order_release);
  std::fill_n(&index_[static_cast<size_t>(older) * (mask_ + 1)], mask_ + 1, 0u);
  newer_ = older;
  ++swaps_;
}

bool ServerMeter::holds(const ServerKey& key) const noexcept {
  KeyWords w = words(key);
  for (int h = 0; h < 2; ++h) {
    size_t n = std::min(size(h), half_);
    for (size_t i = 0; i < n; ++i) {
      if (key_is(static_cast<size_t>(h) * half_ + i, w)) return true;
    }
  }
  return false;
}

Worker::Worker(const wm_worker_info& info, size_t record_capacity, SnapshotPacing pacing,
               size_t metered_servers)
    : slot_(info.flow_state_offset),
      pacing_(pacing),
      records_(record_capacity),
      servers_(kServersPerWorker),
      meter_(metered_servers) {
  server_backlog_.reserve(kServerBacklog);
}

void Worker::link(FlowState& s, const wm_flow_info* flow) noexcept {
  s.flow = flow;
  s.prev = nullptr;
  s.next = head_;
  if (head_) head_->prev = &s;
  head_ = &s;
  active.add(1);
  started[proto_index(flow->l4_proto)].add(1);
}

void Worker::unlink(FlowState& s) noexcept {
  if (cursor_ == &s) cursor_ = s.next;  // a snapshot in progress must not visit freed state
  if (s.prev) {
    s.prev->next = s.next;
  } else {
    head_ = s.next;
  }
  if (s.next) s.next->prev = s.prev;
  s.prev = s.next = nullptr;
  s.flow = nullptr;
  active.set(active.value() - 1);
}

void Worker::observe_rtt(uint64_t us) noexcept {
  double seconds = static_cast<double>(us) / 1e6;
  size_t b = 0;
  while (b < kRttBounds.size() && seconds > kRttBounds[b]) ++b;
  rtt_buckets[b].add(1);
  rtt_sum_us.add(us);
}

void Worker::on_batch(std::span<const wm_packet> packets) noexcept {
  bool watched = watching.load(std::memory_order_relaxed);
  for (const wm_packet& p : packets) {
    FlowState* s = slot_.get(p);
    if (!s || !p.flow) continue;
    if (watched) {
      for (size_t i = 0; i < kWatchSlots; ++i) {
        if (watch_id[i].load(std::memory_order_relaxed) == p.flow->id + 1) {
          watch_bytes[i].add(p.wire_len);
        }
      }
    }
    // The first packet of a flow puts it on the active list (zero-filled state: flow == null).
    if (!s->flow) link(*s, p.flow);
    Segment seg;
    if (p.l4_proto == kProtoTcp && parse_segment(p, seg)) {
      SegmentEvents ev = analyze_segment(s->tcp, s->track, seg);
      if (ev.retransmission) retx_packets.add(1);
      if (ev.reset) resets.add(1);
      if (ev.handshake_done) observe_rtt(s->tcp.handshake_us());
    }
    // The meter entry is looked up after the first packet's analysis (a SYN or SYN/ACK names the
    // server, otherwise the ports do, as the servers table decides at flow end), and again
    // whenever the meter has evicted it or had no room for it (a zero-filled state has expired).
    if (meter_.expired(s->server_expiry)) {
      s->server_entry = meter_.find_or_add(server_key(*p.flow, s->tcp), s->server_expiry);
    }
    if (s->server_entry) meter_.add(s->server_entry, p.wire_len);
  }
}

// Adds `f` (if any) and the backlog to the servers table, unless the control plane is copying
// the table right now: then `f` waits in the backlog (or is lost when that is full).
void Worker::add_to_servers(const FlowSummary* f) {
  std::unique_lock lock(servers_mutex_, std::try_to_lock);
  if (!lock.owns_lock()) {
    if (!f) return;
    if (server_backlog_.size() < kServerBacklog) {
      server_backlog_.push_back(*f);
    } else {
      lost_records.add(1);
    }
    return;
  }
  for (const FlowSummary& b : server_backlog_) servers_.add(b);
  server_backlog_.clear();
  if (f) servers_.add(*f);
}

void Worker::on_flow_end(const wm_flow_info& flow, FlowState& state) noexcept {
  // A flow the host created and evicted within one batch never reached on_batch: not linked.
  if (state.flow) unlink(state);
  FlowSummary f = summarize(flow, state.tcp, flow.end_reason);
  try {
    records_.push(f);
    add_to_servers(&f);
  } catch (...) {
    lost_records.add(1);  // out of memory: lose the record, not the process
  }
}

void Worker::request_snapshot(uint64_t generation) noexcept {
  uint64_t cur = requested_gen_.load(std::memory_order_relaxed);
  while (cur < generation &&
         !requested_gen_.compare_exchange_weak(cur, generation, std::memory_order_release)) {
  }
}

void Worker::worker_tick(uint64_t) noexcept {
  meter_.age();
  if (!server_backlog_.empty()) {
    try {
      add_to_servers(nullptr);
    } catch (...) {
      lost_records.add(1);
    }
  }
  if (!building_) {
    uint64_t want = requested_gen_.load(std::memory_order_acquire);
    if (want <= published_gen_.load(std::memory_order_relaxed)) return;
    building_ = true;
    building_gen_ = want;
    cursor_ = head_;
    building_flows_.clear();
  }
  try {
    if (building_flows_.empty()) building_flows_.reserve(active.value());
    auto deadline = std::chrono::steady_clock::now() + pacing_.budget;
    for (size_t n = 0; cursor_ && n < pacing_.max_flows; ++n) {
      // The clock is read every 256 flows: often enough for the budget, rarely enough to be free.
      if ((n & 255) == 255 && std::chrono::steady_clock::now() >= deadline) break;
      building_flows_.push_back(summarize(*cursor_->flow, cursor_->tcp, WM_FLOW_ACTIVE));
      cursor_ = cursor_->next;
    }
    if (cursor_) return;  // the rest on the next tick
    auto flows = std::make_shared<const std::vector<FlowSummary>>(std::move(building_flows_));
    building_flows_ = {};
    {
      std::lock_guard lock(snapshot_mutex_);
      published_ = Snapshot{std::move(flows), building_gen_, std::chrono::steady_clock::now()};
    }
    published_gen_.store(building_gen_, std::memory_order_release);
  } catch (...) {
    // Out of memory: give up this snapshot; the query serves the previous one as stale.
    building_flows_ = {};
  }
  building_ = false;
  cursor_ = nullptr;
}

Snapshot Worker::snapshot() const {
  std::lock_guard lock(snapshot_mutex_);
  return published_;
}

ServerTable Worker::servers() const {
  std::lock_guard lock(servers_mutex_);
  return servers_;
}

Plugin::Plugin(Host& host)
    : host_(host),
      active_id_(host.register_metric("wiremeter_connections_active", "Flows currently tracked.",
                                      WM_METRIC_GAUGE)),
      total_id_(host.register_metric("wiremeter_connections_total", "Flows seen, by IP protocol.",
                                     WM_METRIC_COUNTER)),
      retx_id_(host.register_metric(
          "wiremeter_connections_tcp_retransmitted_packets_total",
          "TCP segments whose sequence range was already seen, or that filled a gap later "
          "than the handshake RTT.",
          WM_METRIC_COUNTER)),
      resets_id_(host.register_metric("wiremeter_connections_tcp_resets_total",
                                      "TCP segments with RST.", WM_METRIC_COUNTER)),
      rtt_id_(host.register_metric(
          "wiremeter_connections_tcp_handshake_seconds",
          "TCP handshake round trip: latest SYN to SYN/ACK plus SYN/ACK to the final ACK.",
          WM_METRIC_HISTOGRAM)),
      dropped_id_(host.register_metric(
          "wiremeter_connections_records_dropped_total",
          "Ended-flow records overwritten because a worker's record log was full.",
          WM_METRIC_COUNTER)),
      meter_evictions_id_(host.register_metric(
          "wiremeter_connections_server_meter_evictions_total",
          "Servers dropped from the live per-server byte meter (the server graphs) to make room "
          "for newer ones.",
          WM_METRIC_COUNTER)),
      meter_overflow_id_(host.register_metric(
          "wiremeter_connections_server_meter_overflow_total",
          "Flows whose server found no room in the live per-server byte meter (metered from the "
          "next swap of its halves on).",
          WM_METRIC_COUNTER)) {
  host.expect_no_settings();
}

std::unique_ptr<Worker> Plugin::make_worker(const wm_worker_info& info) {
  return std::make_unique<Worker>(info, kRecordsPerWorker);
}

void Plugin::collect(std::span<Worker* const> workers, MetricSink& sink) {
  uint64_t active = 0, retx = 0, resets = 0, rtt_sum_us = 0, dropped = 0, meter_evictions = 0,
           meter_overflow = 0;
  std::array<uint64_t, kProtoLabels.size()> started{};
  std::array<uint64_t, kRttBounds.size() + 1> cumulative{};
  for (Worker* w : workers) {
    if (!w) continue;
    active += w->active.value();
    retx += w->retx_packets.value();
    resets += w->resets.value();
    rtt_sum_us += w->rtt_sum_us.value();
    dropped += w->records().dropped() + w->lost_records.value();
    meter_evictions += w->server_meter().evicted.value();
    meter_overflow += w->server_meter().overflow.value();
    for (size_t i = 0; i < started.size(); ++i) started[i] += w->started[i].value();
    uint64_t running = 0;
    for (size_t b = 0; b < cumulative.size(); ++b) {
      running += w->rtt_buckets[b].value();
      cumulative[b] += running;
    }
  }
  sink.sample(active_id_, {}, static_cast<double>(active));
  for (size_t i = 0; i < started.size(); ++i) {
    sink.sample(total_id_, {{"proto", kProtoLabels[i]}}, static_cast<double>(started[i]));
  }
  sink.sample(retx_id_, {}, static_cast<double>(retx));
  sink.sample(resets_id_, {}, static_cast<double>(resets));
  sink.histogram(rtt_id_, {}, kRttBounds, cumulative, static_cast<double>(rtt_sum_us) / 1e6);
  sink.sample(dropped_id_, {}, static_cast<double>(dropped));
  sink.sample(meter_evictions_id_, {}, static_cast<double>(meter_evictions));
  sink.sample(meter_overflow_id_, {}, static_cast<double>(meter_overflow));
}

void Plugin::write_json(std::span<Worker* const> workers, JsonWriter& out) {
  std::vector<FlowSummary> flows;
  ServerTable servers;
  uint64_t active = 0, dropped = 0, ended = 0, meter_evictions = 0, meter_overflow = 0;
  for (Worker* w : workers) {
    if (!w) continue;
    w->records().for_each([&](const FlowSummary& f) { flows.push_back(f); });
    servers.merge(w->servers());
    active += w->active.value();
    dropped += w->records().dropped() + w->lost_records.value();
    ended += w->records().total();
    meter_evictions += w->server_meter().evicted.value();
    meter_overflow += w->server_meter().overflow.value();
  }
  // Capture order, so that a report reads like the capture and diffs stay stable.
  std::sort(flows.begin(), flows.end(), [](const FlowSummary& a, const FlowSummary& b) {
    return std::tie(a.first_ns, a.worker, a.id) < std::tie(b.first_ns, b.worker, b.id);
  });
  std::vector<std::pair<const ServerKey*, const ServerStats*>> rows;
  rows.reserve(servers.rows().size());
  for (const auto& [k, v] : servers.rows()) rows.emplace_back(&k, &v);
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
    if (a.second->bytes != b.second->bytes) return a.second->bytes > b.second->bytes;
    return std::memcmp(a.first, b.first, sizeof(ServerKey)) < 0;
  });

  out.begin_object().key("flows").begin_array();
  for (const FlowSummary& f : flows) write_flow(out, f, app_name(f));
  out.end_array().key("servers").begin_array();
  for (const auto& [k, v] : rows) write_server(out, *k, *v);
  out.end_array()
      .field("active", active)
      .field("ended", ended)
      .field("dropped", dropped)
      .field("servers_overflow", servers.overflow())
      .field("server_meter_evictions", meter_evictions)
      .field("server_meter_overflow", meter_overflow)
      .end_object();
}

}  // namespace wiremeter::connections

WIREMETER_ANALYZER_PLUGIN(wiremeter::connections::Plugin)

#include "port_plugin.hpp"

#include <algorithm>
#include <map>

namespace wiremeter::port {

size_t size_bucket(uint32_t len) {
  for (size_t i = 0; i < kSizeBounds.size(); ++i) {
    if (len <= kSizeBounds[i]) return i;
  }
  return kSizeBounds.size();
}

void BurstTracker::roll(uint64_t ms) noexcept {
  if (cur_ms == 0) {  // first packet ever
    cur_ms = ms;
    cur_s = ms / 1000;
    return;
  }
  if (ms <= cur_ms) return;  // time never goes back for us; late packets join the current ms
  if (cur_ms_bytes > cur_s_peak.value()) cur_s_peak.set(cur_ms_bytes);
  cur_ms = ms;
  cur_ms_bytes = 0;
  if (ms / 1000 != cur_s) {
    publish(cur_s, cur_s_peak.value());
    cur_s = ms / 1000;
    cur_s_peak.set(0);
  }
}

void BurstTracker::publish(uint64_t second, uint64_t peak) noexcept {
  last_s.set(second);
  last_s_peak.set(peak);
  if (peak > max_peak.value()) {
    max_peak.set(peak);
    max_peak_s.set(second);
  }
  ring_s[second % kBurstHistory].set(second);
  ring_peak[second % kBurstHistory].set(peak);
}

void PortWorker::on_batch(std::span<const wm_packet> packets) noexcept {
  for (const wm_packet& p : packets) {
    if (p.port >= kMaxPorts) continue;
    PerPort& pp = ports_[p.port];
    pp.packets.add(1);
    pp.bytes.add(p.wire_len);
    pp.sizes[size_bucket(p.wire_len)].add(1);
    pp.burst.add(p.ts_ns, p.wire_len);
    if (p.port >= ports_seen_) ports_seen_ = static_cast<uint16_t>(p.port + 1);
  }
}

void PortWorker::worker_tick(uint64_t now_ns) noexcept {
  for (uint16_t p = 0; p < ports_seen_; ++p) {
    if (ports_[p].burst.cur_ms) ports_[p].burst.roll(now_ns / 1'000'000);
  }
}

PortPlugin::PortPlugin(Host& host)
    : host_(host),
      rx_packets_(host.register_metric("wiremeter_port_rx_packets_total",
                                       "Packets received and analyzed on the port.",
                                       WM_METRIC_COUNTER)),
      rx_bytes_(host.register_metric("wiremeter_port_rx_bytes_total",
                                     "Frame bytes received and analyzed on the port.",
                                     WM_METRIC_COUNTER)),
      tx_packets_(host.register_metric("wiremeter_port_tx_packets_total",
                                       "Packets forwarded out of the port (bridge mode).",
                                       WM_METRIC_COUNTER)),
      tx_bytes_(host.register_metric("wiremeter_port_tx_bytes_total",
                                     "Frame bytes forwarded out of the port (bridge mode).",
                                     WM_METRIC_COUNTER)),
      dropped_(host.register_metric(
          "wiremeter_port_dropped_packets_total",
          "Packets lost on the port, by reason: rx_missed (NIC queue full), rx_nombuf (no "
          "buffer), tx_dropped (TX queue full).",
          WM_METRIC_COUNTER)),
      errors_(host.register_metric("wiremeter_port_errors_total",
                                   "Erroneous packets reported by the driver, by direction.",
                                   WM_METRIC_COUNTER)),
      sizes_(host.register_metric("wiremeter_port_frame_size_bytes",
                                  "Distribution of received frame sizes.", WM_METRIC_HISTOGRAM)),
      link_up_(host.register_metric("wiremeter_port_link_up", "1 when the port's link is up.",
                                    WM_METRIC_GAUGE)),
      burst_peak_(host.register_metric(
          "wiremeter_port_rx_peak_1ms_bytes_per_second",
          "Microbursts: received rate in the busiest millisecond of the last complete second.",
          WM_METRIC_GAUGE)) {
  host.expect_no_settings();
}

std::unique_ptr<PortWorker> PortPlugin::make_worker(const wm_worker_info&) {
  return std::make_unique<PortWorker>();
}

std::vector<PortPlugin::Totals> PortPlugin::totals(std::span<PortWorker* const> workers) const {
  uint16_t n = std::min<uint16_t>(host_.port_count(), kMaxPorts);
  std::vector<Totals> t(n);
  for (uint16_t p = 0; p < n; ++p) {
    if (auto info = host_.port_info(p)) {
      t[p].info = *info;
      t[p].name = info->name ? info->name : std::to_string(p);
    }
    for (PortWorker* w : workers) {
      if (!w) continue;
      const auto& pp = w->port(p);
      t[p].rx_packets += pp.packets.value();
      t[p].rx_bytes += pp.bytes.value();
      for (size_t b = 0; b < kSizeBuckets; ++b) t[p].sizes[b] += pp.sizes[b].value();
    }
    bursts(workers, p, t[p]);
  }
  return t;
}

// Workers see disjoint flows of a port, so their busiest milliseconds of the same second are
// added: exact with one worker, an upper bound with several (their peaks may not coincide).
void PortPlugin::bursts(std::span<PortWorker* const> workers, uint16_t p, Totals& t) const {
  constexpr double kBitsPerMsByte = 8.0 * 1000.0;
  std::map<uint64_t, uint64_t> by_second;
  for (PortWorker* w : workers) {
    if (!w) continue;
    const BurstTracker& b = w->port(p).burst;
    t.burst_second = std::max(t.burst_second, b.last_s.value());
    if (b.max_peak.value() * kBitsPerMsByte > t.burst_max_bps) {
      t.burst_max_bps = static_cast<double>(b.max_peak.value()) * kBitsPerMsByte;
      t.burst_max_second = b.max_peak_s.value();
    }
    for (size_t i = 0; i < kBurstHistory; ++i) {
      if (uint64_t s = b.ring_s[i].value()) by_second[s] += b.ring_peak[i].value();
    }
  }
  if (auto it = by_second.find(t.burst_second); it != by_second.end()) {
    t.burst_peak_bps = static_cast<double>(it->second) * kBitsPerMsByte;
  }
  for (auto& [s, peak] : by_second) {
    if (s + kBurstHistory > t.burst_second) {
      t.burst_history.emplace_back(s, static_cast<double>(peak) * kBitsPerMsByte);
    }
  }
}

void PortPlugin::collect(std::span<PortWorker* const> workers, MetricSink& sink) {
  for (const Totals& t : totals(workers)) {
    const char* port = t.name.c_str();
    Labels l{{"port", port}};
    sink.sample(rx_packets_, l, static_cast<double>(t.rx_packets));
    sink.sample(rx_bytes_, l, static_cast<double>(t.rx_bytes));
    sink.sample(tx_packets_, l, static_cast<double>(t.info.tx_packets));
    sink.sample(tx_bytes_, l, static_cast<double>(t.info.tx_bytes));
    sink.sample(dropped_, Labels{{"port", port}, {"reason", "rx_missed"}},
                static_cast<double>(t.info.rx_missed));
    sink.sample(dropped_, Labels{{"port", port}, {"reason", "rx_nombuf"}},
                static_cast<double>(t.info.rx_nombuf));
    sink.sample(dropped_, Labels{{"port", port}, {"reason", "tx_dropped"}},
                static_cast<double>(t.info.tx_dropped));
    sink.sample(errors_, Labels{{"port", port}, {"direction", "rx"}},
                static_cast<double>(t.info.rx_errors));
    sink.sample(errors_, Labels{{"port", port}, {"direction", "tx"}},
                static_cast<double>(t.info.tx_errors));
    sink.sample(link_up_, l, t.info.link_up ? 1.0 : 0.0);
    sink.sample(burst_peak_, l, t.burst_peak_bps / 8);  // Prometheus' base unit is bytes
    std::array<uint64_t, kSizeBuckets> cumulative{};
    uint64_t running = 0;
    for (size_t b = 0; b < kSizeBuckets; ++b) {
      running += t.sizes[b];
      cumulative[b] = running;
    }
    sink.histogram(sizes_, l, kSizeBounds, cumulative, static_cast<double>(t.rx_bytes));
  }
}

void PortPlugin::on_tick(std::span<PortWorker* const> workers, uint64_t now_ns) {
  auto t = totals(workers);
  if (rates_.size() != t.size()) rates_.resize(t.size());
  double dt = last_tick_ns_ && now_ns > last_tick_ns_
                  ? static_cast<double>(now_ns - last_tick_ns_) / 1e9
                  : 0.0;
  for (size_t p = 0; p < t.size(); ++p) {
    Rate& r = rates_[p];
    if (dt > 0) {
      r.rx_pps = static_cast<double>(t[p].rx_packets - r.rx_packets) / dt;
      r.rx_bps = static_cast<double>(t[p].rx_bytes - r.rx_bytes) * 8 / dt;
      r.tx_pps = static_cast<double>(t[p].info.tx_packets - r.tx_packets) / dt;
      r.tx_bps = static_cast<double>(t[p].info.tx_bytes - r.tx_bytes) * 8 / dt;
    }
    if (dt > 0) {
      host_.record_series(t[p].name + ".rx_bps", r.rx_bps);
      host_.record_series(t[p].name + ".tx_bps", r.tx_bps);
      host_.record_series(t[p].name + ".rx_pps", r.rx_pps);
      host_.record_series(t[p].name + ".tx_pps", r.tx_pps);
      host_.record_series(t[p].name + ".rx_peak_1ms_bps", t[p].burst_peak_bps);
    }
    r.rx_packets = t[p].rx_packets;
    r.rx_bytes = t[p].rx_bytes;
    r.tx_packets = t[p].info.tx_packets;
    r.tx_bytes = t[p].info.tx_bytes;
  }
  last_tick_ns_ = now_ns;
}

void PortPlugin::write_json(std::span<PortWorker* const> workers, JsonWriter& out) {
  auto t = totals(workers);
  out.begin_object().key("ports").begin_array();
  for (size_t p = 0; p < t.size(); ++p) {
    const Totals& x = t[p];
    Rate r = p < rates_.size() ? rates_[p] : Rate{};
    out.begin_object()
        .field("name", x.name)
        .field("link_up", x.info.link_up != 0)
        .field("speed_mbps", x.info.speed_mbps)
        .field("rx_packets", x.rx_packets)
        .field("rx_bytes", x.rx_bytes)
        .field("tx_packets", x.info.tx_packets)
        .field("tx_bytes", x.info.tx_bytes)
        .field("rx_pps", r.rx_pps)
        .field("rx_bps", r.rx_bps)
        .field("tx_pps", r.tx_pps)
        .field("tx_bps", r.tx_bps);
    out.key("drops")
        .begin_object()
        .field("rx_missed", x.info.rx_missed)
        .field("rx_nombuf", x.info.rx_nombuf)
        .field("tx_dropped", x.info.tx_dropped)
        .end_object();
    out.key("errors")
        .begin_object()
        .field("rx", x.info.rx_errors)
        .field("tx", x.info.tx_errors)
        .end_object();
    out.key("microbursts")
        .begin_object()
        .field("second", x.burst_second)
        .field("peak_1ms_bps", x.burst_peak_bps)
        .field("max_peak_1ms_bps", x.burst_max_bps)
        .field("max_peak_second", x.burst_max_second);
    out.key("history").begin_array();
    for (auto& [s, bps] : x.burst_history) out.begin_array().value(s).value(bps).end_array();
    out.end_array().end_object();
    out.key("size_histogram").begin_array();
    for (size_t b = 0; b < kSizeBuckets; ++b) {
      out.begin_object();
      if (b < kSizeBounds.size()) {
        out.field("le", static_cast<uint64_t>(kSizeBounds[b]));
      } else {
        out.key("le").null();
      }
      out.field("packets", x.sizes[b]).end_object();
    }
    out.end_array().end_object();
  }
  out.end_array().end_object();
}

}  // namespace wiremeter::port

WIREMETER_ANALYZER_PLUGIN(wiremeter::port::PortPlugin)

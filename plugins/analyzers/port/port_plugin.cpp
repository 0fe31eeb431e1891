#include "port_plugin.hpp"

#include <algorithm>
#include <bit>
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
  // First/last seen are stored once per port and batch, not per frame: a batch spans
  // microseconds, and the list's time window needs no finer resolution.
  uint64_t ports_in_batch = 0;
  uint64_t batch_first_ns = UINT64_MAX, batch_last_ns = 0;
  for (const wm_packet& p : packets) {
    if (p.port >= kMaxPorts) continue;
    PerPort& pp = ports_[p.port];
    pp.packets.add(1);
    pp.bytes.add(p.wire_len);
    pp.sizes[size_bucket(p.wire_len)].add(1);
    pp.burst.add(p.ts_ns, p.wire_len);
    if (p.port >= ports_seen_) ports_seen_ = static_cast<uint16_t>(p.port + 1);
    ports_in_batch |= uint64_t{1} << p.port;
    batch_first_ns = std::min(batch_first_ns, p.ts_ns);
    batch_last_ns = std::max(batch_last_ns, p.ts_ns);
  }
  for (; ports_in_batch; ports_in_batch &= ports_in_batch - 1) {
    PerPort& pp = ports_[std::countr_zero(ports_in_batch)];
    if (!pp.first_ns.value()) pp.first_ns.set(batch_first_ns);
    if (batch_last_ns > pp.last_ns.value()) pp.last_ns.set(batch_last_ns);
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
    t[p].id = p;
    t[p].name = std::to_string(p);
    if (auto info = host_.port_info(p)) {
      t[p].info = *info;
      if (info->name) t[p].name = info->name;
    }
    for (PortWorker* w : workers) {
      if (!w) continue;
      const auto& pp = w->port(p);
      if (uint64_t first = pp.first_ns.value()) {
        t[p].first_ns = t[p].first_ns ? std::min(t[p].first_ns, first) : first;
      }
      t[p].last_ns = std::max(t[p].last_ns, pp.last_ns.value());
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
      const std::array<double, kSeriesSuffixes.size()> values = {r.rx_bps, r.tx_bps, r.rx_pps,
                                                                 r.tx_pps, t[p].burst_peak_bps};
      for (size_t i = 0; i < values.size(); ++i) {
        host_.record_series(t[p].name + "." + std::string(kSeriesSuffixes[i]), values[i]);
      }
    }
    r.rx_packets = t[p].rx_packets;
    r.rx_bytes = t[p].rx_bytes;
    r.tx_packets = t[p].info.tx_packets;
    r.tx_bytes = t[p].info.tx_bytes;
  }
  last_tick_ns_ = now_ns;
}

void PortPlugin::write_counters(JsonWriter& out, const Totals& x, const Rate& r) {
  out.field("name", x.name)
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
}

void PortPlugin::write_bursts(JsonWriter& out, const Totals& x) {
  out.key("microbursts")
      .begin_object()
      .field("second", x.burst_second)
      .field("peak_1ms_bps", x.burst_peak_bps)
      .field("max_peak_1ms_bps", x.burst_max_bps)
      .field("max_peak_second", x.burst_max_second);
  out.key("history").begin_array();
  for (auto& [s, bps] : x.burst_history) out.begin_array().value(s).value(bps).end_array();
  out.end_array().end_object();
}

void PortPlugin::write_sizes(JsonWriter& out, const Totals& x) {
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
  out.end_array();
}

void PortPlugin::write_seen(JsonWriter& out, const Totals& x) {
  out.field("id", static_cast<uint64_t>(x.id));
  out.key("first_seen");
  if (x.first_ns) {
    out.value(static_cast<double>(x.first_ns) / 1e9);
  } else {
    out.null();
  }
  out.key("last_seen");
  if (x.last_ns) {
    out.value(static_cast<double>(x.last_ns) / 1e9);
  } else {
    out.null();
  }
}

void PortPlugin::write_json(std::span<PortWorker* const> workers, JsonWriter& out) {
  auto t = totals(workers);
  out.begin_object().key("ports").begin_array();
  for (size_t p = 0; p < t.size(); ++p) {
    out.begin_object();
    write_counters(out, t[p], rate(p));
    write_bursts(out, t[p]);
    write_sizes(out, t[p]);
    out.end_object();
  }
  out.end_array().end_object();
}

int PortPlugin::query(std::span<PortWorker* const> workers, std::string_view path, const Query& q,
                      JsonWriter& out) {
  std::vector<Totals> all = totals(workers);
  if (path.starts_with("ports/")) {
    q.allow_only({});
    std::string_view key = path.substr(6);
    // By name first; a number that is no port's name is the port's id.
    auto it = std::find_if(all.begin(), all.end(), [&](const Totals& t) { return t.name == key; });
    if (it == all.end() && !key.empty() && key.size() <= 5 &&
        std::all_of(key.begin(), key.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      size_t id = std::stoul(std::string(key));
      if (id < all.size()) it = all.begin() + static_cast<std::ptrdiff_t>(id);
    }
    if (it == all.end()) {
      out.begin_object().field("error", "no such port: " + std::string(key)).end_object();
      return 404;
    }
    const Totals& x = *it;
    out.begin_object().key("port").begin_object();
    write_counters(out, x, rate(x.id));
    write_seen(out, x);
    write_bursts(out, x);
    write_sizes(out, x);
    out.end_object();
    // Every port's series are recorded every second (at most 64 ports), so there is nothing to
    // watch(): the graph exists whether or not the detail is open.
    std::string prefix = "port." + x.name + ".";
    out.field("series", prefix + std::string(kSeriesSuffixes[0]));
    out.key("series_all").begin_array();
    for (std::string_view s : kSeriesSuffixes) out.value(prefix + std::string(s));
    out.end_array().end_object();
    return 200;
  }
  if (path != "ports") return 404;
  q.allow_only({"sort", "order", "page", "size", "filter", "from", "to"});
  TimeWindow window(q);
  struct Row {
    Totals t;
    Rate r;
  };
  auto drops = [](const Row& x) {
    return x.t.info.rx_missed + x.t.info.rx_nombuf + x.t.info.tx_dropped;
  };
  auto errors = [](const Row& x) { return x.t.info.rx_errors + x.t.info.tx_errors; };
  ListPage<Row> page(
      q,
      {{"bytes",
        [](const Row& a, const Row& b) {
          return a.t.rx_bytes + a.t.info.tx_bytes < b.t.rx_bytes + b.t.info.tx_bytes;
        }},
       {"packets",
        [](const Row& a, const Row& b) {
          return a.t.rx_packets + a.t.info.tx_packets < b.t.rx_packets + b.t.info.tx_packets;
        }},
       {"name", [](const Row& a, const Row& b) { return a.t.name < b.t.name; }},
       {"rx_bps", [](const Row& a, const Row& b) { return a.r.rx_bps < b.r.rx_bps; }},
       {"tx_bps", [](const Row& a, const Row& b) { return a.r.tx_bps < b.r.tx_bps; }},
       {"peak", [](const Row& a, const Row& b) { return a.t.burst_peak_bps < b.t.burst_peak_bps; }},
       {"max_peak",
        [](const Row& a, const Row& b) { return a.t.burst_max_bps < b.t.burst_max_bps; }},
       {"drops", [&](const Row& a, const Row& b) { return drops(a) < drops(b); }},
       {"errors", [&](const Row& a, const Row& b) { return errors(a) < errors(b); }},
       {"first_seen", [](const Row& a, const Row& b) { return a.t.first_ns < b.t.first_ns; }},
       {"last_seen", [](const Row& a, const Row& b) { return a.t.last_ns < b.t.last_ns; }}},
      "bytes", [](const Row& a, const Row& b) { return a.t.id < b.t.id; });
  std::string needle = lower(q.get_or("filter", ""));
  std::vector<Row> rows;
  for (Totals& t : all) {
    // A port without frames was not active in any window; it is listed only without one.
    if (!window.all() && (!t.first_ns || !window.overlaps(t.first_ns, t.last_ns))) continue;
    if (!contains(t.name, needle)) continue;
    Rate r = rate(t.id);
    rows.push_back({std::move(t), r});
  }
  page.write(rows, out, [](JsonWriter& w, const Row& x) {
    w.begin_object();
    write_counters(w, x.t, x.r);
    write_seen(w, x.t);
    w.field("peak_second", x.t.burst_second)
        .field("peak_1ms_bps", x.t.burst_peak_bps)
        .field("max_peak_1ms_bps", x.t.burst_max_bps)
        .field("max_peak_second", x.t.burst_max_second)
        .end_object();
  });
  return 200;
}

}  // namespace wiremeter::port

WIREMETER_ANALYZER_PLUGIN(wiremeter::port::PortPlugin)

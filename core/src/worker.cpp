#include "wiremeter/core/worker.hpp"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_pause.h>

#include <ctime>
#include <thread>

#include "wiremeter/core/timestamps.hpp"

namespace wiremeter::core {

namespace {

// Calibrated once: wall time at a TSC reading, and the TSC rate.
struct Clock {
  uint64_t base_tsc;
  uint64_t base_ns;
  double ns_per_tsc;
  Clock() {
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    base_tsc = rte_rdtsc();
    base_ns = static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + ts.tv_nsec;
    uint64_t hz = rte_get_tsc_hz();
    ns_per_tsc = hz ? 1e9 / static_cast<double>(hz) : 1.0;
  }
};

const Clock& clock_state() {
  static const Clock c;
  return c;
}

}  // namespace

uint64_t wall_clock_ns() noexcept {
  const Clock& c = clock_state();
  return c.base_ns +
         static_cast<uint64_t>(static_cast<double>(rte_rdtsc() - c.base_tsc) * c.ns_per_tsc);
}

Worker::Worker(const WorkerConfig& cfg, std::vector<PortRuntime>* ports,
               std::vector<AnalyzerSlot> analyzers)
    : cfg_(cfg),
      ports_(ports),
      analyzers_(std::move(analyzers)),
      flows_(std::make_unique<FlowTable>(cfg.flow_memory_bytes, cfg.flow_state_bytes, cfg.timeouts,
                                         static_cast<uint8_t>(cfg.id))),
      port_counters_(ports->size()),
      // Not value-initialized: pages become resident only when a long frame uses them.
      linear_(new uint8_t[size_t{kBurstSize} * kMaxLinearFrame]) {
  flows_->set_end_callback([this](const wm_flow_info& flow, uint8_t* state) {
    // Modules that label flows end first: a label they decide only now (DPI giving up at the
    // end of a flow) is then in the record when the other modules see the flow end.
    for (int pass = 0; pass < 2; ++pass) {
      for (auto& a : analyzers_) {
        bool labeller = a.labels_flows && a.labels_flows->load(std::memory_order_relaxed);
        if (labeller != (pass == 0) || !a.hooks->on_flow_end || !a.worker_ctx) continue;
        a.hooks->on_flow_end(a.worker_ctx, &flow, state + a.flow_state_offset);
      }
    }
  });
}

uint64_t Worker::packet_time(const PortRuntime& port, rte_mbuf* m, uint64_t now_ns) const noexcept {
  if (port.capture_timestamps) {
    uint64_t ts;
    if (read_rx_timestamp_ns(m, ts)) return ts;
  }
  return now_ns;
}

void Worker::analyze(uint16_t port_index, rte_mbuf** pkts, uint16_t n, uint64_t now_ns) noexcept {
  const PortRuntime& port = (*ports_)[port_index];
  PortCounters& pc = port_counters_[port_index];
  uint64_t bytes = 0;
  uint64_t newest = 0;
  uint64_t without_flow = 0;
  flows_->begin_batch();
  for (uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = pkts[i];
    wm_packet& v = views_[i];
    v.ts_ns = packet_time(port, m, now_ns);
    v.port = port_index;
    const uint8_t* data = rte_pktmbuf_mtod(m, const uint8_t*);
    uint32_t cap_len = m->data_len;
    if (m->nb_segs > 1) {
      // Payload parsers (reassembly, certificates) need every byte, not the first segment's.
      cap_len = m->pkt_len < kMaxLinearFrame ? m->pkt_len : kMaxLinearFrame;
      uint8_t* buf = linear_.get() + size_t{i} * kMaxLinearFrame;
      data = static_cast<const uint8_t*>(rte_pktmbuf_read(m, 0, cap_len, buf));
    }
    DecodeError err = decode_packet(data, cap_len, m->pkt_len, port.link, v);
    if (err != DecodeError::kNone) decode_errors_[static_cast<size_t>(err)].add(1);
    if (!flows_->track(v)) ++without_flow;
    bytes += m->pkt_len;
    if (v.ts_ns > newest) newest = v.ts_ns;
  }
  pc.rx_packets.add(n);
  pc.rx_bytes.add(bytes);
  if (without_flow) no_flow_.add(without_flow);
  for (auto& a : analyzers_) {
    if (a.worker_ctx) a.hooks->on_batch(a.worker_ctx, views_, n);
  }
  if (newest > last_ts_.load(std::memory_order_relaxed)) {
    last_ts_.store(newest, std::memory_order_relaxed);
  }
}

void Worker::forward_or_drop(uint16_t port_index, uint16_t queue, rte_mbuf** pkts,
                             uint16_t n) noexcept {
  const PortRuntime& port = (*ports_)[port_index];
  if (port.peer >= 0 && port.mode->load(std::memory_order_relaxed) == 0) {
    const PortRuntime& peer = (*ports_)[port.peer];
    // Paired ports have equal queue counts, so TX queue `queue` of the peer is this worker's alone.
    uint16_t sent = rte_eth_tx_burst(peer.dpdk_id, queue, pkts, n);
    uint64_t bytes = 0;
    for (uint16_t i = 0; i < sent; ++i) bytes += pkts[i]->pkt_len;
    PortCounters& pc = port_counters_[port.peer];
    pc.tx_packets.add(sent);
    pc.tx_bytes.add(bytes);
    if (sent < n) {
      pc.tx_dropped.add(n - sent);
      rte_pktmbuf_free_bulk(pkts + sent, n - sent);
    }
    return;
  }
  rte_pktmbuf_free_bulk(pkts, n);
}

void Worker::run(const std::atomic<bool>& stop, bool stop_when_dry) {
  rte_mbuf* burst[kBurstSize];
  uint32_t idle_polls = 0;
  uint64_t last_expiry_ns = 0;
  std::vector<bool> dry(rx_.size(), false);
  size_t n_dry = 0;
  // Ports that stamp packets with capture time (a replayed file) run on that clock, live too:
  // expiry and ticks must compare like with like.
  capture_clock_ = stop_when_dry;
  for (auto& rq : rx_) capture_clock_ |= (*ports_)[rq.port_index].capture_timestamps;
  while (!stop.load(std::memory_order_relaxed)) {
    bool busy = false;
    uint64_t now = wall_clock_ns();
    for (size_t qi = 0; qi < rx_.size(); ++qi) {
      RxQueue& rq = rx_[qi];
      const PortRuntime& port = (*ports_)[rq.port_index];
      uint16_t want = kBurstSize;
      if (port.rx_limit_pps) {
        // Token bucket, refilled from elapsed time, capped at one burst of headroom.
        uint64_t elapsed = now - rq.last_refill_ns;
        uint64_t add = elapsed * port.rx_limit_pps / 1'000'000'000ull;
        if (add > 0) {
          rq.tokens = std::min<uint64_t>(rq.tokens + add, kBurstSize * 4);
          rq.last_refill_ns = now;
        }
        if (rq.tokens == 0) continue;
        want = static_cast<uint16_t>(std::min<uint64_t>(rq.tokens, kBurstSize));
      }
      uint16_t n = rte_eth_rx_burst(port.dpdk_id, rq.queue, burst, want);
      if (n == 0) {
        if (stop_when_dry && !dry[qi]) {
          dry[qi] = true;
          ++n_dry;
        }
        continue;
      }
      if (port.rx_limit_pps) rq.tokens -= n;
      busy = true;
      analyze(rq.port_index, burst, n, now);
      forward_or_drop(rq.port_index, rq.queue, burst, n);
    }
    if (stop_when_dry && n_dry == rx_.size()) break;
    // Live traffic: expire idle flows by wall clock about ten times a second. Offline runs
    // expire by capture time instead, in step with the packets.
    uint64_t clock = capture_clock_ ? last_ts_.load(std::memory_order_relaxed) : now;
    if (clock - last_expiry_ns > 100'000'000ull) {
      flows_->expire(clock);
      last_expiry_ns = clock;
      for (auto& a : analyzers_) {
        if (a.worker_tick && a.worker_ctx) a.worker_tick(a.worker_ctx, clock);
      }
    }
    if (busy) {
      idle_polls = 0;
    } else if (++idle_polls > 1000) {
      // Nothing to do for a while: give the core back instead of spinning at 100%.
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    } else {
      rte_pause();
    }
  }
}

void Worker::shutdown() noexcept {
  flows_->flush();
  // One last tick after the final flush, so that plugins publishing from worker_tick show
  // what the ended flows left. The worker thread has stopped: this thread may touch them.
  uint64_t now = capture_clock_ ? last_ts_.load(std::memory_order_relaxed) : wall_clock_ns();
  for (auto& a : analyzers_) {
    if (a.worker_tick && a.worker_ctx) a.worker_tick(a.worker_ctx, now);
  }
}

void Worker::release_plugins() noexcept {
  for (auto& a : analyzers_) {
    if (a.worker_ctx && a.hooks->worker_fini) a.hooks->worker_fini(a.worker_ctx);
    a.worker_ctx = nullptr;
  }
}

}  // namespace wiremeter::core

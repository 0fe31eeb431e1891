// SDK example: counts packets per IP protocol and flows by how they ended.
//
// It shows the pieces a real analyzer uses: a worker class on the data path, per-flow state the
// host allocates next to each flow, metrics registered once and filled at scrape time, a JSON
// view for the REST API, and on_tick for rates.
#include <array>
#include <memory>
#include <span>
#include <string>
#include <wiremeter/plugin.hpp>

namespace flow_counter {

// Per-flow state: zero-filled when the flow starts.
struct FlowState {
  uint32_t packets;
  uint8_t saw_reverse;  // the responder answered
};

class Worker {
 public:
  explicit Worker(const wm_worker_info& info) : state_(info.flow_state_offset) {}

  void on_batch(std::span<const wm_packet> packets) noexcept {
    for (const wm_packet& p : packets) {
      by_proto_[p.l4_proto].add(1);
      if (FlowState* s = state_.get(p)) {
        ++s->packets;
        if (p.direction == WM_DIR_REVERSE) s->saw_reverse = 1;
      }
    }
  }

  void on_flow_end(const wm_flow_info&, FlowState& s) noexcept {
    (s.saw_reverse ? answered_ : unanswered_).add(1);
  }

  std::array<wiremeter::Counter, 256> by_proto_;
  wiremeter::Counter answered_, unanswered_;

 private:
  wiremeter::FlowStateSlot<FlowState> state_;
};

class Plugin {
 public:
  using Worker = flow_counter::Worker;
  using FlowState = flow_counter::FlowState;

  explicit Plugin(wiremeter::Host& host)
      : packets_(host.register_metric("wiremeter_flow_counter_packets_total",
                                      "Packets per IP protocol.", WM_METRIC_COUNTER)),
        flows_(host.register_metric("wiremeter_flow_counter_flows_ended_total",
                                    "Ended flows, by whether the responder answered.",
                                    WM_METRIC_COUNTER)) {
    host.info("ready");
  }

  std::unique_ptr<Worker> make_worker(const wm_worker_info& info) {
    return std::make_unique<Worker>(info);
  }

  void collect(std::span<Worker* const> workers, wiremeter::MetricSink& sink) {
    for (int proto = 0; proto < 256; ++proto) {
      uint64_t n = 0;
      for (Worker* w : workers) n += w ? w->by_proto_[proto].value() : 0;
      if (n == 0) continue;
      std::string label = std::to_string(proto);
      sink.sample(packets_, {{"proto", label.c_str()}}, static_cast<double>(n));
    }
    uint64_t answered = 0, unanswered = 0;
    for (Worker* w : workers) {
      if (!w) continue;
      answered += w->answered_.value();
      unanswered += w->unanswered_.value();
    }
    sink.sample(flows_, {{"answered", "yes"}}, static_cast<double>(answered));
    sink.sample(flows_, {{"answered", "no"}}, static_cast<double>(unanswered));
  }

  void write_json(std::span<Worker* const> workers, wiremeter::JsonWriter& out) {
    uint64_t tcp = 0, udp = 0, answered = 0, unanswered = 0;
    for (Worker* w : workers) {
      if (!w) continue;
      tcp += w->by_proto_[6].value();
      udp += w->by_proto_[17].value();
      answered += w->answered_.value();
      unanswered += w->unanswered_.value();
    }
    out.begin_object()
        .field("tcp_packets", tcp)
        .field("udp_packets", udp)
        .field("flows_answered", answered)
        .field("flows_unanswered", unanswered)
        .end_object();
  }

 private:
  int packets_, flows_;
};

}  // namespace flow_counter

WIREMETER_ANALYZER_PLUGIN(flow_counter::Plugin)

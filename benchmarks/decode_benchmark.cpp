// Cost of wiremeter::core::decode_packet, the one decode every packet gets on the data path.
//
// BM_DecodeCapture decodes every frame of a capture held in memory (WM_BENCH_PCAP, default: the
// demo capture in the build tree), so the figure reflects a realistic mix of frame kinds and
// sizes. The single-frame cases isolate the two most common header stacks. The `per_packet`
// counter is the time per decoded frame (shown in s/ms/us/ns).
#include <benchmark/benchmark.h>
#include <wiremeter/abi.h>

#include <cstdio>
#include <string>
#include <wiremeter/testing/packet_builder.hpp>

#include "capture.hpp"
#include "wiremeter/core/decode.hpp"
#include "wiremeter/core/worker.hpp"

namespace wiremeter::bench {
namespace {

using core::DecodeError;

// Loaded on first use and kept for the process: every benchmark run reads the same bytes.
struct LoadedCapture {
  Capture capture;
  std::string error;
  bool ok = false;
};

const LoadedCapture& bench_capture() {
  static const LoadedCapture loaded = [] {
    LoadedCapture l;
    l.ok = load_capture(capture_path("WM_BENCH_PCAP", WM_BENCH_DEFAULT_PCAP), l.capture, l.error);
    return l;
  }();
  return loaded;
}

void set_per_packet(benchmark::State& state, double packets) {
  state.SetItemsProcessed(static_cast<int64_t>(packets));
  state.counters["per_packet"] =
      benchmark::Counter(packets, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_DecodeCapture(benchmark::State& state) {
  const LoadedCapture& l = bench_capture();
  if (!l.ok) {
    state.SkipWithError(l.error.c_str());
    return;
  }
  const Capture& cap = l.capture;
  // The worker decodes a burst into a fixed array of views; reusing one view would keep it
  // artificially hot in L1.
  wm_packet views[core::kBurstSize] = {};
  uint64_t malformed = 0;
  for (auto _ : state) {
    uint32_t i = 0;
    for (const Frame& f : cap.frames) {
      wm_packet& v = views[i++ % core::kBurstSize];
      DecodeError e = core::decode_packet(cap.data(f), f.cap_len, f.wire_len, cap.link, v);
      malformed += e != DecodeError::kNone;
      benchmark::DoNotOptimize(v.flags);
    }
  }
  set_per_packet(state, static_cast<double>(state.iterations()) * cap.frames.size());
  state.counters["frames"] = static_cast<double>(cap.frames.size());
  state.counters["malformed"] =
      state.iterations() ? static_cast<double>(malformed / state.iterations()) : 0.0;
  std::string name = cap.path.substr(cap.path.find_last_of('/') + 1);
  state.SetLabel(name);
}
BENCHMARK(BM_DecodeCapture);

testing::BuiltPacket ipv4_tcp() {
  return testing::PacketBuilder()
      .ipv4("198.18.0.1", "198.18.0.2")
      .tcp(40000, 443, testing::kTcpAck | testing::kTcpPsh)
      .payload_size(512)
      .build();
}

testing::BuiltPacket vlan_ipv6_udp() {
  return testing::PacketBuilder()
      .vlan(100)
      .ipv6("2001:db8::1", "2001:db8::2")
      .udp(50000, 53)
      .payload_size(64)
      .build();
}

void BM_DecodeFrame(benchmark::State& state, testing::BuiltPacket (*make)()) {
  testing::BuiltPacket pkt = make();
  const uint8_t* data = pkt.bytes->data();
  auto len = static_cast<uint32_t>(pkt.bytes->size());
  wm_packet v{};
  // A frame that stops decoding early would time the error path instead of the full stack.
  if (core::decode_packet(data, len, len, core::LinkType::kEthernet, v) != DecodeError::kNone ||
      !(v.flags & WM_PKT_L4)) {
    state.SkipWithError("synthetic frame did not decode to L4");
    return;
  }
  for (auto _ : state) {
    core::decode_packet(data, len, len, core::LinkType::kEthernet, v);
    benchmark::DoNotOptimize(v.flags);
  }
  set_per_packet(state, static_cast<double>(state.iterations()));
  state.SetLabel(std::to_string(len) + "-byte frame");
}
BENCHMARK_CAPTURE(BM_DecodeFrame, ipv4_tcp, &ipv4_tcp);
BENCHMARK_CAPTURE(BM_DecodeFrame, vlan_ipv6_udp, &vlan_ipv6_udp);

}  // namespace
}  // namespace wiremeter::bench

BENCHMARK_MAIN();

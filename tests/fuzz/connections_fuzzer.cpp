// libFuzzer target for the connections plugin: raw Ethernet frames through the core's decoder,
// then the plugin's TCP analysis (handshake, sequence tracking, retransmissions, windows), its
// flow records, servers table, the live per-server meter and its graphs (also with a meter so
// small that it evicts servers all the time), and views.
//
// Input: frames, each a control byte, a 2-byte big-endian length and the frame bytes. The
// control byte's bit 0 is the direction within the flow, bits 1-2 pick one of 4 flows, bit 3
// ends that flow after the frame. Built with clang's -fsanitize=fuzzer,address,undefined.
// Compiled with WM_FUZZER_CORPUS_MAIN instead, this file cuts the seed corpus out of pcap
// files: the TCP conversations of every capture, a seed per connection.
#ifdef WM_FUZZER_CORPUS_MAIN

#include <map>
#include <string>
#include <tuple>

#include "seed_corpus.hpp"

int main(int argc, char** argv) {
  wiremeter::fuzz::SeedWriter* out = nullptr;
  // Per connection (by ports), its first frames with their direction, as one seed.
  std::map<std::tuple<uint16_t, uint16_t>, std::string> conns;
  int status = wiremeter::fuzz::for_each_frame(
      "connections_corpus", argc, argv, out,
      [&](wiremeter::core::LinkType lt, const u_char* d, uint32_t caplen, uint32_t len) {
        if (lt != wiremeter::core::LinkType::kEthernet || caplen > 0xffff) return;
        wm_packet v{};
        wiremeter::core::decode_packet(d, caplen, len, lt, v);
        if (v.l4_proto != 6 || !(v.flags & WM_PKT_L4)) return;
        bool forward = v.src_port > v.dst_port;
        auto key = forward ? std::make_tuple(v.src_port, v.dst_port)
                           : std::make_tuple(v.dst_port, v.src_port);
        std::string& seed = conns[key];
        if (seed.size() > 16000) return;
        seed.push_back(static_cast<char>(forward ? 0 : 1));
        seed.push_back(static_cast<char>(caplen >> 8));
        seed.push_back(static_cast<char>(caplen & 0xff));
        seed.append(reinterpret_cast<const char*>(d), caplen);
      });
  for (auto& [key, seed] : conns) out->add(seed, seed.substr(0, 128));
  return status;
}

#else  // the fuzz target

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>
#include <wiremeter/testing/fake_host.hpp>

#include "connections.hpp"
#include "wiremeter/core/decode.hpp"

// Defined by WIREMETER_ANALYZER_PLUGIN in connections.cpp, compiled into this target.
extern "C" const wm_plugin_descriptor* wiremeter_plugin_register(void);

namespace {

struct Flow {
  wm_flow_info info{};
  alignas(16) std::array<uint8_t, 512> state{};
  // The same flow's state in the worker with a tiny server meter (below).
  alignas(16) wiremeter::connections::FlowState small_meter_state{};
  bool started = false;
};

// A worker whose server meter holds 4 servers (two halves of 2), ticked after every frame, and a
// plugin graphing its servers: the meter swaps halves and evicts servers all the time, and the
// graphs read it across those evictions.
struct SmallMeter {
  explicit SmallMeter(wiremeter::testing::FakeHost& fake)
      : host(fake.api()), plugin(host), worker(info(), 16, {}, /*metered_servers=*/4) {}
  static wm_worker_info info() { return {sizeof(wm_worker_info), 0, 1, 0, 0}; }
  wiremeter::Host host;
  wiremeter::connections::Plugin plugin;
  wiremeter::connections::Worker worker;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static wiremeter::testing::FakeHost host;
  static wiremeter::testing::PluginHarness h(wiremeter_plugin_register(), host, 1);
  static uint64_t next_id = 1;
  static wiremeter::testing::FakeHost small_host;
  static SmallMeter small(small_host);
  wiremeter::connections::Worker* small_workers[] = {&small.worker};
  if (h.flow_state_size() > sizeof(Flow::state)) __builtin_trap();
  std::array<Flow, 4> flows;
  std::vector<std::unique_ptr<uint8_t[]> > frames;
  uint64_t ts = 1'700'000'000'000'000'000;
  size_t pos = 0;
  while (pos + 3 <= size) {
    uint8_t ctl = data[pos];
    size_t len = std::min<size_t>(size_t{data[pos + 1]} << 8 | data[pos + 2], size - pos - 3);
    pos += 3;
    // A heap copy of exactly the frame, so ASan sees a read one byte past its end.
    frames.emplace_back(new uint8_t[len ? len : 1]);
    if (len) std::memcpy(frames.back().get(), data + pos, len);
    pos += len;
    wm_packet v{};
    v.ts_ns = ts += 1'000'000;
    wiremeter::core::decode_packet(frames.back().get(), static_cast<uint32_t>(len),
                                   static_cast<uint32_t>(len), wiremeter::core::LinkType::kEthernet,
                                   v);
    Flow& f = flows[(ctl >> 1) & 3];
    uint8_t dir = ctl & 1;
    if (!f.started) {
      f.started = true;
      f.info.id = next_id++;
      f.info.first_ns = v.ts_ns;
      f.info.ip_version = v.ip_version;
      f.info.l4_proto = v.l4_proto;
      std::memcpy(f.info.addr[dir], v.src_addr, 16);
      std::memcpy(f.info.addr[1 - dir], v.dst_addr, 16);
      f.info.port[dir] = v.src_port;
      f.info.port[1 - dir] = v.dst_port;
    }
    f.info.last_ns = v.ts_ns;
    ++f.info.packets[dir];
    f.info.bytes[dir] += len;
    v.flow = &f.info;
    v.flow_state = f.state.data();
    v.direction = dir;
    h.batch(0, {v});
    wm_packet small_v = v;
    small_v.flow_state = reinterpret_cast<uint8_t*>(&f.small_meter_state);
    small.worker.on_batch({&small_v, 1});
    // A second per frame, across runs: graphs linger out after 60 frames, so the plugin's
    // graphed servers stay few.
    static uint64_t small_now_ns = 0;
    small_now_ns += 1'000'000'000;
    small.worker.worker_tick(small_now_ns);
    small.plugin.on_tick(small_workers, small_now_ns);
    if (ctl & 8) {
      f.info.end_reason = WM_FLOW_IDLE_TIMEOUT;
      h.flow_end(0, f.info, f.state.data());
      small.worker.on_flow_end(f.info, f.small_meter_state);
      f = Flow{};
    }
  }
  for (Flow& f : flows) {
    if (!f.started) continue;
    f.info.end_reason = WM_FLOW_SHUTDOWN;
    h.flow_end(0, f.info, f.state.data());
    small.worker.on_flow_end(f.info, f.small_meter_state);
    // What the server detail view asks of the meter (whatever the answer).
    (void)small.worker.server_meter().holds(
        wiremeter::connections::server_key(f.info, f.small_meter_state.tcp));
  }
  small_host.series.clear();  // the series would grow without bound over the runs
  h.collect();
  // The graphs of the busiest servers read every metered server: every 64th run keeps the
  // fuzzer fast once the meter holds many.
  static uint64_t runs = 0;
  if (++runs % 64 == 0) h.tick(runs * 1'000'000'000);
  // The report and the views wait for worker snapshots (up to 300 ms without a ticking worker):
  // now and then only.
  if (runs % 512 == 0) {
    h.json();
    h.query("servers", "sort=retransmission_ratio");
    // The detail view of the first flow's responder (a server row, or a 404).
    const wm_flow_info& f = flows[0].info;
    char addr[INET6_ADDRSTRLEN] = "0.0.0.0";
    inet_ntop(f.ip_version == 6 ? AF_INET6 : AF_INET, f.addr[1], addr, sizeof addr);
    h.query("servers/[" + std::string(addr) + "]:" + std::to_string(f.port[1]) + "/" +
            std::to_string(f.l4_proto));
  }
  return 0;
}

#endif  // WM_FUZZER_CORPUS_MAIN

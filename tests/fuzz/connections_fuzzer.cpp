// libFuzzer target for the connections plugin: raw Ethernet frames through the core's decoder,
// then the plugin's TCP analysis (handshake, sequence tracking, retransmissions, windows), its
// flow records, servers table, the live per-server meter and its graphs, and views.
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
  bool started = false;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static wiremeter::testing::FakeHost host;
  static wiremeter::testing::PluginHarness h(wiremeter_plugin_register(), host, 1);
  static uint64_t next_id = 1;
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
    if (ctl & 8) {
      f.info.end_reason = WM_FLOW_IDLE_TIMEOUT;
      h.flow_end(0, f.info, f.state.data());
      f = Flow{};
    }
  }
  for (Flow& f : flows) {
    if (!f.started) continue;
    f.info.end_reason = WM_FLOW_SHUTDOWN;
    h.flow_end(0, f.info, f.state.data());
  }
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

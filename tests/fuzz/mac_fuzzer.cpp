// libFuzzer target for the mac plugin: raw Ethernet frames through the core's decoder, then the
// plugin's data path (station accounting, ARP and DHCP address learning) and its views.
//
// Input: one or more frames, each a 2-byte big-endian length and the frame bytes. Built with
// clang's -fsanitize=fuzzer,address,undefined, so any out-of-bounds read or undefined behaviour
// stops the run. Compiled with WM_FUZZER_CORPUS_MAIN instead, this file is the program that cuts
// the seed corpus out of pcap files: the ARP and DHCP frames of every capture, one per seed, and
// a few other frames.
#ifdef WM_FUZZER_CORPUS_MAIN

#include <string>

#include "seed_corpus.hpp"

int main(int argc, char** argv) {
  wiremeter::fuzz::SeedWriter* out = nullptr;
  size_t others = 0;
  return wiremeter::fuzz::for_each_frame(
      "mac_corpus", argc, argv, out,
      [&](wiremeter::core::LinkType lt, const u_char* d, uint32_t caplen, uint32_t len) {
        if (lt != wiremeter::core::LinkType::kEthernet || caplen > 0xffff) return;
        wm_packet v{};
        wiremeter::core::decode_packet(d, caplen, len, lt, v);
        bool dhcp = v.l4_proto == 17 && (v.src_port == 67 || v.dst_port == 67);
        bool arp = v.flags & WM_PKT_ARP;
        if (!arp && !dhcp && ++others > 50) return;
        std::string seed;
        seed.push_back(static_cast<char>(caplen >> 8));
        seed.push_back(static_cast<char>(caplen & 0xff));
        seed.append(reinterpret_cast<const char*>(d), caplen);
        // Distinct by the headers and the first bytes of ARP/DHCP.
        out->add(seed, seed.substr(0, arp ? 44 : dhcp ? 300 : 16));
      });
}

#else  // the fuzz target

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>
#include <wiremeter/testing/fake_host.hpp>

#include "mac_plugin.hpp"
#include "wiremeter/core/decode.hpp"

// Defined by WIREMETER_ANALYZER_PLUGIN in mac_plugin.cpp, compiled into this target.
extern "C" const wm_plugin_descriptor* wiremeter_plugin_register(void);

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // One plugin for the whole run (it loads the OUI registry once); its tables are bounded, so
  // what inputs leave behind only fills them up, which is a case worth fuzzing too.
  static wiremeter::testing::FakeHost host;
  static wiremeter::testing::PluginHarness h(wiremeter_plugin_register(), host, 1);
  std::vector<std::unique_ptr<uint8_t[]> > frames;
  std::vector<wm_packet> views;
  size_t pos = 0;
  uint64_t ts = 1'700'000'000'000'000'000;
  while (pos + 2 <= size && views.size() < 64) {
    size_t len = size_t{data[pos]} << 8 | data[pos + 1];
    pos += 2;
    len = std::min(len, size - pos);
    // A heap copy of exactly the frame, so ASan sees a read one byte past its end.
    frames.emplace_back(new uint8_t[len ? len : 1]);
    if (len) std::memcpy(frames.back().get(), data + pos, len);
    pos += len;
    wm_packet v{};
    v.ts_ns = ts += 1000;
    wiremeter::core::decode_packet(frames.back().get(), static_cast<uint32_t>(len),
                                   static_cast<uint32_t>(len), wiremeter::core::LinkType::kEthernet,
                                   v);
    views.push_back(v);
  }
  h.batch(0, views);
  h.json();
  h.collect();
  h.query("macs", "sort=peers&order=asc");
  h.query("macs/02:00:00:00:00:01", "");
  return 0;
}

#endif  // WM_FUZZER_CORPUS_MAIN

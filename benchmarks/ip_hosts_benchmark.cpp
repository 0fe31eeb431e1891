// The ip module's host list at scale: 1M flows and 100k hosts tracked over two workers, then
// GET /api/v1/ip/hosts?sort=bytes&order=desc&size=100 (the top-100 query the web UI makes),
// through the plugin's C descriptor as the host calls it.
//
//   TopHosts     - one query per iteration (merge of the workers' snapshots, partial sort,
//                  JSON of the page). Time column = time per query.
//   TopHostsName - the same sorted by name (every row gets its name looked up first).
//   DataPath     - on_batch of 32-packet batches over the same hosts, existing flows. Time column
//                  = time per packet.
// Counters: hosts and flows tracked, bytes_per_host and bytes_per_flow (the module's own
// memory per tracked host and per flow, from its report).
#include <benchmark/benchmark.h>
#include <wiremeter/abi.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>
#include <wiremeter/testing/fake_host.hpp>

#include "ip_plugin.hpp"

extern "C" const wm_plugin_descriptor* wiremeter_plugin_register(void);

namespace wiremeter::bench {
namespace {

constexpr uint32_t kWorkers = 2;
constexpr uint32_t kServers = 1000;
constexpr uint32_t kClients = 99000;  // + servers = 100k hosts
constexpr uint32_t kFlows = 1'000'000;
constexpr uint64_t kT0 = 1'700'000'000'000'000'000ull;

// One flow: the client (i % kClients) talks to the server (i % kServers), on worker i % 2.
struct Fixture {
  testing::FakeHost host;
  std::unique_ptr<testing::PluginHarness> harness;
  std::vector<wm_flow_info> flows;
  std::vector<ip::FlowState> states;
  std::vector<uint8_t> frame = std::vector<uint8_t>(128, 0);

  wm_packet view(uint32_t i, bool reverse, uint64_t ts) {
    wm_packet p{};
    p.data = frame.data();
    p.cap_len = 128;
    p.wire_len = reverse ? 1500 : 100 + (i % 7);
    p.ts_ns = ts;
    p.ip_version = 4;
    p.l4_proto = 6;
    p.flags = WM_PKT_IPV4 | WM_PKT_L4;
    p.l4_off = 34;
    p.payload_off = 54;
    p.payload_len = 0;
    uint32_t client = 0x0a000000u + (i % kClients), server = 0xc6120000u + (i % kServers);
    uint8_t c[4] = {static_cast<uint8_t>(client >> 24), static_cast<uint8_t>(client >> 16),
                    static_cast<uint8_t>(client >> 8), static_cast<uint8_t>(client)};
    uint8_t s[4] = {static_cast<uint8_t>(server >> 24), static_cast<uint8_t>(server >> 16),
                    static_cast<uint8_t>(server >> 8), static_cast<uint8_t>(server)};
    std::memcpy(p.src_addr, reverse ? s : c, 4);
    std::memcpy(p.dst_addr, reverse ? c : s, 4);
    p.src_port = reverse ? 443 : static_cast<uint16_t>(1024 + i % 60000);
    p.dst_port = reverse ? static_cast<uint16_t>(1024 + i % 60000) : 443;
    p.flow = &flows[i];
    p.flow_state = reinterpret_cast<uint8_t*>(&states[i]);
    p.direction = reverse ? WM_DIR_REVERSE : WM_DIR_FORWARD;
    return p;
  }

  Fixture() : flows(kFlows), states(kFlows) {
    harness = std::make_unique<testing::PluginHarness>(wiremeter_plugin_register(), host, kWorkers);
    for (uint32_t i = 0; i < kFlows; ++i) flows[i].id = i;
    std::vector<wm_packet> batch[kWorkers];
    for (uint32_t i = 0; i < kFlows; ++i) {
      uint32_t w = i % kWorkers;
      batch[w].push_back(view(i, false, kT0 + i * 1000ull));
      batch[w].push_back(view(i, true, kT0 + i * 1000ull + 500));
      if (batch[w].size() >= 32) {
        harness->batch(w, batch[w]);
        batch[w].clear();
      }
    }
    for (uint32_t w = 0; w < kWorkers; ++w) {
      if (!batch[w].empty()) harness->batch(w, batch[w]);
      harness->worker_tick(w, kT0 + kFlows * 1000ull);
    }
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

void set_counters(benchmark::State& state, Fixture& f) {
  auto [status, page] = f.harness->query("hosts", "size=1");
  std::string json = f.harness->json();
  auto num = [](const std::string& s, const std::string& key) {
    size_t at = s.find("\"" + key + "\":");
    return at == std::string::npos ? -1.0 : std::stod(s.substr(at + key.size() + 3));
  };
  state.counters["hosts"] = num(page, "total");
  state.counters["flows"] = kFlows;
  state.counters["bytes_per_host"] = num(json, "bytes_per_host");
  state.counters["bytes_per_flow"] = num(json, "bytes_per_flow");
}

void TopHosts(benchmark::State& state) {
  Fixture& f = fixture();
  for (auto _ : state) {
    auto r = f.harness->query("hosts", "sort=bytes&order=desc&size=100");
    if (r.first != 200) state.SkipWithError(r.second.c_str());
    benchmark::DoNotOptimize(r);
  }
  set_counters(state, f);
}
BENCHMARK(TopHosts)->Unit(benchmark::kMillisecond);

void TopHostsName(benchmark::State& state) {
  Fixture& f = fixture();
  for (auto _ : state) {
    auto r = f.harness->query("hosts", "sort=name&order=asc&size=100");
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(TopHostsName)->Unit(benchmark::kMillisecond);

void DataPath(benchmark::State& state) {
  Fixture& f = fixture();
  // Prebuilt batches of existing flows, both directions, all on worker 0's share of the flows.
  std::vector<std::vector<wm_packet>> batches(256);
  uint32_t i = 0;
  for (auto& b : batches) {
    for (int k = 0; k < 32; ++k, i = (i + 2 * 7919) % kFlows)
      b.push_back(f.view(i, k & 1, kT0 + i));
  }
  size_t n = 0;
  for (auto _ : state) f.harness->batch(0, batches[n++ % batches.size()]);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * 32);
}
BENCHMARK(DataPath);

}  // namespace
}  // namespace wiremeter::bench

BENCHMARK_MAIN();

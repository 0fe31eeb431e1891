// Whole-pipeline throughput of one worker: the real Worker::analyze (decode, flow tracking,
// plugin dispatch) over a capture replayed from memory, in bursts of kBurstSize.
//
// No NIC and no PMD are involved: the capture's frames are copied into DPDK mbufs once, and the
// same mbufs are analyzed again and again (analyze() leaves them untouched). After the first
// pass every flow of the capture is in the table, as in a looping replay. Two variants:
//   pipeline/no_plugins   the core alone: the floor any plugin adds to;
//   pipeline/all_plugins  every plugin in the plugin directory, loaded through PluginHost.
// items_per_second is packets per second on one core; `per_packet` is the time per packet.
//
// Environment: WM_BENCH_PCAP (capture; default: the build tree's demo capture),
// WM_BENCH_PLUGIN_DIR (default: the build tree's plugin directory), WM_BENCH_EAL_ARGS (extra EAL
// arguments, space-separated, e.g. "-l 1" to run on CPU 1).
#include <benchmark/benchmark.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_mbuf.h>
#include <unistd.h>
#include <wiremeter/abi.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "capture.hpp"
#include "wiremeter/core/config.hpp"
#include "wiremeter/core/plugin_host.hpp"
#include "wiremeter/core/worker.hpp"

namespace wiremeter::bench {
namespace {

struct Pipeline {
  std::string name;
  core::Worker* worker;
  std::string label;
  // Cold: every pass starts with an empty flow table, so every flow is new and is classified
  // again, as a tool reading the file once (ndpiReader) sees it. Warm: the flows of earlier
  // passes are still there, as in a looping replay.
  bool cold = false;
};

// One pass over the capture, burst by burst, with the clock read once per burst as the real
// polling loop does.
void analyze_capture(core::Worker& worker, std::vector<rte_mbuf*>& mbufs) {
  const size_t n = mbufs.size();
  for (size_t i = 0; i < n; i += core::kBurstSize) {
    auto burst = static_cast<uint16_t>(std::min<size_t>(core::kBurstSize, n - i));
    worker.analyze(0, mbufs.data() + i, burst, core::wall_clock_ns());
  }
}

void BM_Pipeline(benchmark::State& state, const Pipeline* p, std::vector<rte_mbuf*>* mbufs) {
  // Off the clock: the first pass creates the capture's flows.
  analyze_capture(*p->worker, *mbufs);
  if (p->cold) p->worker->shutdown();
  for (auto _ : state) {
    analyze_capture(*p->worker, *mbufs);
    // Ending every flow is part of the cost a one-pass tool pays too.
    if (p->cold) p->worker->shutdown();
  }
  double packets = static_cast<double>(state.iterations()) * static_cast<double>(mbufs->size());
  state.SetItemsProcessed(static_cast<int64_t>(packets));
  state.counters["per_packet"] =
      benchmark::Counter(packets, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["packets"] = static_cast<double>(mbufs->size());
  state.SetLabel(p->label);
}

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : std::string(fallback);
}

// The EAL as the brief for benchmarks has it: no hugepages, no PCI, nothing shared with other
// DPDK processes, quiet. Memory grows with the capture so large captures still fit.
bool init_eal(const Capture& cap, uint32_t data_room, std::string& error) {
  size_t need_mb = cap.frames.size() * (data_room + 256 + sizeof(rte_mbuf)) / (1u << 20) + 256;
  std::vector<std::string> args = {
      "pipeline_benchmark",
      "--no-huge",
      "-m",
      std::to_string(std::max<size_t>(1024, need_mb)),
      "--no-pci",
      "--no-shconf",
      "--no-telemetry",
      "--file-prefix=wm-bench-" + std::to_string(getpid()),
      "--log-level=*:error",
  };
  std::istringstream extra(env_or("WM_BENCH_EAL_ARGS", ""));
  for (std::string a; extra >> a;) args.push_back(a);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  if (rte_eal_init(static_cast<int>(argv.size() - 1), argv.data()) < 0) {
    error = std::string("DPDK EAL initialization failed: ") + rte_strerror(rte_errno);
    return false;
  }
  return true;
}

// Copies every frame into its own single-segment mbuf, as net_pcap would deliver it.
bool load_mbufs(const Capture& cap, rte_mempool* pool, std::vector<rte_mbuf*>& out,
                std::string& error) {
  const uint32_t room = rte_pktmbuf_data_room_size(pool) - RTE_PKTMBUF_HEADROOM;
  for (const Frame& f : cap.frames) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool);
    if (!m) {
      error = "mbuf pool exhausted";
      return false;
    }
    uint32_t len = std::min(f.cap_len, room);
    std::memcpy(rte_pktmbuf_mtod(m, uint8_t*), cap.data(f), len);
    m->data_len = static_cast<uint16_t>(len);
    m->pkt_len = len;
    m->port = 0;
    out.push_back(m);
  }
  return true;
}

std::string file_name(const std::string& path) {
  return std::filesystem::path(path).filename().string();
}

int run(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;

  std::string pcap = env_or("WM_BENCH_PCAP", WM_BENCH_DEFAULT_PCAP);
  std::string plugin_dir = env_or("WM_BENCH_PLUGIN_DIR", WM_BENCH_DEFAULT_PLUGIN_DIR);
  Capture cap;
  std::string error;
  if (!load_capture(pcap, cap, error)) {
    std::fprintf(stderr, "pipeline_benchmark: %s\n", error.c_str());
    return 1;
  }
  // Large enough for the largest frame, so no frame is cut short or chained.
  uint32_t data_room = std::min<uint32_t>(
      std::max<uint32_t>(RTE_MBUF_DEFAULT_DATAROOM, cap.max_cap_len) + RTE_PKTMBUF_HEADROOM,
      UINT16_MAX);
  if (!init_eal(cap, data_room, error)) {
    std::fprintf(stderr, "pipeline_benchmark: %s\n", error.c_str());
    return 1;
  }
  rte_mempool* pool =
      rte_pktmbuf_pool_create("bench_mbufs", static_cast<unsigned>(cap.frames.size()), 0, 0,
                              static_cast<uint16_t>(data_room), static_cast<int>(rte_socket_id()));
  std::vector<rte_mbuf*> mbufs;
  if (!pool) {
    error = std::string("cannot create the mbuf pool: ") + rte_strerror(rte_errno);
  } else {
    load_mbufs(cap, pool, mbufs, error);
  }
  if (!error.empty()) {
    std::fprintf(stderr, "pipeline_benchmark: %s\n", error.c_str());
    rte_eal_cleanup();
    return 1;
  }

  std::atomic<uint8_t> sink{1};
  std::vector<core::PortRuntime> ports(1);
  ports[0].mode = &sink;
  ports[0].link = cap.link;

  auto make_host = [] {
    auto h = std::make_unique<core::PluginHost>(
        [](const std::string&) { return std::string("{}"); },
        [](int level, const std::string& line) {
          if (level <= WM_LOG_WARN) std::fprintf(stderr, "pipeline_benchmark: %s\n", line.c_str());
        });
    h->set_port_services([] { return uint16_t{1}; },
                         [](uint16_t port, wm_port_info& out) {
                           if (port != 0) return false;
                           out.id = 0;
                           out.link_up = 1;
                           out.name = "bench0";
                           out.driver = "memory";
                           return true;
                         });
    return h;
  };
  std::unique_ptr<core::PluginHost> host_ptr = make_host();
  core::PluginHost& host = *host_ptr;
  host.load_directory(plugin_dir);
  std::string names;
  for (auto& p : host.loaded()) {
    if (p->is_analyzer()) names += std::string(names.empty() ? "" : ",") + p->desc->name;
  }

  // The flow budget of the default configuration, all of it on this one worker.
  core::WorkerConfig bare_cfg;
  bare_cfg.flow_memory_bytes = core::Settings{}.flow_memory_mb << 20;
  core::WorkerConfig plugin_cfg = bare_cfg;
  plugin_cfg.flow_state_bytes = host.flow_state_bytes();
  core::Worker bare(bare_cfg, &ports, {});
  core::Worker with_plugins(plugin_cfg, &ports, host.init_worker(0, 1));

  std::string what = file_name(pcap) + " " + std::to_string(cap.frames.size()) + " pkts";
  std::vector<Pipeline> pipelines = {
      {"pipeline/no_plugins", &bare, what},
      {"pipeline/all_plugins", &with_plugins,
       what + ", plugins: " + (names.empty() ? "none" : names)},
      {"pipeline/no_plugins_cold", &bare, what, true},
      {"pipeline/all_plugins_cold", &with_plugins, what, true},
  };
  // Each analyzer alone: its cost per packet is its time minus no_plugins.
  std::vector<std::unique_ptr<core::PluginHost>> single_hosts;
  std::vector<std::unique_ptr<core::Worker>> single_workers;
  for (auto& p : host.loaded()) {
    if (!p->is_analyzer()) continue;
    auto h = make_host();
    if (!h->load(p->path)) continue;
    core::WorkerConfig cfg = bare_cfg;
    cfg.flow_state_bytes = h->flow_state_bytes();
    single_workers.push_back(std::make_unique<core::Worker>(cfg, &ports, h->init_worker(0, 1)));
    pipelines.push_back(
        {std::string("pipeline/only_") + p->desc->name, single_workers.back().get(), what});
    // Cold too: a module's first-packet work (new table entries, parsers that run at the start
    // of a flow, nDPI's classification for dpi) only shows when flows are new.
    pipelines.push_back({std::string("pipeline/only_") + p->desc->name + "_cold",
                         single_workers.back().get(), what, true});
    single_hosts.push_back(std::move(h));
  }
  for (const Pipeline& p : pipelines) {
    benchmark::RegisterBenchmark(p.name.c_str(), BM_Pipeline, &p, &mbufs)->UseRealTime();
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();

  // Plugins see their flows end and their worker contexts go before they are unloaded.
  bare.shutdown();
  with_plugins.shutdown();
  with_plugins.release_plugins();
  host.forget_workers();
  for (size_t i = 0; i < single_workers.size(); ++i) {
    single_workers[i]->shutdown();
    single_workers[i]->release_plugins();
    single_hosts[i]->forget_workers();
  }
  single_workers.clear();
  single_hosts.clear();
  rte_pktmbuf_free_bulk(mbufs.data(), static_cast<unsigned>(mbufs.size()));
  rte_mempool_free(pool);
  std::string runtime_dir = rte_eal_get_runtime_dir();
  rte_eal_cleanup();
  // With --no-shconf the EAL still creates an (empty) runtime directory and leaves it behind.
  std::error_code ec;
  std::filesystem::remove(runtime_dir, ec);
  return 0;
}

}  // namespace
}  // namespace wiremeter::bench

int main(int argc, char** argv) { return wiremeter::bench::run(argc, argv); }

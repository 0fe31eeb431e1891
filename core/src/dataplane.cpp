#include "wiremeter/core/dataplane.hpp"

#include <fcntl.h>
#include <net/if.h>
#include <pcap/pcap.h>
#include <rte_bus_vdev.h>
#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_mbuf.h>
#include <rte_version.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "wiremeter/core/log.hpp"
#include "wiremeter/core/timestamps.hpp"

namespace wiremeter::core {

namespace {

// DPDK writes its log to a FILE*. We keep it in memory during start-up so that a failure can
// be reported as one line (the last thing DPDK said), and forward it to our log afterwards.
struct DpdkLogCapture {
  char* buf = nullptr;
  size_t len = 0;
  FILE* mem = nullptr;
  void start() {
    mem = open_memstream(&buf, &len);
    if (mem) rte_openlog_stream(mem);
  }
  std::string last_line() {
    if (!mem) return {};
    fflush(mem);
    std::string s(buf, len);
    std::istringstream in(s);
    std::string line, last;
    while (std::getline(in, line)) {
      if (!line.empty()) last = line;
    }
    return last;
  }
  void stop() {
    if (!mem) return;
    fflush(mem);
    std::string s(buf, len);
    std::istringstream in(s);
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty()) log_debug("dpdk: " + line);
    }
    rte_openlog_stream(log_stream());
    fclose(mem);
    free(buf);
    mem = nullptr;
    buf = nullptr;
  }
};

bool looks_like_pci(const std::string& device) {
  static const std::regex kPci("([0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\\.[0-7]");
  return std::regex_match(device, kPci);
}

std::string device_of(const std::string& devargs) { return devargs.substr(0, devargs.find(',')); }

std::string devarg_value(const std::string& devargs, const std::string& key) {
  std::stringstream ss(devargs);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.rfind(key + "=", 0) == 0) return item.substr(key.size() + 1);
  }
  return {};
}

uint32_t count_capture_packets(const std::string& file) {
  char err[PCAP_ERRBUF_SIZE];
  pcap_t* p = pcap_open_offline(file.c_str(), err);
  if (!p) return 0;
  uint32_t n = 0;
  pcap_pkthdr* h;
  const u_char* d;
  while (pcap_next_ex(p, &h, &d) == 1) ++n;
  pcap_close(p);
  return n;
}

uint64_t free_hugepage_bytes() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  uint64_t free_pages = 0, page_kb = 0;
  while (in >> key) {
    uint64_t v;
    if (key == "HugePages_Free:" && in >> v)
      free_pages = v;
    else if (key == "Hugepagesize:" && in >> v)
      page_kb = v;
  }
  return free_pages * page_kb * 1024;
}

std::vector<int> allowed_cpus() {
  cpu_set_t set;
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    for (int c = 0; c < CPU_SETSIZE; ++c) {
      if (CPU_ISSET(c, &set)) cpus.push_back(c);
    }
  }
  if (cpus.empty()) cpus.push_back(0);
  return cpus;
}

// Toeplitz key whose 16-bit period makes the hash symmetric: both directions of a flow land on
// the same queue, and so on the same worker.
uint8_t kSymmetricRssKey[40] = {
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
};

int worker_main(void* arg);

struct WorkerLaunch {
  Worker* worker;
  const std::atomic<bool>* stop;
  std::atomic<uint32_t>* running;
  bool offline;
};

int worker_main(void* arg) {
  auto* l = static_cast<WorkerLaunch*>(arg);
  l->worker->run(*l->stop, l->offline);
  l->running->fetch_sub(1);
  delete l;
  return 0;
}

}  // namespace

Dataplane::~Dataplane() {
  if (!eal_ready_) return;
  for (auto& p : runtime_) {
    rte_eth_dev_stop(p.dpdk_id);
    rte_eth_dev_close(p.dpdk_id);
  }
  rte_eal_cleanup();
  // The EAL leaves its (empty) runtime directory behind; one per run adds up.
  std::error_code ec;
  std::filesystem::remove_all(runtime_dir_, ec);
}

std::string Dataplane::eal_command_line() const {
  std::string s;
  for (auto& a : eal_args_) s += (s.empty() ? "" : " ") + a;
  return s;
}

Result<void> Dataplane::init_eal(const Settings& settings, const EalOptions& options) {
  eal_args_ = {"wiremeter"};
  // A unique prefix and no shared config files let several instances (and tests) run side by
  // side and leave nothing behind in /var/run/dpdk. (--in-memory does the same with hugepages
  // but is refused together with --no-huge.)
  eal_args_.push_back("--file-prefix=wiremeter-" + std::to_string(getpid()));
  uint64_t want = static_cast<uint64_t>(settings.eal_memory_mb) << 20;
  bool huge = settings.eal_hugepages == "on" ||
              (settings.eal_hugepages == "auto" && free_hugepage_bytes() >= want);
  eal_args_.push_back(huge ? "--in-memory" : "--no-huge");
  if (!huge) eal_args_.push_back("--no-shconf");
  eal_args_.push_back("-m");
  eal_args_.push_back(std::to_string(settings.eal_memory_mb));
  bool any_pci = false;
  for (auto& p : settings.ports) {
    std::string dev = device_of(p.devargs);
    if (looks_like_pci(dev)) {
      any_pci = true;
      eal_args_.push_back("-a");
      eal_args_.push_back(p.devargs);
    }
  }
  if (!any_pci) eal_args_.push_back("--no-pci");
  // Main lcore 0 on the first CPU; workers spread over the CPUs we may use, the first worker on
  // a CPU of its own when there is more than one.
  std::vector<int> cpus = allowed_cpus();
  std::string lcores = "0@" + std::to_string(cpus[0]);
  for (uint32_t w = 0; w < settings.workers; ++w) {
    int cpu = cpus[(w + 1) % cpus.size()];
    lcores += "," + std::to_string(w + 1) + "@" + std::to_string(cpu);
  }
  eal_args_.push_back("--lcores=" + lcores);
  eal_args_.push_back("--no-telemetry");
  std::string level = settings.log_level == "debug" ? "*:info" : "*:warning";
  eal_args_.push_back("--log-level=" + level);
  for (auto& a : settings.eal_extra_args) eal_args_.push_back(a);
  for (auto& a : options.extra_args) eal_args_.push_back(a);

  std::vector<char*> argv;
  for (auto& a : eal_args_) argv.push_back(a.data());
  argv.push_back(nullptr);
  DpdkLogCapture capture;
  capture.start();
  // On a bad argument the EAL prints its usage text to stdout and getopt/alert lines straight
  // to stderr. Both are caught here so that we can report a single line.
  fflush(stdout);
  fflush(stderr);
  int saved_stdout = dup(STDOUT_FILENO);
  int saved_stderr = dup(STDERR_FILENO);
  int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
  FILE* err_capture = tmpfile();
  if (devnull >= 0) dup2(devnull, STDOUT_FILENO);
  if (err_capture) dup2(fileno(err_capture), STDERR_FILENO);
  int rc = rte_eal_init(static_cast<int>(argv.size() - 1), argv.data());
  fflush(stdout);
  fflush(stderr);
  dup2(saved_stdout, STDOUT_FILENO);
  dup2(saved_stderr, STDERR_FILENO);
  close(saved_stdout);
  close(saved_stderr);
  if (devnull >= 0) close(devnull);
  std::string direct;  // what went straight to stderr
  if (err_capture) {
    rewind(err_capture);
    char line[512];
    while (fgets(line, sizeof line, err_capture)) {
      std::string l(line);
      while (!l.empty() && (l.back() == '\n' || l.back() == '\r')) l.pop_back();
      if (l.empty()) continue;
      log_debug("dpdk: " + l);
      // getopt's complaint names the bad argument: the most useful line.
      if (l.find("option") != std::string::npos && l.rfind("wiremeter: ", 0) == 0) {
        direct = l.substr(11);
      }
    }
    fclose(err_capture);
  }
  if (rc < 0) {
    std::string said = direct.empty() ? capture.last_line() : direct;
    std::string why = rte_strerror(rte_errno);
    capture.stop();
    return make_error("DPDK EAL initialization failed: " + (said.empty() ? why : said));
  }
  capture.stop();
  eal_ready_ = true;
  runtime_dir_ = rte_eal_get_runtime_dir();
  log_info(std::string(rte_version()) + " EAL ready (" + (huge ? "hugepages" : "no hugepages") +
           ", " + std::to_string(settings.eal_memory_mb) + " MB)");
  return {};
}

Result<void> Dataplane::setup_ports(const Settings& settings) {
  uint32_t workers = settings.workers;
  std::vector<rte_eth_dev_info> infos;
  // Probe every port first: a pair's queue count depends on both of its ports.
  for (size_t i = 0; i < settings.ports.size(); ++i) {
    const PortConfig& pc = settings.ports[i];
    std::string dev = device_of(pc.devargs);
    // DPDK names PCI ports by their full address; accept the short form users copy from lspci.
    if (looks_like_pci(dev) && std::count(dev.begin(), dev.end(), ':') == 1) dev = "0000:" + dev;
    std::string prefix = "port " + pc.name + ": ";
    PortMeta meta{pc.name, pc.devargs, "", "", "", false};
    // Catch the usual mistakes before DPDK reports them less clearly.
    if (dev.rfind("net_af_packet", 0) == 0 || dev.rfind("eth_af_packet", 0) == 0) {
      std::string iface = devarg_value(pc.devargs, "iface");
      if (iface.empty()) return make_error(prefix + "net_af_packet needs iface=<interface>");
      if (if_nametoindex(iface.c_str()) == 0) {
        return make_error(prefix + "network interface \"" + iface + "\" does not exist");
      }
    } else if (dev.rfind("net_pcap", 0) == 0 || dev.rfind("eth_pcap", 0) == 0) {
      for (const char* key : {"rx_pcap", "iface", "rx_iface"}) {
        std::string v = devarg_value(pc.devargs, key);
        if (v.empty()) continue;
        if (std::string(key) == "rx_pcap") {
          if (access(v.c_str(), R_OK) != 0) {
            return make_error(prefix + "cannot read capture file " + v + ": " +
                              std::strerror(errno));
          }
        } else if (if_nametoindex(v.c_str()) == 0) {
          return make_error(prefix + "network interface \"" + v + "\" does not exist");
        }
      }
    }
    uint16_t id;
    if (!looks_like_pci(dev)) {
      DpdkLogCapture capture;
      capture.start();
      int rc = rte_dev_probe(pc.devargs.c_str());
      std::string said = capture.last_line();
      capture.stop();
      if (rc == -EEXIST) return make_error(prefix + "device " + dev + " is already in use");
      if (rc < 0) {
        return make_error(prefix + "cannot open " + dev + ": " +
                          (said.empty() ? rte_strerror(-rc) : said));
      }
      meta.probed_by_us = true;
    }
    if (rte_eth_dev_get_port_by_name(dev.c_str(), &id) != 0) {
      return make_error(prefix + "device " + dev +
                        " not found (is it bound to a DPDK driver such as vfio-pci?)");
    }
    rte_eth_dev_info info;
    if (rte_eth_dev_info_get(id, &info) != 0) return make_error(prefix + "cannot query device");
    meta.driver = info.driver_name ? info.driver_name : "";
    uint16_t nq = static_cast<uint16_t>(
        std::min<uint32_t>({workers, info.max_rx_queues, info.max_tx_queues}));
    if (nq == 0) nq = 1;
    PortRuntime rt;
    rt.dpdk_id = id;
    rt.n_queues = nq;
    rt.capture_timestamps = pc.capture_timestamps;
    rt.rx_limit_pps = pc.rx_limit_pps;
    rt.link = pc.link;
    rt.mode = &unpaired_mode_;
    runtime_.push_back(rt);
    ports_.push_back(std::move(meta));
    infos.push_back(info);
  }

  // Both ports of a pair get the same number of queues: worker w polls RX queue w of each and
  // forwards on TX queue w of the other, so no TX queue is ever shared between workers.
  for (auto& pair : settings.pairs) {
    int idx[2] = {-1, -1};
    for (int k = 0; k < 2; ++k) {
      for (size_t i = 0; i < ports_.size(); ++i) {
        if (ports_[i].name == pair.ports[k]) idx[k] = static_cast<int>(i);
      }
    }
    uint16_t nq = std::min(runtime_[idx[0]].n_queues, runtime_[idx[1]].n_queues);
    runtime_[idx[0]].n_queues = runtime_[idx[1]].n_queues = nq;
  }

  for (size_t i = 0; i < runtime_.size(); ++i) {
    const PortConfig& pc = settings.ports[i];
    std::string prefix = "port " + pc.name + ": ";
    const rte_eth_dev_info& info = infos[i];
    uint16_t id = runtime_[i].dpdk_id;
    uint16_t nq = runtime_[i].n_queues;
    // af_packet spreads traffic over all its qpairs sockets; one we do not poll loses traffic.
    if (ports_[i].driver == "net_af_packet" && info.max_rx_queues > nq) {
      return make_error(
          prefix + "qpairs=" + std::to_string(info.max_rx_queues) + " but only " +
          std::to_string(nq) + " queue(s) are polled (workers: " + std::to_string(workers) +
          ", and both ports of a pair use the same " + "number); set qpairs=" + std::to_string(nq));
    }
    if (nq < workers) {
      log_warn(prefix + std::to_string(nq) + " queue(s) for " + std::to_string(workers) +
               " workers: workers " + std::to_string(nq) + ".." + std::to_string(workers - 1) +
               " do not poll this port");
    }

    rte_eth_conf conf{};
    if (nq > 1 && info.flow_type_rss_offloads) {
      conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
      conf.rx_adv_conf.rss_conf.rss_key = kSymmetricRssKey;
      conf.rx_adv_conf.rss_conf.rss_key_len = sizeof kSymmetricRssKey;
      conf.rx_adv_conf.rss_conf.rss_hf =
          info.flow_type_rss_offloads & (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP);
    }
    int rc = rte_eth_dev_configure(id, nq, nq, &conf);
    if (rc < 0) return make_error(prefix + "configure failed: " + rte_strerror(-rc));
    uint16_t rxd = 1024, txd = 1024;
    rte_eth_dev_adjust_nb_rx_tx_desc(id, &rxd, &txd);
    int socket = rte_eth_dev_socket_id(id);
    if (socket < 0) socket = static_cast<int>(rte_socket_id());
    uint32_t n_mbufs = std::max<uint32_t>(settings.mbufs_per_queue * nq, nq * (rxd + txd) + 1024u);
    // net_pcap's infinite_rx keeps the whole capture in mbufs and replays them.
    if (devarg_value(pc.devargs, "infinite_rx") == "1") {
      std::string file = devarg_value(pc.devargs, "rx_pcap");
      n_mbufs += count_capture_packets(file) + rxd;
    }
    std::string pool_name = "mbufs_" + std::to_string(id);
    rte_mempool* pool = rte_pktmbuf_pool_create(pool_name.c_str(), n_mbufs, 256, 0,
                                                RTE_MBUF_DEFAULT_BUF_SIZE, socket);
    if (!pool) {
      return make_error(prefix + "cannot allocate " + std::to_string(n_mbufs) +
                        " packet buffers (raise eal.memory_mb): " + rte_strerror(rte_errno));
    }
    for (uint16_t q = 0; q < nq; ++q) {
      rc = rte_eth_rx_queue_setup(id, q, rxd, socket, nullptr, pool);
      if (rc < 0) return make_error(prefix + "RX queue setup failed: " + rte_strerror(-rc));
      rc = rte_eth_tx_queue_setup(id, q, txd, socket, nullptr);
      if (rc < 0) return make_error(prefix + "TX queue setup failed: " + rte_strerror(-rc));
    }
    rc = rte_eth_dev_start(id);
    if (rc < 0) return make_error(prefix + "start failed: " + rte_strerror(-rc));
    // A monitoring port must see every frame, not just those addressed to it.
    rte_eth_promiscuous_enable(id);
    rte_ether_addr mac;
    if (rte_eth_macaddr_get(id, &mac) == 0) {
      char buf[RTE_ETHER_ADDR_FMT_SIZE];
      rte_ether_format_addr(buf, sizeof buf, &mac);
      ports_[i].mac = buf;
    }
  }
  // net_pcap stores capture timestamps in microseconds (it opens files in that precision).
  init_rx_timestamps(1'000'000);

  for (auto& pair : settings.pairs) {
    auto mode = std::make_unique<std::atomic<uint8_t>>(
        settings.effective_mode(pair) == LinkMode::kBridge ? 0 : 1);
    int idx[2] = {-1, -1};
    for (int k = 0; k < 2; ++k) {
      for (size_t i = 0; i < ports_.size(); ++i) {
        if (ports_[i].name == pair.ports[k]) idx[k] = static_cast<int>(i);
      }
    }
    for (int k = 0; k < 2; ++k) {
      runtime_[idx[k]].peer = idx[1 - k];
      runtime_[idx[k]].mode = mode.get();
      ports_[idx[k]].pair = pair.name;
    }
    pair_modes_[pair.name] = std::move(mode);
  }
  return {};
}

Result<std::unique_ptr<Dataplane>> Dataplane::create(const Settings& settings,
                                                     const EalOptions& options) {
  std::unique_ptr<Dataplane> dp(new Dataplane());
  dp->settings_ = settings;
  dp->offline_ = options.offline;
  if (auto r = dp->init_eal(settings, options); !r) return make_error(r.error());
  if (auto r = dp->setup_ports(settings); !r) return make_error(r.error());
  return dp;
}

void Dataplane::apply_link_modes(const Settings& settings) {
  for (auto& pair : settings.pairs) {
    auto it = pair_modes_.find(pair.name);
    if (it == pair_modes_.end()) continue;
    it->second->store(settings.effective_mode(pair) == LinkMode::kBridge ? 0 : 1);
  }
  settings_.link_mode = settings.link_mode;
  settings_.pairs = settings.pairs;
}

Result<void> Dataplane::start(PluginHost& plugins) {
  uint32_t n = settings_.workers;
  size_t per_worker = (settings_.flow_memory_mb << 20) / n;
  for (uint32_t w = 0; w < n; ++w) {
    WorkerConfig wc;
    wc.id = w;
    wc.flow_memory_bytes = per_worker;
    wc.flow_state_bytes = plugins.flow_state_bytes();
    wc.timeouts = settings_.timeouts;
    auto worker = std::make_unique<Worker>(wc, &runtime_, plugins.init_worker(w, n));
    // Worker w polls queue w of every port that has that many queues.
    for (uint16_t p = 0; p < runtime_.size(); ++p) {
      if (w < runtime_[p].n_queues) worker->add_rx_queue(p, static_cast<uint16_t>(w));
    }
    workers_.push_back(std::move(worker));
  }
  unsigned lcore = rte_get_next_lcore(-1, 1, 0);
  for (uint32_t w = 0; w < n; ++w) {
    if (lcore >= RTE_MAX_LCORE) return make_error("not enough lcores for the workers");
    worker_lcores_.push_back(lcore);
    running_.fetch_add(1);
    auto* launch = new WorkerLaunch{workers_[w].get(), &stop_, &running_, offline_};
    int rc = rte_eal_remote_launch(worker_main, launch, lcore);
    if (rc != 0) {
      running_.fetch_sub(1);
      delete launch;
      return make_error("cannot launch worker " + std::to_string(w) + ": " + rte_strerror(-rc));
    }
    lcore = rte_get_next_lcore(lcore, 1, 0);
  }
  started_ = true;
  return {};
}

bool Dataplane::finished() const { return started_ && running_.load() == 0; }

void Dataplane::stop() {
  if (!started_) return;
  stop_.store(true);
  for (unsigned l : worker_lcores_) rte_eal_wait_lcore(l);
  for (auto& w : workers_) w->shutdown();
  started_ = false;
}

void Dataplane::release_plugins(PluginHost& plugins) {
  if (started_) stop();
  for (auto& w : workers_) w->release_plugins();
  plugins.forget_workers();
}

PortStatus Dataplane::port_status(uint16_t index, bool with_xstats) const {
  PortStatus s;
  const PortMeta& m = ports_[index];
  const PortRuntime& r = runtime_[index];
  s.name = m.name;
  s.devargs = m.devargs;
  s.driver = m.driver;
  s.mac = m.mac;
  s.pair = m.pair;
  s.dpdk_id = r.dpdk_id;
  s.queues = r.n_queues;
  rte_eth_link link{};
  if (rte_eth_link_get_nowait(r.dpdk_id, &link) == 0) {
    s.link_up = link.link_status == RTE_ETH_LINK_UP;
    s.speed_mbps = link.link_speed == RTE_ETH_SPEED_NUM_UNKNOWN ? 0 : link.link_speed;
  }
  rte_eth_stats st{};
  if (rte_eth_stats_get(r.dpdk_id, &st) == 0) {
    s.hw_rx_packets = st.ipackets;
    s.hw_rx_bytes = st.ibytes;
    s.hw_tx_packets = st.opackets;
    s.hw_tx_bytes = st.obytes;
    s.rx_missed = st.imissed;
    s.rx_errors = st.ierrors;
    s.tx_errors = st.oerrors;
    s.rx_nombuf = st.rx_nombuf;
  }
  for (auto& w : workers_) {
    const PortCounters& c = w->port_counters()[index];
    s.rx_packets += c.rx_packets.get();
    s.rx_bytes += c.rx_bytes.get();
    s.tx_packets += c.tx_packets.get();
    s.tx_bytes += c.tx_bytes.get();
    s.tx_dropped += c.tx_dropped.get();
  }
  if (with_xstats) {
    int n = rte_eth_xstats_get(r.dpdk_id, nullptr, 0);
    if (n > 0) {
      std::vector<rte_eth_xstat> vals(n);
      std::vector<rte_eth_xstat_name> names(n);
      if (rte_eth_xstats_get(r.dpdk_id, vals.data(), n) == n &&
          rte_eth_xstats_get_names(r.dpdk_id, names.data(), n) == n) {
        for (int i = 0; i < n; ++i) {
          if (vals[i].value) s.xstats.emplace_back(names[vals[i].id].name, vals[i].value);
        }
      }
    }
  }
  return s;
}

bool Dataplane::port_info(uint16_t index, wm_port_info& out) const {
  if (index >= ports_.size()) return false;
  PortStatus s = port_status(index, false);
  out.id = index;
  out.link_up = s.link_up;
  out.speed_mbps = s.speed_mbps;
  out.name = ports_[index].name.c_str();
  out.driver = ports_[index].driver.c_str();
  out.hw_rx_packets = s.hw_rx_packets;
  out.hw_rx_bytes = s.hw_rx_bytes;
  out.hw_tx_packets = s.hw_tx_packets;
  out.hw_tx_bytes = s.hw_tx_bytes;
  out.rx_missed = s.rx_missed;
  out.rx_errors = s.rx_errors;
  out.tx_errors = s.tx_errors;
  out.rx_nombuf = s.rx_nombuf;
  out.tx_packets = s.tx_packets;
  out.tx_bytes = s.tx_bytes;
  out.tx_dropped = s.tx_dropped;
  return true;
}

DataplaneTotals Dataplane::totals() const {
  DataplaneTotals t;
  for (auto& w : workers_) {
    for (auto& c : w->port_counters()) {
      t.packets += c.rx_packets.get();
      t.bytes += c.rx_bytes.get();
    }
    t.without_flow += w->packets_without_flow().get();
    for (size_t e = 0; e < static_cast<size_t>(DecodeError::kCount); ++e) {
      t.decode_errors[e] += w->decode_error(static_cast<DecodeError>(e)).get();
    }
    const FlowTable& f = w->flows();
    t.flows_active += f.counters().active.load(std::memory_order_relaxed);
    t.flows_created += f.counters().created.load(std::memory_order_relaxed);
    t.flows_expired += f.counters().expired.load(std::memory_order_relaxed);
    t.flows_evicted += f.counters().evicted.load(std::memory_order_relaxed);
    t.flow_capacity += f.capacity();
    t.flow_memory_bytes += f.memory_bytes();
    t.flow_record_bytes = f.record_stride();
  }
  return t;
}

}  // namespace wiremeter::core

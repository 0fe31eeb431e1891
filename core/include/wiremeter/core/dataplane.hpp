// Owns DPDK: the EAL, the ports and the worker lcores.
//
// Control plane object. Workers run on their own lcores and only read what the Dataplane set up
// before they started, plus the per-pair link mode atomics.
#pragma once

#include <wiremeter/abi.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "wiremeter/core/config.hpp"
#include "wiremeter/core/plugin_host.hpp"
#include "wiremeter/core/result.hpp"
#include "wiremeter/core/worker.hpp"

namespace wiremeter::core {

struct EalOptions {
  std::vector<std::string> extra_args;  // from the command line, after the config's
  bool offline = false;                 // --pcap: stop when the capture is consumed
};

struct PortStatus {
  std::string name;
  std::string devargs;
  std::string driver;
  std::string mac;
  std::string pair;  // empty when unpaired
  uint16_t dpdk_id = 0;
  uint16_t queues = 1;
  bool link_up = false;
  uint32_t speed_mbps = 0;
  // ethdev counters
  uint64_t hw_rx_packets = 0, hw_rx_bytes = 0, hw_tx_packets = 0, hw_tx_bytes = 0;
  uint64_t rx_missed = 0, rx_errors = 0, tx_errors = 0, rx_nombuf = 0;
  // worker counters
  uint64_t rx_packets = 0, rx_bytes = 0, tx_packets = 0, tx_bytes = 0, tx_dropped = 0;
  std::vector<std::pair<std::string, uint64_t>> xstats;  // non-zero driver xstats
};

struct DataplaneTotals {
  uint64_t packets = 0;
  uint64_t bytes = 0;
  uint64_t without_flow = 0;
  uint64_t decode_errors[static_cast<size_t>(DecodeError::kCount)] = {};
  uint64_t flows_active = 0, flows_created = 0, flows_expired = 0, flows_evicted = 0;
  uint64_t flow_capacity = 0;
  uint64_t flow_memory_bytes = 0;
  uint64_t flow_record_bytes = 0;
};

class Dataplane {
 public:
  ~Dataplane();

  // Initializes the EAL and the ports from the settings. Errors are one line.
  static Result<std::unique_ptr<Dataplane>> create(const Settings& settings,
                                                   const EalOptions& options);

  // Creates the plugin worker contexts and launches the workers.
  Result<void> start(PluginHost& plugins);
  // Stops the workers and ends all flows. Plugin worker contexts stay for a final report.
  void stop();
  // Releases the plugin worker contexts. After stop().
  void release_plugins(PluginHost& plugins);
  // True once every worker returned (offline runs end by themselves).
  bool finished() const;
  void request_stop() { stop_.store(true); }

  // Switches link modes without a restart. Unknown pair names are ignored (validated before).
  void apply_link_modes(const Settings& settings);

  uint16_t port_count() const { return static_cast<uint16_t>(ports_.size()); }
  PortStatus port_status(uint16_t index, bool with_xstats) const;
  bool port_info(uint16_t index, wm_port_info& out) const;
  DataplaneTotals totals() const;
  uint32_t worker_count() const { return static_cast<uint32_t>(workers_.size()); }
  const std::vector<std::unique_ptr<Worker>>& workers() const { return workers_; }
  std::string eal_command_line() const;

 private:
  Dataplane() = default;
  Result<void> init_eal(const Settings& settings, const EalOptions& options);
  Result<void> setup_ports(const Settings& settings);

  struct PortMeta {
    std::string name, devargs, driver, mac, pair;
    bool probed_by_us = false;
  };

  std::vector<std::string> eal_args_;
  bool eal_ready_ = false;
  std::string runtime_dir_;
  bool offline_ = false;
  std::vector<PortRuntime> runtime_;
  std::vector<PortMeta> ports_;
  std::map<std::string, std::unique_ptr<std::atomic<uint8_t>>> pair_modes_;
  std::atomic<uint8_t> unpaired_mode_{1};  // unpaired ports always sink
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<unsigned> worker_lcores_;
  std::atomic<bool> stop_{false};
  std::atomic<uint32_t> running_{0};
  bool started_ = false;
  Settings settings_;
};

}  // namespace wiremeter::core

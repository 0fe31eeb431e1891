// The wiremeter process: configuration, plugins, data path and the web/REST/metrics server.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "wiremeter/core/auth.hpp"
#include "wiremeter/core/config.hpp"
#include "wiremeter/core/dataplane.hpp"
#include "wiremeter/core/history.hpp"
#include "wiremeter/core/plugin_host.hpp"

struct mg_context;
struct mg_connection;

namespace wiremeter::core {

struct AppOptions {
  std::string config_path;
  std::string plugin_dir;          // --plugin-dir; wins over the config's plugin_dir
  std::string default_plugin_dir;  // used when neither names one
  std::string data_dir;
  std::string webui_dir;
  std::string pcap;             // offline analysis of this capture
  std::string report = "text";  // text | json (offline and --run-seconds)
  std::string report_file;      // empty: stdout
  std::optional<std::string> listen;
  std::optional<uint32_t> workers;
  std::optional<std::string> log_level;
  std::vector<std::string> eal_args;
  double run_seconds = 0;  // live: stop after this long and print the report
};

class App {
 public:
  explicit App(AppOptions options);
  ~App();

  // Runs until a signal (or the end of an offline capture). Returns the process exit code.
  int run();

  // Asks run() to return; safe from a signal handler.
  static void request_shutdown();

  // REST and metrics entry points (called by CivetWeb threads).
  int handle_api(mg_connection* conn);
  int handle_metrics(mg_connection* conn);

 private:
  Result<void> start_web(const std::string& listen);
  void tick();
  std::string report_json();
  std::string report_text();
  std::string system_json();
  std::string ports_json();
  std::string link_modes_json();
  std::string plugins_json();
  std::string stats_json();
  std::string metrics_text();
  int history_json(const std::string& query_string, std::string& out);

  AppOptions options_;
  std::mutex config_mutex_;
  std::optional<Config> config_;
  std::unique_ptr<PluginHost> plugins_;
  std::unique_ptr<Dataplane> dataplane_;
  std::unique_ptr<Auth> auth_;
  mg_context* web_ = nullptr;
  std::string system_id_;
  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point run_start_, run_end_;  // workers running, for reports

  // Rates, recomputed by tick() once a second.
  History history_;
  int report_fd_ = 1;  // where the report goes when no --report-file is given
  std::mutex rates_mutex_;
  uint64_t last_tick_ns_ = 0;
  uint64_t last_packets_ = 0;
  uint64_t last_bytes_ = 0;
  double pps_ = 0;
  double bps_ = 0;
};

}  // namespace wiremeter::core

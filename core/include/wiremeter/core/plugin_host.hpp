// Loads plugins with Boost.DLL, checks their ABI, and gives them the host services.
//
// Control plane only. A plugin that cannot be used is refused with a one-line reason and the
// host carries on without it.
#pragma once

#include <wiremeter/abi.h>

#include <atomic>
#include <boost/dll/shared_library.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "wiremeter/core/result.hpp"
#include "wiremeter/core/worker.hpp"

namespace wiremeter::core {

struct MetricFamilyDef {
  std::string name;
  std::string help;
  wm_metric_type type;
  std::string plugin;
};

// One sample from a plugin's collect(). Histograms carry cumulative bucket counts.
struct MetricSample {
  int family;
  std::vector<std::pair<std::string, std::string>> labels;
  double value = 0;
  std::vector<double> bounds;
  std::vector<uint64_t> counts;  // bounds.size() + 1 entries, the last is the total
  double sum = 0;
};

struct RefusedPlugin {
  std::string path;
  std::string reason;
};

class PluginHost;

struct LoadedPlugin {
  std::string path;
  boost::dll::shared_library library;
  const wm_plugin_descriptor* desc = nullptr;
  void* ctx = nullptr;
  uint32_t flow_state_offset = 0;
  std::vector<void*> workers;  // one context per worker, analyzers only
  // Serializes this plugin's control-plane hooks (collect, write_json, query, on_tick): the
  // SDK promises a plugin never sees two of them at once. Per plugin, so one slow plugin does
  // not stall the others.
  std::mutex mutex;
  // Set once the plugin labelled a flow: its on_flow_end then runs before the others', so that
  // a label decided at the end of a flow reaches every module.
  std::atomic<bool> labels_flows{false};
  // Host-side state behind the wm_host_api given to this plugin.
  PluginHost* owner = nullptr;
  std::string config_cache;
  wm_host_api api{};

  bool is_analyzer() const { return desc->kind == WM_PLUGIN_ANALYZER; }
};

class PluginHost {
 public:
  // Services the host needs from the rest of the process.
  using ConfigFn = std::function<std::string(const std::string& plugin)>;
  using PortCountFn = std::function<uint16_t()>;
  using PortInfoFn = std::function<bool(uint16_t, wm_port_info&)>;
  using LogFn = std::function<void(int level, const std::string& line)>;
  using SeriesFn = std::function<bool(const std::string& series, double value)>;

  PluginHost(ConfigFn config, LogFn log);
  ~PluginHost();

  void set_series_service(SeriesFn fn) { series_ = std::move(fn); }
  void set_port_services(PortCountFn count, PortInfoFn info) {
    port_count_ = std::move(count);
    port_info_ = std::move(info);
  }

  // Loads every *.so in `dir` (sorted by name). A missing directory is a refusal, not fatal.
  void load_directory(const std::string& dir);
  // Loads and creates one plugin. On failure records and logs a refusal, returns false.
  bool load(const std::string& path);

  // Total per-flow state of all analyzers, and each one's offset in it.
  uint32_t flow_state_bytes() const { return flow_state_bytes_; }

  // Creates each analyzer's context for `worker_id`; returns what the worker calls.
  std::vector<AnalyzerSlot> init_worker(uint32_t worker_id, uint32_t n_workers);
  // Called after the workers stopped and shut down their contexts.
  void forget_workers();

  // Control plane services.
  std::vector<MetricSample> collect();
  std::string plugin_json(const std::string& name);
  // GET /api/v1/<name>/<path>?<query>: the plugin's query hook. Returns the HTTP status (404
  // when the plugin has none) and the JSON body in `out`.
  int query(const std::string& name, const std::string& path, const std::string& query_string,
            std::string& out);
  void tick(uint64_t now_ns);

  const std::vector<std::unique_ptr<LoadedPlugin>>& loaded() const { return loaded_; }
  const std::vector<RefusedPlugin>& refused() const { return refused_; }
  const std::vector<MetricFamilyDef>& families() const { return families_; }
  LoadedPlugin* find(const std::string& name);

  // Shared application labels (see wm_host_api.label_id).
  uint16_t label_id(const char* name);
  const char* label_name(uint16_t id) const;

  // Host API entry points (also used by tests through the C struct).
  int register_metric(LoadedPlugin& p, const char* name, const char* help, int type);

 private:
  void refuse(const std::string& path, const std::string& reason);
  void destroy_all();

  ConfigFn config_;
  LogFn log_;
  PortCountFn port_count_;
  PortInfoFn port_info_;
  SeriesFn series_;
  std::vector<std::unique_ptr<LoadedPlugin>> loaded_;
  std::vector<RefusedPlugin> refused_;
  std::vector<MetricFamilyDef> families_;
  uint32_t flow_state_bytes_ = 0;
  uint32_t n_workers_ = 0;
  std::mutex collect_mutex_;  // worker set-up and tear-down (see also LoadedPlugin::mutex)
  // Label names by id. Readers on any thread load the pointer without a lock; names are
  // appended under labels_mutex_ and never freed or moved.
  std::mutex labels_mutex_;
  std::map<std::string, uint16_t> label_ids_;
  std::vector<std::unique_ptr<std::string>> label_storage_;
  std::unique_ptr<std::atomic<const char*>[]> label_names_ =
      std::make_unique<std::atomic<const char*>[]>(65536);

  friend struct HostApiImpl;
};

}  // namespace wiremeter::core

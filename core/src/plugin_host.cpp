#include "wiremeter/core/plugin_host.hpp"

#include <dirent.h>
#include <dlfcn.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <fstream>
#include <regex>
#include <set>

namespace wiremeter::core {

namespace {

constexpr uint32_t kFlowStateAlign = 16;

bool valid_plugin_name(const char* s) {
  if (!s || !*s || std::strlen(s) > 32) return false;
  // Plugin names become REST paths (/api/v1/<name>/...); the core's own routes stay the core's.
  for (const char* reserved :
       {"auth", "system", "ports", "plugins", "stats", "link_modes", "config", "metrics"}) {
    if (std::strcmp(s, reserved) == 0) return false;
  }
  for (const char* c = s; *c; ++c) {
    if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_')) return false;
  }
  return true;
}

bool valid_metric_name(const char* s) {
  static const std::regex kName("wiremeter_[a-zA-Z0-9_:]+");
  return s && std::regex_match(s, kName);
}

}  // namespace

// The C entry points of wm_host_api. `host` is the LoadedPlugin the API was made for.
struct HostApiImpl {
  static LoadedPlugin& plugin(void* h) { return *static_cast<LoadedPlugin*>(h); }

  static void log(void* h, int level, const char* msg) {
    LoadedPlugin& p = plugin(h);
    p.owner->log_(level, std::string(p.desc->name) + ": " + (msg ? msg : ""));
  }
  static uint64_t now_ns(void*) {
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + ts.tv_nsec;
  }
  static const char* config_json(void* h) {
    LoadedPlugin& p = plugin(h);
    p.config_cache = p.owner->config_(p.desc->name);
    return p.config_cache.c_str();
  }
  static int register_metric(void* h, const char* name, const char* help, int type) {
    LoadedPlugin& p = plugin(h);
    return p.owner->register_metric(p, name, help, type);
  }
  static uint16_t port_count(void* h) {
    LoadedPlugin& p = plugin(h);
    return p.owner->port_count_ ? p.owner->port_count_() : 0;
  }
  static int record_series(void* h, const char* name, double value) {
    LoadedPlugin& p = plugin(h);
    if (!name || !*name || !p.owner->series_) return -1;
    return p.owner->series_(std::string(p.desc->name) + "." + name, value) ? 0 : -1;
  }
  static uint16_t label_id(void* h, const char* name) {
    return name ? plugin(h).owner->label_id(name) : 0;
  }
  static const char* label_name(void* h, uint16_t id) { return plugin(h).owner->label_name(id); }
  static void flow_set_label(void* h, const wm_flow_info* flow, uint16_t id) {
    // The record is the core's; plugins get it read-only and change it only through here.
    if (flow) const_cast<wm_flow_info*>(flow)->app_label = id;
    std::atomic<bool>& f = plugin(h).labels_flows;
    if (!f.load(std::memory_order_relaxed)) f.store(true, std::memory_order_relaxed);
  }
  static int port_info(void* h, uint16_t port, wm_port_info* out) {
    LoadedPlugin& p = plugin(h);
    if (!out || out->struct_size < sizeof(wm_port_info) || !p.owner->port_info_) return -1;
    return p.owner->port_info_(port, *out) ? 0 : -1;
  }
};

PluginHost::PluginHost(ConfigFn config, LogFn log)
    : config_(std::move(config)), log_(std::move(log)) {}

PluginHost::~PluginHost() { destroy_all(); }

void PluginHost::destroy_all() {
  // Reverse order of creation; the libraries unload when their LoadedPlugin goes.
  for (auto it = loaded_.rbegin(); it != loaded_.rend(); ++it) {
    if ((*it)->ctx && (*it)->desc->destroy) (*it)->desc->destroy((*it)->ctx);
    (*it)->ctx = nullptr;
  }
  loaded_.clear();
}

void PluginHost::refuse(const std::string& path, const std::string& reason) {
  refused_.push_back({path, reason});
  log_(WM_LOG_WARN, "plugin refused: " + path + ": " + reason);
}

void PluginHost::load_directory(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (!d) {
    refuse(dir, std::string("cannot open plugin directory: ") + std::strerror(errno));
    return;
  }
  std::vector<std::string> files;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n.size() > 3 && n.compare(n.size() - 3, 3, ".so") == 0) files.push_back(dir + "/" + n);
  }
  closedir(d);
  std::sort(files.begin(), files.end());
  for (auto& f : files) load(f);
}

bool PluginHost::load(const std::string& path) {
  {
    // dlopen's own message for a non-ELF file is cryptic; check the magic first.
    std::ifstream in(path, std::ios::binary);
    if (!in) return refuse(path, "cannot read file"), false;
    char magic[4] = {};
    in.read(magic, 4);
    if (in.gcount() != 4 || std::memcmp(magic,
                                        "\x7f"
                                        "ELF",
                                        4) != 0) {
      return refuse(path, "not a shared object (no ELF header)"), false;
    }
  }
  auto p = std::make_unique<LoadedPlugin>();
  p->path = path;
  p->owner = this;
  boost::dll::fs::error_code ec;
  p->library.load(path, ec, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
  if (ec) {
    const char* why = dlerror();
    return refuse(path, std::string("cannot load: ") + (why ? why : ec.message().c_str())), false;
  }
  if (!p->library.has(WM_PLUGIN_REGISTER_SYMBOL)) {
    return refuse(path, "missing registration symbol " WM_PLUGIN_REGISTER_SYMBOL "()"), false;
  }
  auto reg = p->library.get<const wm_plugin_descriptor*()>(WM_PLUGIN_REGISTER_SYMBOL);
  const wm_plugin_descriptor* d = reg();
  if (!d) return refuse(path, "registration returned no descriptor"), false;
  // Check the size before reading any field past it.
  if (d->struct_size < sizeof(uint32_t) + 2 * sizeof(uint16_t)) {
    return refuse(path, "descriptor too small"), false;
  }
  if (d->abi_major != WM_ABI_MAJOR) {
    return refuse(path, "ABI major " + std::to_string(d->abi_major) + " is not supported (host " +
                            "speaks " + std::to_string(WM_ABI_MAJOR) + "." +
                            std::to_string(WM_ABI_MINOR) + ")"),
           false;
  }
  if (d->struct_size < sizeof(wm_plugin_descriptor)) {
    return refuse(path, "descriptor struct is " + std::to_string(d->struct_size) +
                            " bytes, ABI 1 needs at least " +
                            std::to_string(sizeof(wm_plugin_descriptor))),
           false;
  }
  if (!valid_plugin_name(d->name)) {
    return refuse(path, "invalid plugin name (use 1-32 of a-z, 0-9, _)"), false;
  }
  if (find(d->name)) {
    return refuse(path, std::string("a plugin named \"") + d->name + "\" is already loaded"), false;
  }
  if (!d->create || !d->destroy) return refuse(path, "descriptor lacks create/destroy"), false;
  if (d->kind == WM_PLUGIN_ANALYZER) {
    const wm_analyzer_hooks* a = d->analyzer;
    if (!a) return refuse(path, "analyzer plugin without analyzer hooks"), false;
    if (a->struct_size < WM_ANALYZER_HOOKS_V1_0_SIZE) {
      return refuse(path, "analyzer hooks struct is " + std::to_string(a->struct_size) +
                              " bytes, ABI 1 needs at least " +
                              std::to_string(WM_ANALYZER_HOOKS_V1_0_SIZE)),
             false;
    }
    if (!a->worker_init || !a->on_batch) {
      return refuse(path, "analyzer hooks lack worker_init/on_batch"), false;
    }
    if (a->flow_state_size > 4096) {
      return refuse(path, "flow state of " + std::to_string(a->flow_state_size) +
                              " bytes exceeds the 4096-byte limit"),
             false;
    }
  } else if (d->kind == WM_PLUGIN_MANAGEMENT) {
    const wm_management_hooks* m = d->management;
    if (!m) return refuse(path, "management plugin without management hooks"), false;
    if (m->struct_size < sizeof(wm_management_hooks)) {
      return refuse(path, "management hooks struct too small"), false;
    }
  } else {
    return refuse(path, "unknown plugin kind " + std::to_string(d->kind)), false;
  }
  p->desc = d;
  p->api.struct_size = sizeof(wm_host_api);
  p->api.abi_major = WM_ABI_MAJOR;
  p->api.abi_minor = WM_ABI_MINOR;
  p->api.host = p.get();
  p->api.log = &HostApiImpl::log;
  p->api.now_ns = &HostApiImpl::now_ns;
  p->api.config_json = &HostApiImpl::config_json;
  p->api.register_metric = &HostApiImpl::register_metric;
  p->api.port_count = &HostApiImpl::port_count;
  p->api.port_info = &HostApiImpl::port_info;
  p->api.record_series = &HostApiImpl::record_series;
  p->api.label_id = &HostApiImpl::label_id;
  p->api.label_name = &HostApiImpl::label_name;
  p->api.flow_set_label = &HostApiImpl::flow_set_label;

  char err[256] = {};
  size_t families_before = families_.size();
  p->ctx = d->create(&p->api, err, sizeof err);
  if (!p->ctx) {
    families_.resize(families_before);  // drop what a failed create registered
    return refuse(path, std::string("create failed: ") + (err[0] ? err : "no reason given")), false;
  }
  if (p->is_analyzer()) {
    p->flow_state_offset = flow_state_bytes_;
    uint32_t size = d->analyzer->flow_state_size;
    flow_state_bytes_ += (size + kFlowStateAlign - 1) / kFlowStateAlign * kFlowStateAlign;
  }
  log_(WM_LOG_INFO, std::string("plugin loaded: ") + d->name + " " +
                        (d->version ? d->version : "") + " from " + path);
  loaded_.push_back(std::move(p));
  return true;
}

uint16_t PluginHost::label_id(const char* name) {
  std::lock_guard lock(labels_mutex_);
  auto it = label_ids_.find(name);
  if (it != label_ids_.end()) return it->second;
  if (label_storage_.size() >= 65535) return 0;
  auto id = static_cast<uint16_t>(label_storage_.size() + 1);
  label_storage_.push_back(std::make_unique<std::string>(name));
  label_names_[id].store(label_storage_.back()->c_str(), std::memory_order_release);
  label_ids_.emplace(name, id);
  return id;
}

const char* PluginHost::label_name(uint16_t id) const {
  const char* n = label_names_[id].load(std::memory_order_acquire);
  return n ? n : "";
}

LoadedPlugin* PluginHost::find(const std::string& name) {
  for (auto& p : loaded_) {
    if (name == p->desc->name) return p.get();
  }
  return nullptr;
}

int PluginHost::register_metric(LoadedPlugin& p, const char* name, const char* help, int type) {
  if (!valid_metric_name(name)) {
    log_(WM_LOG_ERROR, std::string(p.desc->name) + ": metric name \"" + (name ? name : "") +
                           "\" refused: must match wiremeter_[a-zA-Z0-9_:]+");
    return -1;
  }
  if (type < WM_METRIC_COUNTER || type > WM_METRIC_HISTOGRAM) {
    log_(WM_LOG_ERROR, std::string(p.desc->name) + ": metric " + name + ": unknown type");
    return -1;
  }
  for (auto& f : families_) {
    if (f.name == name) {
      log_(WM_LOG_ERROR,
           std::string(p.desc->name) + ": metric " + name + " already registered by " + f.plugin);
      return -1;
    }
  }
  families_.push_back({name, help ? help : "", static_cast<wm_metric_type>(type), p.desc->name});
  return static_cast<int>(families_.size() - 1);
}

std::vector<AnalyzerSlot> PluginHost::init_worker(uint32_t worker_id, uint32_t n_workers) {
  // The web threads may be collecting while the workers are being set up.
  std::lock_guard lock(collect_mutex_);
  n_workers_ = n_workers;
  std::vector<AnalyzerSlot> slots;
  for (auto& p : loaded_) {
    if (!p->is_analyzer()) continue;
    std::lock_guard plugin_lock(p->mutex);
    if (p->workers.size() < n_workers) p->workers.resize(n_workers, nullptr);
    wm_worker_info info{sizeof(wm_worker_info), worker_id, n_workers, p->flow_state_offset, 0};
    void* w = p->desc->analyzer->worker_init(p->ctx, &info);
    if (!w) {
      log_(WM_LOG_ERROR, std::string(p->desc->name) + ": worker_init failed on worker " +
                             std::to_string(worker_id) + "; the plugin sees no packets there");
    }
    p->workers[worker_id] = w;
    const wm_analyzer_hooks* a = p->desc->analyzer;
    AnalyzerSlot slot{a, w, p->flow_state_offset, nullptr, &p->labels_flows};
    // Hooks appended in ABI 1.1 exist only if the plugin's struct is that large.
    if (a->struct_size >= offsetof(wm_analyzer_hooks, worker_tick) + sizeof(a->worker_tick)) {
      slot.worker_tick = a->worker_tick;
    }
    slots.push_back(slot);
  }
  return slots;
}

void PluginHost::forget_workers() {
  std::lock_guard lock(collect_mutex_);
  for (auto& p : loaded_) {
    std::lock_guard plugin_lock(p->mutex);
    p->workers.clear();
  }
}

namespace {

struct CollectState {
  std::vector<MetricSample>* out;
  size_t n_families;
  int first_family;  // families of other plugins are not this plugin's to fill
  std::set<int> allowed;
};

std::vector<std::pair<std::string, std::string>> labels_of(const char* const* names,
                                                           const char* const* values, uint32_t n) {
  std::vector<std::pair<std::string, std::string>> l;
  for (uint32_t i = 0; i < n && names && values; ++i) {
    if (names[i] && values[i]) l.emplace_back(names[i], values[i]);
  }
  return l;
}

void sink_sample(void* ctx, int id, const char* const* names, const char* const* values, uint32_t n,
                 double value) {
  auto* s = static_cast<CollectState*>(ctx);
  if (!s->allowed.count(id)) return;
  MetricSample m;
  m.family = id;
  m.labels = labels_of(names, values, n);
  m.value = value;
  s->out->push_back(std::move(m));
}

void sink_histogram(void* ctx, int id, const char* const* names, const char* const* values,
                    uint32_t n, const double* bounds, const uint64_t* counts, uint32_t n_bounds,
                    double sum) {
  auto* s = static_cast<CollectState*>(ctx);
  if (!s->allowed.count(id) || !bounds || !counts) return;
  MetricSample m;
  m.family = id;
  m.labels = labels_of(names, values, n);
  m.bounds.assign(bounds, bounds + n_bounds);
  m.counts.assign(counts, counts + n_bounds + 1);
  m.sum = sum;
  s->out->push_back(std::move(m));
}

void json_append(void* ctx, const char* data, size_t len) {
  static_cast<std::string*>(ctx)->append(data, len);
}

}  // namespace

std::vector<MetricSample> PluginHost::collect() {
  std::vector<MetricSample> out;
  for (auto& p : loaded_) {
    if (!p->is_analyzer() || !p->desc->analyzer->collect) continue;
    std::lock_guard plugin_lock(p->mutex);
    CollectState st{&out, families_.size(), 0, {}};
    for (size_t i = 0; i < families_.size(); ++i) {
      if (families_[i].plugin == p->desc->name) st.allowed.insert(static_cast<int>(i));
    }
    wm_metric_sink sink{&st, &sink_sample, &sink_histogram};
    p->desc->analyzer->collect(p->ctx, p->workers.data(), static_cast<uint32_t>(p->workers.size()),
                               &sink);
  }
  return out;
}

std::string PluginHost::plugin_json(const std::string& name) {
  LoadedPlugin* p = find(name);
  if (!p) return {};
  std::lock_guard plugin_lock(p->mutex);
  std::string out;
  wm_json_sink sink{&out, &json_append};
  if (p->is_analyzer()) {
    if (!p->desc->analyzer->write_json) return "{}";
    p->desc->analyzer->write_json(p->ctx, p->workers.data(),
                                  static_cast<uint32_t>(p->workers.size()), &sink);
  } else {
    if (!p->desc->management->write_status) return "{}";
    p->desc->management->write_status(p->ctx, &sink);
  }
  return out.empty() ? "{}" : out;
}

int PluginHost::query(const std::string& name, const std::string& path,
                      const std::string& query_string, std::string& out) {
  LoadedPlugin* p = find(name);
  if (!p || !p->is_analyzer()) return 404;
  // Per plugin: a slow view of one plugin does not hold up /metrics for the others.
  std::lock_guard plugin_lock(p->mutex);
  const wm_analyzer_hooks* a = p->desc->analyzer;
  if (a->struct_size < offsetof(wm_analyzer_hooks, query) + sizeof(a->query) || !a->query) {
    return 404;
  }
  wm_json_sink sink{&out, &json_append};
  return a->query(p->ctx, p->workers.data(), static_cast<uint32_t>(p->workers.size()), path.c_str(),
                  query_string.c_str(), &sink);
}

void PluginHost::tick(uint64_t now_ns) {
  for (auto& p : loaded_) {
    if (p->is_analyzer() && p->desc->analyzer->on_tick) {
      std::lock_guard plugin_lock(p->mutex);
      p->desc->analyzer->on_tick(p->ctx, p->workers.data(),
                                 static_cast<uint32_t>(p->workers.size()), now_ns);
    }
  }
}

}  // namespace wiremeter::core

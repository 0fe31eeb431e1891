// The C++20 SDK for wiremeter plugins: a header-only layer over <wiremeter/abi.h>.
//
// An analyzer plugin is two classes:
//
//   class MyWorker {                       // one per worker thread, owned by the host
//    public:
//     void on_batch(std::span<const wm_packet> packets) noexcept;
//     // optional, with `using FlowState = ...` in the plugin class:
//     void on_flow_end(const wm_flow_info& flow, MyFlowState& state) noexcept;
//   };
//   class MyPlugin {                       // one per process, control plane
//    public:
//     using Worker = MyWorker;
//     using FlowState = MyFlowState;       // optional; zero-filled memory must be a valid state
//     explicit MyPlugin(wiremeter::Host& host);   // may throw to refuse loading
//     std::unique_ptr<MyWorker> make_worker(const wm_worker_info& info);
//     // all optional:
//     void collect(std::span<MyWorker* const> workers, wiremeter::MetricSink& sink);
//     void write_json(std::span<MyWorker* const> workers, wiremeter::JsonWriter& out);
//     void on_tick(std::span<MyWorker* const> workers, uint64_t now_ns);
//     // GET /api/v1/<plugin>/<path>?...; throw QueryError for a 400:
//     int query(std::span<MyWorker* const> workers, std::string_view path,
//               const wiremeter::Query& q, wiremeter::JsonWriter& out);
//   };
//   // and on the worker, optionally: void worker_tick(uint64_t now_ns) noexcept;  (~10 Hz)
//   WIREMETER_ANALYZER_PLUGIN(MyPlugin)
//
// The plugin's name, version and description come from its manifest (plugin.json) through the
// wiremeter_add_plugin() CMake function, which defines WM_PLUGIN_NAME, WM_PLUGIN_VERSION and
// WM_PLUGIN_DESCRIPTION.
//
// Exceptions never cross the C boundary: control-plane trampolines catch them and report them;
// data-path hooks must be noexcept.
#pragma once

#include <wiremeter/abi.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>
#include <wiremeter/counter.hpp>
#include <wiremeter/json.hpp>
#include <wiremeter/query.hpp>

namespace wiremeter {

// Typed view of this plugin's slice of the per-flow state area.
// Thread-safety: used on the worker that owns the flow.
template <typename State>
class FlowStateSlot {
  static_assert(std::is_trivially_copyable_v<State> && std::is_trivially_destructible_v<State>,
                "flow state starts as zero-filled memory and is released without a destructor");

 public:
  FlowStateSlot() = default;
  explicit FlowStateSlot(uint32_t offset) : offset_(offset) {}
  State* get(const wm_packet& p) const noexcept {
    return p.flow_state ? reinterpret_cast<State*>(p.flow_state + offset_) : nullptr;
  }
  State& at(uint8_t* area) const noexcept { return *reinterpret_cast<State*>(area + offset_); }

 private:
  uint32_t offset_ = 0;
};

// Host services. Thread-safety: log() and now_ns() from any thread, the rest from the control
// plane. The host outlives every plugin object.
class Host {
 public:
  explicit Host(const wm_host_api* api) : api_(api) {}

  void log(wm_log_level level, std::string_view msg) const {
    std::string line(msg);
    api_->log(api_->host, level, line.c_str());
  }
  void error(std::string_view m) const { log(WM_LOG_ERROR, m); }
  void warn(std::string_view m) const { log(WM_LOG_WARN, m); }
  void info(std::string_view m) const { log(WM_LOG_INFO, m); }

  uint64_t now_ns() const { return api_->now_ns(api_->host); }
  std::string config_json() const { return api_->config_json(api_->host); }
  // For modules without settings: an empty section is fine; anything else is a mistake (a typo,
  // a setting meant for another module) that should refuse the plugin with a reason, not be
  // silently ignored.
  void expect_no_settings() const {
    std::string c = config_json();
    std::string compact;
    for (char ch : c) {
      if (ch != ' ' && ch != '\n' && ch != '\t' && ch != '\r') compact.push_back(ch);
    }
    if (!compact.empty() && compact != "{}") {
      throw std::runtime_error(
          "this module has no settings; remove its section from the "
          "config (got " +
          compact.substr(0, 60) + ")");
    }
  }

  // Returns the metric id, or throws when the host refuses the name.
  int register_metric(const char* name, const char* help, wm_metric_type type) const {
    int id = api_->register_metric(api_->host, name, help, type);
    if (id < 0) throw std::runtime_error(std::string("metric refused: ") + name);
    return id;
  }

  uint16_t port_count() const { return api_->port_count(api_->host); }
  std::optional<wm_port_info> port_info(uint16_t port) const {
    wm_port_info info{};
    info.struct_size = sizeof info;
    if (api_->port_info(api_->host, port, &info) != 0) return std::nullopt;
    return info;
  }

  // Adds this second's value to the time series "<plugin>.<name>". Quietly does nothing on a
  // host older than ABI 1.1.
  void record_series(const std::string& name, double value) const {
    if (api_->struct_size < offsetof(wm_host_api, record_series) + sizeof(api_->record_series) ||
        !api_->record_series) {
      return;
    }
    api_->record_series(api_->host, name.c_str(), value);
  }

  // Shared application labels (ABI 1.1; on an older host: 0, "" and no-op).
  uint16_t label_id(const char* name) const {
    return has(offsetof(wm_host_api, label_id)) && api_->label_id ? api_->label_id(api_->host, name)
                                                                  : 0;
  }
  const char* label_name(uint16_t id) const {
    return has(offsetof(wm_host_api, label_name)) && api_->label_name
               ? api_->label_name(api_->host, id)
               : "";
  }
  // Data path, on the worker that owns the flow.
  void set_flow_label(const wm_flow_info* flow, uint16_t id) const noexcept {
    if (has(offsetof(wm_host_api, flow_set_label)) && api_->flow_set_label) {
      api_->flow_set_label(api_->host, flow, id);
    }
  }

  const wm_host_api* raw() const { return api_; }

 private:
  // True when the host's struct reaches past a field at `offset` (pointer-sized).
  bool has(size_t offset) const noexcept { return api_->struct_size >= offset + sizeof(void*); }

  const wm_host_api* api_;
};

// A label set for MetricSink. Up to kMax labels, stored by pointer: the strings must outlive
// the sample() call.
struct Labels {
  static constexpr uint32_t kMax = 8;
  Labels() = default;
  Labels(std::initializer_list<std::pair<const char*, const char*>> list) {
    for (auto& [k, v] : list) add(k, v);
  }
  Labels& add(const char* k, const char* v) {
    if (n < kMax) {
      names[n] = k;
      values[n] = v;
      ++n;
    }
    return *this;
  }
  const char* names[kMax] = {};
  const char* values[kMax] = {};
  uint32_t n = 0;
};

// Histograms kept as counts per bucket, for MetricSink::histogram(): the cumulative counts it
// takes, and bucket bounds kept in microseconds as the seconds Prometheus wants.
template <size_t N>
std::array<uint64_t, N> cumulative(const std::array<uint64_t, N>& per_bucket) {
  std::array<uint64_t, N> c{};
  uint64_t running = 0;
  for (size_t i = 0; i < N; ++i) c[i] = running += per_bucket[i];
  return c;
}
template <size_t N>
constexpr std::array<double, N> seconds_from_us(const std::array<uint64_t, N>& us) {
  std::array<double, N> s{};
  for (size_t i = 0; i < N; ++i) s[i] = static_cast<double>(us[i]) / 1e6;
  return s;
}

// Receives samples during collect(). Thread-safety: valid only inside collect().
class MetricSink {
 public:
  explicit MetricSink(const wm_metric_sink* sink) : sink_(sink) {}
  void sample(int metric, const Labels& labels, double value) const {
    sink_->sample(sink_->ctx, metric, labels.names, labels.values, labels.n, value);
  }
  void histogram(int metric, const Labels& labels, std::span<const double> bounds,
                 std::span<const uint64_t> cumulative_counts, double sum) const {
    sink_->histogram(sink_->ctx, metric, labels.names, labels.values, labels.n, bounds.data(),
                     cumulative_counts.data(), static_cast<uint32_t>(bounds.size()), sum);
  }

 private:
  const wm_metric_sink* sink_;
};

namespace detail {

inline void copy_error(char* err, size_t len, std::string_view msg) {
  if (!err || len == 0) return;
  size_t n = msg.size() < len - 1 ? msg.size() : len - 1;
  for (size_t i = 0; i < n; ++i) err[i] = (msg[i] == '\n') ? ' ' : msg[i];
  err[n] = '\0';
}

template <typename P>
concept HasFlowState = requires {
  typename P::FlowState;
};

template <typename P>
struct Instance {
  explicit Instance(const wm_host_api* api) : host(api), plugin(host) {}
  Host host;
  P plugin;
};

template <typename P>
struct AnalyzerAdapter {
  using Worker = typename P::Worker;

  static std::span<Worker* const> workers(void* const* w, uint32_t n) {
    return {reinterpret_cast<Worker* const*>(w), n};
  }
  static P& plugin(void* p) { return static_cast<Instance<P>*>(p)->plugin; }
  static void report(void* p, const char* hook, const std::exception& e) {
    auto* inst = static_cast<Instance<P>*>(p);
    inst->host.error(std::string(hook) + " failed: " + e.what());
  }

  static void* create(const wm_host_api* api, char* err, size_t err_len) {
    try {
      return new Instance<P>(api);
    } catch (const std::exception& e) {
      copy_error(err, err_len, e.what());
    } catch (...) {
      copy_error(err, err_len, "unknown exception");
    }
    return nullptr;
  }
  static void destroy(void* p) { delete static_cast<Instance<P>*>(p); }

  static void* worker_init(void* p, const wm_worker_info* info) {
    try {
      return plugin(p).make_worker(*info).release();
    } catch (const std::exception& e) {
      report(p, "worker_init", e);
      return nullptr;
    }
  }
  static void worker_fini(void* w) { delete static_cast<Worker*>(w); }
  static void on_batch(void* w, const wm_packet* pkts, uint32_t n) {
    static_cast<Worker*>(w)->on_batch(std::span<const wm_packet>(pkts, n));
  }
  static void on_flow_end(void* w, const wm_flow_info* flow, uint8_t* state) {
    if constexpr (HasFlowState<P>) {
      static_cast<Worker*>(w)->on_flow_end(*flow, *reinterpret_cast<typename P::FlowState*>(state));
    }
  }
  static void collect(void* p, void* const* w, uint32_t n, const wm_metric_sink* sink) {
    if constexpr (requires(P & x, std::span<Worker* const> s, MetricSink & m) {
                    x.collect(s, m);
                  }) {
      try {
        MetricSink ms(sink);
        plugin(p).collect(workers(w, n), ms);
      } catch (const std::exception& e) {
        report(p, "collect", e);
      }
    }
  }
  static void write_json(void* p, void* const* w, uint32_t n, const wm_json_sink* out) {
    JsonWriter json;
    if constexpr (requires(P & x, std::span<Worker* const> s, JsonWriter & j) {
                    x.write_json(s, j);
                  }) {
      try {
        plugin(p).write_json(workers(w, n), json);
      } catch (const std::exception& e) {
        report(p, "write_json", e);
        json = JsonWriter();
        json.begin_object().field("error", e.what()).end_object();
      }
    } else {
      json.begin_object().end_object();
    }
    out->write(out->ctx, json.str().data(), json.str().size());
  }
  static void on_tick(void* p, void* const* w, uint32_t n, uint64_t now) {
    if constexpr (requires(P & x, std::span<Worker* const> s, uint64_t t) { x.on_tick(s, t); }) {
      try {
        plugin(p).on_tick(workers(w, n), now);
      } catch (const std::exception& e) {
        report(p, "on_tick", e);
      }
    }
  }

  static void worker_tick(void* w, uint64_t now) {
    if constexpr (requires(Worker & x, uint64_t t) { x.worker_tick(t); }) {
      static_cast<Worker*>(w)->worker_tick(now);
    }
  }
  static int query(void* p, void* const* w, uint32_t n, const char* path, const char* qs,
                   const wm_json_sink* out) {
    JsonWriter json;
    int status = 404;
    if constexpr (requires(P & x, std::span<Worker* const> s, std::string_view sv, const Query& q,
                           JsonWriter& j) { x.query(s, sv, q, j); }) {
      try {
        Query q(qs, static_cast<Instance<P>*>(p)->host.now_ns());
        status = plugin(p).query(workers(w, n), path, q, json);
      } catch (const QueryError& e) {
        json = JsonWriter();
        json.begin_object().field("error", e.what()).end_object();
        status = 400;
      } catch (const std::exception& e) {
        report(p, "query", e);
        json = JsonWriter();
        json.begin_object().field("error", e.what()).end_object();
        status = 500;
      }
    }
    if (status == 404 && json.str().empty()) {
      json.begin_object().field("error", std::string("no such view: ") + path).end_object();
    }
    out->write(out->ctx, json.str().data(), json.str().size());
    return status;
  }

  static uint32_t flow_state_size() {
    if constexpr (HasFlowState<P>) {
      return sizeof(typename P::FlowState);
    } else {
      return 0;
    }
  }

  static const wm_plugin_descriptor* descriptor(const char* name, const char* version,
                                                const char* description) {
    static const wm_analyzer_hooks hooks = {
        sizeof(wm_analyzer_hooks),
        flow_state_size(),
        &worker_init,
        &worker_fini,
        &on_batch,
        HasFlowState<P> ? &on_flow_end : nullptr,
        &collect,
        &write_json,
        &on_tick,
        &worker_tick,
        &query,
    };
    static const wm_plugin_descriptor desc = {
        sizeof(wm_plugin_descriptor), WM_ABI_MAJOR, WM_ABI_MINOR, name,   version, description,
        WM_PLUGIN_ANALYZER,           &create,      &destroy,     &hooks, nullptr,
    };
    return &desc;
  }
};

}  // namespace detail
}  // namespace wiremeter

#ifndef WM_PLUGIN_NAME
#error "WM_PLUGIN_NAME is not defined: build the plugin with wiremeter_add_plugin()"
#endif
#ifndef WM_PLUGIN_VERSION
#define WM_PLUGIN_VERSION "0.0.0"
#endif
#ifndef WM_PLUGIN_DESCRIPTION
#define WM_PLUGIN_DESCRIPTION ""
#endif

// Exports the registration function for an analyzer plugin class.
#define WIREMETER_ANALYZER_PLUGIN(PluginClass)                                       \
  extern "C" WM_EXPORT const wm_plugin_descriptor* wiremeter_plugin_register(void) { \
    return ::wiremeter::detail::AnalyzerAdapter<PluginClass>::descriptor(            \
        WM_PLUGIN_NAME, WM_PLUGIN_VERSION, WM_PLUGIN_DESCRIPTION);                   \
  }

// A fake wiremeter host for plugin unit tests: runs a plugin's descriptor in-process, the way
// the real host would, with ports, config and metrics you control and inspect.
//
//   wiremeter::testing::FakeHost host;
//   host.add_port("eth0");
//   wiremeter::testing::PluginHarness h(wiremeter_plugin_register(), host, /*workers=*/1);
//   h.batch(0, packets);
//   auto samples = h.collect();
//
// Not thread-safe; everything runs on the test's thread.
#pragma once

#include <wiremeter/abi.h>

#include <cctype>
#include <cstdint>
#include <deque>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace wiremeter::testing {

struct FakeMetric {
  std::string name, help;
  int type;
};

struct FakeSample {
  std::string metric;
  std::map<std::string, std::string> labels;
  double value = 0;
  std::vector<double> bounds;
  std::vector<uint64_t> counts;  // cumulative, last = total
  double sum = 0;
};

class FakeHost {
 public:
  FakeHost() {
    api_.struct_size = sizeof api_;
    api_.abi_major = WM_ABI_MAJOR;
    api_.abi_minor = WM_ABI_MINOR;
    api_.host = this;
    api_.log = [](void* h, int level, const char* msg) {
      static_cast<FakeHost*>(h)->logs.push_back({level, msg ? msg : ""});
    };
    api_.now_ns = [](void* h) { return static_cast<FakeHost*>(h)->now_ns; };
    api_.config_json = [](void* h) { return static_cast<FakeHost*>(h)->config.c_str(); };
    api_.register_metric = [](void* h, const char* name, const char* help, int type) {
      auto* self = static_cast<FakeHost*>(h);
      // The same rule as the real host, so that a bad name fails in the plugin's own tests.
      std::string n = name ? name : "";
      bool valid = n.rfind("wiremeter_", 0) == 0 && n.size() > 10;
      for (char c : n) valid &= std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':';
      if (!valid) return -1;
      for (auto& m : self->metrics) {
        if (m.name == name) return -1;
      }
      self->metrics.push_back({name, help ? help : "", type});
      return static_cast<int>(self->metrics.size() - 1);
    };
    api_.port_count = [](void* h) {
      return static_cast<uint16_t>(static_cast<FakeHost*>(h)->ports.size());
    };
    api_.record_series = [](void* h, const char* name, double value) {
      static_cast<FakeHost*>(h)->series[name ? name : ""].push_back(value);
      return 0;
    };
    api_.label_id = [](void* h, const char* name) {
      auto* self = static_cast<FakeHost*>(h);
      for (size_t i = 0; i < self->labels.size(); ++i) {
        if (self->labels[i] == name) return static_cast<uint16_t>(i + 1);
      }
      self->labels.emplace_back(name);
      return static_cast<uint16_t>(self->labels.size());
    };
    api_.label_name = [](void* h, uint16_t id) {
      auto* self = static_cast<FakeHost*>(h);
      return id && id <= self->labels.size() ? self->labels[id - 1].c_str() : "";
    };
    api_.flow_set_label = [](void*, const wm_flow_info* flow, uint16_t id) {
      if (flow) const_cast<wm_flow_info*>(flow)->app_label = id;
    };
    api_.port_info = [](void* h, uint16_t p, wm_port_info* out) {
      auto* self = static_cast<FakeHost*>(h);
      if (p >= self->ports.size() || !out || out->struct_size < sizeof(wm_port_info)) return -1;
      wm_port_info info = self->ports[p];
      info.name = self->port_names[p].c_str();
      info.driver = "fake";
      *out = info;
      return 0;
    };
  }
  FakeHost(const FakeHost&) = delete;
  FakeHost& operator=(const FakeHost&) = delete;

  // Adds a port; returns its info so the test can set counters.
  wm_port_info& add_port(const std::string& name) {
    port_names.push_back(name);
    wm_port_info info{};
    info.struct_size = sizeof info;
    info.id = static_cast<uint16_t>(ports.size());
    info.link_up = 1;
    ports.push_back(info);
    return ports.back();
  }

  const wm_host_api* api() const { return &api_; }

  struct LogLine {
    int level;
    std::string text;
  };
  std::vector<LogLine> logs;
  std::vector<FakeMetric> metrics;
  std::vector<wm_port_info> ports;
  std::vector<std::string> port_names;
  std::string config = "{}";
  std::map<std::string, std::vector<double>> series;  // record_series() calls, by name
  std::deque<std::string> labels;  // label_id() names; id = index + 1 (deque: stable c_str())
  uint64_t now_ns = 1'700'000'000'000'000'000ull;

 private:
  wm_host_api api_{};
};

// Drives one plugin through its C descriptor, as the host does.
class PluginHarness {
 public:
  PluginHarness(const wm_plugin_descriptor* desc, FakeHost& host, uint32_t workers = 1)
      : desc_(desc), host_(host) {
    if (!desc || desc->abi_major != WM_ABI_MAJOR) throw std::runtime_error("bad descriptor");
    char err[256] = {};
    ctx_ = desc->create(host.api(), err, sizeof err);
    if (!ctx_) throw std::runtime_error(std::string("create failed: ") + err);
    if (desc->analyzer) {
      uint32_t offset = 0;
      for (uint32_t w = 0; w < workers; ++w) {
        wm_worker_info info{sizeof(wm_worker_info), w, workers, offset, 0};
        workers_.push_back(desc->analyzer->worker_init(ctx_, &info));
      }
    }
  }
  ~PluginHarness() {
    for (void* w : workers_) {
      if (w && desc_->analyzer->worker_fini) desc_->analyzer->worker_fini(w);
    }
    desc_->destroy(ctx_);
  }
  PluginHarness(const PluginHarness&) = delete;
  PluginHarness& operator=(const PluginHarness&) = delete;

  uint32_t flow_state_size() const {
    return desc_->analyzer ? desc_->analyzer->flow_state_size : 0;
  }

  void batch(uint32_t worker, const std::vector<wm_packet>& packets) {
    desc_->analyzer->on_batch(workers_.at(worker), packets.data(),
                              static_cast<uint32_t>(packets.size()));
  }
  void flow_end(uint32_t worker, const wm_flow_info& flow, uint8_t* state) {
    if (desc_->analyzer->on_flow_end)
      desc_->analyzer->on_flow_end(workers_.at(worker), &flow, state);
  }
  // ABI 1.1 hooks: the per-worker tick and the REST views.
  void worker_tick(uint32_t worker, uint64_t now_ns) {
    if (desc_->analyzer->worker_tick) desc_->analyzer->worker_tick(workers_.at(worker), now_ns);
  }
  std::pair<int, std::string> query(const std::string& path, const std::string& query_string = "") {
    std::string out;
    wm_json_sink sink{
        &out, [](void* p, const char* d, size_t n) { static_cast<std::string*>(p)->append(d, n); }};
    int status =
        desc_->analyzer->query
            ? desc_->analyzer->query(ctx_, workers_.data(), static_cast<uint32_t>(workers_.size()),
                                     path.c_str(), query_string.c_str(), &sink)
            : 404;
    return {status, out};
  }
  // The plugin's own worker object, for tests that look inside (the C++ SDK's Worker type).
  template <typename W>
  W& worker_as(uint32_t worker) {
    return *static_cast<W*>(workers_.at(worker));
  }

  void tick(uint64_t now_ns) {
    if (desc_->analyzer->on_tick) {
      desc_->analyzer->on_tick(ctx_, workers_.data(), static_cast<uint32_t>(workers_.size()),
                               now_ns);
    }
  }

  std::vector<FakeSample> collect() {
    std::vector<FakeSample> out;
    struct Ctx {
      std::vector<FakeSample>* out;
      FakeHost* host;
    } c{&out, &host_};
    wm_metric_sink sink{
        &c,
        [](void* p, int id, const char* const* n, const char* const* v, uint32_t nl, double value) {
          auto* ctx = static_cast<Ctx*>(p);
          FakeSample s;
          s.metric = ctx->host->metrics.at(static_cast<size_t>(id)).name;
          for (uint32_t i = 0; i < nl; ++i) s.labels[n[i]] = v[i];
          s.value = value;
          ctx->out->push_back(std::move(s));
        },
        [](void* p, int id, const char* const* n, const char* const* v, uint32_t nl,
           const double* bounds, const uint64_t* counts, uint32_t nb, double sum) {
          auto* ctx = static_cast<Ctx*>(p);
          FakeSample s;
          s.metric = ctx->host->metrics.at(static_cast<size_t>(id)).name;
          for (uint32_t i = 0; i < nl; ++i) s.labels[n[i]] = v[i];
          s.bounds.assign(bounds, bounds + nb);
          s.counts.assign(counts, counts + nb + 1);
          s.sum = sum;
          ctx->out->push_back(std::move(s));
        }};
    if (desc_->analyzer && desc_->analyzer->collect) {
      desc_->analyzer->collect(ctx_, workers_.data(), static_cast<uint32_t>(workers_.size()),
                               &sink);
    }
    return out;
  }

  std::string json() {
    std::string out;
    wm_json_sink sink{
        &out, [](void* p, const char* d, size_t n) { static_cast<std::string*>(p)->append(d, n); }};
    if (desc_->analyzer && desc_->analyzer->write_json) {
      desc_->analyzer->write_json(ctx_, workers_.data(), static_cast<uint32_t>(workers_.size()),
                                  &sink);
    }
    return out;
  }

 private:
  const wm_plugin_descriptor* desc_;
  FakeHost& host_;
  void* ctx_ = nullptr;
  std::vector<void*> workers_;
};

}  // namespace wiremeter::testing

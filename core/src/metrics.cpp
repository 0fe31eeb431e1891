// /metrics: built at scrape time from the workers' counters and the plugins' collect().
// Nothing on the data path touches prometheus-cpp; it only serializes here.
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <map>
#include <sstream>

#include "wiremeter/core/app.hpp"
#include "wiremeter/core/version.hpp"

namespace wiremeter::core {

namespace {

prometheus::MetricFamily family(const std::string& name, const std::string& help,
                                prometheus::MetricType type) {
  prometheus::MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = type;
  return f;
}

void add_value(prometheus::MetricFamily& f, double v,
               std::vector<prometheus::ClientMetric::Label> labels = {}) {
  prometheus::ClientMetric m;
  m.label = std::move(labels);
  if (f.type == prometheus::MetricType::Counter) {
    m.counter.value = v;
  } else {
    m.gauge.value = v;
  }
  f.metric.push_back(std::move(m));
}

prometheus::MetricType to_type(wm_metric_type t) {
  switch (t) {
    case WM_METRIC_COUNTER:
      return prometheus::MetricType::Counter;
    case WM_METRIC_GAUGE:
      return prometheus::MetricType::Gauge;
    case WM_METRIC_HISTOGRAM:
      return prometheus::MetricType::Histogram;
  }
  return prometheus::MetricType::Untyped;
}

}  // namespace

std::string App::metrics_text() {
  using prometheus::MetricType;
  std::vector<prometheus::MetricFamily> out;
  DataplaneTotals t = dataplane_->totals();

  auto info = family("wiremeter_build_info", "wiremeter version and system id (always 1).",
                     MetricType::Gauge);
  add_value(info, 1, {{"system_id", system_id_}, {"version", kVersion}});
  out.push_back(std::move(info));

  auto uptime =
      family("wiremeter_uptime_seconds", "Seconds since wiremeter started.", MetricType::Gauge);
  add_value(uptime,
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count());
  out.push_back(std::move(uptime));

  auto packets =
      family("wiremeter_packets_total", "Packets analyzed on all ports.", MetricType::Counter);
  add_value(packets, static_cast<double>(t.packets));
  out.push_back(std::move(packets));
  auto bytes =
      family("wiremeter_bytes_total", "Frame bytes analyzed on all ports.", MetricType::Counter);
  add_value(bytes, static_cast<double>(t.bytes));
  out.push_back(std::move(bytes));

  auto decode = family("wiremeter_decode_errors_total",
                       "Malformed or truncated packets, by the reason decoding stopped.",
                       MetricType::Counter);
  for (size_t e = 1; e < static_cast<size_t>(DecodeError::kCount); ++e) {
    add_value(decode, static_cast<double>(t.decode_errors[e]),
              {{"reason", std::string(decode_error_name(static_cast<DecodeError>(e)))}});
  }
  out.push_back(std::move(decode));

  auto no_flow =
      family("wiremeter_packets_without_flow_total",
             "Packets that belong to no flow (non-IP, later IP fragments).", MetricType::Counter);
  add_value(no_flow, static_cast<double>(t.without_flow));
  out.push_back(std::move(no_flow));

  auto active = family("wiremeter_flows_active", "Flows currently tracked.", MetricType::Gauge);
  add_value(active, static_cast<double>(t.flows_active));
  out.push_back(std::move(active));
  auto capacity = family("wiremeter_flows_capacity",
                         "Flows that fit the configured flow memory budget.", MetricType::Gauge);
  add_value(capacity, static_cast<double>(t.flow_capacity));
  out.push_back(std::move(capacity));
  auto ended =
      family("wiremeter_flows_ended_total", "Flows ended, by reason.", MetricType::Counter);
  add_value(ended, static_cast<double>(t.flows_expired), {{"reason", "idle_timeout"}});
  add_value(ended, static_cast<double>(t.flows_evicted), {{"reason", "evicted"}});
  out.push_back(std::move(ended));
  auto created = family("wiremeter_flows_created_total", "Flows created.", MetricType::Counter);
  add_value(created, static_cast<double>(t.flows_created));
  out.push_back(std::move(created));

  auto refused =
      family("wiremeter_plugins_refused", "Plugins that could not be loaded.", MetricType::Gauge);
  add_value(refused, static_cast<double>(plugins_->refused().size()));
  out.push_back(std::move(refused));

  // Plugin families, in registration order, with the samples their collect() produced.
  std::vector<MetricSample> samples = plugins_->collect();
  const auto& defs = plugins_->families();
  std::vector<prometheus::MetricFamily> plugin_families(defs.size());
  for (size_t i = 0; i < defs.size(); ++i) {
    plugin_families[i] = family(defs[i].name, defs[i].help, to_type(defs[i].type));
  }
  for (auto& s : samples) {
    if (s.family < 0 || static_cast<size_t>(s.family) >= defs.size()) continue;
    prometheus::MetricFamily& f = plugin_families[s.family];
    prometheus::ClientMetric m;
    for (auto& [k, v] : s.labels) m.label.push_back({k, v});
    if (f.type == MetricType::Histogram) {
      m.histogram.sample_sum = s.sum;
      m.histogram.sample_count = s.counts.empty() ? 0 : s.counts.back();
      for (size_t b = 0; b < s.bounds.size(); ++b) {
        m.histogram.bucket.push_back({s.counts[b], s.bounds[b]});
      }
      m.histogram.bucket.push_back(
          {m.histogram.sample_count, std::numeric_limits<double>::infinity()});
    } else if (f.type == MetricType::Counter) {
      m.counter.value = s.value;
    } else {
      m.gauge.value = s.value;
    }
    f.metric.push_back(std::move(m));
  }
  for (auto& f : plugin_families) {
    if (!f.metric.empty()) out.push_back(std::move(f));
  }
  std::ostringstream o;
  prometheus::TextSerializer().Serialize(o, out);
  return o.str();
}

}  // namespace wiremeter::core

// Helpers shared by app.cpp (the process) and rest_api.cpp (the web server). Internal.
#pragma once

#include <rapidjson/document.h>

#include <cstdint>
#include <ctime>
#include <string>
#include <wiremeter/json.hpp>

#include "wiremeter/core/dataplane.hpp"

namespace wiremeter::core {

inline uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + ts.tv_nsec;
}

// Plugins hand us JSON text; a buggy plugin must not break the API's JSON.
inline std::string checked_plugin_json(const std::string& name, const std::string& json) {
  rapidjson::Document d;
  d.Parse(json.c_str(), json.size());
  if (d.HasParseError()) {
    JsonWriter w;
    w.begin_object().field("error", "plugin " + name + " returned invalid JSON").end_object();
    return w.str();
  }
  return json;
}

// The port counters the REST API and the offline report share, as object members.
inline void write_port_counters(JsonWriter& w, const PortStatus& s) {
  w.field("rx_packets", s.rx_packets)
      .field("rx_bytes", s.rx_bytes)
      .field("tx_packets", s.tx_packets)
      .field("tx_bytes", s.tx_bytes)
      .field("tx_dropped", s.tx_dropped)
      .field("rx_missed", s.rx_missed)
      .field("rx_errors", s.rx_errors);
}

}  // namespace wiremeter::core

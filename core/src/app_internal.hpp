// Helpers shared by app.cpp (the process) and rest_api.cpp (the web server). Internal.
#pragma once

#include <rapidjson/document.h>

#include <cstdint>
#include <ctime>
#include <string>
#include <wiremeter/json.hpp>

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

}  // namespace wiremeter::core

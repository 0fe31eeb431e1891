// ip: the plugin's settings (plugins.ip in the configuration), read with the SDK's
// SettingsSection. Control plane only.
#pragma once

#include <cstdint>
#include <string_view>

namespace wiremeter::ip {

struct Settings {
  // Hosts each worker tracks. Beyond, the traffic of new hosts goes to the "other" bucket.
  uint32_t max_hosts = 131072;
  // (address, source, name) entries each worker keeps; the least recently seen gives way.
  uint32_t max_names = 16384;
  // Hosts with a series of their own in the per-host metrics; the rest are "other".
  uint32_t metrics_top = 20;
};

// Throws std::invalid_argument naming the field ("ip.max_hosts: expected an integer from 1 to
// 16777216") on bad input, unknown fields included: a typo must not fall back to a default.
Settings parse_settings(std::string_view json);

}  // namespace wiremeter::ip

// dhcp: the plugin's settings (plugins.dhcp in the configuration file), read with the SDK's
// SettingsSection. Control plane only.
#pragma once

#include <cstdint>
#include <string_view>

namespace wiremeter::dhcp {

// Table sizes per worker, all allocated at start: the defaults take about 11 MB per worker
// (856 bytes per client, 1288 per transaction, 128 per lease).
struct Limits {
  uint32_t clients = 4096;
  uint32_t servers = 64;
  uint32_t leases = 4096;
  uint32_t transactions = 4096;       // closed transactions kept (the log); oldest dropped
  uint32_t open_transactions = 1024;  // transaction ids being grouped at one time
  uint32_t request_slots = 8192;      // RequestClock slots, shared by all workers
};

// Parses the section's JSON text ("{}" or {"clients": 10000, ...}). Throws
// std::invalid_argument with a message that names the field on an unknown field or a value
// out of range: a typo must not silently fall back to a default.
Limits parse_limits(std::string_view json);

}  // namespace wiremeter::dhcp

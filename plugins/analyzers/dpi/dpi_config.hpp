// dpi: the plugin's configuration section (plugins.dpi), read with the SDK's SettingsSection.
// Control plane only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace wiremeter::dpi {

struct Config {
  // The files ndpiReader takes with -p -c -r -j -S; empty = not loaded.
  std::string protos_file;
  std::string categories_file;
  std::string risky_domains_file;
  std::string ja3_file;
  std::string sha1_file;
  // nDPI flow structs per worker, allocated up front. A flow holds one only while nDPI is still
  // inspecting it, so this bounds concurrent *unclassified* flows, not all flows.
  uint32_t inspect_flows = 32768;
  // Ended flows kept per worker for the JSON view; older ones are dropped (and counted).
  uint32_t ended_flows = 100000;
  // Packets per flow after which detection gives up, as ndpiReader's -T/-U (80/24 by default).
  // ndpiReader has no limit for other IP protocols; ours bounds how long they hold a struct.
  uint32_t max_tcp_packets = 80;
  uint32_t max_udp_packets = 24;
  uint32_t max_other_packets = 80;
};

// Parses the section's JSON text. Throws std::invalid_argument with a message that names the
// field ("dpi.max_tcp_packets: expected an integer from 1 to 65000") on bad input, including
// unknown fields (a typo must not silently fall back to a default) and a file name holding a
// NUL or a lone UTF-16 surrogate (\u0000, \ud800): such a name would not open the file it
// spells. Whether the files can be read is checked by the plugin.
Config parse_config(std::string_view json);

}  // namespace wiremeter::dpi

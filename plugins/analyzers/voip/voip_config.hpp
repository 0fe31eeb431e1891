// voip: the plugin's settings (the section plugins.voip of the configuration file), read with
// the SDK's SettingsSection. Control plane only.
#pragma once

#include <cstdint>
#include <string_view>

namespace wiremeter::voip {

struct Config {
  uint32_t calls = 4096;        // calls kept per worker (least recently active give way)
  uint32_t streams = 8192;      // RTP streams kept per worker (same rule)
  uint32_t media_hints = 8192;  // SDP media endpoints remembered per worker for detection
  bool heuristic_rtp = true;    // detect RTP that no SDP on this worker announced
};

// Parses the section's JSON text ("{}" for defaults). Throws std::invalid_argument with a
// message that names the field ("voip.calls: expected an integer from 16 to 1000000"), also
// for unknown fields: a typo must not silently fall back to a default.
Config parse_config(std::string_view json);

}  // namespace wiremeter::voip

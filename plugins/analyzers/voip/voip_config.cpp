// voip: reads the plugin's settings with the SDK's SettingsSection.
#include "voip_config.hpp"

#include <wiremeter/settings.hpp>

namespace wiremeter::voip {

Config parse_config(std::string_view json) {
  Config c;
  SettingsSection s("voip", json);
  s.get("calls", c.calls, 16, 1'000'000)
      .get("streams", c.streams, 16, 1'000'000)
      .get("media_hints", c.media_hints, 16, 1'000'000)
      .get("heuristic_rtp", c.heuristic_rtp);
  s.done();
  return c;
}

}  // namespace wiremeter::voip

// ip: reads the plugin's settings with the SDK's SettingsSection.
#include "ip_config.hpp"

#include <wiremeter/settings.hpp>

namespace wiremeter::ip {

Settings parse_settings(std::string_view json) {
  Settings out;
  SettingsSection s("ip", json);
  s.get("max_hosts", out.max_hosts, 1, 1u << 24)
      .get("max_names", out.max_names, 1, 1u << 22)
      .get("metrics_top", out.metrics_top, 0, 1000);
  s.done();
  return out;
}

}  // namespace wiremeter::ip

// dpi: reads the plugin's config section with the SDK's SettingsSection.
#include "dpi_config.hpp"

#include <string>
#include <wiremeter/settings.hpp>

namespace wiremeter::dpi {

Config parse_config(std::string_view json) {
  Config c;
  SettingsSection s("dpi", json);
  s.get("protos_file", c.protos_file)
      .get("categories_file", c.categories_file)
      .get("risky_domains_file", c.risky_domains_file)
      .get("ja3_file", c.ja3_file)
      .get("sha1_file", c.sha1_file)
      .get("inspect_flows", c.inspect_flows, 1, 16'000'000)
      .get("ended_flows", c.ended_flows, 0, 16'000'000)
      .get("max_tcp_packets", c.max_tcp_packets, 1, 65000)
      .get("max_udp_packets", c.max_udp_packets, 1, 65000)
      .get("max_other_packets", c.max_other_packets, 1, 65000);
  s.done();  // SettingsSection refuses a NUL in a string: nDPI would open another file
  return c;
}

}  // namespace wiremeter::dpi

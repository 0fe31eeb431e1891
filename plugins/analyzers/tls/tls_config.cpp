// tls: reads the plugin's settings with the SDK's SettingsSection.
#include "tls_config.hpp"

#include <wiremeter/settings.hpp>

namespace wiremeter::tls {

Config parse_config(std::string_view json) {
  Config c;
  SettingsSection s("tls", json);
  s.get("stream_slots", c.stream_slots, 1, 1'000'000)
      .get("stream_bytes", c.stream_bytes, 1024, 1u << 20)
      .get("connections", c.connections, 1, 10'000'000)
      .get("server_names", c.server_names, 1, 10'000'000)
      .get("certificates", c.certificates, 1, 10'000'000)
      .get("expiring_days", c.expiring_days, 0, 3650);
  s.done();
  return c;
}

}  // namespace wiremeter::tls

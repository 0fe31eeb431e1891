// http: reads the plugin's settings with the SDK's SettingsSection.
#include "http_config.hpp"

#include <wiremeter/settings.hpp>

namespace wiremeter::http {

Settings parse_settings(std::string_view json) {
  Settings out;
  SettingsSection s("http", json);
  s.get("window_bytes", out.window_bytes, 1024, 65536)
      .get("window_slots", out.window_slots, 1, 1u << 20)
      .get("pending", out.pending, 1, 1u << 22)
      .get("servers", out.servers, 1, 1u << 20)
      .get("hosts", out.hosts, 1, 1u << 20)
      .get("transactions", out.transactions, 1, 4096)
      .get("metrics_top", out.metrics_top, 0, 1000);
  s.done();
  return out;
}

}  // namespace wiremeter::http

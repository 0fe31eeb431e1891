// dhcp: reads the plugin's settings with the SDK's SettingsSection. See dhcp_config.hpp.
#include "dhcp_config.hpp"

#include <wiremeter/settings.hpp>

namespace wiremeter::dhcp {

Limits parse_limits(std::string_view json) {
  Limits l;
  SettingsSection s("dhcp", json);
  // Upper bounds keep one worker's tables under a few GB even when every one is raised.
  s.get("clients", l.clients, 1, 1'000'000)
      .get("servers", l.servers, 1, 65'536)
      .get("leases", l.leases, 1, 1'000'000)
      .get("transactions", l.transactions, 1, 1'000'000)
      .get("open_transactions", l.open_transactions, 1, 1'000'000)
      .get("request_slots", l.request_slots, 16, 16'777'216);
  s.done();
  return l;
}

}  // namespace wiremeter::dhcp

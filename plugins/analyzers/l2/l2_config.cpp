// l2: reads the plugin's settings with the SDK's SettingsSection.
#include "l2_config.hpp"

#include <wiremeter/settings.hpp>

namespace wiremeter::l2 {

Config parse_config(std::string_view json) {
  Config c;
  SettingsSection s("l2", json);
  s.get("vlan_pairs", c.vlan_pairs, 1, 1'000'000)
      .get("mpls_labels", c.mpls_labels, 1, 1'048'576)
      .get("multicast_groups", c.multicast_groups, 1, 1'000'000)
      .get("arp_bindings", c.arp_bindings, 1, 4'000'000)
      .get("arp_pending", c.arp_pending, 1, 1'000'000)
      .get("arp_conflicts", c.arp_conflicts, 1, 1'000'000)
      .get("stp_bridges", c.stp_bridges, 1, 100'000)
      .get("lldp_neighbours", c.lldp_neighbours, 1, 100'000)
      .get("arp_reply_timeout_ms", c.arp_reply_timeout_ms, 1, 3'600'000)
      .get("arp_conflict_window_ms", c.arp_conflict_window_ms, 0, 86'400'000)
      .get("series_top", c.series_top, 0, kMaxSeriesTop);
  s.done();
  return c;
}

}  // namespace wiremeter::l2

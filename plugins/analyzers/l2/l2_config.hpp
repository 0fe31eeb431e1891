// l2: the plugin's settings (plugins.l2), read with the SDK's SettingsSection. Control plane
// only.
#pragma once

#include <cstdint>
#include <string_view>

namespace wiremeter::l2 {

// Table sizes per worker (allocated up front; when one is full, new keys are counted as
// overflow and the rest stays exact) and the ARP timing rules.
struct Config {
  uint32_t vlan_pairs = 4096;        // outer/inner pairs (the outer VLANs are a fixed 4096 array)
  uint32_t mpls_labels = 4096;       // top labels
  uint32_t multicast_groups = 1024;  // destination group MACs
  uint32_t arp_bindings = 8192;      // IPv4 -> MAC
  uint32_t arp_pending = 1024;       // outstanding requests
  uint32_t arp_conflicts = 1024;     // (IP, MAC pair) records
  uint32_t stp_bridges = 256;        // (bridge, port, VLAN, receiving port)
  uint32_t lldp_neighbours = 256;    // (chassis, port id, receiving port)
  // A request without reply after this long is unanswered. Hosts retry after 1 s (Linux,
  // Windows) and give up after three tries, so a reply later than 3 s answers nobody.
  uint32_t arp_reply_timeout_ms = 3000;
  // A second MAC claiming an IP within this time after the first MAC last did is a conflict;
  // later it is a change (a replaced NIC, a failover, a lease given to another host).
  uint32_t arp_conflict_window_ms = 60000;
  // Entities of each kind (VLANs, MPLS labels, DSCP values, PCP values, ARP senders) graphed
  // each second: the busiest, plus those whose detail view is open. Bounded because the host
  // keeps a limited number of series for all plugins together.
  uint32_t series_top = 10;
};

// The host keeps at most 1024 series for all plugins (core history.hpp); five kinds of at most
// 20 each (plus the lingering ones) leave room for the others.
inline constexpr uint32_t kMaxSeriesTop = 20;

// Parses the section's JSON text: a flat object of the fields above, each an integer. Throws
// std::invalid_argument naming the field on bad input, unknown fields included.
Config parse_config(std::string_view json);

}  // namespace wiremeter::l2

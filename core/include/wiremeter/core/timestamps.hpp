// Hardware/driver RX timestamps carried in an mbuf dynamic field (net_pcap fills it from the
// capture file). Looked up once after the ports start; read per packet by the workers.
#pragma once

#include <cstdint>

struct rte_mbuf;

namespace wiremeter::core {

// Finds the timestamp dynfield/dynflag if a driver registered them. `units_per_second` is what
// the driver stores per second (net_pcap: 1e6 for microsecond captures, 1e9 for nanosecond).
void init_rx_timestamps(uint64_t units_per_second);

// Returns false when the mbuf carries no timestamp.
bool read_rx_timestamp_ns(const rte_mbuf* m, uint64_t& ns) noexcept;

}  // namespace wiremeter::core

#include "wiremeter/core/timestamps.hpp"

#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>

namespace wiremeter::core {
namespace {
int g_offset = -1;
uint64_t g_flag = 0;
uint64_t g_scale = 1;  // multiply the stored value by this to get ns
}  // namespace

void init_rx_timestamps(uint64_t units_per_second) {
  g_offset = rte_mbuf_dynfield_lookup(RTE_MBUF_DYNFIELD_TIMESTAMP_NAME, nullptr);
  int bit = rte_mbuf_dynflag_lookup(RTE_MBUF_DYNFLAG_RX_TIMESTAMP_NAME, nullptr);
  g_flag = bit >= 0 ? (1ull << bit) : 0;
  g_scale = units_per_second >= 1'000'000'000ull ? 1 : 1'000'000'000ull / units_per_second;
}

bool read_rx_timestamp_ns(const rte_mbuf* m, uint64_t& ns) noexcept {
  if (g_offset < 0 || g_flag == 0 || !(m->ol_flags & g_flag)) return false;
  ns = *RTE_MBUF_DYNFIELD(m, g_offset, const rte_mbuf_timestamp_t*) * g_scale;
  return true;
}

}  // namespace wiremeter::core

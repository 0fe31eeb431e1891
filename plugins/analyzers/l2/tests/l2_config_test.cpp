#include "l2_config.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

namespace wiremeter::l2 {
namespace {

TEST(L2Config, EmptyGivesDefaults) {
  Config c = parse_config("{}");
  EXPECT_EQ(c.vlan_pairs, 4096u);
  EXPECT_EQ(c.arp_reply_timeout_ms, 3000u);
  EXPECT_EQ(c.arp_conflict_window_ms, 60000u);
  EXPECT_EQ(c.series_top, 10u);
  EXPECT_EQ(parse_config(" { } ").arp_bindings, 8192u);
}

TEST(L2Config, ReadsEveryField) {
  Config c = parse_config(
      R"({"vlan_pairs": 10, "mpls_labels": 11, "multicast_groups": 12, "arp_bindings": 13,
          "arp_pending": 14, "arp_conflicts": 15, "stp_bridges": 16, "lldp_neighbours": 17,
          "arp_reply_timeout_ms": 500, "arp_conflict_window_ms": 0, "series_top": 3})");
  EXPECT_EQ(parse_config(R"({"series_top": 20})").series_top, 20u);  // the largest allowed
  EXPECT_EQ(c.vlan_pairs, 10u);
  EXPECT_EQ(c.mpls_labels, 11u);
  EXPECT_EQ(c.multicast_groups, 12u);
  EXPECT_EQ(c.arp_bindings, 13u);
  EXPECT_EQ(c.arp_pending, 14u);
  EXPECT_EQ(c.arp_conflicts, 15u);
  EXPECT_EQ(c.stp_bridges, 16u);
  EXPECT_EQ(c.lldp_neighbours, 17u);
  EXPECT_EQ(c.arp_reply_timeout_ms, 500u);
  EXPECT_EQ(c.arp_conflict_window_ms, 0u);
  EXPECT_EQ(c.series_top, 3u);
}

void expect_error(const char* json, const std::string& message) {
  try {
    parse_config(json);
    FAIL() << "accepted " << json;
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(e.what(), message) << json;
  }
}

TEST(L2Config, RefusesBadInput) {
  expect_error(R"({"vlan_pair": 1})",
               "l2.vlan_pair: unknown setting (known: arp_bindings, arp_conflict_window_ms, "
               "arp_conflicts, arp_pending, arp_reply_timeout_ms, lldp_neighbours, mpls_labels, "
               "multicast_groups, series_top, stp_bridges, vlan_pairs)");
  expect_error(R"({"series_top": 21})", "l2.series_top: expected an integer from 0 to 20");
  expect_error(R"({"vlan_pairs": 0})", "l2.vlan_pairs: expected an integer from 1 to 1000000");
  expect_error(R"({"vlan_pairs": 1.5})", "l2.vlan_pairs: expected an integer from 1 to 1000000");
  expect_error(R"({"vlan_pairs": "8"})", "l2.vlan_pairs: expected an integer from 1 to 1000000");
  expect_error(R"({"arp_pending": 99999999999})",
               "l2.arp_pending: expected an integer from 1 to 1000000");
  expect_error(R"({"stp_bridges": true})", "l2.stp_bridges: expected an integer from 1 to 100000");
  expect_error(R"([])", "l2: expected a JSON object (at offset 0)");
  expect_error(R"({"stp_bridges": 1} x)", "l2: unexpected text after the object (at offset 19)");
  expect_error(R"({"stp_bridges": 1 "lldp_neighbours": 2})",
               "l2: expected ',' or '}' (at offset 18)");
}

}  // namespace
}  // namespace wiremeter::l2

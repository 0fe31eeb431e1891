// dpi: tests of the config section parser.
#include "dpi_config.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace wiremeter::dpi {
namespace {

std::string error_of(const std::string& json) {
  try {
    parse_config(json);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(DpiConfig, EmptySectionGivesDefaults) {
  Config c = parse_config("{}");
  EXPECT_TRUE(c.protos_file.empty());
  EXPECT_EQ(c.max_tcp_packets, 80u);
  EXPECT_EQ(c.max_udp_packets, 24u);
  EXPECT_EQ(c.ended_flows, 100000u);
  EXPECT_EQ(parse_config("  { }\n").inspect_flows, c.inspect_flows);
}

TEST(DpiConfig, ReadsEveryField) {
  Config c = parse_config(R"({"protos_file": "/etc/p.txt", "categories_file": "c.txt",
    "risky_domains_file": "r", "ja3_file": "j", "sha1_file": "s\u00e9\"\\",
    "inspect_flows": 10, "ended_flows": 0, "max_tcp_packets": 8, "max_udp_packets": 9,
    "max_other_packets": 7})");
  EXPECT_EQ(c.protos_file, "/etc/p.txt");
  EXPECT_EQ(c.categories_file, "c.txt");
  EXPECT_EQ(c.risky_domains_file, "r");
  EXPECT_EQ(c.ja3_file, "j");
  EXPECT_EQ(c.sha1_file, "s\xc3\xa9\"\\");
  EXPECT_EQ(c.inspect_flows, 10u);
  EXPECT_EQ(c.ended_flows, 0u);
  EXPECT_EQ(c.max_tcp_packets, 8u);
  EXPECT_EQ(c.max_udp_packets, 9u);
  EXPECT_EQ(c.max_other_packets, 7u);
}

TEST(DpiConfig, ErrorsNameTheField) {
  EXPECT_EQ(error_of(R"({"protos": "x"})"),
            "dpi.protos: unknown setting (known: categories_file, ended_flows, inspect_flows, "
            "ja3_file, max_other_packets, max_tcp_packets, max_udp_packets, protos_file, "
            "risky_domains_file, sha1_file)");
  EXPECT_EQ(error_of(R"({"protos_file": 3})"), "dpi.protos_file: expected a string");
  EXPECT_EQ(error_of(R"({"inspect_flows": 0})"),
            "dpi.inspect_flows: expected an integer from 1 to 16000000");
  EXPECT_EQ(error_of(R"({"max_tcp_packets": 99999999999})"),
            "dpi.max_tcp_packets: expected an integer from 1 to 65000");
  EXPECT_EQ(error_of(R"({"max_udp_packets": 2.0})"),
            "dpi.max_udp_packets: expected an integer from 1 to 65000");
  EXPECT_EQ(error_of(R"({"max_udp_packets": -1})"),
            "dpi.max_udp_packets: expected an integer from 1 to 65000");
  // The file names go to nDPI as C strings: a NUL would open another file than the one named.
  EXPECT_EQ(error_of(R"({"ja3_file": "/etc/x\u0000y"})"), "dpi: NUL in a string (at offset 26)");
  EXPECT_EQ(error_of(R"({"sha1_file": "\udc00"})"),
            "dpi: lone surrogate in a string (at offset 21)");
}

TEST(DpiConfig, RefusesMalformedJson) {
  for (const char* bad : {"", "[]", "{", "{\"a\"", "{\"ja3_file\":\"x\"", "{\"ja3_file\":\"x\",}",
                          "{} x", "{\"ja3_file\":\"\\q\"}", "{\"ja3_file\":\"\\u12\"}",
                          "{\"ja3_file\":\"\\ud800\"}", "{\"ja3_file\":\"a\nb\"}"}) {
    EXPECT_FALSE(error_of(bad).empty()) << bad;
  }
}

}  // namespace
}  // namespace wiremeter::dpi

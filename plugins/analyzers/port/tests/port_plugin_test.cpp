#include "port_plugin.hpp"

#include <gtest/gtest.h>

#include <wiremeter/testing/fake_host.hpp>
#include <wiremeter/testing/packet_builder.hpp>

extern "C" const wm_plugin_descriptor* wiremeter_plugin_register(void);

namespace wiremeter::port {
namespace {

using testing::FakeHost;
using testing::PacketBuilder;
using testing::PluginHarness;

const testing::FakeSample* find(const std::vector<testing::FakeSample>& s, const std::string& m,
                                const std::string& port, const std::string& reason = "") {
  for (auto& x : s) {
    if (x.metric != m) continue;
    if (x.labels.at("port") != port) continue;
    if (!reason.empty() && x.labels.count("reason") && x.labels.at("reason") != reason) continue;
    return &x;
  }
  return nullptr;
}

TEST(PortPlugin, SizeBucketsFollowRfc2819) {
  EXPECT_EQ(size_bucket(60), 0u);
  EXPECT_EQ(size_bucket(64), 0u);
  EXPECT_EQ(size_bucket(65), 1u);
  EXPECT_EQ(size_bucket(1518), 5u);
  EXPECT_EQ(size_bucket(1519), 6u);
  EXPECT_EQ(size_bucket(9000), 6u);
}

TEST(PortPlugin, CountsPerPortAcrossWorkers) {
  FakeHost host;
  host.add_port("lan");
  wm_port_info& wan = host.add_port("wan");
  wan.rx_missed = 7;
  wan.tx_packets = 3;
  PluginHarness h(wiremeter_plugin_register(), host, 2);

  auto small = PacketBuilder().port(0).ipv4("198.18.0.1", "198.18.0.2").udp(1, 2).build();
  auto big = PacketBuilder()
                 .port(1)
                 .ipv4("198.18.0.2", "198.18.0.1")
                 .tcp(80, 1)
                 .payload_size(1400)
                 .build();
  h.batch(0, {small.view, small.view});
  auto small_wan = PacketBuilder().port(1).ipv4("198.18.0.2", "198.18.0.1").udp(2, 1).build();
  h.batch(1, {big.view, small_wan.view});

  auto s = h.collect();
  ASSERT_NE(find(s, "wiremeter_port_rx_packets_total", "lan"), nullptr);
  EXPECT_EQ(find(s, "wiremeter_port_rx_packets_total", "lan")->value, 2);
  EXPECT_EQ(find(s, "wiremeter_port_rx_bytes_total", "lan")->value, 120);
  EXPECT_EQ(find(s, "wiremeter_port_rx_packets_total", "wan")->value, 2);
  EXPECT_EQ(find(s, "wiremeter_port_dropped_packets_total", "wan", "rx_missed")->value, 7);
  EXPECT_EQ(find(s, "wiremeter_port_tx_packets_total", "wan")->value, 3);
  const auto* hist = find(s, "wiremeter_port_frame_size_bytes", "wan");
  ASSERT_NE(hist, nullptr);
  ASSERT_EQ(hist->counts.size(), kSizeBounds.size() + 1);
  EXPECT_EQ(hist->counts[0], 1u);  // the 60-byte frame
  EXPECT_EQ(hist->counts.back(), 2u);
  EXPECT_EQ(hist->counts[4], 1u);  // the ~1450-byte frame is not <= 1023
  EXPECT_EQ(hist->counts[5], 2u);
}

TEST(PortPlugin, RatesComeFromTicks) {
  FakeHost host;
  host.add_port("lan");
  PluginHarness h(wiremeter_plugin_register(), host, 1);
  auto p =
      PacketBuilder().port(0).ipv4("198.18.0.1", "198.18.0.2").udp(1, 2).payload_size(100).build();
  h.tick(1'000'000'000);
  h.batch(0, std::vector<wm_packet>(10, p.view));
  h.tick(3'000'000'000);  // 10 packets over 2 s
  std::string json = h.json();
  EXPECT_NE(json.find("\"rx_pps\":5"), std::string::npos) << json;
  EXPECT_NE(json.find("\"name\":\"lan\""), std::string::npos);
}

TEST(PortPlugin, RegistersValidMetricNames) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host, 1);
  ASSERT_FALSE(host.metrics.empty());
  for (auto& m : host.metrics) EXPECT_EQ(m.name.rfind("wiremeter_port_", 0), 0u) << m.name;
}

}  // namespace
}  // namespace wiremeter::port

namespace wiremeter::port {
namespace {

TEST(PortPlugin, MicroburstIsTheBusiestMillisecondOfTheSecond) {
  testing::FakeHost host;
  host.add_port("lan");
  testing::PluginHarness h(wiremeter_plugin_register(), host, 1);
  constexpr uint64_t kS = 1'000'000'000ull, kMs = 1'000'000ull;
  auto at = [](uint64_t ts, size_t payload) {
    return testing::PacketBuilder()
        .port(0)
        .timestamp_ns(ts)
        .ipv4("198.18.0.1", "198.18.0.2")
        .udp(1, 2)
        .payload_size(payload)
        .build();
  };
  // Second 100: ten 1000-byte frames in ms 3 (a burst), one frame in ms 500.
  std::vector<testing::BuiltPacket> keep;
  std::vector<wm_packet> batch;
  for (int i = 0; i < 10; ++i) keep.push_back(at(100 * kS + 3 * kMs + i, 1000 - 42));
  keep.push_back(at(100 * kS + 500 * kMs, 1000 - 42));
  keep.push_back(at(101 * kS + 1 * kMs, 100));  // the next second closes second 100
  for (auto& k : keep) batch.push_back(k.view);
  h.batch(0, batch);
  std::string json = h.json();
  // 10 x 1000 bytes in 1 ms = 80 Mbit/s.
  EXPECT_NE(json.find("\"second\":100,\"peak_1ms_bps\":8e+07"), std::string::npos) << json;
  EXPECT_NE(json.find("\"max_peak_1ms_bps\":8e+07"), std::string::npos) << json;
  bool metric = false;
  for (auto& s : h.collect()) {
    if (s.metric == "wiremeter_port_rx_peak_1ms_bytes_per_second") {
      EXPECT_EQ(s.value, 10e6);
      metric = true;
    }
  }
  EXPECT_TRUE(metric);
}

}  // namespace
}  // namespace wiremeter::port

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

namespace wiremeter::port {
namespace {

// Three ports: lan (busy, with a microburst, seen by two workers), wan (a little traffic, drops
// and TX), mgmt (silent).
class PortViews : public ::testing::Test {
 protected:
  static constexpr uint64_t kS = 1'000'000'000ull, kMs = 1'000'000ull;

  void SetUp() override {
    host.add_port("lan");
    wm_port_info& wan = host.add_port("wan");
    wan.rx_missed = 7;
    wan.tx_packets = 3;
    wan.tx_bytes = 300;
    host.add_port("mgmt");
    h = std::make_unique<testing::PluginHarness>(wiremeter_plugin_register(), host, 2);

    // lan, worker 0: ten 1000-byte frames in one ms of second 10 (80 Mbit/s), then one frame in
    // second 11 to close second 10. Worker 1: one 100-byte frame at 12 s.
    std::vector<wm_packet> w0;
    for (uint64_t i = 0; i < 10; ++i) w0.push_back(keep(at(0, 10 * kS + 3 * kMs + i, 1000)));
    w0.push_back(keep(at(0, 11 * kS + 1 * kMs, 1000)));
    // wan, worker 0: two 60-byte frames at 20 s, in a batch of their own.
    std::vector<wm_packet> w0_wan = {keep(at(1, 20 * kS, 60)), keep(at(1, 20 * kS + 5, 60))};
    h->tick(1 * kS);
    h->batch(0, w0);
    h->batch(1, {keep(at(0, 12 * kS, 100))});
    h->batch(0, w0_wan);
    h->tick(3 * kS);  // lan: 11,100 bytes in 2 s = 44,400 bit/s
  }

  static testing::BuiltPacket at(uint16_t port, uint64_t ts, size_t wire_len) {
    return testing::PacketBuilder()
        .port(port)
        .timestamp_ns(ts)
        .ipv4("198.18.0.1", "198.18.0.2")
        .udp(1, 2)
        .payload_size(wire_len - 42)  // Ethernet + IPv4 + UDP headers
        .build();
  }
  wm_packet keep(testing::BuiltPacket p) {
    kept.push_back(std::make_unique<testing::BuiltPacket>(std::move(p)));
    return kept.back()->view;
  }
  // Position of `needle` in `body`, failing the test when absent.
  static size_t pos(const std::string& body, const std::string& needle) {
    size_t p = body.find(needle);
    EXPECT_NE(p, std::string::npos) << needle << " in " << body;
    return p;
  }

  testing::FakeHost host;
  std::unique_ptr<testing::PluginHarness> h;
  std::vector<std::unique_ptr<testing::BuiltPacket>> kept;
};

TEST_F(PortViews, ListsPortsByBytesWithRatesAndActivity) {
  auto [status, body] = h->query("ports");
  ASSERT_EQ(status, 200) << body;
  pos(body,
      "\"total\":3,\"page\":1,\"size\":100,\"sort\":\"bytes\",\"order\":\"desc\","
      "\"items\":[{\"name\":\"lan\"");
  pos(body,
      "\"name\":\"lan\",\"link_up\":true,\"speed_mbps\":0,\"rx_packets\":12,"
      "\"rx_bytes\":11100,\"tx_packets\":0,\"tx_bytes\":0,\"rx_pps\":6,\"rx_bps\":44400");
  // First seen on worker 0, last seen on worker 1.
  pos(body,
      "\"id\":0,\"first_seen\":10.003,\"last_seen\":12,\"peak_second\":10,"
      "\"peak_1ms_bps\":8e+07,\"max_peak_1ms_bps\":8e+07,\"max_peak_second\":10");
  pos(body, "\"drops\":{\"rx_missed\":7,\"rx_nombuf\":0,\"tx_dropped\":0}");
  pos(body, "\"id\":1,\"first_seen\":20,\"last_seen\":20.000000005");
  pos(body, "\"id\":2,\"first_seen\":null,\"last_seen\":null");
  // wan (120 received + 300 sent) before the silent mgmt.
  EXPECT_LT(pos(body, "\"name\":\"wan\""), pos(body, "\"name\":\"mgmt\""));
}

TEST_F(PortViews, SortsFiltersPagesAndWindows) {
  auto first_name = [&](const std::string& qs) {
    auto [status, body] = h->query("ports", qs);
    EXPECT_EQ(status, 200) << qs << ": " << body;
    size_t p = body.find("\"items\":[{\"name\":\"");
    if (p == std::string::npos) return std::string("(none)");
    p += 18;
    return body.substr(p, body.find('"', p) - p);
  };
  auto total = [&](const std::string& qs) {
    std::string body = h->query("ports", qs).second;
    size_t p = body.find("\"total\":");
    return p == std::string::npos ? std::string("?")
                                  : body.substr(p + 8, body.find(',', p) - p - 8);
  };
  EXPECT_EQ(first_name("sort=name&order=asc"), "lan");
  EXPECT_EQ(first_name("sort=name"), "wan");
  EXPECT_EQ(first_name("sort=drops"), "wan");
  EXPECT_EQ(first_name("sort=peak"), "lan");
  EXPECT_EQ(first_name("sort=packets&order=asc"), "mgmt");
  EXPECT_EQ(first_name("sort=last_seen"), "wan");
  EXPECT_EQ(first_name("size=1&page=2"), "wan");
  EXPECT_EQ(first_name("size=1&page=4"), "(none)");
  EXPECT_EQ(total("filter=AN"), "2");
  EXPECT_EQ(first_name("filter=mg"), "mgmt");
  EXPECT_EQ(total("filter=nothing"), "0");
  // Time windows: ports with frames inside; a silent port is in no window.
  EXPECT_EQ(total("from=0"), "3");  // the whole time, as without from/to
  EXPECT_EQ(total("from=1"), "2");
  EXPECT_EQ(first_name("to=11"), "lan");
  EXPECT_EQ(total("to=11"), "1");
  EXPECT_EQ(first_name("from=15"), "wan");
  EXPECT_EQ(total("from=15"), "1");
  EXPECT_EQ(total("from=12.5&to=19"), "0");
  EXPECT_EQ(total("from=11&to=20&filter=lan"), "1");
}

TEST_F(PortViews, RefusesBadParameters) {
  for (const char* qs : {"sort=speed", "order=up", "size=0", "page=x", "from=yesterday",
                         "from=6&to=5", "bogus=1", "filter=lan&port=1"}) {
    auto [status, body] = h->query("ports", qs);
    EXPECT_EQ(status, 400) << qs;
    EXPECT_NE(body.find("\"error\":"), std::string::npos) << body;
  }
  EXPECT_EQ(h->query("ports/lan", "from=1").first, 400);
  EXPECT_EQ(h->query("links").first, 404);
}

TEST_F(PortViews, DetailHasMicroburstsAndTheRecordedSeries) {
  auto [status, body] = h->query("ports/lan");
  ASSERT_EQ(status, 200) << body;
  pos(body, "{\"port\":{\"name\":\"lan\",");
  pos(body, "\"id\":0,\"first_seen\":10.003,\"last_seen\":12,");
  pos(body,
      "\"microbursts\":{\"second\":10,\"peak_1ms_bps\":8e+07,\"max_peak_1ms_bps\":8e+07,"
      "\"max_peak_second\":10,\"history\":[[10,8e+07]]}");
  // 10 frames <= 1023 bytes, the 11th 1000-byte frame too, and the 100-byte one.
  pos(body, "{\"le\":127,\"packets\":1}");
  pos(body, "{\"le\":1023,\"packets\":11}");
  pos(body,
      "\"series\":\"port.lan.rx_bps\",\"series_all\":[\"port.lan.rx_bps\",\"port.lan.tx_bps\","
      "\"port.lan.rx_pps\",\"port.lan.tx_pps\",\"port.lan.rx_peak_1ms_bps\"]}");
  // The names given are the ones recorded (the host prefixes "port.").
  for (std::string_view s : kSeriesSuffixes) {
    auto it = host.series.find("lan." + std::string(s));
    ASSERT_NE(it, host.series.end()) << s;
    EXPECT_EQ(it->second.size(), 1u);  // one tick with a rate
  }
  EXPECT_EQ(host.series.at("lan.rx_bps").front(), 44400);
  EXPECT_EQ(host.series.at("lan.rx_peak_1ms_bps").front(), 8e7);
}

TEST_F(PortViews, DetailByIdAndUnknownPorts) {
  auto [status, body] = h->query("ports/1");
  ASSERT_EQ(status, 200) << body;
  pos(body, "{\"port\":{\"name\":\"wan\",");
  pos(body, "\"tx_packets\":3,\"tx_bytes\":300,");
  pos(body, "\"series\":\"port.wan.rx_bps\"");
  auto silent = h->query("ports/mgmt");
  EXPECT_EQ(silent.first, 200);
  pos(silent.second, "\"first_seen\":null,\"last_seen\":null,\"microbursts\":{\"second\":0,");
  for (const char* path : {"ports/3", "ports/nope", "ports/", "ports/99999999"}) {
    auto [s, b] = h->query(path);
    EXPECT_EQ(s, 404) << path;
    EXPECT_NE(b.find("\"error\":\"no such port: "), std::string::npos) << b;
  }
}

}  // namespace
}  // namespace wiremeter::port

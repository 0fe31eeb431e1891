// The example's unit test: runs the plugin through the SDK's fake host, no wiremeter needed.
#include <gtest/gtest.h>

#include <vector>
#include <wiremeter/testing/fake_host.hpp>
#include <wiremeter/testing/packet_builder.hpp>

extern "C" const wm_plugin_descriptor* wiremeter_plugin_register(void);

using wiremeter::testing::FakeHost;
using wiremeter::testing::PacketBuilder;
using wiremeter::testing::PluginHarness;

TEST(FlowCounter, CountsProtocolsAndAnsweredFlows) {
  FakeHost host;
  PluginHarness h(wiremeter_plugin_register(), host);
  ASSERT_GT(h.flow_state_size(), 0u);
  std::vector<uint8_t> state(h.flow_state_size(), 0);
  wm_flow_info flow{};
  auto req = PacketBuilder()
                 .ipv4("198.18.0.1", "198.18.0.2")
                 .udp(5000, 53)
                 .flow(&flow, state.data(), WM_DIR_FORWARD)
                 .build();
  auto rsp = PacketBuilder()
                 .ipv4("198.18.0.2", "198.18.0.1")
                 .udp(53, 5000)
                 .flow(&flow, state.data(), WM_DIR_REVERSE)
                 .build();
  h.batch(0, {req.view, rsp.view});
  h.flow_end(0, flow, state.data());

  EXPECT_NE(h.json().find("\"udp_packets\":2"), std::string::npos) << h.json();
  EXPECT_NE(h.json().find("\"flows_answered\":1"), std::string::npos) << h.json();
  bool found = false;
  for (auto& s : h.collect()) {
    if (s.metric == "wiremeter_flow_counter_packets_total" && s.labels["proto"] == "17") {
      EXPECT_EQ(s.value, 2);
      found = true;
    }
  }
  EXPECT_TRUE(found);
  ASSERT_FALSE(host.logs.empty());
  EXPECT_EQ(host.logs[0].text, "ready");
}

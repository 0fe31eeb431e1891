#include "wiremeter/core/plugin_host.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace wiremeter::core {
namespace {

struct HostFixture : ::testing::Test {
  std::vector<std::string> logs;
  PluginHost host{[](const std::string&) { return std::string("{}"); },
                  [this](int, const std::string& line) { logs.push_back(line); }};
  std::string dir = WM_TEST_PLUGIN_DIR;

  std::string reason_for(const std::string& file) {
    for (auto& r : host.refused()) {
      if (r.path.find(file) != std::string::npos) return r.reason;
    }
    return "";
  }
};

TEST_F(HostFixture, LoadsAGoodPlugin) {
  ASSERT_TRUE(host.load(dir + "/test_good.so"));
  ASSERT_EQ(host.loaded().size(), 1u);
  EXPECT_STREQ(host.loaded()[0]->desc->name, "good");
  EXPECT_EQ(host.flow_state_bytes(), 16u);  // 8 bytes rounded to the 16-byte slot alignment
  auto slots = host.init_worker(0, 1);
  ASSERT_EQ(slots.size(), 1u);
  EXPECT_NE(slots[0].worker_ctx, nullptr);
  // The plugin logged through the host API with its name prefixed.
  bool seen = false;
  for (auto& l : logs) seen |= l == "good: created";
  EXPECT_TRUE(seen);
}

TEST_F(HostFixture, LoadsAnAbi10PluginWithoutTheNewHooks) {
  ASSERT_TRUE(host.load(dir + "/test_abi10.so")) << host.refused().back().reason;
  auto slots = host.init_worker(0, 1);
  ASSERT_EQ(slots.size(), 1u);
  EXPECT_EQ(slots[0].worker_tick, nullptr);  // not read past the plugin's struct
  std::string body;
  EXPECT_EQ(host.query("abi10", "anything", "", body), 404);
}

TEST_F(HostFixture, PluginsWithoutAQueryHookAnswer404) {
  ASSERT_TRUE(host.load(dir + "/test_good.so"));
  std::string body;
  EXPECT_EQ(host.query("good", "flows", "", body), 404);
  EXPECT_EQ(host.query("nonexistent", "flows", "", body), 404);
}

TEST_F(HostFixture, RefusesEachBadPluginWithOneLine) {
  host.load_directory(dir);
  EXPECT_EQ(host.loaded().size(), 2u);
  EXPECT_NE(reason_for("test_bad_major.so").find("ABI major 2 is not supported"), std::string::npos)
      << reason_for("test_bad_major.so");
  EXPECT_NE(reason_for("test_small_struct.so").find("descriptor struct is 24 bytes"),
            std::string::npos)
      << reason_for("test_small_struct.so");
  EXPECT_NE(reason_for("test_no_symbol.so").find("missing registration symbol"), std::string::npos);
  EXPECT_NE(reason_for("test_not_a_plugin.so").find("not a shared object"), std::string::npos);
  for (auto& r : host.refused()) EXPECT_EQ(r.reason.find('\n'), std::string::npos);
}

TEST_F(HostFixture, RefusesDuplicatesAndMissingDirectories) {
  ASSERT_TRUE(host.load(dir + "/test_good.so"));
  EXPECT_FALSE(host.load(dir + "/test_good.so"));
  EXPECT_NE(host.refused().back().reason.find("already loaded"), std::string::npos);
  host.load_directory(dir + "/does-not-exist");
  EXPECT_NE(host.refused().back().reason.find("cannot open plugin directory"), std::string::npos);
}

TEST_F(HostFixture, LabelsAreInternedOnceAndReadableAnywhere) {
  uint16_t tls = host.label_id("TLS.Google");
  EXPECT_NE(tls, 0);
  EXPECT_EQ(host.label_id("TLS.Google"), tls);
  EXPECT_NE(host.label_id("DNS"), tls);
  EXPECT_STREQ(host.label_name(tls), "TLS.Google");
  EXPECT_STREQ(host.label_name(0), "");
  EXPECT_STREQ(host.label_name(65535), "");
}

TEST_F(HostFixture, MetricNamesAreChecked) {
  ASSERT_TRUE(host.load(dir + "/test_good.so"));
  LoadedPlugin& p = *host.loaded()[0];
  EXPECT_EQ(host.register_metric(p, "wiremeter_good_total", "help", WM_METRIC_COUNTER), 0);
  EXPECT_EQ(host.register_metric(p, "wiremeter_good_total", "again", WM_METRIC_COUNTER), -1);
  EXPECT_EQ(host.register_metric(p, "bad name", "x", WM_METRIC_COUNTER), -1);
  EXPECT_EQ(host.register_metric(p, "other_prefix_total", "x", WM_METRIC_COUNTER), -1);
}

}  // namespace
}  // namespace wiremeter::core

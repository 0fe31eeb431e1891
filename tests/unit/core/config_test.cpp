#include "wiremeter/core/config.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace wiremeter::core {
namespace {

namespace fs = std::filesystem;

fs::path temp_dir() {
  fs::path d = fs::temp_directory_path() / ("wm-config-test-" + std::to_string(getpid()));
  fs::create_directories(d);
  return d;
}

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(Config, DefaultsAreTheDemo) {
  auto c = Config::from_json(kDefaultConfigJson, "/data");
  ASSERT_TRUE(c) << c.error();
  ASSERT_EQ(c->settings().ports.size(), 1u);
  EXPECT_NE(c->settings().ports[0].devargs.find("rx_pcap=/data/demo.pcap"), std::string::npos);
  EXPECT_EQ(c->settings().link_mode, "bridge");
  EXPECT_EQ(c->settings().http_listen, "8080");
}

TEST(Config, MissingFileMeansDefaults) {
  auto c = Config::load((temp_dir() / "absent.json").string(), "/d");
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->settings().workers, 1u);
}

TEST(Config, BadJsonGivesTheLine) {
  auto c = Config::from_json("{\n \"workers\": 1,\n \"ports\": [\n}", "");
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().find("line 4"), std::string::npos) << c.error();
  EXPECT_EQ(c.error().find('\n'), std::string::npos);
}

struct BadCase {
  const char* json;
  const char* field;
};

TEST(Config, ErrorsNameTheField) {
  const BadCase cases[] = {
      {R"({"workers": "two"})", "workers: expected a whole number"},
      {R"({"workers": 0})", "workers: must be between 1 and 64"},
      {R"({"ports": [{"name": "a", "devargs": 5}]})", "ports[0].devargs: expected a string"},
      {R"({"ports": [{"name": "a"}]})", "ports[0].devargs: required field is missing"},
      {R"({"ports": [{"name": "a", "devargs": "x"}, {"name": "a", "devargs": "y"}]})",
       "ports[1].name: port \"a\" is defined twice"},
      {R"({"ports": [{"name": "a", "devargs": "net_x0"}, {"name": "b", "devargs": "net_x0,k=v"}]})",
       "ports[1].devargs: device \"net_x0\" is already used by another port"},
      {R"({"ports": [{"name": "a", "devargs": "03:00.0"}, {"name": "b", "devargs": "0000:03:00.0"}]})",
       "ports[1].devargs: device \"0000:03:00.0\" is already used by another port"},
      {R"({"link": {"mode": "bridged"}})", "link.mode: must be"},
      {R"({"link": {"pairs": [{"name": "p", "ports": ["a", "b"]}]}})",
       "link.pairs[0].ports: no port named \"a\""},
      {R"({"flows": {"memory_mb": -1}})", "flows.memory_mb: expected a whole number"},
      {R"({"http": {"listen": 8080}})", "http.listen: expected a string"},
      {R"({"portz": []})", "portz: unknown field"},
      {R"({"eal": {"hugepages": "maybe"}})", "eal.hugepages: must be"},
  };
  for (auto& bc : cases) {
    auto c = Config::from_json(bc.json, "");
    ASSERT_FALSE(c) << bc.json;
    EXPECT_NE(c.error().find(bc.field), std::string::npos) << c.error();
  }
}

TEST(Config, UpdateValidatesBeforeSaving) {
  fs::path file = temp_dir() / "update.json";
  fs::remove(file);
  auto c = Config::load(file.string(), "/d");
  ASSERT_TRUE(c);
  auto bad = c->update([](rapidjson::Document& d) { d["workers"].SetInt(-3); });
  EXPECT_FALSE(bad);
  EXPECT_FALSE(fs::exists(file));  // nothing written for a rejected change
  auto good = c->update([](rapidjson::Document& d) { d["workers"].SetInt(2); });
  ASSERT_TRUE(good) << good.error();
  EXPECT_EQ(c->settings().workers, 2u);
  auto reloaded = Config::load(file.string(), "/d");
  ASSERT_TRUE(reloaded) << reloaded.error();
  EXPECT_EQ(reloaded->settings().workers, 2u);
  // No temp files left behind.
  for (auto& e : fs::directory_iterator(file.parent_path())) {
    EXPECT_EQ(e.path().string().find(".tmp."), std::string::npos) << e.path();
  }
}

TEST(Config, ResetRestoresDefaults) {
  fs::path file = temp_dir() / "reset.json";
  auto c = Config::load(file.string(), "/d");
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->update([](rapidjson::Document& d) { d["workers"].SetInt(3); }));
  ASSERT_TRUE(c->reset());
  EXPECT_EQ(c->settings().workers, 1u);
}

// A child rewrites the file as fast as it can; we kill -9 it at varying moments. The file must
// always be one complete version.
TEST(Config, AtomicSaveSurvivesKill9) {
  fs::path file = temp_dir() / "kill9.json";
  fs::path helper = WM_CONFIG_SAVE_LOOP;
  ASSERT_TRUE(fs::exists(helper)) << helper;
  for (int round = 0; round < 20; ++round) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      execl(helper.c_str(), helper.c_str(), file.c_str(), nullptr);
      _exit(127);
    }
    usleep(20000 + round * 3000);
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    if (!fs::exists(file)) continue;  // killed before the first rename
    std::string text = read(file);
    rapidjson::Document d;
    d.Parse(text.c_str());
    ASSERT_FALSE(d.HasParseError()) << "round " << round << ": half-written file:\n" << text;
    auto c = Config::load(file.string(), "/d");
    EXPECT_TRUE(c) << c.error();
  }
}

}  // namespace
}  // namespace wiremeter::core

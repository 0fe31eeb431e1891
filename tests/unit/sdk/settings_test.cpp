#include <gtest/gtest.h>

#include <functional>
#include <stdexcept>
#include <string>
#include <wiremeter/settings.hpp>

namespace wiremeter {
namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

struct Config {
  uint32_t calls = 4096;
  uint16_t port = 5060;
  bool heuristic = true;
  double ratio = 0.5;
  std::string file = "default";
};

Config read(const std::string& json) {
  Config c;
  SettingsSection s("voip", json);
  s.get("calls", c.calls, 16, 1'000'000)
      .get("port", c.port, 1, 100'000)
      .get("heuristic", c.heuristic)
      .get("ratio", c.ratio, 0, 1)
      .get("file", c.file);
  s.done();
  return c;
}

TEST(SettingsSection, AbsentFieldsKeepTheirDefaults) {
  Config c = read("{}");
  EXPECT_EQ(c.calls, 4096u);
  EXPECT_TRUE(c.heuristic);
  EXPECT_EQ(c.file, "default");
  c = read(" {\n} ");
  EXPECT_EQ(c.port, 5060);
}

TEST(SettingsSection, ReadsEveryType) {
  Config c = read(R"({"calls": 16, "port": 65535, "heuristic": false, "ratio": 0.25,
                      "file": "/etc/x \"y\"\\z\u00e9"})");
  EXPECT_EQ(c.calls, 16u);
  EXPECT_EQ(c.port, 65535);
  EXPECT_FALSE(c.heuristic);
  EXPECT_DOUBLE_EQ(c.ratio, 0.25);
  EXPECT_EQ(c.file, "/etc/x \"y\"\\z\xc3\xa9");
}

TEST(SettingsSection, ErrorsNameTheFieldInOneLine) {
  EXPECT_EQ(error_of([] { read(R"({"calls": 15})"); }),
            "voip.calls: expected an integer from 16 to 1000000");
  EXPECT_EQ(error_of([] { read(R"({"calls": -1})"); }),
            "voip.calls: expected an integer from 16 to 1000000");
  EXPECT_EQ(error_of([] { read(R"({"calls": 1.5})"); }),
            "voip.calls: expected an integer from 16 to 1000000");
  EXPECT_EQ(error_of([] { read(R"({"calls": "20"})"); }),
            "voip.calls: expected an integer from 16 to 1000000");
  // The type bounds the range too: a uint16_t never takes 70000.
  EXPECT_EQ(error_of([] { read(R"({"port": 70000})"); }),
            "voip.port: expected an integer from 1 to 65535");
  EXPECT_EQ(error_of([] { read(R"({"heuristic": 1})"); }),
            "voip.heuristic: expected true or false");
  EXPECT_EQ(error_of([] { read(R"({"ratio": 2})"); }), "voip.ratio: expected a number from 0 to 1");
  EXPECT_EQ(error_of([] { read(R"({"file": null})"); }), "voip.file: expected a string");
  EXPECT_EQ(error_of([] { read(R"({"file": {"a": [1, "]"]}})"); }), "voip.file: expected a string");
  EXPECT_EQ(error_of([] { read(R"({"cals": 20})"); }),
            "voip.cals: unknown setting (known: calls, file, heuristic, port, ratio)");
  EXPECT_EQ(error_of([] { read(R"({"calls": 20, "calls": 30})"); }), "voip.calls: given twice");
  SettingsSection none("mac", R"({"x": 1})");
  EXPECT_EQ(error_of([&] { none.done(); }), "mac.x: unknown setting (this module has none)");
}

TEST(SettingsSection, SurrogatePairsBecomeOneCodePoint) {
  std::string file;
  SettingsSection s("x", R"({"file": "\ud83d\ude00"})");
  s.get("file", file).done();
  EXPECT_EQ(file, "\xf0\x9f\x98\x80");
}

TEST(SettingsSection, MalformedJsonIsRefusedWithWhere) {
  for (const char* bad :
       {"", "[]", "{", R"({"a" 1})", R"({"a": })", R"({"a": 1,})", R"({"a": 1} x)",
        R"({"a": "open})", "{\"a\": \"\x01\"}", R"({"a": "\uzzzz"})", R"({"a": "\u12"})",
        R"({"a": "\u0000"})", R"({"a": "\ud800"})", R"({"a": "\udc00x"})"}) {
    std::string e = error_of([&] { SettingsSection("voip", bad); });
    EXPECT_EQ(e.rfind("voip", 0), 0u) << bad << ": " << e;
    EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  }
}

}  // namespace
}  // namespace wiremeter

// Test helper: saves ever-changing configs to argv[1] until killed (see AtomicSaveSurvivesKill9).
#include <cstdio>
#include <string>

#include "wiremeter/core/config.hpp"

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  auto c = wiremeter::core::Config::load(argv[1], "/d");
  if (!c) {
    std::fprintf(stderr, "%s\n", c.error().c_str());
    return 1;
  }
  for (int i = 0;; ++i) {
    // Large enough that a torn write would be visible.
    auto r = c->update([&](rapidjson::Document& d) {
      d["workers"].SetInt(1 + i % 8);
      rapidjson::Value args(rapidjson::kArrayType);
      for (int k = 0; k < 200; ++k) {
        std::string s = "--arg-" + std::to_string(i) + "-" + std::to_string(k);
        args.PushBack(rapidjson::Value(s.c_str(), d.GetAllocator()), d.GetAllocator());
      }
      d["eal"]["extra_args"] = args;
    });
    if (!r) {
      std::fprintf(stderr, "%s\n", r.error().c_str());
      return 1;
    }
  }
}

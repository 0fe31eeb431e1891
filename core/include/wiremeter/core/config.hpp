// The configuration document: one JSON file, validated on load and on every change.
//
// Control plane only; not thread-safe (the web server serializes changes through the host).
#pragma once

#include <rapidjson/document.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "wiremeter/core/decode.hpp"
#include "wiremeter/core/flow_table.hpp"
#include "wiremeter/core/result.hpp"

namespace wiremeter::core {

enum class LinkMode : uint8_t { kBridge, kSink };
const char* link_mode_name(LinkMode m);
std::optional<LinkMode> parse_link_mode(std::string_view s);

struct PortConfig {
  std::string name;
  std::string devargs;
  bool capture_timestamps = false;  // use the driver's (pcap) timestamps instead of arrival time
  uint64_t rx_limit_pps = 0;        // 0 = unlimited; paces capture replays such as the demo
  LinkType link = LinkType::kEthernet;  // not configurable: set for capture files (--pcap)
};

struct PairConfig {
  std::string name;
  std::string ports[2];
  LinkMode mode = LinkMode::kBridge;
};

struct UserConfig {
  std::string name;
  std::string password_hash;
  bool must_change_password = true;
};

struct TokenConfig {
  std::string name;
  std::string sha256;  // hex digest of the token; the token itself is never stored
};

// The typed form of the document, built by validation.
struct Settings {
  uint32_t eal_memory_mb = 512;
  std::string eal_hugepages = "auto";  // auto | on | off
  std::vector<std::string> eal_extra_args;
  std::string log_level = "info";
  uint32_t workers = 1;
  uint32_t mbufs_per_queue = 4096;
  std::vector<PortConfig> ports;
  std::string link_mode = "bridge";  // bridge | sink | mixed
  std::vector<PairConfig> pairs;
  uint64_t flow_memory_mb = 256;
  FlowTimeouts timeouts;
  std::string http_listen = "8080";
  bool metrics_require_auth = false;
  std::vector<UserConfig> users;
  std::vector<TokenConfig> tokens;
  std::string plugin_dir;

  // The mode a pair runs in: the global mode unless it is "mixed".
  LinkMode effective_mode(const PairConfig& p) const;
};

// The built-in document: the demo, so that a fresh install shows live numbers at once.
// "@DATADIR@" in strings is replaced with the data directory (where demo.pcap lives).
extern const char* const kDefaultConfigJson;

class Config {
 public:
  // Loads `path`; a missing file means the built-in defaults. Errors are one line.
  static Result<Config> load(const std::string& path, const std::string& data_dir);
  static Result<Config> from_json(const std::string& json, const std::string& data_dir);

  const Settings& settings() const { return settings_; }
  const std::string& path() const { return path_; }
  void set_path(std::string p) { path_ = std::move(p); }

  // A plugin's section as JSON text ("{}" when absent).
  std::string plugin_section(const std::string& plugin) const;

  // Applies a change to a copy, validates it, and only then adopts it and saves atomically.
  using Mutator = std::function<void(rapidjson::Document&)>;
  Result<void> update(const Mutator& change);

  std::string to_json(bool pretty = true) const;

  // Back to the built-in defaults (and saved).
  Result<void> reset();

 private:
  rapidjson::Document doc_;
  Settings settings_;
  std::string path_;
  std::string data_dir_;
};

// Validates a document and builds its Settings. Errors name the field: "ports[1].devargs: ...".
Result<Settings> validate_config(const rapidjson::Value& doc);

// Writes `content` so that `path` is always either the old or the new file, never a mix:
// temp file in the same directory, fsync, rename, fsync of the directory.
Result<void> write_file_atomic(const std::string& path, const std::string& content);

}  // namespace wiremeter::core

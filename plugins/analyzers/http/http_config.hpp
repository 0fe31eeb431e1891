// http: the plugin's settings (plugins.http in the configuration), read with the SDK's
// SettingsSection. Control plane only.
#pragma once

#include <cstdint>
#include <string_view>

namespace wiremeter::http {

struct Settings {
  // Bytes kept per direction for the header block being read; a longer block is malformed
  // (header_too_long). 8 KiB is what common servers accept by default (nginx, Apache 8190).
  // The window's buffer rounds it up to a multiple of 64.
  uint32_t window_bytes = 8192;
  // Flows per worker that can wait for the rest of a header block at the same time. Only blocks
  // split across segments (or out of order) take a slot, and only until they are complete.
  uint32_t window_slots = 512;
  // Requests per worker waiting for their response (pipelining and keep-alive included).
  uint32_t pending = 4096;
  uint32_t servers = 1024;  // (server address, port, Host) rows; beyond, "other"
  uint32_t hosts = 2048;    // Host names; beyond, "other"
  // Transactions kept per worker for the log (at most 4096: the log's buffer is preallocated).
  uint32_t transactions = 4096;
  // Hosts and servers with series of their own in the metrics; the rest are "other".
  uint32_t metrics_top = 20;
};

// Throws std::invalid_argument naming the field ("http.servers: expected an integer from 1 to
// 1048576") on bad input, unknown fields included: a typo must not fall back to a default.
Settings parse_settings(std::string_view json);

}  // namespace wiremeter::http

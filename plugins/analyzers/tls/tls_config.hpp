// tls: the plugin's settings (section plugins.tls of the configuration), read with the SDK's
// SettingsSection. Unknown fields and out-of-range values refuse the plugin with a message naming
// the field: a typo must not silently fall back to a default. Control plane only.
#pragma once

#include <cstdint>
#include <string_view>

namespace wiremeter::tls {

struct Config {
  // Reassembly slots per worker: TLS handshakes in progress at the same time. A flow holds one
  // from its first ClientHello byte until its handshake is read (one or two round trips).
  uint32_t stream_slots = 512;
  // Bytes kept per direction of a handshake: the server's first flight with its certificate
  // chain must fit (typical chains are 3 to 6 KiB; 16 KiB holds nearly all). The pool keeps
  // the same size for both directions, so memory is stream_slots * 2 * stream_bytes per worker.
  uint32_t stream_bytes = 16384;
  uint32_t connections = 4096;   // handshakes kept in the log, per worker
  uint32_t server_names = 4096;  // distinct SNI names per worker; more are counted as overflow
  uint32_t certificates = 2048;  // distinct certificates per worker; more are counted
  uint32_t expiring_days = 30;   // a certificate this close to its notAfter is "expiring"
};

// Throws std::invalid_argument("tls.<field>: ...") on bad input.
Config parse_config(std::string_view json);

}  // namespace wiremeter::tls

// ip: small bounds-checked readers that learn host names passively from three protocols:
// DNS answers (A/AAAA, following the CNAME chain back to the queried name), DHCP (host name and
// FQDN options with the address they belong to) and the TLS ClientHello's server_name.
//
// Kept apart from the plugin, with no SDK dependency, so that they can be fuzzed and unit-tested
// alone: every byte they read comes from the network. They never read outside
// [data, data + size), never allocate and never throw.
//
// Thread-safety: pure functions; the sink is the caller's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace wiremeter::ip {

// Where a name came from. The names (source_name) are JSON values and metric labels.
enum class NameSource : uint8_t { kDns = 0, kDhcp, kSni, kCount };
inline constexpr size_t kNameSources = static_cast<size_t>(NameSource::kCount);
const char* source_name(NameSource s) noexcept;

// RFC 1035: 253 characters of presentation text at most (255 octets on the wire).
inline constexpr size_t kMaxName = 253;

// Result of one parse. kIgnored: well-formed but nothing to learn (a query, an error response,
// a TLS record that is not a ClientHello); kTruncated: the bytes end early, which TCP
// segmentation and snap lengths cause without anything being wrong.
enum class Parse : uint8_t { kOk = 0, kIgnored, kTruncated, kMalformed };

// Receives (address, name) pairs. `addr` holds 4 bytes for version 4, 16 for version 6.
class NameSink {
 public:
  virtual void on_name(uint8_t version, const uint8_t* addr, std::string_view name) noexcept = 0;

 protected:
  ~NameSink() = default;
};

// Copies `n` bytes of a name into `out` (at least kMaxName + 1 bytes) as printable ASCII:
// lowercased when `lower`, any byte outside 0x21..0x7e becomes '?', at most kMaxName bytes.
// Returns the length. The result is always valid UTF-8 and safe to put in JSON and metrics.
size_t clean_name(const uint8_t* in, size_t n, bool lower, char* out) noexcept;

// A DNS message (UDP payload, or a TCP message without its length prefix). Only responses with
// rcode NOERROR teach names: every A/AAAA answer's address gets the queried name when its owner
// is the queried name or one of its CNAME targets, otherwise its owner name (mDNS announcements
// carry no question).
Parse parse_dns_names(const uint8_t* msg, size_t len, NameSink& sink) noexcept;

// A BOOTP/DHCP message (RFC 2131/2132). The name: option 12 (host name), else option 81
// (client FQDN, RFC 4702). The address: yiaddr, else ciaddr, else option 50 (requested
// address). DHCPDECLINE, DHCPNAK and DHCPRELEASE teach nothing: their address is not the
// client's (any more).
Parse parse_dhcp_name(const uint8_t* msg, size_t len, NameSink& sink) noexcept;

// The first client payload of a TCP flow: a TLS record holding a ClientHello. Writes the
// server_name (host_name type) to `out` (at least kMaxName + 1 bytes, cleaned and lowercased)
// and its length to `out_len`. kIgnored when the hello carries no SNI or the data is no
// ClientHello.
Parse parse_tls_sni(const uint8_t* data, size_t len, char* out, size_t& out_len) noexcept;

}  // namespace wiremeter::ip

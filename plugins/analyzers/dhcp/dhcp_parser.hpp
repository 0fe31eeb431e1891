// dhcp: a bounds-checked reader for DHCPv4 (RFC 2131/2132: the BOOTP header of RFC 951 and its
// options, with client FQDN of RFC 4702, relay agent information of RFC 3046 and option
// overload) and for the message type and option framing of DHCPv6 (RFC 8415).
//
// Kept apart from the plugin, with no SDK dependency, so that it can be fuzzed and unit-tested
// alone: every byte it reads comes from the network. It never reads outside [data, data + size),
// never allocates and never throws; a bad message becomes an Error that names the reason. Text
// options are views into the caller's bytes, valid while those are.
//
// Thread-safety: the functions are pure; a Message belongs to one thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace wiremeter::dhcp {

// op .. file: the fixed BOOTP fields; the magic cookie follows, then the options.
inline constexpr size_t kBootpFixed = 236;
inline constexpr size_t kOptionsStart = 240;
inline constexpr size_t kMaxAddrs = 4;  // routers and DNS servers kept per message

// Message types (option 53) as counted: 0 stands for a BOOTP message without option 53, 1..18
// are the IANA types, kTypeUnknown any other value.
inline constexpr uint8_t kDiscover = 1, kOffer = 2, kRequest = 3, kDecline = 4, kAck = 5, kNak = 6,
                         kRelease = 7, kInform = 8;
inline constexpr uint8_t kTypeBootp = 0, kTypeUnknown = 19;
inline constexpr size_t kTypeCount = 20;
// Zeek's names (base/protocols/dhcp/consts.zeek), so that logs compare as they are.
const char* type_name(uint8_t type_index) noexcept;
// Index into the counters for an option-53 value.
inline uint8_t type_index(uint8_t value) noexcept {
  return value >= 1 && value <= 18 ? value : kTypeUnknown;
}

// DHCPv6 message types 1..17 (RFC 8415, 5007, 5460); index 0 counts any other value.
inline constexpr size_t kV6TypeCount = 18;
const char* v6_type_name(uint8_t type_index) noexcept;
inline uint8_t v6_type_index(uint8_t value) noexcept {
  return value >= 1 && value < kV6TypeCount ? value : 0;
}

// Why a message could not be read. The names (error_name) are metric labels.
enum class Error : uint8_t {
  kNone = 0,
  kTruncatedHeader,    // shorter than the 236-byte BOOTP header (DHCPv6: its 4 or 34 bytes)
  kBadOp,              // op neither 1 (BOOTREQUEST) nor 2 (BOOTREPLY)
  kBadHardwareLen,     // hlen > 16, the size of chaddr
  kTruncatedOption,    // an option's length runs past the end of its area
  kBadOptionLength,    // a fixed-size option of the wrong size (message type of 2 bytes, ...)
  kBadOverload,        // option 52 with a value other than 1, 2 or 3
  kV6TruncatedOption,  // DHCPv6 option running past the end of the message
  kCount,
};
inline constexpr size_t kErrorCount = static_cast<size_t>(Error::kCount);
const char* error_name(Error e) noexcept;

// Bytes of one option, pointing into the message.
struct Bytes {
  const uint8_t* data = nullptr;
  uint8_t len = 0;
  bool present = false;
};

struct AddrList {
  uint8_t count = 0;  // kept; more in the option are ignored
  std::array<uint32_t, kMaxAddrs> addr{};
};

// One parsed DHCPv4 message. Addresses are host-order integers (192.0.2.1 = 0xc0000201).
// Options that appear more than once (RFC 3396 splits long ones) count with their first
// instance.
struct Message {
  uint8_t op = 0, htype = 0, hlen = 0, hops = 0;
  uint32_t xid = 0;
  uint16_t secs = 0, flags = 0;
  uint32_t ciaddr = 0, yiaddr = 0, siaddr = 0, giaddr = 0;
  std::array<uint8_t, 16> chaddr{};
  bool has_cookie = false;  // false: plain BOOTP, no options read

  bool has_type = false;
  uint8_t type = 0;  // option 53's value
  bool has_requested_ip = false, has_lease_time = false, has_server_id = false;
  bool has_subnet_mask = false, has_renewal = false, has_rebinding = false;
  uint32_t requested_ip = 0, lease_time = 0, server_id = 0, subnet_mask = 0;
  uint32_t renewal_time = 0, rebinding_time = 0;
  AddrList routers, dns_servers;
  Bytes host_name;     // 12
  Bytes domain_name;   // 15
  Bytes vendor_class;  // 60
  Bytes client_id;     // 61: type byte, then the identifier
  Bytes param_list;    // 55
  Bytes message;       // 56
  Bytes user_class;    // 77
  // 81 (RFC 4702): flags, two obsolete rcodes, then the name, in DNS wire format when the E bit
  // (0x04) is set (decoded into fqdn_text) or as ASCII otherwise.
  bool has_client_fqdn = false;
  uint8_t fqdn_flags = 0;
  uint16_t fqdn_length = 0;
  std::array<char, 256> fqdn_text{};
  Bytes relay_circuit_id, relay_remote_id;  // 82, sub-options 1 and 2
  bool has_relay_info = false;
  uint8_t overload = 0;  // 52

  // The type index the counters use (kTypeBootp without option 53).
  uint8_t type_idx() const { return has_type ? type_index(type) : kTypeBootp; }
  bool from_client() const { return op == 1; }
  // chaddr as a MAC address (in the low 48 bits) for Ethernet (htype 1, hlen 6); else 0.
  uint64_t chaddr_mac() const;
  // Option 61 carrying an Ethernet address (type 1, 6 bytes); else 0.
  uint64_t client_id_mac() const;
  std::string_view fqdn() const { return {fqdn_text.data(), fqdn_length}; }
};

// Parses a DHCPv4 message (the UDP payload). On an error, `m` holds what was read up to it.
Error parse_v4(const uint8_t* data, size_t len, Message& m) noexcept;

// DHCPv6: the message type and a walk over its options (for relay messages, the 34-byte relay
// header first). `type` is the first byte even when an Error is returned, once len >= 1.
Error parse_v6(const uint8_t* data, size_t len, uint8_t& type) noexcept;

}  // namespace wiremeter::dhcp

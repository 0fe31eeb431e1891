// dns: a bounds-checked reader for the DNS wire format (RFC 1035, with the record types of
// RFC 3596, 2782, 4034 and 6891).
//
// Kept apart from the plugin, with no SDK dependency, so that it can be fuzzed and unit-tested
// alone: every byte it reads comes from the network. It never reads outside [data, data + size),
// never allocates and never throws; a bad message becomes an Error that names the reason.
//
// Thread-safety: a Message is a view over caller-owned bytes; use one per thread. The free
// functions are pure.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace wiremeter::dns {

inline constexpr size_t kHeaderSize = 12;
// RFC 1035 2.3.4: 255 octets on the wire, length octets included.
inline constexpr size_t kMaxWireName = 255;
// Presentation form: a byte that is not printable becomes \DDD, so four characters at most.
inline constexpr size_t kMaxNameText = 4 * kMaxWireName;
// Legitimate messages chain a handful of pointers; more than this only comes from a loop that
// the visited-target check has not closed yet (or from an attempt to burn CPU).
inline constexpr size_t kMaxPointerJumps = 32;

// Why a message could not be read. The names (error_name) are metric labels.
enum class Error : uint8_t {
  kNone = 0,
  kTruncatedHeader,      // fewer than 12 bytes
  kTruncatedQuestion,    // the header counts more questions than the bytes hold
  kTruncatedAnswer,      // ... more answer records
  kTruncatedAuthority,   // ... more authority records
  kTruncatedAdditional,  // ... more additional records
  kBadLabelType,         // label type 0x40 or 0x80 (reserved, RFC 6891 6.1.4)
  kBadPointer,           // compression pointer outside the message or into the header
  kPointerLoop,          // compression pointers that never reach the end of the name
  kNameTooLong,          // more than 255 octets
  kBadRdata,             // RDATA that does not fit its type (an A record of 5 bytes, ...)
  kCount,
};
inline constexpr size_t kErrorCount = static_cast<size_t>(Error::kCount);
const char* error_name(Error e) noexcept;
// True for the kTruncated* errors: the bytes ended early, which IP fragmentation or a snap
// length also causes, while the other errors mean the bytes that are there make no sense.
bool is_truncation(Error e) noexcept;

enum class Section : uint8_t { kQuestion = 0, kAnswer, kAuthority, kAdditional, kEnd };

struct Header {
  uint16_t id = 0, flags = 0, qdcount = 0, ancount = 0, nscount = 0, arcount = 0;
  bool response() const { return flags & 0x8000; }
  uint8_t opcode() const { return (flags >> 11) & 0x0f; }
  bool aa() const { return flags & 0x0400; }
  bool tc() const { return flags & 0x0200; }
  bool rd() const { return flags & 0x0100; }
  bool ra() const { return flags & 0x0080; }
  uint8_t rcode() const { return flags & 0x0f; }
};

// A decoded name in presentation form: labels joined with '.', no trailing dot, "." for the
// root. Printable ASCII and valid UTF-8 are kept; other bytes, and '.' or '\' inside a label,
// become \DDD (RFC 4343), so the text is always valid UTF-8 and unambiguous.
struct Name {
  char text[kMaxNameText + 1];
  size_t length = 0;
  std::string_view view() const { return {text, length}; }
};

// One entry of a section. Questions have no TTL or RDATA.
struct Record {
  Section section = Section::kEnd;
  uint16_t name_offset = 0;  // the owner name, for Message::read_name
  uint16_t type = 0;
  uint16_t rclass = 0;
  uint32_t ttl = 0;
  uint16_t rdata_offset = 0;
  uint16_t rdata_length = 0;
};

class Message {
 public:
  // DNS messages are at most 65535 bytes (the TCP length prefix); longer input is cut there.
  Message(const uint8_t* data, size_t size) noexcept
      : data_(data), size_(size > 65535 ? 65535 : size) {}

  // Reads the header and positions the walk at the first question. Call it first.
  Error parse_header(Header& out) noexcept;

  // Steps through the questions, then the answer, authority and additional records. Sets
  // r.section to kEnd after the last one. Validates the owner name's own bytes and that the
  // RDATA fits; an error is sticky (later calls return it again).
  Error next(Record& r) noexcept;

  // Decodes the (possibly compressed) name at `offset`. `end`, if given, receives the offset
  // just past the name's bytes at `offset` (after its first pointer or its root label).
  Error read_name(size_t offset, Name& out, bool lowercase = true,
                  size_t* end = nullptr) const noexcept;

  // Writes the RDATA of `r` as text: the address of A/AAAA, the target name of CNAME, NS, PTR,
  // DNAME, MX, SRV, the primary server of SOA, "TXT <len> <text>" per TXT string, and
  // "<TYPE>" for types without a text form here. Never writes more than `cap` bytes (it cuts
  // long text on a character boundary); returns the length.
  Error format_rdata(const Record& r, char* out, size_t cap, size_t& len) const noexcept;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  Error skip_name(size_t offset, size_t& end, Error truncated) const noexcept;
  Error read_rdata_name(const Record& r, size_t offset, char* out, size_t cap,
                        size_t& len) const noexcept;

  const uint8_t* data_;
  size_t size_;
  size_t pos_ = kHeaderSize;
  Section section_ = Section::kEnd;
  std::array<uint16_t, 4> remaining_{};
  Error sticky_ = Error::kNone;
};

// "A", "AAAA", ... for the types IANA names; nullptr otherwise.
const char* type_name(uint16_t type) noexcept;
// type_name(), or "TYPE<n>" (RFC 3597) for the others. Returns the length written (< cap).
size_t format_type(uint16_t type, char* out, size_t cap) noexcept;
// "NOERROR", "NXDOMAIN", ... for the 4-bit header rcode; "RCODE12" ... "RCODE15" for the
// unassigned ones, so the set of names is bounded (16).
const char* rcode_name(uint8_t rcode) noexcept;

// 64-bit FNV-1a: names are hashed after lowercasing, so 0x20-randomized queries meet.
uint64_t name_hash(std::string_view text) noexcept;

// Copies at most cap - 1 bytes of `src` to `dst` and NUL-terminates, never cutting a UTF-8
// sequence in two (so the copy stays valid JSON text). Returns the length copied.
size_t copy_text(char* dst, size_t cap, std::string_view src) noexcept;

}  // namespace wiremeter::dns

// dns: the DNS wire-format reader. See dns_parser.hpp for the contract; the comments here say
// why each check exists.
#include "dns_parser.hpp"

#include <arpa/inet.h>

#include <cstring>

namespace wiremeter::dns {
namespace {

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t be32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
         static_cast<uint32_t>(p[2]) << 8 | p[3];
}

Error truncated_in(Section s) {
  switch (s) {
    case Section::kQuestion:
      return Error::kTruncatedQuestion;
    case Section::kAnswer:
      return Error::kTruncatedAnswer;
    case Section::kAuthority:
      return Error::kTruncatedAuthority;
    default:
      return Error::kTruncatedAdditional;
  }
}

// Length of the valid UTF-8 sequence at s (Unicode 15, table 3-7: no overlongs, no
// surrogates, nothing above U+10FFFF), or 0. JSON consumers reject anything else.
size_t utf8_length(const uint8_t* s, size_t n) {
  auto cont = [&](size_t i, uint8_t lo = 0x80, uint8_t hi = 0xbf) {
    return i < n && s[i] >= lo && s[i] <= hi;
  };
  uint8_t b = s[0];
  if (b >= 0xc2 && b <= 0xdf) return cont(1) ? 2 : 0;
  if (b == 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
  if ((b >= 0xe1 && b <= 0xec) || b == 0xee || b == 0xef) return cont(1) && cont(2) ? 3 : 0;
  if (b == 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0;
  if (b == 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (b >= 0xf1 && b <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (b == 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

// Appends text to a fixed buffer, cutting on a UTF-8 character boundary when it is full.
struct TextOut {
  char* out;
  size_t cap;  // including the terminating NUL
  size_t len = 0;

  void append(std::string_view s) {
    if (cap == 0) return;
    size_t room = cap - 1 - len;
    size_t n = s.size() < room ? s.size() : room;
    if (n < s.size()) {
      // s[n] is the first byte left out: if it continues a sequence, drop that sequence.
      // Backing off stops on the sequence's lead byte, which [0, n) then excludes too.
      while (n > 0 && (static_cast<uint8_t>(s[n]) & 0xc0) == 0x80) --n;
    }
    if (n) std::memcpy(out + len, s.data(), n);  // an empty view may have no data at all
    len += n;
    out[len] = '\0';
  }
  void append_uint(uint64_t v) {
    char buf[24];
    size_t i = sizeof buf;
    do {
      buf[--i] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v);
    append({buf + i, sizeof buf - i});
  }
};

// Writes label or string bytes in presentation form. In names, '.', '\' and space are escaped
// too, because they would make the text ambiguous; in TXT strings only '\' is.
template <typename Put>
void escape_bytes(const uint8_t* p, size_t n, bool in_name, bool lowercase, Put&& put) {
  for (size_t i = 0; i < n; ++i) {
    uint8_t b = p[i];
    if (b >= 0x80) {
      size_t u = utf8_length(p + i, n - i);
      if (u) {
        put(std::string_view(reinterpret_cast<const char*>(p + i), u));
        i += u - 1;
        continue;
      }
    } else if (b > 0x20 && b < 0x7f && b != '\\' && !(in_name && b == '.')) {
      // A 4-byte buffer for one character: GCC's -Warray-bounds cannot see that append()
      // never looks past a 1-byte view.
      char c[4] = {static_cast<char>(lowercase && b >= 'A' && b <= 'Z' ? b + ('a' - 'A') : b)};
      put(std::string_view(c, 1));
      continue;
    } else if (b == ' ' && !in_name) {
      put(" ");
      continue;
    }
    char esc[4] = {'\\', static_cast<char>('0' + b / 100), static_cast<char>('0' + b / 10 % 10),
                   static_cast<char>('0' + b % 10)};
    put(std::string_view(esc, 4));
  }
}

// Decodes the name at `offset`. Its own bytes must end before `limit` (else `overrun`); after a
// compression pointer the whole message is the limit and running off it is kBadPointer.
Error decode_name(const uint8_t* data, size_t size, size_t offset, size_t limit, Error overrun,
                  Name& out, bool lowercase, size_t* end) {
  out.length = 0;
  out.text[0] = '\0';
  size_t pos = offset;
  size_t wire = 1;  // the root label's length octet
  size_t jumps = 0;
  uint16_t visited[kMaxPointerJumps];
  bool jumped = false;
  auto put = [&](std::string_view s) {
    // Cannot overflow: 255 wire octets give at most 4 characters each (see kMaxNameText).
    std::memcpy(out.text + out.length, s.data(), s.size());
    out.length += s.size();
  };
  for (;;) {
    if (pos >= limit) return jumped ? Error::kBadPointer : overrun;
    uint8_t len = data[pos];
    if (len == 0) {
      if (!jumped && end) *end = pos + 1;
      break;
    }
    if ((len & 0xc0) == 0xc0) {
      if (pos + 1 >= limit) return jumped ? Error::kBadPointer : overrun;
      size_t target = static_cast<size_t>(len & 0x3f) << 8 | data[pos + 1];
      if (!jumped && end) *end = pos + 2;
      // The header holds no names; a pointer there or past the end is never valid.
      if (target < kHeaderSize || target >= size) return Error::kBadPointer;
      for (size_t i = 0; i < jumps; ++i) {
        if (visited[i] == target) return Error::kPointerLoop;
      }
      if (jumps == kMaxPointerJumps) return Error::kPointerLoop;
      visited[jumps++] = static_cast<uint16_t>(target);
      pos = target;
      limit = size;
      jumped = true;
      continue;
    }
    if (len & 0xc0) return Error::kBadLabelType;
    if (pos + 1 + len > limit) return jumped ? Error::kBadPointer : overrun;
    wire += 1 + len;
    if (wire > kMaxWireName) return Error::kNameTooLong;
    if (out.length) put(".");
    escape_bytes(data + pos + 1, len, /*in_name=*/true, lowercase, put);
    pos += 1 + len;
  }
  if (out.length == 0) put(".");
  out.text[out.length] = '\0';
  return Error::kNone;
}

}  // namespace

const char* error_name(Error e) noexcept {
  switch (e) {
    case Error::kNone:
      return "none";
    case Error::kTruncatedHeader:
      return "truncated_header";
    case Error::kTruncatedQuestion:
      return "truncated_question";
    case Error::kTruncatedAnswer:
      return "truncated_answer";
    case Error::kTruncatedAuthority:
      return "truncated_authority";
    case Error::kTruncatedAdditional:
      return "truncated_additional";
    case Error::kBadLabelType:
      return "bad_label_type";
    case Error::kBadPointer:
      return "bad_pointer";
    case Error::kPointerLoop:
      return "pointer_loop";
    case Error::kNameTooLong:
      return "name_too_long";
    case Error::kBadRdata:
      return "bad_rdata";
    case Error::kCount:
      break;
  }
  return "unknown";
}

bool is_truncation(Error e) noexcept {
  return e >= Error::kTruncatedHeader && e <= Error::kTruncatedAdditional;
}

Error Message::parse_header(Header& h) noexcept {
  if (size_ < kHeaderSize) {
    sticky_ = Error::kTruncatedHeader;
    section_ = Section::kEnd;
    return sticky_;
  }
  h.id = be16(data_);
  h.flags = be16(data_ + 2);
  h.qdcount = be16(data_ + 4);
  h.ancount = be16(data_ + 6);
  h.nscount = be16(data_ + 8);
  h.arcount = be16(data_ + 10);
  remaining_ = {h.qdcount, h.ancount, h.nscount, h.arcount};
  pos_ = kHeaderSize;
  section_ = Section::kQuestion;
  sticky_ = Error::kNone;
  return Error::kNone;
}

Error Message::skip_name(size_t offset, size_t& end, Error truncated) const noexcept {
  size_t pos = offset;
  size_t wire = 1;
  for (;;) {
    if (pos >= size_) return truncated;
    uint8_t len = data_[pos];
    if (len == 0) {
      end = pos + 1;
      return Error::kNone;
    }
    if ((len & 0xc0) == 0xc0) {
      if (pos + 1 >= size_) return truncated;
      size_t target = static_cast<size_t>(len & 0x3f) << 8 | data_[pos + 1];
      if (target < kHeaderSize || target >= size_) return Error::kBadPointer;
      end = pos + 2;
      return Error::kNone;
    }
    if (len & 0xc0) return Error::kBadLabelType;
    if (pos + 1 + len > size_) return truncated;
    wire += 1 + len;
    if (wire > kMaxWireName) return Error::kNameTooLong;
    pos += 1 + len;
  }
}

Error Message::next(Record& r) noexcept {
  if (sticky_ != Error::kNone) return sticky_;
  while (section_ != Section::kEnd && remaining_[static_cast<size_t>(section_)] == 0) {
    section_ = static_cast<Section>(static_cast<uint8_t>(section_) + 1);
  }
  r = Record{};
  if (section_ == Section::kEnd) return Error::kNone;
  Error truncated = truncated_in(section_);
  r.section = section_;
  r.name_offset = static_cast<uint16_t>(pos_);
  size_t end = 0;
  if (Error e = skip_name(pos_, end, truncated); e != Error::kNone) return sticky_ = e;
  if (section_ == Section::kQuestion) {
    if (end + 4 > size_) return sticky_ = truncated;
    r.type = be16(data_ + end);
    r.rclass = be16(data_ + end + 2);
    pos_ = end + 4;
  } else {
    if (end + 10 > size_) return sticky_ = truncated;
    r.type = be16(data_ + end);
    r.rclass = be16(data_ + end + 2);
    r.ttl = be32(data_ + end + 4);
    r.rdata_length = be16(data_ + end + 8);
    r.rdata_offset = static_cast<uint16_t>(end + 10);
    if (end + 10 + r.rdata_length > size_) return sticky_ = truncated;
    pos_ = end + 10 + r.rdata_length;
  }
  --remaining_[static_cast<size_t>(section_)];
  return Error::kNone;
}

Error Message::read_name(size_t offset, Name& out, bool lowercase, size_t* end) const noexcept {
  // Offsets come from next(), whose check already covers the name's own bytes, so running off
  // the end here means the caller passed an offset next() never returned.
  return decode_name(data_, size_, offset, size_, Error::kBadPointer, out, lowercase, end);
}

Error Message::read_rdata_name(const Record& r, size_t offset, char* out, size_t cap,
                               size_t& len) const noexcept {
  // A name in RDATA must start and (its own bytes) end inside the RDATA.
  size_t limit = static_cast<size_t>(r.rdata_offset) + r.rdata_length;
  Name name;
  if (offset >= limit) return Error::kBadRdata;
  Error e = decode_name(data_, size_, offset, limit, Error::kBadRdata, name, true, nullptr);
  if (e != Error::kNone) return e;
  TextOut t{out, cap, len};
  t.append(name.view());
  len = t.len;
  return Error::kNone;
}

Error Message::format_rdata(const Record& r, char* out, size_t cap, size_t& len) const noexcept {
  len = 0;
  if (cap) out[0] = '\0';
  if (r.section == Section::kQuestion || r.section == Section::kEnd) return Error::kNone;
  const uint8_t* rd = data_ + r.rdata_offset;
  size_t n = r.rdata_length;
  size_t at = r.rdata_offset;
  TextOut t{out, cap};
  auto done = [&](Error e = Error::kNone) {
    len = t.len;
    return e;
  };
  switch (r.type) {
    case 1: {  // A
      if (n != 4) return done(Error::kBadRdata);
      char buf[INET_ADDRSTRLEN];
      inet_ntop(AF_INET, rd, buf, sizeof buf);
      t.append(buf);
      return done();
    }
    case 28: {  // AAAA
      if (n != 16) return done(Error::kBadRdata);
      char buf[INET6_ADDRSTRLEN];
      inet_ntop(AF_INET6, rd, buf, sizeof buf);
      t.append(buf);
      return done();
    }
    case 2:
    case 3:
    case 4:
    case 5:
    case 6:
    case 7:
    case 8:
    case 9:
    case 12:
    case 39:
      // NS, MD, MF, CNAME, SOA (its primary server), MB, MG, MR, PTR, DNAME
      return done(read_rdata_name(r, at, out, cap, t.len));
    case 15:  // MX: preference, exchange
      if (n < 3) return done(Error::kBadRdata);
      return done(read_rdata_name(r, at + 2, out, cap, t.len));
    case 33:  // SRV: priority, weight, port, target
      if (n < 7) return done(Error::kBadRdata);
      return done(read_rdata_name(r, at + 6, out, cap, t.len));
    case 16: {  // TXT: one or more <length><bytes> strings
      if (n == 0) return done(Error::kBadRdata);
      size_t i = 0;
      while (i < n) {
        size_t sl = rd[i];
        if (i + 1 + sl > n) return done(Error::kBadRdata);
        if (i) t.append(" ");
        t.append("TXT ");
        t.append_uint(sl);
        t.append(" ");
        escape_bytes(rd + i + 1, sl, /*in_name=*/false, /*lowercase=*/false,
                     [&](std::string_view s) { t.append(s); });
        i += 1 + sl;
      }
      return done();
    }
    case 46: {  // RRSIG: type covered, ..., signer's name at 18
      if (n < 19) return done(Error::kBadRdata);
      char type[16];
      format_type(be16(rd), type, sizeof type);
      t.append("RRSIG ");
      t.append(type);
      t.append(" ");
      return done(read_rdata_name(r, at + 18, out, cap, t.len));
    }
    case 47:  // NSEC: the next owner name
      t.append("NSEC ");
      return done(read_rdata_name(r, at, out, cap, t.len));
    case 48:  // DNSKEY: flags, protocol, algorithm, key
      if (n < 4) return done(Error::kBadRdata);
      t.append("DNSKEY ");
      t.append_uint(rd[3]);
      return done();
    case 43:  // DS: key tag, algorithm, digest type, digest
      if (n < 4) return done(Error::kBadRdata);
      t.append("DS ");
      t.append_uint(rd[2]);
      t.append(" ");
      t.append_uint(rd[3]);
      return done();
    default: {
      char type[16];
      format_type(r.type, type, sizeof type);
      t.append("<");
      t.append(type);
      t.append(">");
      return done();
    }
  }
}

const char* type_name(uint16_t type) noexcept {
  switch (type) {
    case 1:
      return "A";
    case 2:
      return "NS";
    case 3:
      return "MD";
    case 4:
      return "MF";
    case 5:
      return "CNAME";
    case 6:
      return "SOA";
    case 7:
      return "MB";
    case 8:
      return "MG";
    case 9:
      return "MR";
    case 10:
      return "NULL";
    case 11:
      return "WKS";
    case 12:
      return "PTR";
    case 13:
      return "HINFO";
    case 14:
      return "MINFO";
    case 15:
      return "MX";
    case 16:
      return "TXT";
    case 17:
      return "RP";
    case 18:
      return "AFSDB";
    case 24:
      return "SIG";
    case 25:
      return "KEY";
    case 28:
      return "AAAA";
    case 29:
      return "LOC";
    case 33:
      return "SRV";
    case 35:
      return "NAPTR";
    case 36:
      return "KX";
    case 37:
      return "CERT";
    case 39:
      return "DNAME";
    case 41:
      return "OPT";
    case 42:
      return "APL";
    case 43:
      return "DS";
    case 44:
      return "SSHFP";
    case 45:
      return "IPSECKEY";
    case 46:
      return "RRSIG";
    case 47:
      return "NSEC";
    case 48:
      return "DNSKEY";
    case 49:
      return "DHCID";
    case 50:
      return "NSEC3";
    case 51:
      return "NSEC3PARAM";
    case 52:
      return "TLSA";
    case 53:
      return "SMIMEA";
    case 55:
      return "HIP";
    case 59:
      return "CDS";
    case 60:
      return "CDNSKEY";
    case 61:
      return "OPENPGPKEY";
    case 62:
      return "CSYNC";
    case 63:
      return "ZONEMD";
    case 64:
      return "SVCB";
    case 65:
      return "HTTPS";
    case 99:
      return "SPF";
    case 108:
      return "EUI48";
    case 109:
      return "EUI64";
    case 249:
      return "TKEY";
    case 250:
      return "TSIG";
    case 251:
      return "IXFR";
    case 252:
      return "AXFR";
    case 255:
      return "ANY";
    case 256:
      return "URI";
    case 257:
      return "CAA";
    default:
      return nullptr;
  }
}

size_t format_type(uint16_t type, char* out, size_t cap) noexcept {
  TextOut t{out, cap};
  if (const char* name = type_name(type)) {
    t.append(name);
  } else {
    t.append("TYPE");
    t.append_uint(type);
  }
  return t.len;
}

const char* rcode_name(uint8_t rcode) noexcept {
  static constexpr const char* kNames[16] = {
      "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",  "NOTIMP",  "REFUSED", "YXDOMAIN", "YXRRSET",
      "NXRRSET", "NOTAUTH", "NOTZONE",  "DSOTYPENI", "RCODE12", "RCODE13", "RCODE14",  "RCODE15"};
  return kNames[rcode & 0x0f];
}

uint64_t name_hash(std::string_view text) noexcept {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

size_t copy_text(char* dst, size_t cap, std::string_view src) noexcept {
  if (cap == 0) return 0;
  TextOut t{dst, cap};
  dst[0] = '\0';
  t.append(src);
  return t.len;
}

}  // namespace wiremeter::dns

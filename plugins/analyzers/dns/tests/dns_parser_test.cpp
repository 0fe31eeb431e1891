// Tests of the DNS wire parser alone: header, names with compression (loops, over-long names,
// bad pointers), truncation in every section, RDATA text, escaping.
#include "dns_parser.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/dns_test_util.hpp"

namespace wiremeter::dns {
namespace {

using test::Bytes;

// Walks a whole message; returns the first error and the decoded owner names of all records.
struct Walk {
  Error error = Error::kNone;
  std::vector<std::string> names;
  std::vector<std::string> rdata;
};

Walk walk(const Bytes& b) {
  Walk w;
  Message m(b.data(), b.size());
  Header h;
  if ((w.error = m.parse_header(h)) != Error::kNone) return w;
  Record r;
  for (;;) {
    if ((w.error = m.next(r)) != Error::kNone) return w;
    if (r.section == Section::kEnd) return w;
    Name n;
    if ((w.error = m.read_name(r.name_offset, n)) != Error::kNone) return w;
    w.names.emplace_back(n.view());
    if (r.section != Section::kQuestion) {
      char text[256];
      size_t len = 0;
      if ((w.error = m.format_rdata(r, text, sizeof text, len)) != Error::kNone) return w;
      w.rdata.emplace_back(text, len);
    }
  }
}

TEST(DnsParser, ReadsTheHeader) {
  Bytes b;
  b.header(0xa7f4, 0x8583, 1, 2, 3, 4);
  Message m(b.data(), b.size());
  Header h;
  ASSERT_EQ(m.parse_header(h), Error::kNone);
  EXPECT_EQ(h.id, 0xa7f4);
  EXPECT_TRUE(h.response());
  EXPECT_TRUE(h.aa());
  EXPECT_TRUE(h.rd());
  EXPECT_TRUE(h.ra());
  EXPECT_FALSE(h.tc());
  EXPECT_EQ(h.opcode(), 0);
  EXPECT_EQ(h.rcode(), 3);
  EXPECT_EQ(h.qdcount, 1);
  EXPECT_EQ(h.ancount, 2);
  EXPECT_EQ(h.nscount, 3);
  EXPECT_EQ(h.arcount, 4);
}

TEST(DnsParser, FollowsCompressionPointers) {
  // upload.wikimedia.org A -> CNAME upload.pmtpa.<ptr wikimedia.org>, A 208.80.152.3
  Bytes b;
  b.header(1, 0x8180, 1, 2).name("Upload.Wikimedia.ORG").u16(test::kA).u16(1);
  size_t rdata_at = b.size() + 12;  // after the answer's pointer owner and fixed part
  b.ptr(12).rr(test::kCname, 124, 15).labels("upload.pmtpa").ptr(19);
  ASSERT_EQ(b.size() - rdata_at, 15u);
  b.ptr(static_cast<uint16_t>(rdata_at)).rr(test::kA, 2156, 4).raw({208, 80, 152, 3});
  Walk w = walk(b);
  ASSERT_EQ(w.error, Error::kNone);
  EXPECT_EQ(w.names, (std::vector<std::string>{"upload.wikimedia.org", "upload.wikimedia.org",
                                               "upload.pmtpa.wikimedia.org"}));
  EXPECT_EQ(w.rdata, (std::vector<std::string>{"upload.pmtpa.wikimedia.org", "208.80.152.3"}));
}

TEST(DnsParser, KeepsCaseWhenAsked) {
  Bytes b;
  b.header(1, 0, 1, 0).name("WwW.ExAmPlE.cOm").u16(1).u16(1);
  Message m(b.data(), b.size());
  Header h;
  Record r;
  ASSERT_EQ(m.parse_header(h), Error::kNone);
  ASSERT_EQ(m.next(r), Error::kNone);
  Name n;
  ASSERT_EQ(m.read_name(r.name_offset, n, /*lowercase=*/false), Error::kNone);
  EXPECT_EQ(n.view(), "WwW.ExAmPlE.cOm");
}

TEST(DnsParser, RootNameIsADot) {
  Bytes b;
  b.header(1, 0, 1, 0).u8(0).u16(test::kNs).u16(1);
  Walk w = walk(b);
  ASSERT_EQ(w.error, Error::kNone);
  EXPECT_EQ(w.names, (std::vector<std::string>{"."}));
}

TEST(DnsParser, PointerToItselfIsALoop) {
  Bytes b;
  b.header(1, 0, 1, 0).ptr(12).u16(1).u16(1);
  Message m(b.data(), b.size());
  Header h;
  Record r;
  ASSERT_EQ(m.parse_header(h), Error::kNone);
  ASSERT_EQ(m.next(r), Error::kNone);  // the pointer's own bytes are fine
  Name n;
  EXPECT_EQ(m.read_name(r.name_offset, n), Error::kPointerLoop);
}

TEST(DnsParser, PointersInACircleAreALoop) {
  // Question name: "a" then a pointer to the answer's owner, which is "b" and a pointer back.
  Bytes b;
  b.header(1, 0x8000, 1, 1).labels("a").ptr(20).u16(1).u16(1);  // 12: 01 'a' c0 14
  ASSERT_EQ(b.size(), 20u);
  b.labels("b").ptr(12).rr(test::kA, 1, 4).raw({1, 2, 3, 4});
  EXPECT_EQ(walk(b).error, Error::kPointerLoop);
}

TEST(DnsParser, LongPointerChainsStop) {
  // 40 pointers, each to the previous one: no loop, but more jumps than any real name needs.
  Bytes b;
  b.header(1, 0, 1, 0).name("x");  // offset 12..14
  for (int i = 0; i < 40; ++i) b.ptr(static_cast<uint16_t>(i == 0 ? 12 : 15 + 2 * (i - 1)));
  Message m(b.data(), b.size());
  Name n;
  EXPECT_EQ(m.read_name(b.size() - 2, n), Error::kPointerLoop);
  EXPECT_EQ(m.read_name(15, n), Error::kNone);
  EXPECT_EQ(n.view(), "x");
}

TEST(DnsParser, RefusesOverLongNames) {
  std::string label63(63, 'a');
  // 4 labels of 63 = 4 * 64 + 1 = 257 octets > 255.
  Bytes too_long;
  too_long.header(1, 0, 1, 0)
      .name(label63 + "." + label63 + "." + label63 + "." + label63)
      .u16(1)
      .u16(1);
  EXPECT_EQ(walk(too_long).error, Error::kNameTooLong);

  // 3 * 64 + 62 + 1 = 255 octets: the longest allowed.
  Bytes longest;
  longest.header(1, 0, 1, 0)
      .name(label63 + "." + label63 + "." + label63 + "." + std::string(61, 'b'))
      .u16(1)
      .u16(1);
  Walk w = walk(longest);
  ASSERT_EQ(w.error, Error::kNone);
  EXPECT_EQ(w.names[0].size(), 253u);

  // Over-long through compression: each part is short, the name they make is not.
  Bytes chained;
  chained.header(1, 0x8000, 1, 1).name(label63 + "." + label63).u16(1).u16(1);
  chained.labels(label63 + "." + label63).ptr(12).rr(test::kA, 1, 4).raw({1, 2, 3, 4});
  EXPECT_EQ(walk(chained).error, Error::kNameTooLong);
}

TEST(DnsParser, RefusesBadPointersAndLabelTypes) {
  Bytes outside;
  outside.header(1, 0, 1, 0).ptr(0x3000).u16(1).u16(1);
  EXPECT_EQ(walk(outside).error, Error::kBadPointer);

  Bytes into_header;
  into_header.header(1, 0, 1, 0).ptr(4).u16(1).u16(1);
  EXPECT_EQ(walk(into_header).error, Error::kBadPointer);

  Bytes extended_label;  // 0x41: the RFC 6891 extended label type, never in use
  extended_label.header(1, 0, 1, 0).u8(0x41).u8(0).u16(1).u16(1);
  EXPECT_EQ(walk(extended_label).error, Error::kBadLabelType);
}

TEST(DnsParser, TruncationIsNamedBySection) {
  EXPECT_EQ(walk(Bytes().raw({0, 1, 0, 0, 0, 1})).error, Error::kTruncatedHeader);

  // Question: cut inside the name, and after the name but inside type/class.
  Bytes q;
  q.header(1, 0, 1, 0).name("example.com").u16(1).u16(1);
  EXPECT_EQ(walk(Bytes(q).truncate(16)).error, Error::kTruncatedQuestion);
  EXPECT_EQ(walk(Bytes(q).truncate(q.size() - 1)).error, Error::kTruncatedQuestion);
  // Counts that promise a second question.
  Bytes q2;
  q2.header(1, 0, 2, 0).name("example.com").u16(1).u16(1);
  EXPECT_EQ(walk(q2).error, Error::kTruncatedQuestion);

  // One record in each of the other sections; cut in its fixed part and in its RDATA.
  struct Case {
    uint16_t an, ns, ar;
    Error expected;
  };
  for (const Case& c :
       {Case{1, 0, 0, Error::kTruncatedAnswer}, Case{0, 1, 0, Error::kTruncatedAuthority},
        Case{0, 0, 1, Error::kTruncatedAdditional}}) {
    Bytes m;
    m.header(1, 0x8180, 1, c.an, c.ns, c.ar).name("example.com").u16(1).u16(1);
    size_t record_at = m.size();
    m.ptr(12).rr(test::kA, 60, 4).raw({192, 0, 2, 1});
    ASSERT_EQ(walk(m).error, Error::kNone);
    EXPECT_EQ(walk(Bytes(m).truncate(record_at + 1)).error, c.expected);  // in the owner
    EXPECT_EQ(walk(Bytes(m).truncate(record_at + 7)).error, c.expected);  // in the fixed part
    EXPECT_EQ(walk(Bytes(m).truncate(m.size() - 1)).error, c.expected);   // in the RDATA
  }
}

TEST(DnsParser, ErrorsAreSticky) {
  Bytes b;
  b.header(1, 0, 2, 0).name("a").u16(1).u16(1);
  Message m(b.data(), b.size());
  Header h;
  Record r;
  ASSERT_EQ(m.parse_header(h), Error::kNone);
  EXPECT_EQ(m.next(r), Error::kNone);
  EXPECT_EQ(m.next(r), Error::kTruncatedQuestion);
  EXPECT_EQ(m.next(r), Error::kTruncatedQuestion);
}

TEST(DnsParser, FormatsRdata) {
  Bytes b;
  b.header(1, 0x8180, 1, 8).name("example.com").u16(255).u16(1);
  b.ptr(12)
      .rr(test::kAaaa, 1, 16)
      .raw({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
  b.ptr(12).rr(test::kMx, 2, 4).u16(10).ptr(12);
  b.ptr(12).rr(test::kSrv, 3, 8).u16(0).u16(5).u16(5060).ptr(12);
  b.ptr(12).rr(test::kTxt, 4, 12).u8(5).raw("hello").u8(5).raw("a\\b\x01z");
  b.ptr(12).rr(test::kSoa, 5, 20).labels("ns0").ptr(12).labels("h").ptr(12).u32(1).u32(2).u16(0);
  b.ptr(12).rr(test::kPtr, 6, 2).ptr(12);
  b.ptr(12).rr(99, 7, 3).raw({2, 'o', 'k'});  // SPF: no text form here
  b.ptr(12).rr(65280, 8, 0);                  // a private-use type
  Walk w = walk(b);
  ASSERT_EQ(w.error, Error::kNone);
  EXPECT_EQ(w.rdata, (std::vector<std::string>{"2001:db8::1", "example.com", "example.com",
                                               "TXT 5 hello TXT 5 a\\092b\\001z", "ns0.example.com",
                                               "example.com", "<SPF>", "<TYPE65280>"}));
}

TEST(DnsParser, RefusesRdataThatDoesNotFitItsType) {
  Bytes a5;
  a5.header(1, 0x8180, 1, 1)
      .name("x")
      .u16(1)
      .u16(1)
      .ptr(12)
      .rr(test::kA, 1, 5)
      .raw({1, 2, 3, 4, 5});
  EXPECT_EQ(walk(a5).error, Error::kBadRdata);
  Bytes cname_out;  // the target name runs past its RDATA
  cname_out.header(1, 0x8180, 1, 1)
      .name("x")
      .u16(1)
      .u16(1)
      .ptr(12)
      .rr(test::kCname, 1, 3)
      .labels("abcd")
      .u8(0);
  EXPECT_EQ(walk(cname_out).error, Error::kBadRdata);
  Bytes txt;  // a string longer than the RDATA
  txt.header(1, 0x8180, 1, 1).name("x").u16(1).u16(1).ptr(12).rr(test::kTxt, 1, 2).raw({9, 'a'});
  EXPECT_EQ(walk(txt).error, Error::kBadRdata);
}

TEST(DnsParser, EscapesBytesThatAreNotText) {
  Bytes b;
  b.header(1, 0, 1, 0)
      .u8(4)
      .raw("a.b ")
      .u8(3)
      .raw("\xc3\xa9z")  // "éz": valid UTF-8 stays
      .u8(2)
      .raw("\xff\x41")  // not UTF-8: escaped; 'A' lowercased
      .u8(0)
      .u16(1)
      .u16(1);
  Walk w = walk(b);
  ASSERT_EQ(w.error, Error::kNone);
  EXPECT_EQ(w.names[0], "a\\046b\\032.\xc3\xa9z.\\255a");
}

TEST(DnsParser, NamesTypesAndRcodes) {
  EXPECT_STREQ(type_name(1), "A");
  EXPECT_STREQ(type_name(28), "AAAA");
  EXPECT_STREQ(type_name(33), "SRV");
  EXPECT_EQ(type_name(12345), nullptr);
  char buf[16];
  EXPECT_EQ(std::string(buf, format_type(12345, buf, sizeof buf)), "TYPE12345");
  EXPECT_EQ(std::string(buf, format_type(16, buf, sizeof buf)), "TXT");
  EXPECT_STREQ(rcode_name(0), "NOERROR");
  EXPECT_STREQ(rcode_name(3), "NXDOMAIN");
  EXPECT_STREQ(rcode_name(15), "RCODE15");
  EXPECT_STREQ(error_name(Error::kPointerLoop), "pointer_loop");
  EXPECT_TRUE(is_truncation(Error::kTruncatedAdditional));
  EXPECT_FALSE(is_truncation(Error::kBadPointer));
}

TEST(DnsParser, CopyTextNeverSplitsACharacter) {
  char out[5];
  EXPECT_EQ(copy_text(out, sizeof out, "ab\xc3\xa9z"), 4u);  // fits exactly: "ab" + é
  EXPECT_STREQ(out, "ab\xc3\xa9");
  EXPECT_EQ(copy_text(out, sizeof out, "abc\xc3\xa9"), 3u);  // é would be cut: left out
  EXPECT_STREQ(out, "abc");
}

}  // namespace
}  // namespace wiremeter::dns

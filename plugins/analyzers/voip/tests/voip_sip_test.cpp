// Unit tests of the SIP and SDP parser.
#include "voip_sip.hpp"

#include <gtest/gtest.h>

#include <string>

namespace wiremeter::voip {
namespace {

Error parse(const std::string& text, Message& m, bool partial = false) {
  return parse_message(reinterpret_cast<const uint8_t*>(text.data()), text.size(), m, partial);
}

// Frame 90 of nDPI's sip.pcap, trimmed: an INVITE with its SDP offer.
const std::string kInvite =
    "INVITE sip:35104724@sip.cybercity.dk SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.168.1.2;rport;branch=z9hG4bKnp10144774\r\n"
    "From: \"arik\" <sip:35104723@sip.cybercity.dk>;tag=b56e6e\r\n"
    "To: <sip:35104724@sip.cybercity.dk>\r\n"
    "Call-ID: 11894297-4432a9f8@192.168.1.2\r\n"
    "CSeq: 2 INVITE\r\n"
    "Contact: <sip:35104723@192.168.1.2>\r\n"
    "User-Agent: Nero SIPPS IP Phone Version 2.0.51.16\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: 170\r\n"
    "\r\n"
    "v=0\r\n"
    "o=SIPPS 11888330 11888327 IN IP4 192.168.1.2\r\n"
    "s=SIP call\r\n"
    "c=IN IP4 192.168.1.2\r\n"
    "t=0 0\r\n"
    "m=audio 30000 RTP/AVP 0 8 97 9\r\n"
    "a=rtpmap:97 iLBC/8000\r\n"
    "a=rtpmap:9 G722/16000\r\n";

TEST(SipParser, ReadsAnInviteWithItsSdpOffer) {
  Message m;
  ASSERT_EQ(parse(kInvite, m), Error::kNone);
  EXPECT_TRUE(m.request);
  EXPECT_EQ(m.method, Method::kInvite);
  EXPECT_EQ(m.request_uri, "sip:35104724@sip.cybercity.dk");
  EXPECT_EQ(m.call_id, "11894297-4432a9f8@192.168.1.2");
  EXPECT_EQ(m.from.display, "arik");
  EXPECT_EQ(m.from.uri, "sip:35104723@sip.cybercity.dk");
  EXPECT_EQ(m.from.tag, "b56e6e");
  EXPECT_EQ(m.to.uri, "sip:35104724@sip.cybercity.dk");
  EXPECT_EQ(m.to.tag, "");
  EXPECT_EQ(m.contact.uri, "sip:35104723@192.168.1.2");
  EXPECT_EQ(m.user_agent, "Nero SIPPS IP Phone Version 2.0.51.16");
  EXPECT_EQ(m.cseq, 2u);
  EXPECT_EQ(m.cseq_method, Method::kInvite);
  EXPECT_FALSE(m.partial_body);
  EXPECT_EQ(m.length, kInvite.size());
  ASSERT_TRUE(m.has_sdp);
  ASSERT_EQ(m.sdp.media_count, 1);
  const SdpMedia& media = m.sdp.media[0];
  EXPECT_EQ(media.kind, MediaKind::kAudio);
  EXPECT_TRUE(media.rtp);
  EXPECT_EQ(media.port, 30000);
  Addr want;
  ASSERT_TRUE(parse_addr("192.168.1.2", want));
  EXPECT_EQ(media.addr, want);
  ASSERT_EQ(media.format_count, 4);
  EXPECT_EQ(media.formats[2], 97);
  Codec codec;
  uint32_t clock = 0;
  ASSERT_TRUE(m.sdp.lookup(97, codec, clock));
  EXPECT_EQ(codec, Codec::kIlbc);
  EXPECT_EQ(clock, 8000u);
  // G.722 runs an 8000 Hz RTP clock whatever its rtpmap says (RFC 3551 4.5.2).
  ASSERT_TRUE(m.sdp.lookup(9, codec, clock));
  EXPECT_EQ(codec, Codec::kG722);
  EXPECT_EQ(clock, 8000u);
  ASSERT_TRUE(m.sdp.lookup(8, codec, clock));  // static, no rtpmap
  EXPECT_EQ(codec, Codec::kPcma);
  EXPECT_FALSE(m.sdp.lookup(101, codec, clock));
}

TEST(SipParser, ReadsStatusLinesCompactAndFoldedHeaders) {
  const std::string text =
      "SIP/2.0 183 In band info available\r\n"
      "i: abc@host\r\n"
      "f: <sip:a@x>;tag=1\r\n"
      "t: sip:b@y;tag=2\r\n"
      "Server: Cirpack/v4.38e\r\n"
      "  (gw_sip)\r\n"
      "CSeq:  7   INVITE\r\n"
      "l: 0\r\n"
      "\r\n";
  Message m;
  ASSERT_EQ(parse(text, m), Error::kNone);
  EXPECT_FALSE(m.request);
  EXPECT_EQ(m.status, 183);
  EXPECT_EQ(m.reason, "In band info available");
  EXPECT_EQ(m.call_id, "abc@host");
  EXPECT_EQ(m.from.tag, "1");
  EXPECT_EQ(m.to.uri, "sip:b@y");  // addr-spec: the ;tag belongs to the header
  EXPECT_EQ(m.to.tag, "2");
  EXPECT_EQ(m.user_agent, "Cirpack/v4.38e\r\n  (gw_sip)");  // folded; stored with spaces
  EXPECT_EQ(m.cseq, 7u);
  EXPECT_EQ(m.cseq_method, Method::kInvite);
  EXPECT_FALSE(m.has_sdp);
}

TEST(SipParser, CountsWhatIsWrong) {
  Message m;
  EXPECT_EQ(parse("HELLO\r\n\r\n", m), Error::kBadStartLine);
  EXPECT_EQ(parse("INVITE sip:a@b SIP/3.0\r\n\r\n", m), Error::kBadStartLine);
  EXPECT_EQ(parse("SIP/2.0 99 Low\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\r\n", m),
            Error::kBadStatusCode);
  EXPECT_EQ(parse("SIP/2.0 2000 OK\r\n\r\n", m), Error::kBadStatusCode);
  EXPECT_EQ(parse("BYE sip:a@b SIP/2.0\r\nCSeq: 1 BYE\r\n\r\n", m), Error::kMissingCallId);
  EXPECT_EQ(parse("BYE sip:a@b SIP/2.0\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\r\n", m),
            Error::kBadCSeq);
  EXPECT_EQ(parse("BYE sip:a@b SIP/2.0\r\nCall-ID: x\r\nCSeq: one BYE\r\n\r\n", m),
            Error::kBadCSeq);
  EXPECT_EQ(parse("BYE sip:a@b SIP/2.0\r\nCall-ID: x\r\nCSeq: 1 BYE\r\n", m), Error::kNoHeaderEnd);
  std::string many = "OPTIONS sip:a@b SIP/2.0\r\n";
  for (int i = 0; i < 200; ++i) many += "X-H: 1\r\n";
  EXPECT_EQ(parse(many + "\r\n", m), Error::kTooManyHeaders);
}

TEST(SipParser, ReadsTheFirstFragmentAndACutBody) {
  // The first IP fragment of a large INVITE: headers up to a line cut in the middle.
  std::string cut = kInvite.substr(0, kInvite.find("Content-Type") + 5);
  Message m;
  EXPECT_EQ(parse(cut, m), Error::kNoHeaderEnd);
  ASSERT_EQ(parse(cut, m, true), Error::kNone);
  EXPECT_TRUE(m.partial_headers);
  EXPECT_EQ(m.call_id, "11894297-4432a9f8@192.168.1.2");
  EXPECT_FALSE(m.has_sdp);
  // Content-Length beyond the datagram: the SDP that arrived is still read.
  std::string body_cut = kInvite.substr(0, kInvite.find("a=rtpmap:97"));
  ASSERT_EQ(parse(body_cut, m), Error::kNone);
  EXPECT_TRUE(m.partial_body);
  ASSERT_TRUE(m.has_sdp);
  EXPECT_EQ(m.sdp.media[0].port, 30000);
  EXPECT_EQ(m.sdp.rtpmap_count, 0);
}

TEST(SipParser, SdpUsesTheMediaLevelAddressAndSkipsBadLines) {
  Sdp sdp;
  parse_sdp(
      "v=0\nc=IN IP4 10.0.0.1\nm=audio 4000 RTP/AVP 0\nm=video 4002 RTP/SAVPF 96\n"
      "c=IN IP6 2001:db8::5\nm=audio 0 RTP/AVP 8\nm=audio x RTP/AVP 0\nc=IN IP4 999.1.1.1\n"
      "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\n",
      sdp);
  ASSERT_EQ(sdp.media_count, 4);
  Addr v4, v6;
  ASSERT_TRUE(parse_addr("10.0.0.1", v4));
  ASSERT_TRUE(parse_addr("2001:db8::5", v6));
  EXPECT_EQ(sdp.media[0].addr, v4);
  EXPECT_EQ(sdp.media[1].kind, MediaKind::kVideo);
  EXPECT_EQ(sdp.media[1].addr, v6);
  EXPECT_EQ(sdp.media[2].port, 0);  // disabled
  EXPECT_EQ(sdp.media[3].kind, MediaKind::kOther);
  EXPECT_FALSE(sdp.media[3].rtp);
  EXPECT_TRUE(sdp.truncated);  // the bad port and address
}

TEST(SipParser, RecognisesSipKeepalivesAndCodecs) {
  auto u = [](const char* s) { return reinterpret_cast<const uint8_t*>(s); };
  EXPECT_TRUE(looks_like_sip(u("SIP/2.0 200 OK\r\n"), 16));
  EXPECT_TRUE(looks_like_sip(u("REGISTER sip:x SIP/2.0"), 22));
  EXPECT_FALSE(looks_like_sip(u("GET / HTTP/1.1\r\n"), 16));
  EXPECT_FALSE(looks_like_sip(u("INVITEX sip:x"), 13));
  EXPECT_TRUE(is_keepalive(u("     "), 5));  // the 5-space pings of sip.pcap
  EXPECT_TRUE(is_keepalive(u("\r\n\r\n"), 4));
  EXPECT_FALSE(is_keepalive(u(" x"), 2));
  EXPECT_EQ(method_from("INVITE"), Method::kInvite);
  EXPECT_EQ(method_from("invite"), Method::kOther);  // methods are case-sensitive
  EXPECT_EQ(codec_from_name("pcmu"), Codec::kPcmu);
  EXPECT_EQ(codec_from_name("G729A"), Codec::kG729);
  EXPECT_EQ(codec_from_name("G726-32"), Codec::kG726);
  EXPECT_EQ(codec_from_name("telephone-event"), Codec::kTelephoneEvent);
  EXPECT_EQ(codec_from_name("G7221"), Codec::kUnknown);
  EXPECT_EQ(static_codec(18), Codec::kG729);
  EXPECT_EQ(static_clock_rate(9), 8000u);
  EXPECT_EQ(static_clock_rate(96), 0u);
  EXPECT_STREQ(codec_name(Codec::kPcma), "PCMA");
}

}  // namespace
}  // namespace wiremeter::voip

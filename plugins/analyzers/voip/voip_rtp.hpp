// voip: the RTP side. Header parsing (RFC 3550 5.1), per-stream sequence and loss accounting
// (RFC 3550 A.1 and A.3), interarrival jitter (A.8), and the MOS estimate from the ITU-T G.107
// E-model.
//
// Thread-safety: RtpStats belongs to the worker that owns its stream; the functions are pure.
#pragma once

#include <cstddef>
#include <cstdint>

#include "voip_sip.hpp"

namespace wiremeter::voip {

struct RtpHeader {
  uint8_t payload_type = 0;
  bool marker = false;
  bool padding = false;
  uint16_t seq = 0;
  uint32_t timestamp = 0;
  uint32_t ssrc = 0;
  uint16_t header_len = 0;  // fixed header + CSRCs + extension
};

// Reads an RTP version 2 header. False when the packet is too short for the header its own
// fields announce, is not version 2, or is RTCP multiplexed on the port (RFC 5761 4: the second
// byte 192..223 belongs to RTCP packet types 200..204 and friends).
bool parse_rtp(const uint8_t* data, size_t len, RtpHeader& out);

// Sequence accounting, loss and jitter of one stream (one SSRC on one 5-tuple).
//
// Sequence numbers follow RFC 3550 A.1 without its probation (detection has already seen the
// stream settle): a jump of more than kMaxDropout ahead or kMaxMisorder behind is a sender
// restart once two consecutive packets confirm it, and the counting then starts again from the
// new base (the packets before stay counted; see `restarts`). expected = extended highest
// sequence number - base + 1 (A.3) summed over restarts; lost = expected - packets, negative
// when duplicates outnumber the losses (as RFC 3550 6.4.1 allows).
//
// Jitter is A.8's estimator J += (|D| - J) / 16 on the transit time difference between
// consecutive packets, kept in milliseconds as a double (A.8 keeps timestamp units; the
// result is the same up to rounding) so that it compares with tshark's RTP analysis.
struct RtpStats {
  static constexpr uint32_t kMaxDropout = 3000, kMaxMisorder = 100;

  uint64_t packets = 0;
  uint64_t duplicates = 0;       // a sequence number seen before, within the last 64
  uint64_t out_of_order = 0;     // arrived after a higher sequence number (duplicates excluded)
  uint64_t restarts = 0;         // sequence jumps accepted as a new base
  uint64_t expected_before = 0;  // expected packets of the runs before the last restart
  uint32_t base_seq = 0;         // extended, of the current run
  uint32_t max_seq = 0;          // extended highest sequence number of the current run
  uint32_t bad_seq = 0;          // A.1's bad_seq + 1 (0 = none pending)
  uint64_t window = 0;           // bit k set: max_seq - k was received

  // Jitter, in ms. `jitter` is the running estimate after the latest packet; mean and max
  // cover every packet after the first except those with the marker bit (the start of a
  // talkspurt, where tshark too leaves them out).
  double jitter_ms = 0, max_jitter_ms = 0, jitter_sum_ms = 0;
  uint64_t jitter_samples = 0;
  uint64_t last_arrival_ns = 0;
  uint32_t last_timestamp = 0;
  bool has_timing = false;  // last_arrival_ns/last_timestamp hold a packet

  // Counts one packet. `clock` is the RTP clock rate of its payload type; 0 (unknown, or a
  // DTMF/comfort noise packet) leaves the jitter alone.
  void update(const RtpHeader& h, uint64_t arrival_ns, uint32_t clock);
  uint64_t expected() const;
  int64_t lost() const { return static_cast<int64_t>(expected()) - static_cast<int64_t>(packets); }
  // Loss in percent of the expected packets, 0 when duplicates outnumber the losses.
  double loss_percent() const;
  double mean_jitter_ms() const {
    return jitter_samples ? jitter_sum_ms / static_cast<double>(jitter_samples) : 0.0;
  }
};

// The E-model (ITU-T G.107) for one stream, reduced to the terms that a passive probe can know:
//   R = 93.2 - Id - Ie_eff
//   Ie_eff = Ie + (95 - Ie) * Ppl / (Ppl + Bpl)          (random loss, BurstR = 1)
//   Id = 0.024 d + 0.11 (d - 177.3) H(d - 177.3)         (Cole & Rosenbluth's fit of G.107)
//   d = packetization + codec look-ahead + jitter buffer (2 x the stream's maximum jitter)
//   MOS = 1 + 0.035 R + R (R - 60) (100 - R) 7e-6        for 0 < R < 100 (G.107 Annex B)
// Ie and Bpl per codec from ITU-T G.113 Appendix I. Network delay cannot be seen from one
// point, so R is an upper bound of the call's quality as far as delay goes.
struct EmodelParams {
  double ie = 0;        // equipment impairment
  double bpl = 0;       // packet-loss robustness
  double codec_ms = 0;  // algorithmic delay (frame look-ahead)
};
// False for codecs without published values (the stream then has no MOS).
bool emodel_params(Codec codec, EmodelParams& out);
struct Quality {
  double delay_ms = 0;
  double r = 0;
  double mos = 0;
};
// loss_percent 0..100; packetization_ms the audio per packet (20 for the usual 160 samples).
Quality estimate_quality(const EmodelParams& p, double loss_percent, double packetization_ms,
                         double max_jitter_ms);
double r_to_mos(double r);

}  // namespace wiremeter::voip

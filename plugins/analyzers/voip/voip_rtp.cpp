// voip: RTP header parsing, sequence/loss/jitter accounting and the E-model.
#include "voip_rtp.hpp"

#include <cmath>

namespace wiremeter::voip {

bool parse_rtp(const uint8_t* data, size_t len, RtpHeader& out) {
  if (!data || len < 12) return false;
  if ((data[0] >> 6) != 2) return false;
  // RFC 5761 4: RTCP packet types 192..223 in the second byte; RTP payload types 64..95 with
  // the marker bit set would collide and are not used.
  if (data[1] >= 192 && data[1] <= 223) return false;
  size_t header = 12 + 4u * (data[0] & 0x0f);
  if (header > len) return false;
  if (data[0] & 0x10) {
    // Extension header: 16-bit profile, 16-bit length in 32-bit words (RFC 3550 5.3.1).
    if (header + 4 > len) return false;
    size_t words = static_cast<size_t>(data[header + 2]) << 8 | data[header + 3];
    header += 4 + 4 * words;
    if (header > len) return false;
  }
  out.padding = data[0] & 0x20;
  if (out.padding) {
    // The last byte counts the padding, itself included; it cannot eat the header.
    uint8_t pad = data[len - 1];
    if (pad == 0 || header + pad > len) return false;
  }
  out.marker = data[1] & 0x80;
  out.payload_type = data[1] & 0x7f;
  out.seq = static_cast<uint16_t>(data[2] << 8 | data[3]);
  out.timestamp = static_cast<uint32_t>(data[4]) << 24 | static_cast<uint32_t>(data[5]) << 16 |
                  static_cast<uint32_t>(data[6]) << 8 | data[7];
  out.ssrc = static_cast<uint32_t>(data[8]) << 24 | static_cast<uint32_t>(data[9]) << 16 |
             static_cast<uint32_t>(data[10]) << 8 | data[11];
  out.header_len = static_cast<uint16_t>(header);
  return true;
}

void RtpStats::update(const RtpHeader& h, uint64_t arrival_ns, uint32_t clock) {
  bool first = packets == 0;
  ++packets;
  if (first) {
    // Extended numbers start one cycle up, so that a packet reordered before the first one
    // still has an extended number (below the base).
    base_seq = max_seq = 65536u + h.seq;
    window = 1;
  } else {
    // Distance from the highest sequence number so far, modulo 2^16 (A.1 update_seq).
    uint16_t max16 = static_cast<uint16_t>(max_seq);
    uint16_t udelta = static_cast<uint16_t>(h.seq - max16);
    if (udelta == 0) {
      ++duplicates;
    } else if (udelta < kMaxDropout) {
      // In order, possibly with a gap. Crossing 0 adds a cycle to the extended number.
      max_seq += udelta;
      window = udelta >= 64 ? 1 : (window << udelta) | 1;
      bad_seq = 0;
    } else if (udelta <= 65536 - kMaxMisorder) {
      // A very large jump. Two consecutive packets make it a restart of the sender's
      // numbering; a single one is an outlier, counted as a packet but not in the numbering.
      if (bad_seq && h.seq == static_cast<uint16_t>(bad_seq - 1)) {
        ++restarts;
        expected_before += max_seq - base_seq + 1;
        // The outlier that announced the restart belongs to the new run. A cycle of offset
        // keeps the base representable.
        max_seq = 65536u + h.seq;
        base_seq = max_seq - 1;
        window = 3;
        bad_seq = 0;
      } else {
        bad_seq = static_cast<uint32_t>(static_cast<uint16_t>(h.seq + 1)) + 1;
      }
    } else {
      // Behind the highest number by less than kMaxMisorder: late or duplicated.
      uint32_t behind = static_cast<uint16_t>(max16 - h.seq);
      if (behind < 64) {
        uint64_t bit = uint64_t{1} << behind;
        if (window & bit) {
          ++duplicates;
        } else {
          window |= bit;
          ++out_of_order;
        }
      } else {
        ++out_of_order;
      }
      // A late packet from before the base (the first packets were reordered) moves the base:
      // it is expected after all.
      uint32_t ext = max_seq - behind;
      if (ext < base_seq) base_seq = ext;
    }
  }

  if (clock == 0) return;
  if (has_timing) {
    // D(i-1,i) = (R_i - R_(i-1)) - (S_i - S_(i-1)), in ms. The timestamp difference is signed:
    // a reordered packet carries an older timestamp.
    double arrival_ms =
        (static_cast<double>(static_cast<int64_t>(arrival_ns - last_arrival_ns))) / 1e6;
    double nominal_ms = static_cast<double>(static_cast<int32_t>(h.timestamp - last_timestamp)) *
                        1000.0 / static_cast<double>(clock);
    double d = std::fabs(arrival_ms - nominal_ms);
    jitter_ms += (d - jitter_ms) / 16.0;
    if (!h.marker) {
      if (jitter_ms > max_jitter_ms) max_jitter_ms = jitter_ms;
      jitter_sum_ms += jitter_ms;
      ++jitter_samples;
    }
  }
  last_arrival_ns = arrival_ns;
  last_timestamp = h.timestamp;
  has_timing = true;
}

uint64_t RtpStats::expected() const {
  if (packets == 0) return 0;
  return expected_before + (max_seq - base_seq + 1);
}

double RtpStats::loss_percent() const {
  uint64_t e = expected();
  int64_t l = lost();
  if (e == 0 || l <= 0) return 0.0;
  return 100.0 * static_cast<double>(l) / static_cast<double>(e);
}

bool emodel_params(Codec codec, EmodelParams& out) {
  switch (codec) {
    case Codec::kPcmu:
    case Codec::kPcma:
      // G.113 Appendix I: G.711 Ie = 0; Bpl = 25.1 with packet loss concealment (Appendix I
      // of G.711), which every current phone has.
      out = {0.0, 25.1, 0.0};
      return true;
    case Codec::kG722:
      // Rated on the narrowband scale as G.711 with PLC: its wideband advantage is not
      // credited, so its MOS compares with narrowband calls (see docs).
      out = {0.0, 25.1, 1.5};
      return true;
    case Codec::kG729:
      // G.729(A): Ie = 11, Bpl = 19.0; 10 ms frames with 5 ms look-ahead.
      out = {11.0, 19.0, 15.0};
      return true;
    default:
      return false;
  }
}

double r_to_mos(double r) {
  if (r <= 0) return 1.0;
  if (r >= 100) return 4.5;
  return 1.0 + 0.035 * r + r * (r - 60.0) * (100.0 - r) * 7e-6;
}

Quality estimate_quality(const EmodelParams& p, double loss_percent, double packetization_ms,
                         double max_jitter_ms) {
  Quality q;
  double ppl = loss_percent < 0 ? 0 : loss_percent > 100 ? 100 : loss_percent;
  q.delay_ms = packetization_ms + p.codec_ms + 2.0 * max_jitter_ms;
  double d = q.delay_ms;
  double id = 0.024 * d + (d > 177.3 ? 0.11 * (d - 177.3) : 0.0);
  double ie_eff = p.ie + (95.0 - p.ie) * ppl / (ppl + p.bpl);
  q.r = 93.2 - id - ie_eff;
  q.mos = r_to_mos(q.r);
  return q;
}

}  // namespace wiremeter::voip

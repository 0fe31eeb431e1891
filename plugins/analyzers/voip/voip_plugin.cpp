// voip: the data path (Worker) and the control plane (Plugin: metrics, report, REST views).
#include "voip_plugin.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <map>
#include <tuple>
#include <unordered_map>
#include <utility>

namespace wiremeter::voip {
namespace {

constexpr uint8_t kProtoTcp = 6, kProtoUdp = 17;

Addr addr_of(const uint8_t* a, uint8_t version) {
  Addr r;
  r.version = version;
  std::memcpy(r.bytes.data(), a, version == 4 ? 4 : 16);
  return r;
}

// The payload the view describes, clipped to the captured bytes: whatever the view says, a
// plugin never reads past cap_len.
std::pair<const uint8_t*, size_t> payload_of(const wm_packet& p) {
  if (!p.data || p.payload_len == 0 || p.payload_off >= p.cap_len) return {nullptr, 0};
  size_t n = std::min<size_t>(p.payload_len, p.cap_len - p.payload_off);
  return {p.data + p.payload_off, n};
}

bool sip_port(const wm_packet& p) { return p.src_port == kSipPort || p.dst_port == kSipPort; }

bool active_state(CallState s) {
  return s == CallState::kCalling || s == CallState::kTrying || s == CallState::kRinging ||
         s == CallState::kEstablished;
}

size_t setup_bucket(double seconds) {
  size_t b = 0;
  while (b < kSetupBounds.size() && seconds > kSetupBounds[b]) ++b;
  return b;
}

size_t mos_bucket(double mos) {
  size_t b = 0;
  while (b < kMosBounds.size() && mos > kMosBounds[b]) ++b;
  return b;
}

// Unix seconds with microseconds (see the dns module: exact through integer microseconds).
double seconds(uint64_t ns) { return static_cast<double>(ns / 1000) / 1e6; }

// Rounded to 3 decimals: jitter and MOS are estimates; more digits only add noise to reports.
double round3(double v) {
  return static_cast<double>(static_cast<int64_t>(v * 1000.0 + (v < 0 ? -0.5 : 0.5))) / 1000.0;
}

std::string ssrc_text(uint32_t ssrc) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08X", ssrc);
  return buf;
}

std::string endpoint_text(const Addr& a, uint16_t port) {
  std::string s = format_addr(a);
  if (a.version == 6) s = "[" + s + "]";
  return s + ":" + std::to_string(port);
}

int state_rank(CallState s) {
  switch (s) {
    case CallState::kCalling:
      return 0;
    case CallState::kTrying:
      return 1;
    case CallState::kRinging:
      return 2;
    case CallState::kFailed:
    case CallState::kCancelled:
      return 3;
    case CallState::kEstablished:
      return 4;
    case CallState::kCompleted:
      return 5;
    case CallState::kCount:
      break;
  }
  return 0;
}

uint64_t min_nonzero(uint64_t a, uint64_t b) { return !a ? b : !b ? a : std::min(a, b); }

// Two workers saw parts of one call (its legs took different 5-tuples): one row with the
// earliest times, the furthest state and both sides' media.
void merge_call(Call& into, const Call& from) {
  if (from.invite_ns && (!into.invite_ns || from.invite_ns < into.invite_ns)) {
    Call base = from;
    std::swap(base, into);
    merge_call(into, base);
    return;
  }
  into.ringing_ns = min_nonzero(into.ringing_ns, from.ringing_ns);
  into.answer_ns = min_nonzero(into.answer_ns, from.answer_ns);
  if (from.bye_ns && (!into.bye_ns || from.bye_ns < into.bye_ns)) {
    into.bye_ns = from.bye_ns;
    into.bye_from = from.bye_from;
  }
  into.last_ns = std::max(into.last_ns, from.last_ns);
  if (into.ring_us < 0) into.ring_us = from.ring_us;
  if (into.setup_us < 0) into.setup_us = from.setup_us;
  if (state_rank(from.state) > state_rank(into.state)) {
    into.state = from.state;
    into.final_code = from.final_code;
    into.final_ns = from.final_ns;
  }
  into.messages += from.messages;
  into.retransmissions += from.retransmissions;
  into.auth_challenges += from.auth_challenges;
  if (!into.to_tag.length) into.to_tag = from.to_tag;
  if (!into.callee_agent.length) into.callee_agent = from.callee_agent;
  for (size_t i = 0; i < from.media_count && into.media_count < kCallMedia; ++i) {
    const MediaEndpoint& m = from.media[i];
    bool known = false;
    for (size_t k = 0; k < into.media_count; ++k) {
      known |= into.media[k].addr == m.addr && into.media[k].port == m.port;
    }
    if (!known) into.media[into.media_count++] = m;
  }
  for (size_t i = 0; i < from.rtpmap_count && into.rtpmap_count < kCallRtpMaps; ++i) {
    bool known = false;
    for (size_t k = 0; k < into.rtpmap_count; ++k)
      known |= into.rtpmaps[k].pt == from.rtpmaps[i].pt;
    if (!known) into.rtpmaps[into.rtpmap_count++] = from.rtpmaps[i];
  }
}

void null_or(JsonWriter& w, std::string_view key, bool present, double v) {
  w.key(key);
  if (present) {
    w.value(v);
  } else {
    w.null();
  }
}

void write_stream(JsonWriter& w, const Plugin::StreamRow& r) {
  const Stream& s = r.stream;
  const RtpStats& st = s.stats;
  bool timing = st.jitter_samples > 0 || (s.clock && st.packets > 1);
  w.begin_object()
      .field("id", r.id)
      .field("ssrc", ssrc_text(s.key.ssrc))
      .field("src", format_addr(s.key.src))
      .field("src_port", static_cast<uint32_t>(s.key.src_port))
      .field("dst", format_addr(s.key.dst))
      .field("dst_port", static_cast<uint32_t>(s.key.dst_port))
      .field("origin", s.origin == Origin::kSdp ? "sdp" : "heuristic")
      .field("state", s.state == StreamState::kEnded ? "ended" : "active");
  w.key("call_id");
  if (r.call_id.empty()) {
    w.null();
  } else {
    w.value(r.call_id);
  }
  w.key("payload_type");
  if (s.has_pt) {
    w.value(static_cast<uint32_t>(s.payload_type));
  } else {
    w.null();
  }
  w.field("codec", codec_name(r.codec)).field("clock_rate", s.clock);
  w.field("start", seconds(s.first_ns))
      .field("last_seen", seconds(s.last_ns))
      .field("duration_s", static_cast<double>(s.last_ns - s.first_ns) / 1e9)
      .field("packets", st.packets)
      .field("payload_bytes", s.payload_bytes)
      .field("expected", st.expected())
      .field("lost", st.lost())
      .field("loss_percent", round3(st.loss_percent()))
      .field("duplicates", st.duplicates)
      .field("out_of_order", st.out_of_order)
      .field("seq_restarts", st.restarts)
      .field("other_payload_packets", s.other_pt);
  null_or(w, "jitter_ms", timing, round3(st.jitter_ms));
  null_or(w, "max_jitter_ms", timing, round3(st.max_jitter_ms));
  null_or(w, "mean_jitter_ms", timing, round3(st.mean_jitter_ms()));
  null_or(w, "packetization_ms", r.quality.packetization_ms > 0, r.quality.packetization_ms);
  null_or(w, "delay_ms", r.quality.has_mos, round3(r.quality.q.delay_ms));
  null_or(w, "r_factor", r.quality.has_mos, round3(r.quality.q.r));
  null_or(w, "mos", r.quality.has_mos, round3(r.quality.q.mos));
  w.end_object();
}

// The list form names a call's streams by id; the detail form (`detail`) has them whole.
void write_call(JsonWriter& w, const Plugin::CallRow& r, const Plugin::Snapshot& snap,
                bool detail) {
  const Call& c = r.call;
  w.begin_object()
      .field("call_id", c.call_id.view())
      .field("caller", c.caller.view())
      .field("caller_name", c.caller_name.view())
      .field("callee", c.callee.view())
      .field("from_tag", c.from_tag.view())
      .field("to_tag", c.to_tag.view())
      .field("contact", c.contact.view())
      .field("caller_agent", c.caller_agent.view())
      .field("callee_agent", c.callee_agent.view())
      .field("caller_ip", format_addr(c.caller_addr))
      .field("caller_port", static_cast<uint32_t>(c.caller_port))
      .field("callee_ip", format_addr(c.callee_addr))
      .field("callee_port", static_cast<uint32_t>(c.callee_port))
      .field("transport", c.tcp ? "tcp" : "udp")
      .field("state", call_state_name(c.state));
  w.key("final_code");
  if (c.final_code) {
    w.value(static_cast<uint32_t>(c.final_code));
  } else {
    w.null();
  }
  w.field("start", seconds(c.invite_ns));
  null_or(w, "ringing_ms", c.ring_us >= 0, static_cast<double>(c.ring_us) / 1000.0);
  null_or(w, "setup_ms", c.setup_us >= 0, static_cast<double>(c.setup_us) / 1000.0);
  null_or(w, "answered", c.answer_ns != 0, seconds(c.answer_ns));
  null_or(w, "ended", c.bye_ns != 0, seconds(c.bye_ns));
  w.key("ended_by");
  if (c.bye_ns) {
    w.value(c.bye_from == Side::kCaller ? "caller" : "callee");
  } else {
    w.null();
  }
  bool answered = c.answer_ns && r.end_ns >= c.answer_ns;
  null_or(w, "duration_s", answered,
          answered ? static_cast<double>(r.end_ns - c.answer_ns) / 1e9 : 0.0);
  w.field("last_seen", seconds(std::max(c.last_ns, r.end_ns)))
      .field("messages", static_cast<uint64_t>(c.messages))
      .field("retransmissions", static_cast<uint64_t>(c.retransmissions))
      .field("auth_challenges", static_cast<uint64_t>(c.auth_challenges));
  w.key("media").begin_array();
  for (size_t i = 0; i < c.media_count; ++i) {
    const MediaEndpoint& m = c.media[i];
    w.begin_object()
        .field("side", m.side == Side::kCaller ? "caller" : "callee")
        .field("kind", m.kind == MediaKind::kAudio   ? "audio"
                       : m.kind == MediaKind::kVideo ? "video"
                                                     : "other")
        .field("ip", format_addr(m.addr))
        .field("port", static_cast<uint32_t>(m.port))
        .end_object();
  }
  w.end_array();
  null_or(w, "mos", r.worst_mos >= 0, round3(r.worst_mos));
  w.key("streams").begin_array();
  for (size_t i : r.streams) {
    if (detail) {
      write_stream(w, snap.streams[i]);
    } else {
      w.value(snap.streams[i].id);
    }
  }
  w.end_array();
  w.end_object();
}

// Path ids arrive URL-encoded (a Call-ID has '@' and may have anything else).
std::string url_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    auto hex = [](char c) {
      return c >= '0' && c <= '9'   ? c - '0'
             : c >= 'a' && c <= 'f' ? c - 'a' + 10
             : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                    : -1;
    };
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

}  // namespace

const char* incomplete_name(Incomplete i) {
  switch (i) {
    case Incomplete::kIpFragment:
      return "ip_fragment";
    case Incomplete::kBodyCut:
      return "body_cut";
    case Incomplete::kTcpContinued:
      return "tcp_continued";
    case Incomplete::kCount:
      break;
  }
  return "unknown";
}

std::string format_addr(const Addr& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (a.version == 4) {
    inet_ntop(AF_INET, a.bytes.data(), buf, sizeof buf);
  } else if (a.version == 6) {
    inet_ntop(AF_INET6, a.bytes.data(), buf, sizeof buf);
  }
  return buf;
}

StreamQuality stream_quality(const Stream& s, Codec codec) {
  StreamQuality out;
  if (s.ts_step && s.clock) {
    out.packetization_ms = static_cast<double>(s.ts_step) * 1000.0 / static_cast<double>(s.clock);
  }
  EmodelParams params;
  if (s.stats.packets == 0 || !emodel_params(codec, params)) return out;
  out.has_mos = true;
  // 20 ms is what SDP's default ptime and nearly every phone use.
  double ptime = out.packetization_ms > 0 ? out.packetization_ms : 20.0;
  out.q = estimate_quality(params, s.stats.loss_percent(), ptime, s.stats.max_jitter_ms);
  return out;
}

// ------------------------------------------------------------------------------------------
// Worker (data path)
// ------------------------------------------------------------------------------------------

Worker::Worker(uint32_t worker_id, uint32_t state_offset, const Config& config)
    : worker_id_(worker_id),
      slot_(state_offset),
      config_(config),
      calls_(config.calls),
      streams_(config.streams),
      hints_(config.media_hints) {}

bool Worker::relevant(const wm_packet& p) const noexcept {
  if (!(p.flags & WM_PKT_L4) || p.payload_len == 0) return false;
  if (p.l4_proto == kProtoTcp) return sip_port(p);
  if (p.l4_proto != kProtoUdp) return false;
  if (sip_port(p)) return true;
  const FlowState* st = slot_.get(p);
  return st && st->verdict[p.direction & 1] != Verdict::kNotMedia;
}

void Worker::on_batch(std::span<const wm_packet> packets) noexcept {
  // Most traffic is neither SIP nor RTP: decided before the lock is taken.
  size_t first = 0;
  while (first < packets.size() && !relevant(packets[first])) ++first;
  if (first == packets.size()) return;
  std::lock_guard lock(mutex_);
  for (size_t i = first; i < packets.size(); ++i) {
    const wm_packet& p = packets[i];
    if (!relevant(p)) continue;
    if (p.l4_proto == kProtoUdp) {
      handle_udp(p);
    } else {
      handle_tcp(p);
    }
  }
}

void Worker::handle_udp(const wm_packet& p) noexcept {
  auto [data, len] = payload_of(p);
  if (!data) return;
  FlowState* st = slot_.get(p);
  uint8_t dir = p.direction & 1;
  if (sip_port(p) || (st && st->verdict[dir] == Verdict::kSip)) {
    handle_sip_datagram(p, data, len);
    return;
  }
  // Later IP fragments carry no UDP header; the first one alone is no RTP packet to measure.
  if (!st || (p.flags & WM_PKT_FRAGMENT)) return;
  if (st->verdict[dir] == Verdict::kUnknown && looks_like_sip(data, len)) {
    st->verdict[0] = st->verdict[1] = Verdict::kSip;
    handle_sip_datagram(p, data, len);
    return;
  }
  handle_rtp(p, *st, dir, data, len);
}

void Worker::handle_tcp(const wm_packet& p) noexcept {
  auto [data, len] = payload_of(p);
  if (!data) return;
  // Per segment: each message that starts in it is read; a message split over segments keeps
  // its first part (headers and SDP that arrived), the continuation is skipped.
  size_t pos = 0;
  for (int n = 0; n < 8 && pos < len; ++n) {
    const uint8_t* msg = data + pos;
    size_t left = len - pos;
    if (is_keepalive(msg, left)) {
      keepalives.add();
      return;
    }
    if (!looks_like_sip(msg, left)) {
      if (pos == 0) incomplete[static_cast<size_t>(Incomplete::kTcpContinued)].add();
      return;
    }
    Error e = parse_message(msg, left, message_, true);
    if (e != Error::kNone) {
      malformed[static_cast<size_t>(e)].add();
      return;
    }
    if (message_.partial_body || message_.partial_headers) {
      incomplete[static_cast<size_t>(Incomplete::kBodyCut)].add();
    }
    on_message(p, true);
    if (message_.partial_body || message_.partial_headers || message_.length == 0) return;
    pos += message_.length;
    // CRLFs between messages (RFC 5626 keep-alives or padding).
    while (pos < len && (data[pos] == '\r' || data[pos] == '\n')) ++pos;
  }
}

void Worker::handle_sip_datagram(const wm_packet& p, const uint8_t* data, size_t len) noexcept {
  if (is_keepalive(data, len)) {
    keepalives.add();
    return;
  }
  bool fragment = p.flags & WM_PKT_FRAGMENT;
  if (fragment && !(p.flags & WM_PKT_FIRST_FRAGMENT)) return;
  Error e = parse_message(data, len, message_, fragment);
  if (e != Error::kNone) {
    malformed[static_cast<size_t>(e)].add();
    return;
  }
  if (fragment) {
    incomplete[static_cast<size_t>(Incomplete::kIpFragment)].add();
  } else if (message_.partial_body) {
    incomplete[static_cast<size_t>(Incomplete::kBodyCut)].add();
  }
  on_message(p, false);
}

void Worker::on_message(const wm_packet& p, bool tcp) noexcept {
  const Message& m = message_;
  sip_messages.add();
  if (m.request) {
    requests[static_cast<size_t>(m.method)].add();
  } else {
    responses[m.status - 100].add();
  }
  Addr src = addr_of(p.src_addr, p.ip_version), dst = addr_of(p.dst_addr, p.ip_version);
  Call* c = calls_.find(m.call_id);
  if (!c) {
    // Calls are INVITE dialogs. Other requests (REGISTER, OPTIONS, ...) and answers to calls
    // that began before the capture only count as messages.
    if (!m.request || m.method != Method::kInvite) return;
    bool evicted = false, evicted_active = false;
    c = &calls_.insert(m.call_id, evicted, evicted_active);
    if (evicted) calls_evicted.add();
    if (evicted_active) calls_evicted_active.add();
    calls_started.add();
    c->caller.set(m.from.uri);
    c->caller_name.set(m.from.display);
    c->from_tag.set(m.from.tag);
    c->callee.set(m.to.uri);
    c->contact.set(m.contact.uri);
    c->caller_agent.set(m.user_agent);
    c->caller_addr = src;
    c->callee_addr = dst;
    c->caller_port = p.src_port;
    c->callee_port = p.dst_port;
    c->tcp = tcp;
    c->invite_ns = p.ts_ns;
  } else {
    calls_.touch(*c);
  }
  ++c->messages;
  if (p.ts_ns > c->last_ns) c->last_ns = p.ts_ns;
  Side side = src == c->caller_addr && p.src_port == c->caller_port ? Side::kCaller
              : src == c->caller_addr && !(dst == c->caller_addr)   ? Side::kCaller
                                                                    : Side::kCallee;
  bool retransmission = m.request ? on_request(*c, p, side) : on_response(*c, p, side);
  if (retransmission || !m.has_sdp) return;
  c->add_media(m.sdp, side);
  for (size_t i = 0; i < m.sdp.media_count; ++i) {
    const SdpMedia& media = m.sdp.media[i];
    if (media.rtp && media.port && media.addr.version) {
      hints_.add(media.addr, media.port, m.sdp, p.ts_ns);
    }
  }
}

bool Worker::on_request(Call& c, const wm_packet& p, Side side) noexcept {
  const Message& m = message_;
  if (m.method != Method::kAck) {
    // The same request again (same method and CSeq) is a retransmission (RFC 3261 17.1):
    // counted, and it changes nothing. An ACK repeats whenever a final response does.
    if (c.find_transaction(m.method, m.cseq)) {
      request_retransmissions[static_cast<size_t>(m.method)].add();
      ++c.retransmissions;
      return true;
    }
    c.add_transaction(m.method, m.cseq, p.ts_ns);
  }
  switch (m.method) {
    case Method::kInvite:
      // A new INVITE after a failure (typically the one with credentials after 401/407) is
      // the next attempt of the same call; one within an established call (re-INVITE)
      // changes its media, not its state.
      if (c.state == CallState::kFailed || c.state == CallState::kCancelled) {
        c.state = CallState::kCalling;
        c.final_code = 0;
        c.final_ns = 0;
        c.cancel_seen = false;
      }
      if (c.state != CallState::kEstablished && c.state != CallState::kCompleted) {
        c.invite_cseq = m.cseq;
      }
      break;
    case Method::kBye:
      if (!c.bye_ns) {
        c.bye_ns = p.ts_ns;
        c.bye_from = side;
      }
      // A BYE ends the call; before a 2xx was seen it means the 2xx was missed.
      if (active_state(c.state)) c.state = CallState::kCompleted;
      break;
    case Method::kCancel:
      if (c.state == CallState::kCalling || c.state == CallState::kTrying ||
          c.state == CallState::kRinging) {
        c.cancel_seen = true;
      }
      break;
    default:
      break;
  }
  return false;
}

bool Worker::on_response(Call& c, const wm_packet& p, Side side) noexcept {
  const Message& m = message_;
  SipTransaction* t = c.find_transaction(m.cseq_method, m.cseq);
  if (m.status >= 200) {
    if (t && t->final_code == m.status) {
      response_retransmissions.add();
      ++c.retransmissions;
      return true;
    }
    if (t) t->final_code = m.status;
  }
  if (m.cseq_method != Method::kInvite) return false;
  if (side == Side::kCallee && !c.callee_agent.length) c.callee_agent.set(m.user_agent);
  if (!c.to_tag.length && !m.to.tag.empty()) c.to_tag.set(m.to.tag);
  // Times count from the first transmission of the INVITE this response answers (after an
  // authentication challenge: the INVITE with credentials), as tshark's response time does.
  uint64_t invite = t ? t->first_ns : 0;
  int64_t since_invite =
      invite && p.ts_ns >= invite ? static_cast<int64_t>((p.ts_ns - invite) / 1000) : -1;
  if (m.status == 100) {
    if (c.state == CallState::kCalling) c.state = CallState::kTrying;
  } else if (m.status < 200) {
    if (c.state == CallState::kCalling || c.state == CallState::kTrying) {
      c.state = CallState::kRinging;
    }
    if (!c.ringing_ns) {
      c.ringing_ns = p.ts_ns;
      c.ring_us = since_invite;
    }
  } else if (m.status < 300) {
    if (c.state != CallState::kEstablished && c.state != CallState::kCompleted) {
      c.state = CallState::kEstablished;
      c.answer_ns = p.ts_ns;
      c.setup_us = since_invite;
      c.final_code = m.status;
      c.final_ns = p.ts_ns;
      if (since_invite >= 0) {
        setup[setup_bucket(static_cast<double>(since_invite) / 1e6)].add();
        setup_sum_us.add(static_cast<uint64_t>(since_invite));
      }
    }
  } else if (c.state != CallState::kEstablished && c.state != CallState::kCompleted) {
    // A failed re-INVITE leaves an established call as it was.
    c.final_code = m.status;
    c.final_ns = p.ts_ns;
    c.state = c.cancel_seen ? CallState::kCancelled : CallState::kFailed;
    if (m.status == 401 || m.status == 407) ++c.auth_challenges;
  }
  return false;
}

void Worker::reject(FlowState& st, uint8_t dir) noexcept {
  if (st.verdict[dir] == Verdict::kRtp) {
    // Non-RTP packets within a media flow: STUN/ICE checks, RTCP on the same port, ...
    rtp_invalid.add();
    return;
  }
  if (++st.tries[dir] >= kMaxTries) st.verdict[dir] = Verdict::kNotMedia;
}

void Worker::end_stream(Stream& s) noexcept {
  if (s.state == StreamState::kEnded) return;
  s.state = StreamState::kEnded;
  if (s.mos_recorded) return;
  StreamQuality q = stream_quality(s, s.codec);
  if (!q.has_mos) return;
  s.mos_recorded = true;
  mos[mos_bucket(q.q.mos)].add();
  mos_sum_milli.add(static_cast<uint64_t>(q.q.mos * 1000.0 + 0.5));
}

void Worker::resolve_payload_type(Stream& s, uint8_t pt) noexcept {
  Codec codec = static_codec(pt);
  uint32_t clock = static_clock_rate(pt);
  if (pt >= 96) {
    const MediaHint* h = hints_.find(s.key.dst, s.key.dst_port);
    if (!h || !h->lookup(pt, codec, clock)) {
      h = hints_.find(s.key.src, s.key.src_port);
      if (h) h->lookup(pt, codec, clock);
    }
  }
  // The stream is measured on its audio; DTMF events and comfort noise do not name it.
  if (is_signalling_codec(codec)) return;
  s.has_pt = true;
  s.payload_type = pt;
  s.codec = codec;
  s.clock = clock;
}

void Worker::handle_rtp(const wm_packet& p, FlowState& st, uint8_t dir, const uint8_t* data,
                        size_t len) noexcept {
  RtpHeader h;
  if (!parse_rtp(data, len, h)) {
    // STUN (RFC 5389: magic cookie 0x2112A442) precedes the media of ICE calls; it does not
    // make the flow "not RTP".
    bool stun = len >= 20 && data[0] < 2 && data[4] == 0x21 && data[5] == 0x12 && data[6] == 0xa4 &&
                data[7] == 0x42;
    if (!stun) reject(st, dir);
    return;
  }
  StreamKey key;
  key.src = addr_of(p.src_addr, p.ip_version);
  key.dst = addr_of(p.dst_addr, p.ip_version);
  key.src_port = p.src_port;
  key.dst_port = p.dst_port;
  key.ssrc = h.ssrc;
  uint64_t flow_id = p.flow ? p.flow->id : 0;

  uint32_t slot = st.stream[dir] ? st.stream[dir] - 1 : LruIndex::kNil;
  bool cached = slot != LruIndex::kNil && streams_.valid(slot) && streams_.at(slot).key == key &&
                streams_.at(slot).flow_id == flow_id;
  if (!cached) {
    if (slot != LruIndex::kNil && streams_.valid(slot) && streams_.at(slot).flow_id == flow_id) {
      // The sender moved to another SSRC: its previous stream is over (a candidate is simply
      // dropped; a new candidate starts below).
      Stream& old = streams_.at(slot);
      if (old.state == StreamState::kCandidate) {
        // Not one SSRC over the first packets: one strike against the flow being RTP.
        candidates_rejected.add();
        streams_.release(slot);
        st.stream[dir] = 0;
        st.verdict[dir] = Verdict::kUnknown;
        reject(st, dir);
        if (st.verdict[dir] == Verdict::kNotMedia) return;
      } else {
        end_stream(old);
      }
    }
    slot = streams_.find(key);
    if (slot == LruIndex::kNil) {
      const MediaHint* hint = hints_.find(key.dst, key.dst_port);
      if (!hint) hint = hints_.find(key.src, key.src_port);
      if (!hint) {
        // The heuristic: RTP runs between unprivileged ports, to an even one (RFC 3550 11),
        // and carries a payload.
        bool plausible = config_.heuristic_rtp && p.src_port >= 1024 && p.dst_port >= 1024 &&
                         p.dst_port % 2 == 0 && len > h.header_len;
        if (!plausible) {
          reject(st, dir);
          return;
        }
        // A candidate never pushes out a stream that is still running.
        const Stream* victim = streams_.next_victim();
        if (victim && victim->state != StreamState::kEnded) {
          rtp_untracked.add();
          return;
        }
      }
      bool evicted = false;
      Stream old;
      slot = streams_.insert(key, evicted, old);
      if (evicted) {
        if (old.state == StreamState::kActive) {
          streams_evicted.add();
          end_stream(old);
        }
      }
      Stream& s = streams_.at(slot);
      s.serial = next_serial_++;
      s.flow_id = flow_id;
      s.first_ns = p.ts_ns;
      if (hint) {
        s.origin = Origin::kSdp;
        s.state = StreamState::kActive;
        streams_started.add();
      }
    } else {
      streams_.at(slot).flow_id = flow_id;
    }
    st.stream[dir] = slot + 1;
    st.verdict[dir] = Verdict::kRtp;
  }

  Stream& s = streams_.at(slot);
  streams_.touch(slot);
  if (s.state == StreamState::kCandidate && s.stats.packets > 0) {
    uint16_t step = static_cast<uint16_t>(h.seq - s.last_seq);
    bool consistent = step >= 1 && step <= kCandidateMaxGap &&
                      (!s.has_pt || h.payload_type == s.payload_type ||
                       is_signalling_codec(static_codec(h.payload_type)));
    if (!consistent) {
      candidates_rejected.add();
      streams_.release(slot);
      st.stream[dir] = 0;
      st.verdict[dir] = Verdict::kUnknown;
      reject(st, dir);
      return;
    }
  }
  if (s.state == StreamState::kEnded) s.state = StreamState::kActive;  // the SSRC came back

  if (!s.has_pt) resolve_payload_type(s, h.payload_type);
  bool audio = s.has_pt && h.payload_type == s.payload_type;
  if (!audio) ++s.other_pt;
  if (audio && s.last_audio && s.stats.packets > 0 &&
      static_cast<uint16_t>(h.seq - s.last_seq) == 1) {
    // The packet size, from consecutive audio packets. A step above one second is a pause
    // (silence suppression), not the packet size.
    uint32_t step = h.timestamp - s.last_ts;
    if (step > 0 && s.clock && step <= s.clock) s.ts_step = step;
  }
  uint64_t expected_before = s.stats.expected();
  s.stats.update(h, p.ts_ns, audio ? s.clock : 0);
  s.last_seq = h.seq;
  s.last_audio = audio;
  if (audio) s.last_ts = h.timestamp;
  s.last_ns = p.ts_ns;
  s.payload_bytes += len - h.header_len;

  if (s.state == StreamState::kCandidate) {
    if (s.stats.packets < kConfirmPackets) return;
    s.state = StreamState::kActive;
    streams_started.add();
    rtp_packets.add(s.stats.packets);
    rtp_expected.add(s.stats.expected());
    return;
  }
  rtp_packets.add();
  uint64_t expected_now = s.stats.expected();
  if (expected_now > expected_before) rtp_expected.add(expected_now - expected_before);
}

void Worker::on_flow_end(const wm_flow_info& flow, FlowState& state) noexcept {
  if (!state.stream[0] && !state.stream[1]) return;
  std::lock_guard lock(mutex_);
  for (uint32_t& ref : state.stream) {
    if (!ref) continue;
    uint32_t slot = ref - 1;
    ref = 0;
    if (!streams_.valid(slot)) continue;
    Stream& s = streams_.at(slot);
    if (s.flow_id != flow.id) continue;  // the slot went to another stream meanwhile
    if (s.state == StreamState::kCandidate) {
      candidates_rejected.add();
      streams_.release(slot);
    } else {
      end_stream(s);
    }
  }
}

// ------------------------------------------------------------------------------------------
// Plugin (control plane)
// ------------------------------------------------------------------------------------------

Plugin::Plugin(Host& host)
    : host_(host),
      config_(parse_config(host.config_json())),
      messages_id_(host.register_metric("wiremeter_voip_sip_messages_total",
                                        "SIP messages read (requests and responses).",
                                        WM_METRIC_COUNTER)),
      requests_id_(host.register_metric("wiremeter_voip_sip_requests_total",
                                        "SIP requests by method.", WM_METRIC_COUNTER)),
      responses_id_(host.register_metric("wiremeter_voip_sip_responses_total",
                                         "SIP responses by status class (1xx ... 6xx).",
                                         WM_METRIC_COUNTER)),
      retransmissions_id_(host.register_metric(
          "wiremeter_voip_sip_retransmissions_total",
          "SIP requests and final responses of calls sent again (same CSeq and method).",
          WM_METRIC_COUNTER)),
      malformed_id_(host.register_metric("wiremeter_voip_sip_malformed_total",
                                         "SIP messages that could not be read, by reason.",
                                         WM_METRIC_COUNTER)),
      incomplete_id_(host.register_metric(
          "wiremeter_voip_sip_incomplete_total",
          "SIP messages cut by IP fragmentation, the snap length or TCP segmentation.",
          WM_METRIC_COUNTER)),
      calls_id_(host.register_metric("wiremeter_voip_calls", "Calls in the call tables, by state.",
                                     WM_METRIC_GAUGE)),
      calls_started_id_(host.register_metric("wiremeter_voip_calls_started_total",
                                             "Calls (INVITE dialogs) seen.", WM_METRIC_COUNTER)),
      calls_evicted_id_(host.register_metric(
          "wiremeter_voip_calls_evicted_total",
          "Calls pushed out of a full call table (least recently active first).",
          WM_METRIC_COUNTER)),
      setup_id_(host.register_metric("wiremeter_voip_call_setup_seconds",
                                     "Time from the INVITE to the 2xx that established a call.",
                                     WM_METRIC_HISTOGRAM)),
      streams_id_(host.register_metric("wiremeter_voip_rtp_streams",
                                       "RTP streams running (not ended) in the stream tables.",
                                       WM_METRIC_GAUGE)),
      streams_started_id_(host.register_metric("wiremeter_voip_rtp_streams_started_total",
                                               "RTP streams detected.", WM_METRIC_COUNTER)),
      rtp_packets_id_(host.register_metric("wiremeter_voip_rtp_packets_total",
                                           "RTP packets received on detected streams.",
                                           WM_METRIC_COUNTER)),
      rtp_expected_id_(host.register_metric(
          "wiremeter_voip_rtp_expected_packets_total",
          "RTP packets the sequence numbers say were sent (RFC 3550 A.3); loss = 1 - "
          "rate(packets) / rate(expected).",
          WM_METRIC_COUNTER)),
      mos_id_(host.register_metric("wiremeter_voip_rtp_stream_mos",
                                   "MOS (E-model) of RTP streams when they end.",
                                   WM_METRIC_HISTOGRAM)),
      worst_mos_id_(host.register_metric(
          "wiremeter_voip_rtp_worst_mos",
          "MOS (E-model) of the 10 running RTP streams with the lowest MOS.", WM_METRIC_GAUGE)) {}

std::unique_ptr<Worker> Plugin::make_worker(const wm_worker_info& info) {
  return std::make_unique<Worker>(info.worker_id, info.flow_state_offset, config_);
}

Plugin::Snapshot Plugin::snapshot(std::span<Worker* const> workers) {
  Snapshot snap;
  std::unordered_map<std::string, size_t> by_id;
  for (Worker* w : workers) {
    if (!w) continue;
    auto lock = w->lock();
    w->calls().for_each([&](const Call& c) {
      std::string id(c.call_id.view());
      auto [it, fresh] = by_id.try_emplace(id, snap.calls.size());
      if (fresh) {
        snap.calls.push_back(CallRow{c, {}, -1, 0});
      } else {
        merge_call(snap.calls[it->second].call, c);
      }
    });
    w->streams().for_each([&](const Stream& s) {
      if (s.state == StreamState::kCandidate) return;
      StreamRow r;
      r.stream = s;
      r.id = std::to_string(w->id()) + ":" + std::to_string(s.serial);
      r.codec = s.codec;
      snap.streams.push_back(std::move(r));
    });
  }

  // Streams to calls: by the endpoint that SDP announced (the receiver's address, else the
  // sender's for symmetric RTP), the latest call that had begun by the stream's start (phones
  // reuse their media ports from call to call).
  std::map<std::tuple<uint8_t, std::array<uint8_t, 16>, uint16_t>, std::vector<size_t>> endpoints;
  for (size_t i = 0; i < snap.calls.size(); ++i) {
    const Call& c = snap.calls[i].call;
    for (size_t k = 0; k < c.media_count; ++k) {
      endpoints[{c.media[k].addr.version, c.media[k].addr.bytes, c.media[k].port}].push_back(i);
    }
  }
  constexpr uint64_t kSlackNs = 1'000'000'000;  // RTP may precede the SIP that announced it
  for (size_t si = 0; si < snap.streams.size(); ++si) {
    StreamRow& r = snap.streams[si];
    const Stream& s = r.stream;
    const std::vector<size_t>* calls = nullptr;
    for (auto [a, port] :
         {std::pair{s.key.dst, s.key.dst_port}, std::pair{s.key.src, s.key.src_port}}) {
      auto it = endpoints.find({a.version, a.bytes, port});
      if (it != endpoints.end()) {
        calls = &it->second;
        break;
      }
    }
    if (!calls) continue;
    size_t best = SIZE_MAX;
    for (size_t ci : *calls) {
      uint64_t start = snap.calls[ci].call.invite_ns;
      bool begun = start <= s.first_ns + kSlackNs;
      if (best == SIZE_MAX) {
        best = ci;
        continue;
      }
      uint64_t best_start = snap.calls[best].call.invite_ns;
      bool best_begun = best_start <= s.first_ns + kSlackNs;
      if ((begun && !best_begun) ||
          (begun == best_begun && (begun ? start > best_start : start < best_start))) {
        best = ci;
      }
    }
    CallRow& call = snap.calls[best];
    r.call_id = std::string(call.call.call_id.view());
    // A dynamic payload type this worker could not name: the call's SDP may.
    if (r.codec == Codec::kUnknown && s.has_pt) {
      for (size_t k = 0; k < call.call.rtpmap_count; ++k) {
        if (call.call.rtpmaps[k].pt == s.payload_type) r.codec = call.call.rtpmaps[k].codec;
      }
    }
    call.streams.push_back(si);
  }
  for (StreamRow& r : snap.streams) r.quality = stream_quality(r.stream, r.codec);
  for (CallRow& c : snap.calls) {
    c.end_ns = c.call.bye_ns ? c.call.bye_ns : c.call.last_ns;
    for (size_t si : c.streams) {
      const StreamRow& r = snap.streams[si];
      if (!c.call.bye_ns) c.end_ns = std::max(c.end_ns, r.stream.last_ns);
      if (r.quality.has_mos && (c.worst_mos < 0 || r.quality.q.mos < c.worst_mos)) {
        c.worst_mos = r.quality.q.mos;
      }
    }
  }
  return snap;
}

void Plugin::collect(std::span<Worker* const> workers, MetricSink& sink) {
  uint64_t messages = 0, retrans = 0, started = 0, evicted = 0, streams_started = 0, packets = 0,
           expected = 0, setup_sum = 0, mos_sum = 0;
  std::array<uint64_t, kMethodCount> req{};
  std::array<uint64_t, 7> classes{};  // by the first digit of the code
  std::array<uint64_t, kErrorCount> bad{};
  std::array<uint64_t, kIncompleteCount> cut{};
  std::array<uint64_t, kSetupBuckets> setup_cum{};
  std::array<uint64_t, kMosBuckets> mos_cum{};
  for (Worker* w : workers) {
    if (!w) continue;
    messages += w->sip_messages.value();
    retrans += w->response_retransmissions.value();
    for (size_t i = 0; i < kMethodCount; ++i) {
      req[i] += w->requests[i].value();
      retrans += w->request_retransmissions[i].value();
    }
    for (size_t i = 0; i < kStatusCodes; ++i) classes[(i + 100) / 100] += w->responses[i].value();
    for (size_t i = 0; i < kErrorCount; ++i) bad[i] += w->malformed[i].value();
    for (size_t i = 0; i < kIncompleteCount; ++i) cut[i] += w->incomplete[i].value();
    started += w->calls_started.value();
    evicted += w->calls_evicted.value();
    streams_started += w->streams_started.value();
    packets += w->rtp_packets.value();
    expected += w->rtp_expected.value();
    setup_sum += w->setup_sum_us.value();
    mos_sum += w->mos_sum_milli.value();
    uint64_t running = 0;
    for (size_t b = 0; b < kSetupBuckets; ++b) setup_cum[b] += running += w->setup[b].value();
    running = 0;
    for (size_t b = 0; b < kMosBuckets; ++b) mos_cum[b] += running += w->mos[b].value();
  }
  sink.sample(messages_id_, {}, static_cast<double>(messages));
  for (size_t i = 0; i < kMethodCount; ++i) {
    sink.sample(requests_id_, {{"method", method_name(static_cast<Method>(i))}},
                static_cast<double>(req[i]));
  }
  static const char* kClasses[] = {"", "1xx", "2xx", "3xx", "4xx", "5xx", "6xx"};
  for (size_t c = 1; c < classes.size(); ++c) {
    sink.sample(responses_id_, {{"class", kClasses[c]}}, static_cast<double>(classes[c]));
  }
  sink.sample(retransmissions_id_, {}, static_cast<double>(retrans));
  for (size_t e = 1; e < kErrorCount; ++e) {
    sink.sample(malformed_id_, {{"reason", error_name(static_cast<Error>(e))}},
                static_cast<double>(bad[e]));
  }
  for (size_t i = 0; i < kIncompleteCount; ++i) {
    sink.sample(incomplete_id_, {{"reason", incomplete_name(static_cast<Incomplete>(i))}},
                static_cast<double>(cut[i]));
  }
  sink.sample(calls_started_id_, {}, static_cast<double>(started));
  sink.sample(calls_evicted_id_, {}, static_cast<double>(evicted));
  sink.histogram(setup_id_, {}, kSetupBounds, setup_cum, static_cast<double>(setup_sum) / 1e6);
  sink.sample(streams_started_id_, {}, static_cast<double>(streams_started));
  sink.sample(rtp_packets_id_, {}, static_cast<double>(packets));
  sink.sample(rtp_expected_id_, {}, static_cast<double>(expected));
  sink.histogram(mos_id_, {}, kMosBounds, mos_cum, static_cast<double>(mos_sum) / 1000.0);

  Snapshot snap = snapshot(workers);
  std::array<uint64_t, kCallStateCount> states{};
  for (const CallRow& c : snap.calls) ++states[static_cast<size_t>(c.call.state)];
  for (size_t s = 0; s < kCallStateCount; ++s) {
    sink.sample(calls_id_, {{"state", call_state_name(static_cast<CallState>(s))}},
                static_cast<double>(states[s]));
  }
  std::vector<const StreamRow*> running;
  for (const StreamRow& r : snap.streams) {
    if (r.stream.state == StreamState::kActive) running.push_back(&r);
  }
  sink.sample(streams_id_, {}, static_cast<double>(running.size()));
  std::erase_if(running, [](const StreamRow* r) { return !r->quality.has_mos; });
  std::sort(running.begin(), running.end(), [](const StreamRow* a, const StreamRow* b) {
    return a->quality.q.mos != b->quality.q.mos ? a->quality.q.mos < b->quality.q.mos
                                                : a->id < b->id;
  });
  constexpr size_t kWorst = 10;
  for (size_t i = 0; i < running.size() && i < kWorst; ++i) {
    const StreamRow& r = *running[i];
    std::string src = endpoint_text(r.stream.key.src, r.stream.key.src_port);
    std::string dst = endpoint_text(r.stream.key.dst, r.stream.key.dst_port);
    std::string ssrc = ssrc_text(r.stream.key.ssrc);
    sink.sample(worst_mos_id_,
                {{"stream", r.id.c_str()},
                 {"src", src.c_str()},
                 {"dst", dst.c_str()},
                 {"ssrc", ssrc.c_str()},
                 {"codec", codec_name(r.codec)}},
                round3(r.quality.q.mos));
  }
}

void Plugin::write_json(std::span<Worker* const> workers, JsonWriter& out) {
  std::array<uint64_t, kMethodCount> req{}, req_retrans{};
  std::array<uint64_t, kStatusCodes> codes{};
  std::array<uint64_t, kErrorCount> bad{};
  std::array<uint64_t, kIncompleteCount> cut{};
  uint64_t messages = 0, keepalives = 0, resp_retrans = 0, started = 0, evicted = 0,
           evicted_active = 0, packets = 0, expected = 0, invalid = 0, untracked = 0,
           streams_started = 0, streams_evicted = 0, rejected = 0;
  for (Worker* w : workers) {
    if (!w) continue;
    messages += w->sip_messages.value();
    keepalives += w->keepalives.value();
    resp_retrans += w->response_retransmissions.value();
    for (size_t i = 0; i < kMethodCount; ++i) {
      req[i] += w->requests[i].value();
      req_retrans[i] += w->request_retransmissions[i].value();
    }
    for (size_t i = 0; i < kStatusCodes; ++i) codes[i] += w->responses[i].value();
    for (size_t i = 0; i < kErrorCount; ++i) bad[i] += w->malformed[i].value();
    for (size_t i = 0; i < kIncompleteCount; ++i) cut[i] += w->incomplete[i].value();
    started += w->calls_started.value();
    evicted += w->calls_evicted.value();
    evicted_active += w->calls_evicted_active.value();
    packets += w->rtp_packets.value();
    expected += w->rtp_expected.value();
    invalid += w->rtp_invalid.value();
    untracked += w->rtp_untracked.value();
    streams_started += w->streams_started.value();
    streams_evicted += w->streams_evicted.value();
    rejected += w->candidates_rejected.value();
  }
  Snapshot snap = snapshot(workers);
  std::sort(snap.calls.begin(), snap.calls.end(), [](const CallRow& a, const CallRow& b) {
    return a.call.invite_ns != b.call.invite_ns ? a.call.invite_ns < b.call.invite_ns
                                                : a.call.call_id.view() < b.call.call_id.view();
  });
  std::array<uint64_t, kCallStateCount> states{};
  for (const CallRow& c : snap.calls) ++states[static_cast<size_t>(c.call.state)];

  out.begin_object().field("sip_messages", messages).field("keepalives", keepalives);
  out.key("requests").begin_object();
  for (size_t i = 0; i < kMethodCount; ++i) {
    if (req[i] || i <= static_cast<size_t>(Method::kOptions)) {
      out.field(method_name(static_cast<Method>(i)), req[i]);
    }
  }
  out.end_object();
  out.key("responses").begin_object();
  for (size_t i = 0; i < kStatusCodes; ++i) {
    if (codes[i]) out.field(std::to_string(i + 100), codes[i]);
  }
  out.end_object();
  out.key("request_retransmissions").begin_object();
  for (size_t i = 0; i < kMethodCount; ++i) {
    if (req_retrans[i]) out.field(method_name(static_cast<Method>(i)), req_retrans[i]);
  }
  out.end_object();
  out.field("response_retransmissions", resp_retrans);
  out.key("malformed").begin_object();
  for (size_t e = 1; e < kErrorCount; ++e) out.field(error_name(static_cast<Error>(e)), bad[e]);
  out.end_object();
  out.key("incomplete").begin_object();
  for (size_t i = 0; i < kIncompleteCount; ++i) {
    out.field(incomplete_name(static_cast<Incomplete>(i)), cut[i]);
  }
  out.end_object();
  out.field("calls_started", started)
      .field("calls_evicted", evicted)
      .field("calls_evicted_active", evicted_active);
  out.key("calls_by_state").begin_object();
  for (size_t s = 0; s < kCallStateCount; ++s) {
    out.field(call_state_name(static_cast<CallState>(s)), states[s]);
  }
  out.end_object();
  out.field("rtp_packets", packets)
      .field("rtp_expected", expected)
      .field("rtp_lost", static_cast<int64_t>(expected) - static_cast<int64_t>(packets))
      .field("rtp_invalid", invalid)
      .field("rtp_untracked", untracked)
      .field("streams_started", streams_started)
      .field("streams_evicted", streams_evicted)
      .field("rtp_candidates_rejected", rejected);
  out.key("calls").begin_array();
  for (const CallRow& c : snap.calls) write_call(out, c, snap, false);
  out.end_array();
  std::vector<size_t> order(snap.streams.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const Stream& x = snap.streams[a].stream;
    const Stream& y = snap.streams[b].stream;
    return x.first_ns != y.first_ns ? x.first_ns < y.first_ns
                                    : snap.streams[a].id < snap.streams[b].id;
  });
  out.key("streams").begin_array();
  for (size_t i : order) write_stream(out, snap.streams[i]);
  out.end_array();
  out.end_object();
}

int Plugin::query(std::span<Worker* const> workers, std::string_view path, const Query& q,
                  JsonWriter& out) {
  if (path == "calls") {
    q.allow_only({"sort", "order", "page", "size", "filter", "state", "from", "to"});
    using R = CallRow;
    using P = const CallRow*;
    auto duration = [](P r) {
      return r->call.answer_ns && r->end_ns >= r->call.answer_ns
                 ? static_cast<int64_t>(r->end_ns - r->call.answer_ns)
                 : -1;
    };
    ListPage<P> page(
        q,
        {{"start", [](P a, P b) { return a->call.invite_ns < b->call.invite_ns; }},
         {"last_seen",
          [](P a, P b) {
            return std::max(a->call.last_ns, a->end_ns) < std::max(b->call.last_ns, b->end_ns);
          }},
         {"duration", [duration](P a, P b) { return duration(a) < duration(b); }},
         {"setup", [](P a, P b) { return a->call.setup_us < b->call.setup_us; }},
         {"ringing", [](P a, P b) { return a->call.ring_us < b->call.ring_us; }},
         {"state", [](P a, P b) { return a->call.state < b->call.state; }},
         {"final_code", [](P a, P b) { return a->call.final_code < b->call.final_code; }},
         {"caller", [](P a, P b) { return a->call.caller.view() < b->call.caller.view(); }},
         {"callee", [](P a, P b) { return a->call.callee.view() < b->call.callee.view(); }},
         {"messages", [](P a, P b) { return a->call.messages < b->call.messages; }},
         {"mos", [](P a, P b) { return a->worst_mos < b->worst_mos; }}},
        "start", [](P a, P b) { return a->call.call_id.view() < b->call.call_id.view(); });
    uint64_t from = q.get_time_ns("from", 0), to = q.get_time_ns("to", UINT64_MAX);
    if (from > to) throw QueryError("from: must not be after to");
    std::string state = q.get_or("state", "");
    if (!state.empty()) {
      bool known = false;
      for (size_t s = 0; s < kCallStateCount; ++s) {
        known |= state == call_state_name(static_cast<CallState>(s));
      }
      if (!known) {
        throw QueryError(
            "state: must be one of calling, trying, ringing, established, completed, failed, "
            "cancelled");
      }
    }
    std::string needle = lower(q.get_or("filter", ""));
    Snapshot snap = snapshot(workers);
    std::vector<const R*> rows;
    for (const R& r : snap.calls) rows.push_back(&r);
    std::erase_if(rows, [&](const R* row) {
      const R& r = *row;
      const Call& c = r.call;
      if (c.invite_ns > to || std::max(c.last_ns, r.end_ns) < from) return true;
      if (!state.empty() && state != call_state_name(c.state)) return true;
      return !(contains(c.call_id.view(), needle) || contains(c.caller.view(), needle) ||
               contains(c.callee.view(), needle) || contains(c.caller_name.view(), needle) ||
               contains(c.caller_agent.view(), needle) || contains(c.callee_agent.view(), needle) ||
               contains(format_addr(c.caller_addr), needle) ||
               contains(format_addr(c.callee_addr), needle));
    });
    page.write(rows, out, [&](JsonWriter& w, const R* r) { write_call(w, *r, snap, false); });
    return 200;
  }
  if (path.substr(0, 6) == "calls/" && path.size() > 6) {
    q.allow_only({});
    std::string id = url_decode(path.substr(6));
    Snapshot snap = snapshot(workers);
    for (const CallRow& r : snap.calls) {
      if (r.call.call_id.view() != id) continue;
      // Looking at a call graphs its media's bit rate, and that of its busiest streams.
      std::string key = call_series_key(r.call.call_id.view());
      call_series_.watch(key);
      out.begin_object().key("call");
      write_call(out, r, snap, true);
      out.field("series", "voip." + key + ".bps");
      std::vector<size_t> streams = r.streams;
      std::stable_sort(streams.begin(), streams.end(), [&](size_t a, size_t b) {
        return snap.streams[a].stream.payload_bytes > snap.streams[b].stream.payload_bytes;
      });
      if (streams.size() > kCallStreamGraphs) streams.resize(kCallStreamGraphs);
      out.key("series_streams").begin_array();
      for (size_t si : streams) {
        series_.watch(snap.streams[si].id);
        out.value("voip." + snap.streams[si].id + ".bps");
      }
      out.end_array().end_object();
      return 200;
    }
    out.begin_object().field("error", "no such call: " + id).end_object();
    return 404;
  }
  if (path == "streams") {
    q.allow_only({"sort", "order", "page", "size", "filter", "call", "from", "to"});
    using R = const StreamRow*;
    auto mos = [](R r) { return r->quality.has_mos ? r->quality.q.mos : -1.0; };
    ListPage<R> page(
        q,
        {{"start", [](R a, R b) { return a->stream.first_ns < b->stream.first_ns; }},
         {"last_seen", [](R a, R b) { return a->stream.last_ns < b->stream.last_ns; }},
         {"packets", [](R a, R b) { return a->stream.stats.packets < b->stream.stats.packets; }},
         {"lost", [](R a, R b) { return a->stream.stats.lost() < b->stream.stats.lost(); }},
         {"loss",
          [](R a, R b) { return a->stream.stats.loss_percent() < b->stream.stats.loss_percent(); }},
         {"jitter", [](R a, R b) { return a->stream.stats.jitter_ms < b->stream.stats.jitter_ms; }},
         {"max_jitter",
          [](R a, R b) { return a->stream.stats.max_jitter_ms < b->stream.stats.max_jitter_ms; }},
         {"mos", [mos](R a, R b) { return mos(a) < mos(b); }},
         {"ssrc", [](R a, R b) { return a->stream.key.ssrc < b->stream.key.ssrc; }}},
        "start", [](R a, R b) { return a->id < b->id; });
    uint64_t from = q.get_time_ns("from", 0), to = q.get_time_ns("to", UINT64_MAX);
    if (from > to) throw QueryError("from: must not be after to");
    std::string needle = lower(q.get_or("filter", ""));
    auto call = q.get("call");
    Snapshot snap = snapshot(workers);
    std::vector<R> rows;
    for (const StreamRow& r : snap.streams) {
      const Stream& s = r.stream;
      if (s.first_ns > to || s.last_ns < from) continue;
      if (call && r.call_id != *call) continue;
      if (!(contains(r.id, needle) || contains(ssrc_text(s.key.ssrc), needle) ||
            contains(format_addr(s.key.src), needle) || contains(format_addr(s.key.dst), needle) ||
            contains(codec_name(r.codec), needle) || contains(r.call_id, needle))) {
        continue;
      }
      rows.push_back(&r);
    }
    page.write(rows, out, [](JsonWriter& w, R r) { write_stream(w, *r); });
    return 200;
  }
  if (path.substr(0, 8) == "streams/" && path.size() > 8) {
    q.allow_only({});
    std::string id = url_decode(path.substr(8));
    Snapshot snap = snapshot(workers);
    for (const StreamRow& r : snap.streams) {
      if (r.id == id) {
        series_.watch(id);  // looking at a stream graphs its bit rate
        out.begin_object().key("stream");
        write_stream(out, r);
        out.field("series", "voip." + id + ".bps").end_object();
        return 200;
      }
    }
    out.begin_object().field("error", "no such stream: " + id).end_object();
    return 404;
  }
  return 404;
}

void Plugin::on_tick(std::span<Worker* const> workers, uint64_t now_ns) {
  Snapshot snap = snapshot(workers);
  std::vector<std::pair<std::string, uint64_t>> bytes;
  for (const StreamRow& r : snap.streams) bytes.emplace_back(r.id, r.stream.payload_bytes);
  series_.update(host_, now_ns, bytes);

  // Every call, those without media too: a call being viewed is graphed only if listed here.
  std::vector<std::pair<std::string, uint64_t>> call_bytes;
  call_bytes.reserve(snap.calls.size());
  for (const CallRow& c : snap.calls) {
    uint64_t sum = 0;
    for (size_t si : c.streams) sum += snap.streams[si].stream.payload_bytes;
    call_bytes.emplace_back(call_series_key(c.call.call_id.view()), sum);
  }
  call_series_.update(host_, now_ns, call_bytes);
}

std::string call_series_key(std::string_view call_id) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "call.%016llx",
                static_cast<unsigned long long>(hash_bytes(call_id.data(), call_id.size())));
  return buf;
}

}  // namespace wiremeter::voip

WIREMETER_ANALYZER_PLUGIN(wiremeter::voip::Plugin)

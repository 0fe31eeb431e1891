// tls: the data path. Everything here runs on the worker's thread, allocates nothing and never
// throws; OpenSSL is called only for a complete Certificate message whose certificates are not
// in the table yet.
#include <algorithm>
#include <cstring>

#include "tls_plugin.hpp"

namespace wiremeter::tls {
namespace {

constexpr uint8_t kProtoTcp = 6, kTcpSyn = 0x02, kTcpAck = 0x10, kTcpRst = 0x04;
constexpr uint8_t kFatal = 2;

Addr addr_of(const uint8_t* a, uint8_t version) {
  Addr r;
  r.version = version;
  std::memcpy(r.bytes.data(), a, version == 4 ? 4 : 16);
  return r;
}

// The payload the view describes, clipped to the captured bytes.
std::span<const uint8_t> payload_of(const wm_packet& p) {
  if (!p.data || p.payload_len == 0 || p.payload_off >= p.cap_len) return {};
  return {p.data + p.payload_off, std::min<size_t>(p.payload_len, p.cap_len - p.payload_off)};
}

uint32_t load32(const uint8_t* b) {
  return uint32_t{b[0]} << 24 | uint32_t{b[1]} << 16 | uint32_t{b[2]} << 8 | b[3];
}

template <size_t N>
void copy_text(char (&dst)[N], std::string_view src) {
  size_t n = std::min(src.size(), N - 1);
  std::memcpy(dst, src.data(), n);
  dst[n] = '\0';
}

}  // namespace

const char* event_name(Event e) {
  switch (e) {
    case Event::kNotTls:
      return "not_tls";
    case Event::kSlotExhausted:
      return "slot_exhausted";
    case Event::kTruncated:
      return "truncated";
    case Event::kHelloRetry:
      return "hello_retry_request";
    case Event::kUnfinished:
      return "unfinished";
    case Event::kCount:
      break;
  }
  return "unknown";
}

// Turns what the record walker finds in one direction into the session's fields.
class Worker::Events final : public RecordEvents {
 public:
  Events(Worker& w, Session& s, int dir) : w_(w), s_(s), dir_(dir), client_(dir == s.client_dir) {}

  void on_handshake(uint8_t type, std::span<const uint8_t> body) noexcept override {
    Connection& c = s_.conn;
    if (client_) {
      if (type != kClientHelloType || c.has_client_hello) return;  // a second one: after HRR
      ClientHello& ch = w_.client_hello_;
      if (Malformed m = parse_client_hello(body, ch); m != Malformed::kNone) {
        stop(m);
        return;
      }
      c.has_client_hello = true;
      w_.client_hellos.add();
      c.client_version = ch.max_supported_version ? ch.max_supported_version : ch.legacy_version;
      c.cipher_count = ch.cipher_count;
      c.sni_len = ch.sni_len;
      std::memcpy(c.sni, ch.sni, sizeof c.sni);
      std::memcpy(c.alpn_offered, ch.alpn, sizeof c.alpn_offered);
      s_.client_session_id_len = ch.session_id_len;
      std::memcpy(s_.client_session_id, ch.session_id, sizeof s_.client_session_id);
      return;
    }
    switch (type) {
      case kServerHelloType: {
        if (c.has_server_hello) return;
        ServerHello& sh = w_.server_hello_;
        if (Malformed m = parse_server_hello(body, sh); m != Malformed::kNone) {
          stop(m);
          return;
        }
        if (sh.hello_retry_request) {
          // The client answers with a second ClientHello; the real ServerHello follows.
          w_.events[static_cast<size_t>(Event::kHelloRetry)].add();
          return;
        }
        c.has_server_hello = true;
        c.version = sh.version();
        c.cipher = sh.cipher;
        copy_text(c.alpn, std::string_view(sh.alpn, sh.alpn_len));
        s_.tls13 = c.version == 0x0304 || (c.version >> 8) == 0x7f;
        if (s_.tls13) {
          // Resumption is a PSK the server accepted; the session id is only echoed for
          // middlebox compatibility (RFC 8446 D.4). The rest of the flight is encrypted.
          c.resumed = sh.pre_shared_key;
          c.curve = sh.key_share_group;
          DirectionState& st = s_.dir[dir_];
          st.encrypted = true;
          st.fragment_count = 0;
          s_.side_encrypted[dir_] = true;
        } else {
          c.resumed = sh.session_id_len && sh.session_id_len == s_.client_session_id_len &&
                      std::memcmp(sh.session_id, s_.client_session_id, sh.session_id_len) == 0;
        }
        return;
      }
      case kCertificateType:
        if (!s_.has_leaf && !s_.tls13 && c.chain_length == 0) w_.on_server_certificate(s_, body);
        return;
      case kServerKeyExchangeType:
        if (c.has_server_hello && cipher_uses_ecdhe(c.cipher)) {
          uint16_t group = 0;
          if (Malformed m = parse_server_key_exchange_curve(body, group); m != Malformed::kNone) {
            w_.malformed[static_cast<size_t>(m)].add();
            return;
          }
          c.curve = group;
        }
        return;
      default:
        return;
    }
  }

  void on_change_cipher_spec() noexcept override { s_.side_encrypted[dir_] = true; }

  void on_alert(uint8_t level, uint8_t description) noexcept override {
    Connection& c = s_.conn;
    c.alert = true;
    c.alert_from_server = !client_;
    c.alert_level = level;
    c.alert_description = description;
    w_.alerts_total.add();
    w_.alerts[description].add();
    if (level == kFatal) s_.finished = true;
  }

  void on_encrypted_record(uint8_t content_type) noexcept override {
    // A TLS 1.3 client switches to its handshake keys without a ChangeCipherSpec when it skips
    // the middlebox-compatibility one: its first application_data record is the switch.
    if (s_.tls13 && client_ && content_type == kApplicationData) s_.side_encrypted[dir_] = true;
    if (s_.side_encrypted[0] && s_.side_encrypted[1] && s_.conn.has_server_hello) {
      s_.conn.established = true;
      s_.finished = true;
    }
  }

  void on_malformed(Malformed reason) noexcept override {
    w_.malformed[static_cast<size_t>(reason)].add();
  }

 private:
  void stop(Malformed m) {
    w_.malformed[static_cast<size_t>(m)].add();
    s_.dir[dir_].stopped = true;
  }

  Worker& w_;
  Session& s_;
  int dir_;
  bool client_;
};

Worker::Worker(uint32_t state_offset, const Config& config)
    : slot_(state_offset),
      config_(config),
      pool_(config.stream_slots, config.stream_bytes),
      sessions_(config.stream_slots),
      scratch_(pool_.capacity()),
      walker_(scratch_.data(), pool_.capacity()),
      server_names_(config.server_names),
      certificates_(config.certificates),
      connections_(config.connections) {}

void Worker::on_batch(std::span<const wm_packet> packets) noexcept {
  for (const wm_packet& p : packets) {
    if (p.l4_proto != kProtoTcp || !(p.flags & WM_PKT_L4)) continue;
    FlowState* state = slot_.get(p);
    if (!state || state->phase == kDone) continue;
    if (state->phase == kUndecided) {
      std::span<const uint8_t> payload = payload_of(p);
      if (payload.empty()) continue;  // handshake and ACKs: wait for the first byte of data
      if (!looks_like_client_hello(payload)) {
        // The first data is not a ClientHello (not TLS, a server that speaks first, or a flow
        // joined in the middle): nothing to read in it.
        state->phase = kDone;
        events[static_cast<size_t>(Event::kNotTls)].add();
        continue;
      }
      state->client_dir = p.direction & 1;
      state->phase = kTracking;
    }
    track(p, *state);
  }
}

void Worker::track(const wm_packet& p, FlowState& state) noexcept {
  bool fresh = state.stream.slot == 0;
  TcpStreamUpdate u = pool_.add(state.stream, p);
  if (!u.active) {
    if (state.stream.slot == TcpStreamHandle::kRefused && fresh) {
      events[static_cast<size_t>(Event::kSlotExhausted)].add();
    }
    state.phase = kDone;
    return;
  }
  Session& s = sessions_[state.stream.slot - 1];
  if (fresh) {
    s = Session{};
    s.client_dir = state.client_dir;
    Connection& c = s.conn;
    c.ts_ns = p.ts_ns;
    c.client = addr_of(p.src_addr, p.ip_version);
    c.server = addr_of(p.dst_addr, p.ip_version);
    c.client_port = p.src_port;
    c.server_port = p.dst_port;
    // The client's ACK tells where the server's stream starts (the client speaks first, so it
    // acknowledges the server's SYN only). Giving the pool that start, as a SYN would, puts the
    // server's segments in order even when the first one seen is not the first one sent.
    if ((p.tcp_flags & kTcpAck) && p.l4_off + 20u <= p.cap_len) {
      uint32_t ack = load32(p.data + p.l4_off + 8);
      uint8_t tcp[20] = {};
      uint32_t syn_seq = ack - 1;
      for (int i = 0; i < 4; ++i) tcp[4 + i] = static_cast<uint8_t>(syn_seq >> (24 - 8 * i));
      wm_packet syn{};
      syn.data = tcp;
      syn.cap_len = syn.wire_len = sizeof tcp;
      syn.flags = WM_PKT_L4;
      syn.l4_proto = kProtoTcp;
      syn.tcp_flags = kTcpSyn;
      syn.direction = static_cast<uint8_t>(s.client_dir ^ 1);
      pool_.add(state.stream, syn);
    }
  }
  if (u.grew || u.truncated) {
    int dir = u.direction;
    DirectionState& st = s.dir[dir];
    if (!st.stopped) {
      Events ev(*this, s, dir);
      walker_.walk(u.data, u.truncated, st, ev);
      if (st.truncated) events[static_cast<size_t>(Event::kTruncated)].add();
    }
    // Nothing more can be learnt once the server's side stops (malformed, or its flight went
    // past the buffer), or when the client's stops before its ClientHello was read.
    if (s.dir[s.client_dir ^ 1].stopped ||
        (s.dir[s.client_dir].stopped && !s.conn.has_client_hello)) {
      s.finished = true;
    }
  }
  if ((p.tcp_flags & kTcpRst) && !s.finished) s.finished = true;
  if (s.finished) finish(s, state);
}

void Worker::on_server_certificate(Session& s, std::span<const uint8_t> body) noexcept {
  if (Malformed m = parse_certificate(body, false, chain_); m != Malformed::kNone) {
    malformed[static_cast<size_t>(m)].add();
    return;
  }
  if (chain_.count == 0) return;
  Connection& c = s.conn;
  c.chain_length = static_cast<uint8_t>(std::min<uint16_t>(chain_.total, 255));
  std::string_view sni(c.sni, c.sni_len);
  std::lock_guard lock(mutex_);
  for (uint8_t i = 0; i < chain_.count; ++i) {
    uint8_t fp[32];
    sha256(chain_.der[i], fp);
    CertificateEntry* e = certificates_.find(fp);
    const CertInfo* info = e ? &e->info : nullptr;
    if (!e) {
      // New: read it once; the table keeps the result for every later handshake.
      certificates_seen.add();
      parse_certificate_der(chain_.der[i], cert_scratch_);
      e = certificates_.insert(cert_scratch_);
      info = e ? &e->info : &cert_scratch_;
    }
    if (e) {
      if (i == 0) {
        ++e->leaf_handshakes;
        e->add_server(sni);
      } else {
        ++e->chain_handshakes;
      }
      if (!e->first_ns || c.ts_ns < e->first_ns) e->first_ns = c.ts_ns;
      e->last_ns = std::max(e->last_ns, c.ts_ns);
    }
    if (i < c.chain.size()) {
      std::memcpy(c.chain[i].data(), info->sha256, 32);
      c.chain_kept = static_cast<uint8_t>(i + 1);
    }
    if (i == 0) {
      s.leaf = *info;
      s.has_leaf = true;
    }
  }
}

void Worker::finish(Session& s, FlowState& state) noexcept {
  Connection& c = s.conn;
  if (!c.has_server_hello || (!c.established && !c.alert)) {
    events[static_cast<size_t>(Event::kUnfinished)].add();
  }
  int64_t now_s = static_cast<int64_t>(c.ts_ns / 1'000'000'000ull);
  std::string_view sni(c.sni, c.sni_len);
  if (s.has_leaf) {
    c.has_certificate = true;
    c.not_before = s.leaf.not_before;
    c.not_after = s.leaf.not_after;
    std::memcpy(c.subject, s.leaf.subject, sizeof c.subject);
    std::memcpy(c.issuer, s.leaf.issuer, sizeof c.issuer);
    c.cert_flags = validity_flags(s.leaf, now_s, config_.expiring_days);
    if (!sni.empty() && s.leaf.parsed) {
      bool match = certificate_matches_host(s.leaf, sni);
      c.sni_matches_cert = match ? 1 : 0;
      if (!match) c.cert_flags |= kSniMismatch;
    }
    for (size_t b = 0; b < kCertFlagCount; ++b) {
      if (c.cert_flags & (1u << b)) cert_flags[b].add();
    }
  }
  sni_matches[static_cast<size_t>(c.sni_matches_cert + 1)].add();
  if (c.has_server_hello) {
    handshakes.add();
    versions[static_cast<size_t>(version_slot(c.version))].add();
    if (c.established) established.add();
    if (c.resumed) resumed.add();
  }
  {
    std::lock_guard lock(mutex_);
    if (c.has_server_hello) ciphers_.add(c.cipher);
    if (!sni.empty()) {
      if (ServerNameEntry* e = server_names_.at(sni)) {
        if (!e->first_ns || c.ts_ns < e->first_ns) e->first_ns = c.ts_ns;
        if (c.ts_ns >= e->last_ns) {
          e->last_ns = c.ts_ns;
          if (c.has_server_hello) {
            e->last_version = c.version;
            e->last_cipher = c.cipher;
          }
          if (s.has_leaf) {
            e->has_certificate = true;
            e->certificate_flags = c.cert_flags;
            std::memcpy(e->certificate_sha256, s.leaf.sha256, 32);
          }
        }
        ++e->handshakes;
        if (c.has_server_hello) ++e->versions[static_cast<size_t>(version_slot(c.version))];
        if (c.established) ++e->established;
        if (c.resumed) ++e->resumed;
        if (c.alert) ++e->alerts;
      }
    }
  }
  connections_.push(c);
  pool_.release(state.stream);
  state.phase = kDone;
  s.finished = false;
}

void Worker::on_flow_end(const wm_flow_info&, FlowState& state) noexcept {
  if (state.phase != kTracking) return;
  // Still reading: the flow ended (or was evicted) before the handshake was complete. Log what
  // was seen. A slot whose generation moved on belongs to another flow: the pool refuses it.
  if (!pool_.contiguous(state.stream, 0).data() && !pool_.contiguous(state.stream, 1).data()) {
    pool_.release(state.stream);
    state.phase = kDone;
    return;
  }
  finish(sessions_[state.stream.slot - 1], state);
}

}  // namespace wiremeter::tls

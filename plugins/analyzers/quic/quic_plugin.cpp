// quic: the data path (Worker) and the settings (read with the SDK's SettingsSection). The
// control plane (metrics, report, REST views) is in quic_views.cpp.
#include "quic_plugin.hpp"

#include <algorithm>
#include <cstring>
#include <utility>
#include <wiremeter/settings.hpp>

namespace wiremeter::quic {
namespace {

constexpr uint8_t kProtoUdp = 17;
// RFC 9000 14.1: a client pads every datagram with an Initial packet to at least 1200 bytes.
constexpr size_t kMinInitialDatagram = 1200;
// CRYPTO frames of one Initial packet that are kept track of (Chrome splits its ClientHello
// into a handful, interleaved with PING and PADDING).
constexpr size_t kMaxFramesPerPacket = 64;

// The payload the view describes, clipped to the captured bytes.
std::pair<const uint8_t*, size_t> payload_of(const wm_packet& p) {
  if (!p.data || p.payload_len == 0 || p.payload_off >= p.cap_len) return {nullptr, 0};
  size_t n = std::min<size_t>(p.payload_len, p.cap_len - p.payload_off);
  return {p.data + p.payload_off, n};
}

Addr addr_of(const uint8_t* a, uint8_t version) {
  Addr r;
  r.version = version;
  std::memcpy(r.bytes.data(), a, version == 4 ? 4 : 16);
  return r;
}

void copy_cid(uint8_t* dst, uint8_t& dst_len, const uint8_t* src, uint8_t len) {
  dst_len = std::min<uint8_t>(len, static_cast<uint8_t>(kMaxCid));
  if (dst_len) std::memcpy(dst, src, dst_len);
}

struct CryptoFrame {
  uint64_t offset;
  const uint8_t* data;
  size_t len;
};

}  // namespace

Limits parse_settings(std::string_view json) {
  Limits l;
  SettingsSection s("quic", json);
  s.get("connections", l.connections, 1, 4'000'000)
      .get("server_names", l.server_names, 1, 1'000'000)
      .get("handshake_slots", l.handshake_slots, 1, 65535)
      .get("initial_packets", l.initial_packets, 1, 32);
  s.done();
  return l;
}

const char* overflow_name(Overflow o) {
  switch (o) {
    case Overflow::kConnections:
      return "connections";
    case Overflow::kServerNames:
      return "server_names";
    case Overflow::kHandshakeSlots:
      return "handshake_slots";
    case Overflow::kCount:
      break;
  }
  return "unknown";
}

// ------------------------------------------------------------------------------------------
// Worker (data path)
// ------------------------------------------------------------------------------------------

Worker::Worker(uint32_t state_offset, uint32_t worker_id, const Limits& limits)
    : slot_(state_offset),
      worker_id_(worker_id),
      limits_(limits),
      connections_(limits.connections),
      server_names_(limits.server_names),
      handshakes_(limits.handshake_slots),
      scratch_(65536) {}

void Worker::on_batch(std::span<const wm_packet> packets) noexcept {
  for (const wm_packet& p : packets) {
    if (p.l4_proto != kProtoUdp || !(p.flags & WM_PKT_L4) || !p.flow) continue;
    FlowState* s = slot_.get(p);
    if (!s || s->status == FlowState::kNotQuic) continue;
    auto [data, len] = payload_of(p);
    if (len == 0) continue;
    if (s->status == FlowState::kUnknown && !classify(p, *s, data, len)) continue;
    handle(p, *s, data, len);
  }
}

bool Worker::classify(const wm_packet& p, FlowState& s, const uint8_t* data, size_t len) noexcept {
  // The first datagram with payload decides, once: most UDP flows cost this one check.
  s.status = FlowState::kNotQuic;
  bool port_443 = p.src_port == 443 || p.dst_port == 443;
  if (len < kMinInitialDatagram && !port_443) return false;
  LongHeader h;
  uint32_t version = 0;
  const uint8_t* cid = nullptr;
  size_t data_offset = 0;
  bool gquic = false;
  if (is_long_header(data[0])) {
    if (parse_long_header(data, len, h) != Error::kNone || !h.version.known) return false;
    version = h.version.version;
  } else if (parse_gquic_public_header(data, len, version, cid, data_offset)) {
    gquic = true;
  } else {
    return false;
  }
  s.status = FlowState::kQuic;
  s.gquic = gquic;
  connections.add();
  uint8_t version_slot = versions.slot(version);
  s.version_slot = static_cast<uint8_t>(version_slot + 1);
  versions.rows[version_slot].connections.fetch_add(1, std::memory_order_relaxed);
  versions.rows[version_slot].seen(p.ts_ns);

  std::lock_guard lock(mutex_);
  uint32_t ref = connections_.acquire();
  if (!ref) {
    overflow[static_cast<size_t>(Overflow::kConnections)].add();
    if (rowless_since_ns_ == UINT64_MAX) rowless_since_ns_ = p.ts_ns;
    return true;
  }
  s.connection = ref;
  Connection& c = connections_.at(ref);
  const wm_flow_info& f = *p.flow;
  c.flow_id = f.id;
  c.first_ns = f.first_ns ? f.first_ns : p.ts_ns;
  c.active = true;
  c.client = addr_of(f.addr[0], f.ip_version ? f.ip_version : p.ip_version);
  c.server = addr_of(f.addr[1], f.ip_version ? f.ip_version : p.ip_version);
  c.client_port = f.port[0];
  c.server_port = f.port[1];
  c.version = version;
  bool from_client = p.direction == WM_DIR_FORWARD;
  if (gquic) {
    copy_cid(c.dcid, c.dcid_len, cid, 8);  // gQUIC has one 8-byte connection ID
  } else if (from_client) {
    copy_cid(c.dcid, c.dcid_len, h.dcid, h.dcid_len);
    copy_cid(c.scid, c.scid_len, h.scid, h.scid_len);
  }
  return true;
}

void Worker::count_type(Connection* conn, PacketType t) noexcept {
  packet_types[static_cast<size_t>(t)].add();
  if (conn) live_add(conn->types[static_cast<size_t>(t)], 1);
}

void Worker::handle(const wm_packet& p, FlowState& s, const uint8_t* data, size_t len) noexcept {
  datagrams.add();
  bytes.add(p.wire_len);
  if (s.version_slot && s.version_slot <= versions.rows.size()) {
    versions.rows[s.version_slot - 1].seen(p.ts_ns);
  }
  const wm_flow_info& f = *p.flow;
  Connection* conn = connections_.get(s.connection, f.id);
  if (conn) {
    // The core's per-flow counters already include this batch: copy, never add.
    uint64_t before = conn->bytes[0] + conn->bytes[1];
    live_store(conn->last_ns, p.ts_ns);
    live_store(conn->packets[0], f.packets[0]);
    live_store(conn->packets[1], f.packets[1]);
    live_store(conn->bytes[0], f.bytes[0]);
    live_store(conn->bytes[1], f.bytes[1]);
    if (conn->server_name_ref) {
      ServerName& n = server_names_.row(conn->server_name_ref);
      uint64_t after = f.bytes[0] + f.bytes[1];
      if (after > before) live_add(n.bytes, after - before);
      live_store(n.last_ns, p.ts_ns);
    }
  }
  bool from_client = p.direction == WM_DIR_FORWARD;

  // A datagram may hold several coalesced long-header packets (RFC 9000 12.2); a short header
  // packet, which has no length, is always the last.
  size_t pos = 0;
  while (pos < len) {
    const uint8_t* pk = data + pos;
    size_t rest = len - pos;
    if (!is_long_header(pk[0])) {
      if (s.gquic) {
        count_type(conn, PacketType::kGquic);
        uint32_t version = 0;
        const uint8_t* cid = nullptr;
        size_t off = 0;
        if (from_client && !s.hello_done && pos == 0 &&
            parse_gquic_public_header(pk, rest, version, cid, off)) {
          hello_.clear();
          read_hello(false, pk + off, rest - off);
          if (hello_.chlo) {
            finish_hello(p, s, conn, Decryption::kCleartext);
          } else if (++s.initial_tries >= limits_.initial_packets) {
            give_up(p, s);
          }
        }
      } else {
        count_type(conn, PacketType::kShort);
      }
      return;
    }
    LongHeader h;
    Error e = parse_long_header(pk, rest, h);
    if (e != Error::kNone) {
      malformed[static_cast<size_t>(e)].add();
      return;
    }
    if (!h.version.known && h.type != PacketType::kVersionNegotiation) return;  // trailing junk
    count_type(conn, h.type);
    if (from_client && h.type == PacketType::kInitial && !s.hello_done) {
      if (h.version.gquic_q046) {
        // Q046 sends the CHLO in clear, in a STREAM frame after a 12-byte message hash.
        hello_.clear();
        read_hello(false, pk + h.pn_offset, h.packet_len - h.pn_offset);
        if (hello_.chlo) {
          finish_hello(p, s, conn, Decryption::kCleartext);
        } else if (++s.initial_tries >= limits_.initial_packets) {
          give_up(p, s);
        }
      } else {
        client_initial(p, s, conn, h, pk);
      }
    } else if (!from_client && !s.server_scid && conn &&
               (h.type == PacketType::kInitial || h.type == PacketType::kHandshake)) {
      // The connection ID the server chose, as Zeek's server_scid: from its first packet.
      std::lock_guard lock(mutex_);
      copy_cid(conn->server_scid, conn->server_scid_len, h.scid, h.scid_len);
      conn->server_scid_seen = true;
      s.server_scid = 1;
    }
    if (h.packet_len == 0) return;
    pos += h.packet_len;
  }
}

Error Worker::try_decrypt(const InitialKeys& keys, const LongHeader& h, const uint8_t* packet,
                          const uint8_t*& plain, size_t& plain_len) noexcept {
  if (h.packet_len > scratch_.size()) return Error::kBadLength;
  std::memcpy(scratch_.data(), packet, h.packet_len);
  size_t offset = 0;
  uint64_t pn = 0;
  Error e =
      crypto_.decrypt(keys, scratch_.data(), h.packet_len, h.pn_offset, offset, plain_len, pn);
  if (e == Error::kNone) plain = scratch_.data() + offset;
  return e;
}

void Worker::set_decryption(Connection* conn, Decryption d) noexcept {
  if (!conn || conn->decryption == d) return;
  std::lock_guard lock(mutex_);
  conn->decryption = d;
}

void Worker::client_initial(const wm_packet& p, FlowState& s, Connection* conn, const LongHeader& h,
                            const uint8_t* packet) noexcept {
  const uint64_t flow_id = p.flow->id;
  if (!h.version.salt) {
    // A version whose Initial keys nobody published (other mvfst, Q051+, T052+).
    decrypt_unsupported.add();
    set_decryption(conn, Decryption::kUnsupported);
    s.hello_done = 1;
    return;
  }
  if (s.initial_tries >= limits_.initial_packets) {
    give_up(p, s);
    return;
  }
  ++s.initial_tries;

  // Keys: those that decrypted this flow's earlier Initials (they derive from the client's
  // first DCID, which later Initials no longer carry), else from this packet's DCID (the first
  // Initial, or the first after a Retry, whose DCID is the Retry's SCID).
  HandshakeSlot* hs = handshakes_.get(s.handshake, flow_id);
  const uint8_t* plain = nullptr;
  size_t plain_len = 0;
  Error e = Error::kDecryptFailed;
  if (hs) e = try_decrypt(hs->keys, h, packet, plain, plain_len);
  InitialKeys keys;
  bool fresh = false;
  if (e != Error::kNone && crypto_.derive(h.version, h.dcid, h.dcid_len, false, keys)) {
    e = try_decrypt(keys, h, packet, plain, plain_len);
    fresh = e == Error::kNone;
  }
  if (e != Error::kNone) {
    decrypt_failed.add();
    malformed[static_cast<size_t>(e)].add();
    if (!s.decrypted) set_decryption(conn, Decryption::kFailed);
    if (s.initial_tries >= limits_.initial_packets) give_up(p, s);
    return;
  }
  decrypt_ok.add();
  if (!s.decrypted) {
    s.decrypted = 1;
    versions.at(h.version.version).decrypted.fetch_add(1, std::memory_order_relaxed);
    set_decryption(conn, Decryption::kOk);
  }

  std::array<CryptoFrame, kMaxFramesPerPacket> frames;
  size_t n_frames = 0;
  Error fe = for_each_crypto_frame(plain, plain_len, [&](uint64_t off, const uint8_t* d, size_t n) {
    if (n_frames < frames.size()) frames[n_frames++] = {off, d, n};
  });
  if (fe != Error::kNone) malformed[static_cast<size_t>(fe)].add();
  bool tls = h.version.tls;

  if (!hs) {
    if (n_frames == 0) {
      if (s.initial_tries >= limits_.initial_packets) give_up(p, s);
      return;
    }
    // The common case: the whole ClientHello in one CRYPTO frame of the first Initial. It is
    // read where it lies, without a handshake slot.
    if (n_frames == 1 && frames[0].offset == 0) {
      size_t need = tls ? handshake_message_size(frames[0].data, frames[0].len) : 0;
      if (tls ? need && need <= frames[0].len : true) {
        if (read_hello(tls, frames[0].data, frames[0].len) && (tls || hello_.complete)) {
          finish_hello(p, s, conn, Decryption::kOk);
          return;
        }
        if (tls) {
          s.hello_done = 1;  // a whole message that is no ClientHello: nothing more to read
          return;
        }
      }
    }
    uint16_t ref = handshakes_.acquire(flow_id, p.ts_ns);
    if (!ref) {
      overflow[static_cast<size_t>(Overflow::kHandshakeSlots)].add();
      // No room to reassemble: read what the first frame holds, if it starts the stream.
      for (size_t i = 0; i < n_frames; ++i) {
        if (frames[i].offset == 0 && read_hello(tls, frames[i].data, frames[i].len)) {
          finish_hello(p, s, conn, Decryption::kOk);
          return;
        }
      }
      if (s.initial_tries >= limits_.initial_packets) give_up(p, s);
      return;
    }
    s.handshake = ref;
    hs = handshakes_.get(ref, flow_id);
    hs->keys = keys;
  } else if (fresh) {
    hs->keys = keys;  // a Retry changed the keys
  }
  hs->last_ns = p.ts_ns;
  for (size_t i = 0; i < n_frames; ++i) hs->add(frames[i].offset, frames[i].data, frames[i].len);

  const uint8_t* stream = hs->data.data();
  size_t have = hs->contiguous;
  bool whole;
  if (tls) {
    size_t need = handshake_message_size(stream, have);
    whole = (need && need <= have) || have == kCryptoBuffer;
  } else {
    hello_.clear();
    parse_chlo(stream, have, hello_);
    whole = (hello_.chlo && hello_.complete) || have == kCryptoBuffer;
  }
  bool last_try = s.initial_tries >= limits_.initial_packets;
  if (!whole && !last_try) return;
  if (have && read_hello(tls, stream, have)) {
    finish_hello(p, s, conn, Decryption::kOk);
  } else {
    give_up(p, s);
  }
}

bool Worker::read_hello(bool tls, const uint8_t* data, size_t len) noexcept {
  hello_.clear();
  Error e = tls ? parse_client_hello(data, len, hello_) : parse_chlo(data, len, hello_);
  if (e != Error::kNone) {
    malformed[static_cast<size_t>(e)].add();
    return false;
  }
  return tls || hello_.chlo;
}

void Worker::give_up(const wm_packet& p, FlowState& s) noexcept {
  s.hello_done = 1;
  if (s.handshake) {
    handshakes_.release(s.handshake, p.flow->id);
    s.handshake = 0;
  }
}

void Worker::finish_hello(const wm_packet& p, FlowState& s, Connection* conn,
                          Decryption how) noexcept {
  give_up(p, s);
  (hello_.complete ? hellos_complete : hellos_partial).add();
  uint32_t version = conn ? conn->version : 0;
  std::lock_guard lock(mutex_);
  uint32_t name_ref = 0;
  if (hello_.has_server_name && hello_.server_name[0]) {
    name_ref = server_names_.at(hello_.server_name, p.ts_ns);
    if (name_ref > server_names_.size())
      overflow[static_cast<size_t>(Overflow::kServerNames)].add();
    ServerName& n = server_names_.row(name_ref);
    ++n.connections;
    live_store(n.last_ns, p.ts_ns);
    if (conn) {
      live_add(n.bytes, conn->bytes[0] + conn->bytes[1]);
      versions.at(version).server_names.fetch_add(1, std::memory_order_relaxed);
    }
  }
  if (!conn) return;
  conn->hello = hello_;
  conn->has_hello = true;
  conn->decryption = how;
  conn->server_name_ref = name_ref;
}

void Worker::on_flow_end(const wm_flow_info& flow, FlowState& s) noexcept {
  if (s.handshake) {
    handshakes_.release(s.handshake, flow.id);
    s.handshake = 0;
  }
  if (s.version_slot && s.version_slot <= versions.rows.size() && flow.last_ns) {
    versions.rows[s.version_slot - 1].seen(flow.last_ns);
  }
  Connection* conn = connections_.get(s.connection, flow.id);
  if (!conn) return;
  live_store(conn->last_ns, flow.last_ns);
  live_store(conn->packets[0], flow.packets[0]);
  live_store(conn->packets[1], flow.packets[1]);
  live_store(conn->bytes[0], flow.bytes[0]);
  live_store(conn->bytes[1], flow.bytes[1]);
  std::lock_guard lock(mutex_);
  connections_.end(s.connection);
  s.connection = 0;
}

void Worker::worker_tick(uint64_t now_ns) noexcept {
  handshakes_.expire(now_ns, limits_.handshake_idle_ns);
}

}  // namespace wiremeter::quic

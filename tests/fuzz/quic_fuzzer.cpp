// libFuzzer target for the quic plugin: its header, frame, ClientHello and CHLO readers alone,
// then its whole data path (classification, coalesced packets, Initial decryption, reassembly
// in handshake slots, tables) and its JSON report, on the same input.
//
// Input: one control byte, then a UDP payload.
//   bit 0  from the server side (the reverse direction of the flow)
//   bit 1  end the flow afterwards
//   bit 2  run the worker's tick 10 s later (handshake slots expire)
//   bit 3  the payload is the *plaintext* of an Initial packet: the target wraps it into a
//          validly protected client Initial, so that the frame and ClientHello readers behind
//          the decryption see fuzzed input too
//   bits 4-5  the version of that Initial: v1, v2, draft-29, Q050
//   bit 6  the wrapped Initial uses the DCID of the flow's first packet for its keys (a later
//          Initial of the same connection) rather than its own
//
// Built with clang's -fsanitize=fuzzer,address,undefined, so any out-of-bounds read or undefined
// behaviour stops the run. Compiled with WM_FUZZER_CORPUS_MAIN instead, this file is the
// program that cuts the seed corpus out of pcap files: the payloads of UDP datagrams that start
// with a QUIC long header or are on port 443, plus two built ClientHello plaintexts (bit 3).
#ifdef WM_FUZZER_CORPUS_MAIN

#include <string>

#include "seed_corpus.hpp"

namespace {

// The plaintext of a client Initial (control byte with bit 3): a CRYPTO frame with a small
// ClientHello (SNI, ALPN h3, supported_versions, transport parameters), split in two frames in
// the second seed. The captures' Initials are encrypted, so these give the fuzzer a start.
std::string hello_seed(bool split) {
  std::string ext = std::string(
                        "\x00\x00\x00\x10\x00\x0e\x00\x00\x0b"
                        "example.com",
                        20) +
                    std::string("\x00\x10\x00\x05\x00\x03\x02h3", 9) +
                    std::string("\x00\x2b\x00\x03\x02\x03\x04", 7) +
                    std::string("\x00\x39\x00\x03\x01\x01\x1e", 7);
  std::string body = std::string("\x03\x03", 2) + std::string(32, '\x11') +
                     std::string("\x00\x00\x02\x13\x01\x01\x00", 7);
  body += static_cast<char>(ext.size() >> 8);
  body += static_cast<char>(ext.size());
  body += ext;
  std::string msg = std::string("\x01\x00", 2) + static_cast<char>(body.size() >> 8) +
                    static_cast<char>(body.size()) + body;
  auto frame = [](size_t off, const std::string& d) {
    return std::string("\x06", 1) + static_cast<char>(off) + static_cast<char>(d.size()) + d;
  };
  std::string seed(1, '\x08');
  if (split) {
    seed += frame(20, msg.substr(20)) + std::string("\x01", 1) + frame(0, msg.substr(0, 20));
  } else {
    seed += frame(0, msg);
  }
  return seed + std::string(40, '\0');
}

}  // namespace

int main(int argc, char** argv) {
  wiremeter::fuzz::SeedWriter* out = nullptr;
  bool first = true;
  return wiremeter::fuzz::for_each_payload(
      "quic_corpus", argc, argv, out, [&](const wm_packet& v, const uint8_t* p) {
        if (first) {
          first = false;
          for (bool split : {false, true}) {
            std::string s = hello_seed(split);
            out->add(s, s);
          }
        }
        if (v.l4_proto != 17) return;
        bool port_443 = v.src_port == 443 || v.dst_port == 443;
        if (!port_443 && !(p[0] & 0x80)) return;
        bool from_server = v.src_port == 443;
        std::string seed =
            wiremeter::fuzz::seed_of(static_cast<uint8_t>(from_server ? 1 : 0), p, v.payload_len);
        // Distinct by the first bytes: the header, which decides the path taken.
        out->add(seed, seed.substr(0, 48));
      });
}

#else  // the fuzz target

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "quic_crypto.hpp"
#include "quic_parser.hpp"
#include "quic_plugin.hpp"

namespace {

using namespace wiremeter::quic;

bool printable(const char* s, size_t cap) {
  size_t n = strnlen(s, cap);
  if (n == cap) return false;  // not terminated
  for (size_t i = 0; i < n; ++i) {
    if (s[i] < 0x20 || s[i] > 0x7e) return false;
  }
  return true;
}

void check_hello(const Hello& h) {
  if (!printable(h.server_name, sizeof h.server_name) || !printable(h.alpn, sizeof h.alpn) ||
      !printable(h.user_agent, sizeof h.user_agent)) {
    __builtin_trap();
  }
}

void parse_all(const uint8_t* data, size_t len) {
  for (size_t pos = 0, n = 0; pos < len && n < 64; ++n) {
    LongHeader h;
    if (parse_long_header(data + pos, len - pos, h) != Error::kNone) break;
    if (h.packet_len == 0 || h.packet_len > len - pos || h.pn_offset > h.packet_len) {
      if (h.packet_len > len - pos || (h.pn_offset > h.packet_len && h.packet_len))
        __builtin_trap();
      break;
    }
    if (h.dcid_len > kMaxCid || h.scid_len > kMaxCid) __builtin_trap();
    pos += h.packet_len;
  }
  uint64_t total = 0;
  for_each_crypto_frame(data, len, [&](uint64_t, const uint8_t* d, size_t n) {
    if (d < data || d + n > data + len) __builtin_trap();
    total += n;
  });
  Hello hello;
  parse_client_hello(data, len, hello);
  check_hello(hello);
  hello.clear();
  parse_chlo(data, len, hello);
  check_hello(hello);
  uint32_t version = 0;
  const uint8_t* cid = nullptr;
  size_t off = 0;
  if (parse_gquic_public_header(data, len, version, cid, off) && off > len) __builtin_trap();
}

// The minimum of host services the control-plane part needs.
const wm_host_api* fake_host() {
  static wm_host_api api = [] {
    wm_host_api a{};
    a.struct_size = sizeof a;
    a.abi_major = WM_ABI_MAJOR;
    a.abi_minor = WM_ABI_MINOR;
    a.log = [](void*, int, const char*) {};
    a.now_ns = [](void*) -> uint64_t { return 0; };
    a.config_json = [](void*) { return "{}"; };
    a.register_metric = [](void*, const char*, const char*, int) {
      static int next = 0;
      return next++;
    };
    a.port_count = [](void*) -> uint16_t { return 0; };
    a.port_info = [](void*, uint16_t, wm_port_info*) { return -1; };
    a.record_series = [](void*, const char*, double) { return 0; };
    return a;
  }();
  return &api;
}

// Wraps `plain` into a protected client Initial of `version`, as a client would send it.
std::vector<uint8_t> wrap(InitialCrypto& crypto, uint32_t version, const uint8_t* dcid,
                          size_t dcid_len, const uint8_t* key_dcid, size_t key_dcid_len,
                          const uint8_t* plain, size_t n) {
  VersionInfo info = version_info(version);
  std::vector<uint8_t> p;
  p.push_back(static_cast<uint8_t>(0xc0 | (info.v2 ? 0x10 : 0) | 0x01));  // 2-byte pn
  for (int i = 3; i >= 0; --i) p.push_back(static_cast<uint8_t>(version >> (8 * i)));
  p.push_back(static_cast<uint8_t>(dcid_len));
  p.insert(p.end(), dcid, dcid + dcid_len);
  p.push_back(0);  // no SCID
  p.push_back(0);  // no token
  size_t body = 2 + n + 16;
  if (body < 20) body = 20;  // room for the header-protection sample
  p.push_back(static_cast<uint8_t>(0x40 | (body >> 8)));
  p.push_back(static_cast<uint8_t>(body));
  size_t pn_offset = p.size();
  p.push_back(0);
  p.push_back(0);
  p.insert(p.end(), plain, plain + n);
  p.resize(pn_offset + body, 0);
  InitialKeys k;
  if (!crypto.derive(info, key_dcid, key_dcid_len, false, k) ||
      !crypto.encrypt(k, p.data(), p.size(), pn_offset)) {
    return {};
  }
  if (p.size() < 1200) p.resize(1200, 0);  // as clients pad (coalesced junk after it)
  return p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  uint8_t ctl = data[0];
  size_t len = size - 1 > 65000 ? 65000 : size - 1;
  // The readers alone, on a heap copy of exactly the input: a read one byte past the end is an
  // ASan report.
  std::unique_ptr<uint8_t[]> msg(new uint8_t[len ? len : 1]);
  if (len) std::memcpy(msg.get(), data + 1, len);
  parse_all(msg.get(), len);

  static Limits limits = [] {
    Limits l;
    l.connections = 4;
    l.server_names = 4;
    l.handshake_slots = 2;
    l.initial_packets = 3;
    return l;
  }();
  static Worker* worker = new Worker(0, 0, limits);
  static InitialCrypto* crypto = new InitialCrypto();
  static wm_flow_info flow{};
  static FlowState state{};
  static uint64_t clock = 1'700'000'000'000'000'000ull;
  static const uint8_t first_dcid[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  clock += 1'000'000;

  std::vector<uint8_t> payload;
  if (ctl & 8) {
    static const uint32_t versions[] = {0x00000001, 0x6b3343cf, 0xff00001d, 0x51303530};
    uint32_t version = versions[(ctl >> 4) & 3];
    const uint8_t own_dcid[4] = {9, 9, 9, static_cast<uint8_t>(ctl)};
    bool later = ctl & 0x40;
    payload = wrap(*crypto, version, later ? own_dcid : first_dcid, later ? 4 : 8, first_dcid, 8,
                   msg.get(), len);
    if (payload.empty()) return 0;
  } else {
    payload.assign(msg.get(), msg.get() + len);
  }

  // An 8-byte UDP header and the payload, as the core's decoded view.
  std::unique_ptr<uint8_t[]> frame(new uint8_t[8 + payload.size()]);
  std::memset(frame.get(), 0, 8);
  if (!payload.empty()) std::memcpy(frame.get() + 8, payload.data(), payload.size());
  bool reverse = ctl & 1;
  flow.ip_version = 4;
  flow.l4_proto = 17;
  flow.port[0] = 50000;
  flow.port[1] = 443;
  if (!flow.first_ns) flow.first_ns = clock;
  flow.last_ns = clock;
  flow.packets[reverse] += 1;
  flow.bytes[reverse] += 8 + payload.size();
  wm_packet p{};
  p.data = frame.get();
  p.cap_len = p.wire_len = static_cast<uint32_t>(8 + payload.size());
  p.ts_ns = clock;
  p.payload_off = 8;
  p.payload_len = static_cast<uint16_t>(payload.size() > 65000 ? 65000 : payload.size());
  p.flags = WM_PKT_IPV4 | WM_PKT_L4;
  p.ip_version = 4;
  p.l4_proto = 17;
  p.src_port = reverse ? 443 : 50000;
  p.dst_port = reverse ? 50000 : 443;
  p.flow = &flow;
  p.flow_state = reinterpret_cast<uint8_t*>(&state);
  p.direction = reverse ? WM_DIR_REVERSE : WM_DIR_FORWARD;
  worker->on_batch(std::span<const wm_packet>(&p, 1));
  if (ctl & 4) worker->worker_tick(clock + 10'000'000'000ull);
  if (ctl & 2) {
    worker->on_flow_end(flow, state);
    state = FlowState{};
    flow = wm_flow_info{};
    flow.id = clock;
  }

  // Now and then, the control plane's merge and report over what the worker holds.
  static uint64_t runs = 0;
  if (++runs % 64 == 0) {
    static wiremeter::Host host(fake_host());
    static Plugin plugin(host);
    Worker* workers[] = {worker};
    wiremeter::JsonWriter json;
    plugin.write_json(workers, json);
    wiremeter::JsonWriter page;
    plugin.query(workers, "connections", wiremeter::Query("sort=bytes&size=5"), page);
    // The connections' graphs: a second passes, and the current flow's detail is looked at.
    plugin.on_tick(workers, clock);
    wiremeter::JsonWriter detail;
    plugin.query(workers, "connections/0:" + std::to_string(flow.id), wiremeter::Query(""), detail);
    // Versions within the last 50 ms: from the connection rows, or the totals when the table
    // recycled or missed one.
    wiremeter::JsonWriter versions;
    plugin.query(
        workers, "versions",
        wiremeter::Query("from=" + std::to_string(static_cast<double>(clock - 50'000'000) / 1e9)),
        versions);
  }
  return 0;
}

#endif  // WM_FUZZER_CORPUS_MAIN

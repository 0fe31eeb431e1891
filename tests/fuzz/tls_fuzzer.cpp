// libFuzzer target for the tls plugin: the handshake message parsers and the certificate reader
// alone, then the whole data path (TCP reassembly with segments in any order, record walking,
// certificate table, connection log) and the JSON report, on the same input.
//
// Input: one control byte, then TLS bytes of one direction of a connection.
//   bit 0  the bytes are the server's (the reverse direction); else the client's
//   bit 1  cut the bytes into segments and deliver them in reverse order
//   bit 2  end the flow afterwards
//   bit 3  a fresh flow (new flow state) before this input
// The client's side always starts with a canned ClientHello (unless the input is the client's),
// so that server inputs reach the ServerHello, Certificate and later paths.
//
// Built with clang's -fsanitize=fuzzer,address,undefined, so any out-of-bounds read or undefined
// behaviour stops the run. Compiled with WM_FUZZER_CORPUS_MAIN instead, this file is the program
// that cuts the seed corpus out of pcap files: the first bytes of each direction of every TCP
// flow whose client opens with a ClientHello.
#ifdef WM_FUZZER_CORPUS_MAIN

#include <map>
#include <string>
#include <tuple>

#include "seed_corpus.hpp"

namespace {
// A ClientHello record: handshake content type, version 3.x, handshake type 1.
bool client_hello(const uint8_t* p, size_t n) {
  return n >= 6 && p[0] == 22 && p[1] == 3 && p[5] == 1;
}
}  // namespace

int main(int argc, char** argv) {
  wiremeter::fuzz::SeedWriter* out = nullptr;
  // Per direction of a TCP flow (by its sender's 4-tuple): the first payload bytes in capture
  // order, up to 16 KiB, which is what one input of the target carries.
  using Key = std::tuple<std::string, std::string, uint16_t, uint16_t>;
  std::map<Key, bool> opened_with_hello;  // by the client's key: does the flow start TLS
  std::map<Key, std::pair<bool, std::string>> streams;  // by sender: (is the server, bytes)
  int status = wiremeter::fuzz::for_each_payload(
      "tls_corpus", argc, argv, out, [&](const wm_packet& v, const uint8_t* payload) {
        if (v.l4_proto != 6) return;
        std::string src(reinterpret_cast<const char*>(v.src_addr), 16);
        std::string dst(reinterpret_cast<const char*>(v.dst_addr), 16);
        Key fwd{src, dst, v.src_port, v.dst_port}, rev{dst, src, v.dst_port, v.src_port};
        if (!opened_with_hello.count(fwd) && !opened_with_hello.count(rev)) {
          opened_with_hello[fwd] = client_hello(payload, v.payload_len);
        }
        bool from_client = opened_with_hello.count(fwd) > 0;
        if (!opened_with_hello[from_client ? fwd : rev]) return;
        auto& [server, bytes] = streams[fwd];
        server = !from_client;
        if (bytes.size() < 16384)
          bytes.append(reinterpret_cast<const char*>(payload), v.payload_len);
      });
  for (auto& [key, stream] : streams) {
    std::string seed(1, static_cast<char>(stream.first ? 1 : 0));
    seed += stream.second.substr(0, 16384);
    out->add(seed, seed.substr(0, 64));
  }
  std::printf("%zu seeds\n", out->written());
  return status;
}

#else  // the fuzz target

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "tls_parser.hpp"
#include "tls_plugin.hpp"
#include "x509.hpp"

namespace {

using namespace wiremeter::tls;

struct Ignore : RecordEvents {
  void on_handshake(uint8_t type, std::span<const uint8_t> body) noexcept override {
    // Every message type through its parser, whatever the type says.
    ClientHello ch;
    ServerHello sh;
    CertificateList cl;
    uint16_t group = 0;
    if (parse_client_hello(body, ch) == Malformed::kNone) {
      if (ch.sni_len > kMaxServerName || std::strlen(ch.sni) != ch.sni_len) __builtin_trap();
      if (std::strlen(ch.alpn) != ch.alpn_len) __builtin_trap();
    }
    parse_server_hello(body, sh);
    parse_server_key_exchange_curve(body, group);
    if (parse_certificate(body, type & 1, cl) == Malformed::kNone && cl.count) {
      CertInfo info;
      parse_certificate_der(cl.der[0], info);
      if (info.subject_len >= kDnText || info.names_len > kNamesText) __builtin_trap();
      certificate_matches_host(info, "www.example.org");
    }
  }
  void on_change_cipher_spec() noexcept override {}
  void on_alert(uint8_t, uint8_t) noexcept override {}
  void on_encrypted_record(uint8_t) noexcept override {}
  void on_malformed(Malformed) noexcept override {}
};

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
    a.record_series = [](void*, const char* name, double value) {
      // Graph names are built from server names and fingerprints: printable, rates not negative.
      for (const char* c = name; *c; ++c) {
        if (*c < 0x20 || *c >= 0x7f) __builtin_trap();
      }
      if (!(value >= 0)) __builtin_trap();
      return 0;
    };
    return a;
  }();
  return &api;
}

// A minimal TLS 1.2 ClientHello record with an SNI.
std::vector<uint8_t> canned_client_hello() {
  const char sni[] = "www.example.org";
  std::vector<uint8_t> ext = {0, 0, 0, 0, 0, 0, 0, 0, 0};
  uint16_t n = sizeof sni - 1;
  ext[2] = 0, ext[3] = static_cast<uint8_t>(n + 5);
  ext[4] = 0, ext[5] = static_cast<uint8_t>(n + 3);
  ext[6] = 0, ext[7] = 0, ext[8] = static_cast<uint8_t>(n);
  ext.insert(ext.end(), sni, sni + n);
  std::vector<uint8_t> body = {3, 3};
  body.insert(body.end(), 32, 'r');
  body.push_back(0);                                        // session id
  body.insert(body.end(), {0, 4, 0xc0, 0x2f, 0x13, 0x01});  // suites
  body.insert(body.end(), {1, 0});                          // compression
  body.push_back(static_cast<uint8_t>(ext.size() >> 8));
  body.push_back(static_cast<uint8_t>(ext.size()));
  body.insert(body.end(), ext.begin(), ext.end());
  std::vector<uint8_t> rec = {22, 3, 1, 0, 0, 1, 0, 0, 0};
  rec[3] = static_cast<uint8_t>((body.size() + 4) >> 8);
  rec[4] = static_cast<uint8_t>(body.size() + 4);
  rec[7] = static_cast<uint8_t>(body.size() >> 8);
  rec[8] = static_cast<uint8_t>(body.size());
  rec.insert(rec.end(), body.begin(), body.end());
  return rec;
}

// A TCP segment of the flow as the core would show it.
struct Segment {
  std::vector<uint8_t> frame;
  wm_packet view{};
};

void make_segment(Segment& s, int dir, uint32_t seq, uint32_t ack, const uint8_t* data, size_t len,
                  uint8_t flags, uint64_t ts, wm_flow_info* flow, FlowState* state) {
  s.frame.assign(20 + len, 0);
  uint8_t* tcp = s.frame.data();
  for (int i = 0; i < 4; ++i) {
    tcp[4 + i] = static_cast<uint8_t>(seq >> (24 - 8 * i));
    tcp[8 + i] = static_cast<uint8_t>(ack >> (24 - 8 * i));
  }
  tcp[13] = flags;
  if (len) std::memcpy(tcp + 20, data, len);
  wm_packet& p = s.view;
  p = wm_packet{};
  p.data = s.frame.data();
  p.cap_len = p.wire_len = static_cast<uint32_t>(s.frame.size());
  p.ts_ns = ts;
  p.l4_off = 0;
  p.payload_off = 20;
  p.payload_len = static_cast<uint16_t>(len);
  p.flags = WM_PKT_IPV4 | WM_PKT_L4;
  p.ip_version = 4;
  p.l4_proto = 6;
  p.tcp_flags = flags;
  p.src_port = dir ? 443 : 40000;
  p.dst_port = dir ? 40000 : 443;
  const uint8_t client[4] = {198, 18, 0, 1}, server[4] = {198, 18, 0, 2};
  std::memcpy(p.src_addr, dir ? server : client, 4);
  std::memcpy(p.dst_addr, dir ? client : server, 4);
  p.flow = flow;
  p.flow_state = reinterpret_cast<uint8_t*>(state);
  p.direction = static_cast<uint8_t>(dir);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  uint8_t ctl = data[0];
  size_t len = std::min<size_t>(size - 1, 20000);
  std::unique_ptr<uint8_t[]> bytes(new uint8_t[len ? len : 1]);
  if (len) std::memcpy(bytes.get(), data + 1, len);

  // The record walker and parsers alone, on an exact-size heap copy (a read one byte past the
  // end is an ASan report), with a small buffer so the "past the buffer" paths run too.
  {
    static std::vector<uint8_t> scratch(4096);
    RecordWalker walker(scratch.data(), 4096);
    DirectionState st{};
    Ignore ignore;
    walker.walk({bytes.get(), std::min<size_t>(len, 4096)}, len > 4096, st, ignore);
    // The whole input as one handshake body too (certificate lists without the record layer).
    ignore.on_handshake(kCertificateType, {bytes.get(), len});
  }

  // The data path: one long-lived worker with small tables, as on a real worker.
  static Config config = [] {
    Config c;
    c.stream_slots = 4;
    c.stream_bytes = 16384;
    c.connections = 16;
    c.server_names = 4;
    c.certificates = 4;
    return c;
  }();
  static Worker* worker = new Worker(0, config);
  static wm_flow_info flow{};
  static FlowState state{};
  static uint64_t clock = 1'700'000'000'000'000'000ull;
  static uint32_t isn = 1000;
  clock += 1'000'000;
  if (ctl & 8) {
    worker->on_flow_end(flow, state);
    state = FlowState{};
    ++flow.id;
    isn += 100000;
  }
  const uint32_t client_isn = isn, server_isn = isn * 7;
  int dir = ctl & 1;
  std::vector<Segment> segments;
  segments.reserve(64);
  static std::vector<uint8_t> hello = canned_client_hello();
  if (dir == 1) {
    segments.emplace_back();
    make_segment(segments.back(), 0, client_isn + 1, server_isn + 1, hello.data(), hello.size(),
                 0x18, clock, &flow, &state);
  }
  uint32_t seq = (dir ? server_isn : client_isn) + 1;
  uint32_t ack = (dir ? client_isn + 1 + static_cast<uint32_t>(hello.size()) : server_isn + 1);
  size_t chunk = (ctl & 2) ? std::max<size_t>(1, len / 7) : std::max<size_t>(1, len);
  std::vector<Segment> data_segments;
  data_segments.reserve(len / chunk + 2);
  for (size_t off = 0; off < len; off += chunk) {
    size_t n = std::min(chunk, len - off);
    data_segments.emplace_back();
    make_segment(data_segments.back(), dir, seq + static_cast<uint32_t>(off), ack,
                 bytes.get() + off, n, 0x18, clock, &flow, &state);
  }
  if (ctl & 2) std::reverse(data_segments.begin(), data_segments.end());
  std::vector<wm_packet> views;
  for (auto& s : segments) views.push_back(s.view);
  for (auto& s : data_segments) views.push_back(s.view);
  for (size_t i = 0; i < views.size(); i += 32) {
    worker->on_batch({views.data() + i, std::min<size_t>(32, views.size() - i)});
  }
  if (ctl & 4) {
    worker->on_flow_end(flow, state);
    state = FlowState{};
    ++flow.id;
    isn += 100000;
  }

  static uint64_t runs = 0;
  if (++runs % 64 == 0) {
    static wiremeter::Host host(fake_host());
    static Plugin plugin(host);
    Worker* workers[] = {worker};
    plugin.on_tick(workers, clock);  // the graphs of the busiest server names and certificates
    wiremeter::JsonWriter json;
    plugin.write_json(workers, json);
    for (unsigned char c : json.str()) {
      if (c < 0x20 || c >= 0x7f) __builtin_trap();  // everything the plugin writes is ASCII
    }
    // The detail views of a certificate the worker holds and of the canned hello's name.
    std::vector<std::string> views = {"server_names/www.example.org"};
    for (const auto& row : plugin.certificates(workers)) {
      views.push_back("certificates/" + row.sha256);
      break;
    }
    for (const std::string& view : views) {
      wiremeter::JsonWriter out;
      int status = plugin.query(workers, view, wiremeter::Query(""), out);
      if (status != 200 && status != 404) __builtin_trap();
      for (unsigned char c : out.str()) {
        if (c < 0x20 || c >= 0x7f) __builtin_trap();
      }
    }
  }
  return 0;
}

#endif  // WM_FUZZER_CORPUS_MAIN

// libFuzzer target for the http plugin: its parser alone on the whole input, then its data path
// (role detection, the per-message windows, body skipping, pairing, the tables and the log) on
// the same input cut into TCP segments that arrive in pieces, out of order, retransmitted and
// with gaps, then the report and the views.
//
// Input: records, each a flags byte, a 2-byte big-endian length (at most 4096) and that many
// payload bytes: one TCP segment.
//   bit 0  from the server (else from the client)
//   bit 1  held back and delivered after the next segment (reordering)
//   bit 2  delivered twice (retransmission)
//   bit 3  FIN after the segment
//   bit 4  a gap: the sequence number skips 1000 bytes before this segment (loss)
//   bit 5  the flow ends after this segment; the next record starts a new one
//   bit 6  the segment overlaps the previous one by 8 bytes (its first 8 bytes repeat)
// The first segment of either side follows a handshake unless the flags byte of the first record
// has bit 7 set (a capture that joined mid-connection).
//
// Built with clang's -fsanitize=fuzzer,address,undefined, so any out-of-bounds read or undefined
// behaviour stops the run. Compiled with WM_FUZZER_CORPUS_MAIN instead, this file is the program
// that cuts the seed corpus out of pcap files: the segments of every TCP flow with payload on
// ports 80, 8080, 8000, 8008, 3128 or 9099, as records.
#ifdef WM_FUZZER_CORPUS_MAIN

#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "seed_corpus.hpp"

namespace {
bool http_port(uint16_t p) {
  return p == 80 || p == 8080 || p == 8000 || p == 8008 || p == 3128 || p == 9099;
}
}  // namespace

int main(int argc, char** argv) {
  wiremeter::fuzz::SeedWriter* out = nullptr;
  // Flow key (client address, client port, server address, server port) -> records so far.
  std::map<std::tuple<std::string, uint16_t, std::string, uint16_t>, std::string> flows;
  int rc = wiremeter::fuzz::for_each_payload(
      "http_corpus", argc, argv, out, [&](const wm_packet& v, const uint8_t* payload) {
        if (v.l4_proto != 6) return;
        if (!http_port(v.src_port) && !http_port(v.dst_port)) return;
        bool from_server = http_port(v.src_port);
        size_t n = v.ip_version == 4 ? 4 : 16;
        std::string src(reinterpret_cast<const char*>(v.src_addr), n);
        std::string dst(reinterpret_cast<const char*>(v.dst_addr), n);
        auto key = from_server ? std::make_tuple(dst, v.dst_port, src, v.src_port)
                               : std::make_tuple(src, v.src_port, dst, v.dst_port);
        std::string& rec = flows[key];
        if (rec.size() > 60000) return;
        uint32_t plen = v.payload_len;
        plen = std::min<uint32_t>(plen, 4096);
        rec.push_back(static_cast<char>(from_server ? 1 : 0));
        rec.push_back(static_cast<char>(plen >> 8));
        rec.push_back(static_cast<char>(plen & 0xff));
        rec.append(reinterpret_cast<const char*>(payload), plen);
      });
  if (rc != 0 || !out) return rc;
  for (auto& [key, rec] : flows) out->add(rec, rec.substr(0, 256));
  std::printf("%zu seeds\n", out->written());
  return 0;
}

#else  // the fuzz target

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "fuzz_checks.hpp"
#include "http_parser.hpp"
#include "http_plugin.hpp"

namespace {

using wiremeter::fuzz::valid_utf8;
using namespace wiremeter::http;

// Every view in the span must lie inside it.
void check_inside(std::span<const uint8_t> block, std::string_view v) {
  if (v.empty()) return;
  auto* b = reinterpret_cast<const char*>(block.data());
  if (v.data() < b || v.data() + v.size() > b + block.size()) __builtin_trap();
}

void parse_all(const uint8_t* data, size_t len) {
  std::span<const uint8_t> all(data, len);
  classify_start(all);
  size_t skip = leading_empty_lines(all);
  std::span<const uint8_t> rest = all.subspan(skip);
  size_t n = header_block_length(rest);
  if (n > rest.size()) __builtin_trap();
  std::span<const uint8_t> block = rest.first(n ? n : rest.size());
  Request q;
  if (parse_request(block, q) == Error::kNone) {
    for (auto v : {q.method_text, q.uri, q.version, q.host, q.user_agent, q.referer,
                   q.framing.content_type}) {
      check_inside(block, v);
    }
  }
  Response r;
  if (parse_response(block, r) == Error::kNone) {
    if (r.status < 100 || r.status > 599) __builtin_trap();
    check_inside(block, r.reason);
  }
  // Chunk lines one after the other, as a chunked body would be read.
  size_t pos = 0;
  for (int i = 0; i < 1000 && pos < len; ++i) {
    size_t line = 0;
    uint64_t size = 0;
    if (parse_chunk_line(all.subspan(pos), line, size) != ChunkLine::kOk) break;
    if (line == 0 || line > len - pos) __builtin_trap();
    pos += line;
    pos += size < len - pos ? static_cast<size_t>(size) : len - pos;
  }
  if (trailer_length(all) > len) __builtin_trap();
  char text[64];
  size_t t = copy_text(text, sizeof text, {reinterpret_cast<const char*>(data), len});
  if (t >= sizeof text || std::strlen(text) != t || !valid_utf8(text, t)) __builtin_trap();
}

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

// One TCP segment as the core would decode it: a 20-byte TCP header and the payload.
struct Segment {
  std::vector<uint8_t> frame;
  wm_packet p{};
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The parser alone, on a heap copy of exactly the input: a read one byte past the end is an
  // ASan report.
  std::unique_ptr<uint8_t[]> copy(new uint8_t[size ? size : 1]);
  if (size) std::memcpy(copy.get(), data, size);
  parse_all(copy.get(), size);

  // The data path: one long-lived worker with small pools, so that "full" paths run too.
  static Settings settings = [] {
    Settings s;
    s.window_bytes = 1024;
    s.window_slots = 2;
    s.pending = 6;
    s.servers = 3;
    s.hosts = 3;
    s.transactions = 16;
    return s;
  }();
  static Worker* worker = new Worker(0, settings);
  static uint64_t clock = 1'700'000'000'000'000'000ull;
  static uint64_t flow_ids = 0;

  wm_flow_info flow{};
  flow.id = ++flow_ids;
  alignas(16) uint8_t state[sizeof(FlowState)] = {};
  uint32_t seq[2] = {1000, 900000};
  bool handshake = !(size && (data[0] & 0x80));
  bool opened[2] = {false, false};
  std::unique_ptr<Segment> held;  // a segment delivered after the next one

  auto make = [&](int side, uint32_t s, const uint8_t* payload, size_t n, uint8_t flags) {
    auto seg = std::make_unique<Segment>();
    seg->frame.assign(20 + n, 0);
    uint8_t* tcp = seg->frame.data();
    tcp[4] = static_cast<uint8_t>(s >> 24);
    tcp[5] = static_cast<uint8_t>(s >> 16);
    tcp[6] = static_cast<uint8_t>(s >> 8);
    tcp[7] = static_cast<uint8_t>(s);
    if (n) std::memcpy(tcp + 20, payload, n);
    wm_packet& p = seg->p;
    p.data = seg->frame.data();
    p.cap_len = p.wire_len = static_cast<uint32_t>(seg->frame.size());
    p.ts_ns = clock;
    p.l4_off = 0;
    p.payload_off = 20;
    p.payload_len = static_cast<uint16_t>(n);
    p.flags = WM_PKT_IPV4 | WM_PKT_L4;
    p.ip_version = 4;
    p.l4_proto = 6;
    p.tcp_flags = flags;
    const uint8_t client[4] = {198, 18, 0, 1}, server[4] = {198, 18, 1, 1};
    std::memcpy(p.src_addr, side ? server : client, 4);
    std::memcpy(p.dst_addr, side ? client : server, 4);
    p.src_port = side ? 80 : 40000;
    p.dst_port = side ? 40000 : 80;
    p.flow = &flow;
    p.flow_state = state;
    p.direction = side ? WM_DIR_REVERSE : WM_DIR_FORWARD;
    return seg;
  };
  auto deliver = [&](const Segment& seg) {
    worker->on_batch(std::span<const wm_packet>(&seg.p, 1));
  };

  size_t pos = 0;
  int records = 0;
  while (pos + 3 <= size && records++ < 512) {
    uint8_t flags = data[pos];
    size_t n = static_cast<size_t>(data[pos + 1]) << 8 | data[pos + 2];
    pos += 3;
    if (n > 4096) n = 4096;
    if (n > size - pos) n = size - pos;
    const uint8_t* payload = data + pos;
    pos += n;
    int side = flags & 1;
    clock += 1'000'000;
    if (handshake && !opened[side]) {
      opened[side] = true;
      deliver(*make(side, seq[side] - 1, nullptr, 0, 0x02));
    }
    if (flags & 0x10) seq[side] += 1000;
    uint32_t s = seq[side];
    if ((flags & 0x40) && n >= 8) s -= 8;
    auto seg = make(side, s, payload, n, 0x18);
    seq[side] = s + static_cast<uint32_t>(n);
    if (flags & 0x02) {
      if (held) deliver(*held);
      held = std::move(seg);
    } else {
      deliver(*seg);
      if (flags & 0x04) deliver(*seg);
      if (held) {
        deliver(*held);
        held.reset();
      }
    }
    if (flags & 0x08) deliver(*make(side, seq[side], nullptr, 0, 0x11));
    if (flags & 0x20) {
      if (held) deliver(*held);
      held.reset();
      worker->on_flow_end(flow, *reinterpret_cast<FlowState*>(state));
      std::memset(state, 0, sizeof state);
      flow.id = ++flow_ids;
      opened[0] = opened[1] = false;
    }
  }
  if (held) deliver(*held);
  worker->on_flow_end(flow, *reinterpret_cast<FlowState*>(state));
  // Every flow ended: nothing may still hold a window slot.
  if (worker->window_in_use() != 0) __builtin_trap();

  // Now and then, the control plane's merge, report and views over what the worker holds.
  static uint64_t runs = 0;
  if (++runs % 64 == 0) {
    static wiremeter::Host host(fake_host());
    static Plugin plugin(host);
    Worker* workers[] = {worker};
    wiremeter::JsonWriter json;
    plugin.write_json(workers, json);
    if (!valid_utf8(json.str().data(), json.str().size())) __builtin_trap();
    const std::pair<const char*, const char*> views[] = {
        {"servers", "sort=rt_avg"},
        {"hosts", "filter=a"},
        {"transactions", "sort=rt&status=2xx&method=GET"},
        {"servers/198.18.1.1:80", ""}};
    for (auto [view, query] : views) {
      wiremeter::JsonWriter out;
      plugin.query(workers, view, wiremeter::Query(query), out);
      if (!valid_utf8(out.str().data(), out.str().size())) __builtin_trap();
    }
  }
  return 0;
}

#endif  // WM_FUZZER_CORPUS_MAIN

// libFuzzer target for the dns plugin: its wire parser alone, then its whole data path (pending
// queries, tables, transaction log, TCP framing) and its JSON report, all on the same input.
//
// Input: one control byte, then the DNS payload of a UDP datagram or TCP segment.
//   bit 0  TCP (length-prefixed messages) instead of UDP
//   bit 1  from the server side (the reverse direction of the flow)
//   bit 2  the first fragment of an IP-fragmented datagram
//   bit 3  a UDP length larger than the payload (cut by the snap length)
//   bit 4  run the worker's tick 20 s later (query timeouts)
//   bit 5  end the flow afterwards (unanswered queries)
//
// Built with clang's -fsanitize=fuzzer,address,undefined, so any out-of-bounds read or undefined
// behaviour stops the run. Compiled with WM_FUZZER_CORPUS_MAIN instead, this file is the
// program that cuts the seed corpus out of pcap files: the DNS payloads of every capture, each
// with the control byte that describes it.
#ifdef WM_FUZZER_CORPUS_MAIN

#include <string>

#include "seed_corpus.hpp"

namespace {
bool udp_dns_port(uint16_t p) { return p == 53 || p == 5353 || p == 5355; }
bool tcp_dns_port(uint16_t p) { return p == 53 || p == 5355; }
}  // namespace

int main(int argc, char** argv) {
  wiremeter::fuzz::SeedWriter* out = nullptr;
  return wiremeter::fuzz::for_each_payload(
      "dns_corpus", argc, argv, out, [&](const wm_packet& v, const uint8_t* payload) {
        bool tcp = v.l4_proto == 6 && (tcp_dns_port(v.src_port) || tcp_dns_port(v.dst_port));
        bool udp = v.l4_proto == 17 && (udp_dns_port(v.src_port) || udp_dns_port(v.dst_port));
        if (!tcp && !udp) return;
        bool from_server = tcp ? tcp_dns_port(v.src_port) : udp_dns_port(v.src_port);
        std::string seed =
            wiremeter::fuzz::seed_of(static_cast<uint8_t>((tcp ? 1 : 0) | (from_server ? 2 : 0) |
                                                          ((v.flags & WM_PKT_FRAGMENT) ? 4 : 0)),
                                     payload, v.payload_len);
        out->add(seed, seed);
      });
}

#else  // the fuzz target

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>

#include "dns_parser.hpp"
#include "dns_plugin.hpp"
#include "fuzz_checks.hpp"

namespace {

using wiremeter::fuzz::valid_utf8;
using namespace wiremeter::dns;

void parse_all(const uint8_t* data, size_t len) {
  Message m(data, len);
  Header h;
  if (m.parse_header(h) != Error::kNone) return;
  Record r;
  Name n;
  for (int i = 0;; ++i) {
    // Every record consumes at least 5 bytes, so the walk ends; the bound is a second guard.
    if (i > 70000) __builtin_trap();
    if (m.next(r) != Error::kNone || r.section == Section::kEnd) return;
    size_t end = 0;
    if (m.read_name(r.name_offset, n, i & 1, &end) == Error::kNone) {
      if (n.length > kMaxNameText || std::strlen(n.text) != n.length) __builtin_trap();
      if (!valid_utf8(n.text, n.length)) __builtin_trap();
      if (end <= r.name_offset || end > m.size()) __builtin_trap();
    }
    char text[300];
    size_t text_len = 0;
    m.format_rdata(r, text, sizeof text, text_len);
    if (text_len >= sizeof text || !valid_utf8(text, text_len)) __builtin_trap();
    char type[16];
    if (format_type(r.type, type, sizeof type) >= sizeof type) __builtin_trap();
  }
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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  uint8_t ctl = data[0];
  size_t len = size - 1 > 65000 ? 65000 : size - 1;

  // The parser alone, on a heap copy of exactly the message: a read one byte past the end is
  // an ASan report.
  std::unique_ptr<uint8_t[]> msg(new uint8_t[len ? len : 1]);
  if (len) std::memcpy(msg.get(), data + 1, len);
  parse_all(msg.get(), len);
  if (ctl & 1) {
    for (size_t pos = 0; pos + 2 <= len;) {
      size_t n = static_cast<size_t>(msg[pos]) << 8 | msg[pos + 1];
      if (pos + 2 + n > len) break;
      parse_all(msg.get() + pos + 2, n);
      pos += 2 + n;
    }
  }

  // The data path: one long-lived worker and flow, as on a real worker, with small tables so
  // that eviction and "full" paths run too.
  static Limits limits = [] {
    Limits l;
    l.pending = 8;
    l.servers = 4;
    l.names = 8;
    l.top_names = 8;
    l.transactions = 16;
    return l;
  }();
  static Worker* worker = new Worker(0, limits);
  static wm_flow_info flow{};
  static FlowState state{};
  static uint64_t clock = 1'700'000'000'000'000'000ull;
  clock += 1'000'000;

  // An 8-byte L4 header (UDP, or the first 8 bytes of a TCP one) and the payload.
  std::unique_ptr<uint8_t[]> frame(new uint8_t[8 + len]);
  std::memset(frame.get(), 0, 8);
  size_t udp_len = 8 + len + ((ctl & 8) ? 100 : 0);
  frame[4] = static_cast<uint8_t>(udp_len >> 8);
  frame[5] = static_cast<uint8_t>(udp_len);
  if (len) std::memcpy(frame.get() + 8, msg.get(), len);
  wm_packet p{};
  p.data = frame.get();
  p.cap_len = p.wire_len = static_cast<uint32_t>(8 + len);
  p.ts_ns = clock;
  p.l4_off = 0;
  p.payload_off = 8;
  p.payload_len = static_cast<uint16_t>(len);
  p.flags = WM_PKT_IPV4 | WM_PKT_L4 | ((ctl & 4) ? WM_PKT_FRAGMENT | WM_PKT_FIRST_FRAGMENT : 0);
  p.ip_version = 4;
  p.l4_proto = (ctl & 1) ? 6 : 17;
  bool reverse = ctl & 2;
  p.src_port = reverse ? 53 : 40000;
  p.dst_port = reverse ? 40000 : 53;
  const uint8_t client[4] = {198, 18, 0, 1}, server[4] = {198, 18, 0, static_cast<uint8_t>(ctl)};
  std::memcpy(p.src_addr, reverse ? server : client, 4);
  std::memcpy(p.dst_addr, reverse ? client : server, 4);
  p.flow = &flow;
  p.flow_state = reinterpret_cast<uint8_t*>(&state);
  p.direction = reverse ? WM_DIR_REVERSE : WM_DIR_FORWARD;
  worker->on_batch(std::span<const wm_packet>(&p, 1));
  if (ctl & 0x10) worker->worker_tick(clock + 20'000'000'000ull);
  if (ctl & 0x20) {
    worker->on_flow_end(flow, state);
    ++flow.id;
  }

  // Now and then, the control plane's merge and report over what the worker holds.
  static uint64_t runs = 0;
  if (++runs % 64 == 0) {
    static wiremeter::Host host(fake_host());
    static Plugin plugin(host);
    Worker* workers[] = {worker};
    wiremeter::JsonWriter json;
    plugin.write_json(workers, json);
    if (!valid_utf8(json.str().data(), json.str().size())) __builtin_trap();
    // The windowed lists: counted from the (16-record) log where it covers the last 50 ms,
    // else the totals of what was active then.
    std::string window = "from=" + std::to_string(static_cast<double>(clock - 50'000'000) / 1e9);
    for (const char* path : {"servers", "top_names", "servers/198.18.0.1"}) {
      wiremeter::JsonWriter page;
      plugin.query(workers, path, wiremeter::Query(window), page);
      if (!valid_utf8(page.str().data(), page.str().size())) __builtin_trap();
    }
  }
  return 0;
}

#endif  // WM_FUZZER_CORPUS_MAIN

// libFuzzer target for the ip plugin: its three name readers (DNS answers, DHCP, TLS SNI) alone,
// then its data path (host table with overflow, labels, name table with eviction) and its
// report and REST views, all on the same input.
//
// Input: one control byte, then an L4 payload.
//   bits 0-1  what the payload is: 0 a DNS/UDP response, 1 a DHCP message, 2 the first client
//             segment of a TCP flow (TLS ClientHello), 3 the first DNS/TCP server segment
//   bit 2     IPv6 instead of IPv4
//   bit 3     end the flow afterwards
//   bit 4     the flow has an application label
//   bits 5-7  vary the addresses, so that the small tables fill and overflow
//
// Built with clang's -fsanitize=fuzzer,address,undefined, so any out-of-bounds read or undefined
// behaviour stops the run. Compiled with WM_FUZZER_CORPUS_MAIN instead, this file is the
// program that cuts the seed corpus out of pcap files: the DNS, DHCP and TLS payloads of every
// capture, each with the control byte that describes it.
#ifdef WM_FUZZER_CORPUS_MAIN

#include <string>

#include "seed_corpus.hpp"

namespace {
bool dns_port(uint16_t p) { return p == 53 || p == 5353 || p == 5355; }
bool dhcp_port(uint16_t p) { return p == 67 || p == 68; }
}  // namespace

int main(int argc, char** argv) {
  wiremeter::fuzz::SeedWriter* out = nullptr;
  return wiremeter::fuzz::for_each_payload(
      "ip_corpus", argc, argv, out, [&](const wm_packet& v, const uint8_t* payload) {
        int kind = -1;
        if (v.l4_proto == 17 && dns_port(v.src_port)) kind = 0;
        if (v.l4_proto == 17 && dhcp_port(v.src_port) && dhcp_port(v.dst_port)) kind = 1;
        if (v.l4_proto == 6 && payload[0] == 0x16) kind = 2;
        if (v.l4_proto == 6 && v.src_port == 53) kind = 3;
        if (kind < 0) return;
        std::string seed = wiremeter::fuzz::seed_of(
            static_cast<uint8_t>(kind | (v.ip_version == 6 ? 4 : 0)), payload, v.payload_len);
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

#include "ip_plugin.hpp"
#include "name_parsers.hpp"

namespace {

using namespace wiremeter::ip;

struct Check final : NameSink {
  void on_name(uint8_t version, const uint8_t*, std::string_view name) noexcept override {
    if (version != 4 && version != 6) __builtin_trap();
    if (name.empty() || name.size() > kMaxName) __builtin_trap();
    for (char c : name) {
      if (c < 0x21 || c > 0x7e) __builtin_trap();  // the promise: printable ASCII only
    }
  }
};

// JSON goes to browsers and Prometheus tooling: printable ASCII or escapes only here.
void check_json(const std::string& s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c > 0x7e) __builtin_trap();
  }
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
    a.label_id = [](void*, const char*) -> uint16_t { return 1; };
    a.label_name = [](void*, uint16_t id) { return id == 1 ? "fuzz" : ""; };
    return a;
  }();
  return &api;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  uint8_t ctl = data[0];
  size_t len = size - 1 > 65000 ? 65000 : size - 1;

  // The readers alone, on a heap copy of exactly the payload: one byte too far is an ASan report.
  std::unique_ptr<uint8_t[]> msg(new uint8_t[len ? len : 1]);
  if (len) std::memcpy(msg.get(), data + 1, len);
  Check check;
  parse_dns_names(msg.get(), len, check);
  parse_dhcp_name(msg.get(), len, check);
  char sni[kMaxName + 1];
  size_t sni_len = 0;
  if (parse_tls_sni(msg.get(), len, sni, sni_len) == Parse::kOk) {
    std::string_view s(sni, sni_len);
    if (s.size() > kMaxName || s.find('\0') != std::string_view::npos) __builtin_trap();
  } else if (sni_len != 0) {
    __builtin_trap();
  }

  // The data path: one long-lived worker with tiny tables, so that "full" paths run too.
  static Settings settings = [] {
    Settings s;
    s.max_hosts = 6;
    s.max_names = 4;
    s.metrics_top = 2;
    return s;
  }();
  static Worker* worker = new Worker(0, settings);
  static wm_flow_info flow{};
  static FlowState state{};
  static uint64_t clock = 1'700'000'000'000'000'000ull;
  clock += 1'000'000;

  int kind = ctl & 3;
  bool tcp = kind >= 2, v6 = ctl & 4;
  std::unique_ptr<uint8_t[]> frame(new uint8_t[20 + len]);
  std::memset(frame.get(), 0, 20);
  if (len) std::memcpy(frame.get() + 20, msg.get(), len);
  wm_packet p{};
  p.data = frame.get();
  p.cap_len = p.wire_len = static_cast<uint32_t>(20 + len);
  p.ts_ns = clock;
  p.payload_off = 20;
  p.payload_len = static_cast<uint16_t>(len);
  p.flags = (v6 ? WM_PKT_IPV6 : WM_PKT_IPV4) | WM_PKT_L4;
  p.ip_version = v6 ? 6 : 4;
  p.l4_proto = tcp ? 6 : 17;
  uint16_t server_port = kind == 1 ? 67 : kind == 2 ? 443 : 53;
  uint16_t client_port = kind == 1 ? 68 : 40000;
  bool from_server = kind != 2;
  p.src_port = from_server ? server_port : client_port;
  p.dst_port = from_server ? client_port : server_port;
  uint8_t client[16] = {198, 18, 0, static_cast<uint8_t>(ctl >> 5)};
  uint8_t server[16] = {198, 18, 1, static_cast<uint8_t>(ctl)};
  std::memcpy(p.src_addr, from_server ? server : client, 16);
  std::memcpy(p.dst_addr, from_server ? client : server, 16);
  flow.ip_version = p.ip_version;
  flow.l4_proto = p.l4_proto;
  std::memcpy(flow.addr[0], client, 16);
  std::memcpy(flow.addr[1], server, 16);
  flow.app_label = (ctl & 0x10) ? 1 : 0;
  flow.bytes[0] += p.wire_len;
  p.flow = &flow;
  p.flow_state = reinterpret_cast<uint8_t*>(&state);
  p.direction = from_server ? WM_DIR_REVERSE : WM_DIR_FORWARD;
  worker->on_batch(std::span<const wm_packet>(&p, 1));
  if (ctl & 8) {
    worker->on_flow_end(flow, state);
    state = FlowState{};
    flow = wm_flow_info{};
    ++flow.id;
  }
  worker->worker_tick(clock);

  // Now and then, the control plane's merges, report and views over what the worker holds.
  static uint64_t runs = 0;
  if (++runs % 64 == 0) {
    static wiremeter::Host host(fake_host());
    static Plugin plugin(host);
    Worker* workers[] = {worker};
    wiremeter::JsonWriter json;
    plugin.write_json(workers, json);
    check_json(json.str());
    for (const char* q : {"sort=name&order=asc", "filter=a&prefix=198.18.0.0/16", "sort=peers"}) {
      wiremeter::JsonWriter out;
      if (plugin.query(workers, "hosts", wiremeter::Query(q), out) != 200) __builtin_trap();
      check_json(out.str());
    }
    wiremeter::JsonWriter names;
    plugin.query(workers, "names", wiremeter::Query("sort=count"), names);
    check_json(names.str());
    wiremeter::JsonWriter one;
    plugin.query(workers, "hosts/198.18.1.1", wiremeter::Query(""), one);
    check_json(one.str());
  }
  return 0;
}

#endif  // WM_FUZZER_CORPUS_MAIN

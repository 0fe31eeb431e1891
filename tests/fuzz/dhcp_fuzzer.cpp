// libFuzzer target for the dhcp plugin: its wire parsers alone, then its whole data path
// (clients, servers, leases, transaction grouping, the shared request clock) on two workers, and
// the control plane's merged report and REST views, all on the same input.
//
// Input: one control byte, then the UDP payload of a DHCP message.
//   bit 0     DHCPv6 (UDP 546/547) instead of DHCPv4 (67/68)
//   bit 1     sent by the server side (source port 67 / 547, from a server address)
//   bit 2     the first fragment of an IP-fragmented datagram
//   bit 3     a UDP length larger than the payload (cut by the snap length)
//   bit 4     run the worker's tick 40 s later (transactions closed by age)
//   bit 5     handled by the second worker (the merge joins what both saw)
//   bits 6-7  time since the previous input: 1 ms, 3 s, 7 s or 31 s (Zeek's grouping windows)
//
// Built with clang's -fsanitize=fuzzer,address,undefined, so any out-of-bounds read or undefined
// behaviour stops the run. Compiled with WM_FUZZER_CORPUS_MAIN instead, this file is the program
// that cuts the seed corpus out of pcap files: the DHCP payloads of every capture, each with the
// control byte that describes it.
#ifdef WM_FUZZER_CORPUS_MAIN

#include <string>

#include "seed_corpus.hpp"

namespace {
bool v4_port(uint16_t p) { return p == 67 || p == 68; }
bool v6_port(uint16_t p) { return p == 546 || p == 547; }
}  // namespace

int main(int argc, char** argv) {
  wiremeter::fuzz::SeedWriter* out = nullptr;
  return wiremeter::fuzz::for_each_payload(
      "dhcp_corpus", argc, argv, out, [&](const wm_packet& v, const uint8_t* payload) {
        if (v.l4_proto != 17) return;
        bool v4 = v4_port(v.src_port) && v4_port(v.dst_port);
        bool v6 = v6_port(v.src_port) && v6_port(v.dst_port);
        if (!v4 && !v6) return;
        bool server = v4 ? v.src_port == 67 : v.src_port == 547;
        std::string seed =
            wiremeter::fuzz::seed_of(static_cast<uint8_t>((v6 ? 1 : 0) | (server ? 2 : 0) |
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
#include <string_view>
#include <utility>

#include "dhcp_parser.hpp"
#include "dhcp_plugin.hpp"

namespace {

using namespace wiremeter::dhcp;

bool printable_json_text(const std::string& s) {
  // Text from the wire is escaped to printable ASCII before it reaches JSON.
  for (unsigned char c : s) {
    if (c >= 0x80) return false;
  }
  return true;
}

void parse_alone(const uint8_t* data, size_t len) {
  Message m;
  Error e = parse_v4(data, len, m);
  if (static_cast<size_t>(e) >= kErrorCount) __builtin_trap();
  if (e == Error::kNone) {
    if (m.fqdn_length > m.fqdn_text.size()) __builtin_trap();
    if (m.routers.count > kMaxAddrs || m.dns_servers.count > kMaxAddrs) __builtin_trap();
    // Every option view lies inside the message.
    for (const Bytes* b :
         {&m.host_name, &m.domain_name, &m.vendor_class, &m.client_id, &m.param_list, &m.message,
          &m.user_class, &m.relay_circuit_id, &m.relay_remote_id}) {
      if (b->present && (b->data < data || b->data + b->len > data + len)) __builtin_trap();
    }
    ShortText t;
    t.set(m.host_name);
    if (t.length > 63) __builtin_trap();
  }
  uint8_t type = 0;
  parse_v6(data, len, type);
}

const wm_host_api* fake_host() {
  static wm_host_api api = [] {
    wm_host_api a{};
    a.struct_size = sizeof a;
    a.abi_major = WM_ABI_MAJOR;
    a.abi_minor = WM_ABI_MINOR;
    a.log = [](void*, int, const char*) {};
    a.now_ns = [](void*) -> uint64_t { return 0; };
    // Small tables, so that eviction and "full" paths run too.
    a.config_json = [](void*) {
      return R"({"clients": 4, "servers": 2, "leases": 4, "transactions": 8,
                 "open_transactions": 3, "request_slots": 16})";
    };
    a.register_metric = [](void*, const char*, const char*, int) {
      static int next = 0;
      return next++;
    };
    a.port_count = [](void*) -> uint16_t { return 0; };
    a.port_info = [](void*, uint16_t, wm_port_info*) { return -1; };
    a.record_series = [](void*, const char* name, double value) {
      // Graph names are built from MACs and addresses: printable, and rates are not negative.
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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  uint8_t ctl = data[0];
  size_t len = size - 1 > 65000 ? 65000 : size - 1;

  // The parsers alone, on a heap copy of exactly the message: a read one byte past the end is
  // an ASan report.
  std::unique_ptr<uint8_t[]> msg(new uint8_t[len ? len : 1]);
  if (len) std::memcpy(msg.get(), data + 1, len);
  parse_alone(msg.get(), len);

  static wiremeter::Host host(fake_host());
  static Plugin plugin(host);
  static std::unique_ptr<Worker> workers[2] = {plugin.make_worker(wm_worker_info{}),
                                               plugin.make_worker(wm_worker_info{})};
  static uint64_t clock = 1'700'000'000'000'000'000ull;
  static constexpr uint64_t kSteps[4] = {1'000'000ull, 3'000'000'000ull, 7'000'000'000ull,
                                         31'000'000'000ull};
  clock += kSteps[ctl >> 6];

  // An 8-byte UDP header and the payload.
  std::unique_ptr<uint8_t[]> frame(new uint8_t[8 + len]);
  std::memset(frame.get(), 0, 8);
  size_t udp_len = 8 + len + ((ctl & 8) ? 100 : 0);
  frame[4] = static_cast<uint8_t>(udp_len >> 8);
  frame[5] = static_cast<uint8_t>(udp_len);
  if (len) std::memcpy(frame.get() + 8, msg.get(), len);
  bool v6 = ctl & 1, server = ctl & 2;
  wm_packet p{};
  p.data = frame.get();
  p.cap_len = p.wire_len = static_cast<uint32_t>(8 + len);
  p.ts_ns = clock;
  p.l4_off = 0;
  p.payload_off = 8;
  p.payload_len = static_cast<uint16_t>(len);
  p.flags = (v6 ? WM_PKT_IPV6 : WM_PKT_IPV4) | WM_PKT_L4 |
            ((ctl & 4) ? WM_PKT_FRAGMENT | WM_PKT_FIRST_FRAGMENT : 0);
  p.ip_version = v6 ? 6 : 4;
  p.l4_proto = 17;
  p.src_port = v6 ? (server ? 547 : 546) : (server ? 67 : 68);
  p.dst_port = v6 ? (server ? 546 : 547) : (server ? 68 : 67);
  // Clients broadcast from 0.0.0.0; servers answer from one of a few addresses.
  const uint8_t server_addr[4] = {198, 18, 0, static_cast<uint8_t>(ctl & 0x30)};
  const uint8_t broadcast[4] = {255, 255, 255, 255};
  if (server) std::memcpy(p.src_addr, server_addr, 4);
  std::memcpy(p.dst_addr, broadcast, 4);
  Worker& w = *workers[(ctl >> 5) & 1];
  w.on_batch(std::span<const wm_packet>(&p, 1));
  if (ctl & 0x10) w.worker_tick(clock + 40'000'000'000ull);

  // Now and then, the control plane's merge, report and views over what the workers hold.
  static uint64_t runs = 0;
  if (++runs % 64 == 0) {
    Worker* ws[] = {workers[0].get(), workers[1].get()};
    plugin.on_tick(ws, clock);  // the graphs of the busiest clients and servers
    wiremeter::JsonWriter json;
    plugin.write_json(ws, json);
    if (!printable_json_text(json.str())) __builtin_trap();
    static const std::pair<const char*, const char*> kViews[] = {
        {"clients", "sort=mac&size=5&filter=a"},
        {"servers", "sort=request_ack"},
        {"leases", "sort=expiry&state=active&from=1700000000"},
        {"transactions", "sort=duration&filter=ack"},
        {"clients/90:b1:1c:99:49:29", ""},
        {"servers/198.18.0.16", ""}};
    for (const auto& [view, query] : kViews) {
      wiremeter::JsonWriter out;
      int status = plugin.query(ws, view, wiremeter::Query(query), out);
      if (status != 200 && status != 404) __builtin_trap();
      if (!printable_json_text(out.str())) __builtin_trap();
    }
  }
  return 0;
}

#endif  // WM_FUZZER_CORPUS_MAIN

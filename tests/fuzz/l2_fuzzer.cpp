// libFuzzer target for the l2 plugin: its parsers alone (Ethernet header, ARP, BPDU, LLDP,
// control-frame classification), then its whole data path and control plane on the same bytes.
//
// Input: one control byte, then a frame as it starts on the wire (Ethernet).
//   bit 0  a view that contradicts the frame: the next 12 bytes set the view's fields (l3_off,
//          tags, ethertype, MPLS, flags, DSCP, port) whatever the frame says, as a buggy or
//          foreign decoder could; otherwise the view is the one the core's decoder gives (built
//          here: core/src/decode.cpp is not part of plugin fuzzers)
//   bit 1  run the worker's tick 10 s later (unanswered ARP requests expire)
//   bit 2  a timestamp earlier than the previous frame's (clocks are not monotonic)
//
// Built with clang's -fsanitize=fuzzer,address,undefined, so any out-of-bounds read or undefined
// behaviour stops the run. Compiled with WM_FUZZER_CORPUS_MAIN instead, this file is the
// program that cuts the seed corpus out of pcap files: every distinct kind of Ethernet frame of
// every capture (control protocols and ARP whole), plus an LLDP, a PVST+ and a CDP frame, which
// none of the shared captures has.
#ifdef WM_FUZZER_CORPUS_MAIN

#include <string>
#include <vector>

#include "seed_corpus.hpp"

int main(int argc, char** argv) {
  wiremeter::fuzz::SeedWriter* out = nullptr;
  int rc = wiremeter::fuzz::for_each_frame(
      "l2_corpus", argc, argv, out,
      [&](wiremeter::core::LinkType lt, const u_char* d, uint32_t caplen, uint32_t len) {
        if (lt != wiremeter::core::LinkType::kEthernet) return;
        wm_packet v{};
        wiremeter::core::decode_packet(d, caplen, len, lt, v);
        std::string frame(reinterpret_cast<const char*>(d), caplen);
        std::string seed = std::string(1, '\0') + frame;
        // IP frames by their shape; everything else (ARP, STP, EAPOL, ...) whole.
        std::string key =
            v.ip_version ? std::to_string(v.ether_type) + "/" + std::to_string(v.vlan_count) + "/" +
                               std::to_string(v.mpls_count) + "/" + std::to_string(v.flags) + "/" +
                               std::to_string(v.dscp) + "/" + std::to_string(len / 256)
                         : frame;
        out->add(seed, key);
        out->add(std::string(1, '\x02') + frame, "tick" + key);
      });
  if (rc != 0 || !out) return rc;
  // Control frames the shared captures lack.
  std::vector<uint8_t> lldp = {0x01, 0x80, 0xc2, 0x00, 0x00, 0x0e, 0x02, 0,    0,    0,    0,
                               1,    0x88, 0xcc, 0x02, 0x07, 0x04, 0x00, 0x11, 0x22, 0x33, 0x44,
                               0x55, 0x04, 0x05, 0x05, 'e',  't',  'h',  '0',  0x06, 0x02, 0x00,
                               0x78, 0x0a, 0x03, 's',  'w',  '1',  0x10, 0x0c, 0x05, 0x01, 192,
                               0,    2,    7,    2,    0,    0,    0,    1,    0,    0x00, 0x00};
  std::vector<uint8_t> pvst = {
      0x01, 0x00, 0x0c, 0xcc, 0xcc, 0xcd, 0x02, 0,    0,    0,    0,    1,    0x81, 0x00,
      0x00, 0x0a, 0x00, 0x32, 0xaa, 0xaa, 0x03, 0x00, 0x00, 0x0c, 0x01, 0x0b, 0x00, 0x00,
      0x02, 0x02, 0x3d, 0x80, 0x0a, 0x00, 0x13, 0x7f, 0xbe, 0x8c, 0xc0, 0x00, 0x00, 0x00,
      0x04, 0x80, 0x0a, 0x00, 0x13, 0x7f, 0xbe, 0x8c, 0xc1, 0x80, 0x01, 0x00, 0x00, 0x14,
      0x00, 0x02, 0x00, 0x0f, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x0a};
  std::vector<uint8_t> cdp = {0x01, 0x00, 0x0c, 0xcc, 0xcc, 0xcc, 0x02, 0,    0,    0,    0,
                              1,    0x00, 0x10, 0xaa, 0xaa, 0x03, 0x00, 0x00, 0x0c, 0x20, 0x00,
                              0x02, 0xb4, 0x00, 0x00, 0x00, 0x01, 0x00, 0x06, 's',  'w'};
  for (auto* f : {&lldp, &pvst, &cdp}) {
    std::string seed(1, '\0');
    seed.append(f->begin(), f->end());
    out->add(seed, seed);
  }
  std::printf("%zu seeds with the synthetic control frames\n", out->written());
  return 0;
}

#else  // the fuzz target

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>

#include "l2_parse.hpp"
#include "l2_plugin.hpp"

namespace {

using namespace wiremeter::l2;

// Every parser on exactly the bytes given (a heap copy of that size: one byte past is an ASan
// report), and their invariants.
void parse_all(const uint8_t* d, size_t n) {
  EthHeader eth = parse_ethernet(d, static_cast<uint32_t>(n));
  if (eth.ok && eth.payload_off > n) __builtin_trap();
  uint32_t body = 0, end = 0;
  Control c = classify_control(d, static_cast<uint32_t>(n), eth, body, end);
  if (c != Control::kNone && end > n) __builtin_trap();
  ArpMessage arp;
  parse_arp(d, n, arp);
  Bpdu bpdu;
  parse_bpdu(d, n, bpdu);
  LldpInfo lldp;
  if (parse_lldp(d, n, lldp) == LldpError::kNone) {
    for (const char* s : {lldp.chassis_id, lldp.port_id, lldp.port_description, lldp.system_name,
                          lldp.management_address}) {
      size_t len = strnlen(s, kLldpText);
      if (len >= kLldpText) __builtin_trap();
      for (size_t i = 0; i < len; ++i) {
        if (s[i] < 0x20 || s[i] > 0x7e) __builtin_trap();  // printable ASCII only
      }
    }
  }
  char id[32];
  if (n >= 8) format_bridge_id(be64(d), id);
}

// The view the core's decoder gives an Ethernet frame: tags, MPLS, ARP and IP headers.
wm_packet core_view(const uint8_t* d, uint32_t n) {
  wm_packet v{};
  EthHeader eth = parse_ethernet(d, n);
  if (!eth.ok) {
    v.flags = WM_PKT_MALFORMED;
    return v;
  }
  if (is_group(eth.dst)) v.flags |= eth.dst == kBroadcastMac ? WM_PKT_BROADCAST : WM_PKT_MULTICAST;
  v.vlan_count = eth.tag_count;
  for (int i = 0; i < 2 && i < eth.tag_count; ++i) v.vlan[i] = eth.tci[i] & 0x0fff;
  if (eth.truncated) {
    v.flags |= WM_PKT_MALFORMED;
    return v;
  }
  uint32_t off = eth.payload_off;
  uint16_t type = eth.type;
  if (type < 0x0600) return v;  // ether_type 0
  v.ether_type = type;
  if (type == kEthMpls || type == kEthMplsMulticast) {
    for (int i = 0; i < 8; ++i) {
      if (n - off < 4) return v;
      uint32_t entry = be32(d + off);
      if (v.mpls_count == 0) v.mpls_label = entry >> 12;
      ++v.mpls_count;
      off += 4;
      if (entry & 0x100) {
        if (n - off < 1) return v;
        type = (d[off] >> 4) == 4 ? kEthIpv4 : (d[off] >> 4) == 6 ? kEthIpv6 : 0;
        if (!type) return v;
        v.ether_type = type;
        break;
      }
    }
  }
  if (type == kEthArp) {
    v.flags |= WM_PKT_ARP;
    v.l3_off = static_cast<uint16_t>(off);
  } else if (type == kEthIpv4 && n - off >= 20 && (d[off] >> 4) == 4) {
    v.ip_version = 4;
    v.flags |= WM_PKT_IPV4;
    v.dscp = d[off + 1] >> 2;
    v.l3_off = static_cast<uint16_t>(off);
  } else if (type == kEthIpv6 && n - off >= 40 && (d[off] >> 4) == 6) {
    v.ip_version = 6;
    v.flags |= WM_PKT_IPV6;
    v.dscp = static_cast<uint8_t>((be16(d + off) >> 6) & 0x3f);
    v.l3_off = static_cast<uint16_t>(off);
  }
  return v;
}

// The capture clock of the frames, which is also the host's clock here.
uint64_t fuzz_clock = 1'700'000'000'000'000'000ull;

const wm_host_api* fake_host() {
  static wm_host_api api = [] {
    wm_host_api a{};
    a.struct_size = sizeof a;
    a.abi_major = WM_ABI_MAJOR;
    a.abi_minor = WM_ABI_MINOR;
    a.log = [](void*, int, const char*) {};
    a.now_ns = [](void*) -> uint64_t { return fuzz_clock; };
    a.config_json = [](void*) {
      // Small tables, so that the "full" paths run too.
      return R"({"vlan_pairs": 4, "mpls_labels": 4, "multicast_groups": 4, "arp_bindings": 8,
                 "arp_pending": 4, "arp_conflicts": 4, "stp_bridges": 2, "lldp_neighbours": 2,
                 "arp_conflict_window_ms": 5000})";
    };
    a.register_metric = [](void*, const char*, const char*, int) {
      static int next = 0;
      return next++;
    };
    a.port_count = [](void*) -> uint16_t { return 1; };
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
  const uint8_t* rest = data + 1;
  size_t n = size - 1;
  uint8_t fields[12] = {};
  if (ctl & 1) {
    size_t k = n < sizeof fields ? n : sizeof fields;
    std::memcpy(fields, rest, k);
    rest += k;
    n -= k;
  }
  if (n > 65535) n = 65535;
  std::unique_ptr<uint8_t[]> frame(new uint8_t[n ? n : 1]);
  if (n) std::memcpy(frame.get(), rest, n);
  parse_all(frame.get(), n);

  static wiremeter::Host host(fake_host());
  static Plugin plugin(host);
  static Worker* worker = plugin.make_worker(wm_worker_info{}).release();
  uint64_t& clock = fuzz_clock;
  clock = (ctl & 4) ? clock - 3'000'000'000ull : clock + 700'000'000ull;

  wm_packet p = core_view(frame.get(), static_cast<uint32_t>(n));
  if (ctl & 1) {
    p.l3_off = static_cast<uint16_t>(fields[0] | fields[1] << 8);
    p.vlan_count = fields[2];
    p.vlan[0] = static_cast<uint16_t>(fields[3] | fields[4] << 8);
    p.ether_type = static_cast<uint16_t>(fields[5] | fields[6] << 8);
    p.mpls_count = fields[7];
    p.mpls_label = fields[8];
    p.flags = fields[9] | static_cast<uint32_t>(fields[10] & 3) << 8;
    p.ip_version = (fields[10] >> 2) & 7;
    p.dscp = fields[11];  // beyond 63 on purpose
    p.port = fields[11];  // beyond kMaxPorts now and then
  }
  p.data = frame.get();
  p.cap_len = static_cast<uint32_t>(n);
  p.wire_len = static_cast<uint32_t>(n) + ((ctl & 8) ? 5000 : 0);
  p.ts_ns = clock;
  worker->on_batch(std::span<const wm_packet>(&p, 1));
  worker->worker_tick((ctl & 2) ? clock + 10'000'000'000ull : clock);

  // Now and then the control plane over what the worker published: the second's graphs and
  // counter snapshots (on the same clock, which goes back now and then), then every view.
  static uint64_t runs = 0;
  Worker* workers[] = {worker};
  if (++runs % 16 == 0) plugin.on_tick(workers, clock);
  if (runs % 64 == 0) {
    wiremeter::JsonWriter json;
    plugin.write_json(workers, json);
    for (const char* view : {"vlans", "mpls", "qos", "qos/pcp", "arp/bindings", "arp/conflicts",
                             "control", "control/stp", "control/lldp", "cast/groups"}) {
      wiremeter::JsonWriter out;
      plugin.query(workers, view, wiremeter::Query("sort=last_seen&order=asc&size=3"), out);
    }
    for (const char* view : {"arp", "sizes", "cast", "vlans/0", "arp/bindings/10.0.0.1", "mpls/0",
                             "mpls/16", "qos/0", "qos/EF", "qos/pcp/0"}) {
      wiremeter::JsonWriter out;
      plugin.query(workers, view, wiremeter::Query(""), out);
    }
    // Time windows on the summary views: absolute, relative, and from before any snapshot.
    std::string from = std::to_string((clock - 5'000'000'000ull) / 1'000'000'000ull);
    for (const char* view : {"arp", "sizes", "cast"}) {
      for (const std::string& qs : {"from=" + from, std::string("from=-2&to=-1"),
                                    std::string("from=1&to=2"), "to=" + from}) {
        wiremeter::JsonWriter out;
        plugin.query(workers, view, wiremeter::Query(qs, clock), out);
      }
    }
    for (const char* view : {"sizes", "cast"}) {
      wiremeter::JsonWriter out;
      plugin.query(workers, view, wiremeter::Query("port=0&from=" + from), out);
    }
  }
  return 0;
}

#endif  // WM_FUZZER_CORPUS_MAIN

// libFuzzer target for the voip plugin: its SIP/SDP parser and RTP header parser alone, then its
// whole data path (calls, SDP media hints, RTP stream detection, loss and jitter) and its report
// and REST views, all on the same input.
//
// Input: one control byte, then the payload of a UDP datagram or TCP segment.
//   bit 0  TCP instead of UDP
//   bit 1  from the other side (the reverse direction of the flow)
//   bit 2  the first fragment of an IP-fragmented datagram
//   bit 3  media ports (40000 -> 40002, the RTP path) instead of SIP's 5060
//   bit 4  advance the clock by a second instead of 20 ms
//   bit 5  end the flow afterwards
//
// Built with clang's -fsanitize=fuzzer,address,undefined, so any out-of-bounds read or undefined
// behaviour stops the run. Compiled with WM_FUZZER_CORPUS_MAIN instead, this file is the
// program that cuts the seed corpus out of pcap files: the SIP payloads (port 5060, or starting
// like SIP) and the RTP-looking UDP payloads of every capture, each with its control byte.
#ifdef WM_FUZZER_CORPUS_MAIN

#include <string>

#include "seed_corpus.hpp"

namespace {
// "SIP/2.0 " or "<METHOD> sip:" (the corpus tool links the core only, not the plugin).
bool starts_like_sip(const uint8_t* p, size_t n) {
  std::string_view s(reinterpret_cast<const char*>(p), n < 32 ? n : 32);
  if (s.substr(0, 8) == "SIP/2.0 ") return true;
  size_t sp = s.find(' ');
  if (sp == 0 || sp == std::string_view::npos) return false;
  for (size_t i = 0; i < sp; ++i) {
    if (s[i] < 'A' || s[i] > 'Z') return false;
  }
  return s.substr(sp + 1, 4) == "sip:" || s.substr(sp + 1, 5) == "sips:";
}
}  // namespace

int main(int argc, char** argv) {
  wiremeter::fuzz::SeedWriter* out = nullptr;
  return wiremeter::fuzz::for_each_payload(
      "voip_corpus", argc, argv, out, [&](const wm_packet& v, const uint8_t* payload) {
        bool sip_port = v.src_port == 5060 || v.dst_port == 5060;
        bool tcp = v.l4_proto == 6, udp = v.l4_proto == 17;
        bool sip =
            (tcp && sip_port) || (udp && (sip_port || starts_like_sip(payload, v.payload_len)));
        bool rtp = udp && !sip && (payload[0] & 0xc0) == 0x80 && v.payload_len >= 12;
        if (!sip && !rtp) return;
        std::string seed = wiremeter::fuzz::seed_of(
            static_cast<uint8_t>((tcp ? 1 : 0) | (v.src_port == 5060 ? 2 : 0) |
                                 ((v.flags & WM_PKT_FRAGMENT) ? 4 : 0) | (rtp ? 8 : 0)),
            payload, v.payload_len);
        // RTP seeds differ in their sequence numbers only: one per first 2 bytes + SSRC.
        std::string key = rtp ? seed.substr(0, 3) + seed.substr(9, 4) : seed;
        out->add(seed, key);
      });
}

#else  // the fuzz target

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <span>
#include <string>

#include "fuzz_checks.hpp"
#include "voip_plugin.hpp"
#include "voip_rtp.hpp"
#include "voip_sip.hpp"

namespace {

using wiremeter::fuzz::valid_utf8;
using namespace wiremeter::voip;

// Every view the parser returns lies within the buffer it was given.
void check_view(std::string_view v, const uint8_t* data, size_t len) {
  if (v.empty()) return;
  const char* b = reinterpret_cast<const char*>(data);
  if (v.data() < b || v.data() + v.size() > b + len) __builtin_trap();
}

void parse_alone(const uint8_t* data, size_t len, bool partial) {
  Message m;
  if (parse_message(data, len, m, partial) == Error::kNone) {
    for (std::string_view v :
         {m.method_text, m.request_uri, m.reason, m.call_id, m.from.uri, m.from.tag, m.from.display,
          m.to.uri, m.to.tag, m.contact.uri, m.user_agent, m.cseq_method_text}) {
      check_view(v, data, len);
    }
    if (m.call_id.empty() || m.length > len) __builtin_trap();
    if (!m.request && (m.status < 100 || m.status > 699)) __builtin_trap();
    if (m.sdp.media_count > kMaxSdpMedia || m.sdp.rtpmap_count > kMaxRtpMaps) __builtin_trap();
  }
  Sdp sdp;
  parse_sdp(std::string_view(reinterpret_cast<const char*>(data), len), sdp);
  for (size_t i = 0; i < sdp.media_count; ++i) {
    if (sdp.media[i].format_count > kMaxMediaFormats) __builtin_trap();
  }
  RtpHeader h;
  if (parse_rtp(data, len, h)) {
    if (h.header_len > len || h.header_len < 12) __builtin_trap();
    RtpStats s;
    s.update(h, 1, 8000);
    if (s.expected() != 1 || s.lost() != 0) __builtin_trap();
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
    return a;
  }();
  return &api;
}

struct NullSink {
  static void sample(void*, int, const char* const*, const char* const*, uint32_t, double) {}
  static void histogram(void*, int, const char* const*, const char* const*, uint32_t, const double*,
                        const uint64_t*, uint32_t, double) {}
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  uint8_t ctl = data[0];
  size_t len = size - 1 > 65000 ? 65000 : size - 1;

  // The parsers alone, on a heap copy of exactly the payload: a read one byte past the end is
  // an ASan report.
  std::unique_ptr<uint8_t[]> msg(new uint8_t[len ? len : 1]);
  if (len) std::memcpy(msg.get(), data + 1, len);
  parse_alone(msg.get(), len, ctl & 4);

  // The data path: one long-lived worker with small tables, so that eviction and "full" paths
  // run too.
  static Config config = [] {
    Config c;
    c.calls = 16;
    c.streams = 16;
    c.media_hints = 16;
    return c;
  }();
  static Worker* worker = new Worker(0, 0, config);
  static wm_flow_info flow{};
  static FlowState state{};
  static uint64_t clock = 1'700'000'000'000'000'000ull;
  clock += (ctl & 0x10) ? 1'000'000'000ull : 20'000'000ull;

  // An 8-byte L4 header (UDP, or the first 8 bytes of a TCP one) and the payload.
  std::unique_ptr<uint8_t[]> frame(new uint8_t[8 + len]);
  std::memset(frame.get(), 0, 8);
  if (len) std::memcpy(frame.get() + 8, msg.get(), len);
  wm_packet p{};
  p.data = frame.get();
  p.cap_len = p.wire_len = static_cast<uint32_t>(8 + len);
  p.ts_ns = clock;
  p.payload_off = 8;
  p.payload_len = static_cast<uint16_t>(len);
  p.flags = WM_PKT_IPV4 | WM_PKT_L4 | ((ctl & 4) ? WM_PKT_FRAGMENT | WM_PKT_FIRST_FRAGMENT : 0);
  p.ip_version = 4;
  p.l4_proto = (ctl & 1) ? 6 : 17;
  bool reverse = ctl & 2;
  uint16_t a_port = (ctl & 8) ? 40000 : 5060, b_port = (ctl & 8) ? 40002 : 5060;
  p.src_port = reverse ? b_port : a_port;
  p.dst_port = reverse ? a_port : b_port;
  // 198.18.0.1 and 198.18.0.2: SDP in the corpus may well announce one of them.
  const uint8_t a[4] = {198, 18, 0, 1}, b[4] = {198, 18, 0, 2};
  std::memcpy(p.src_addr, reverse ? b : a, 4);
  std::memcpy(p.dst_addr, reverse ? a : b, 4);
  p.flow = &flow;
  p.flow_state = reinterpret_cast<uint8_t*>(&state);
  p.direction = reverse ? WM_DIR_REVERSE : WM_DIR_FORWARD;
  worker->on_batch(std::span<const wm_packet>(&p, 1));
  if (ctl & 0x20) {
    worker->on_flow_end(flow, state);
    state = FlowState{};
    ++flow.id;
  }

  // Now and then, the control plane's merge, report, views and metrics over what it holds.
  static uint64_t runs = 0;
  if (++runs % 64 == 0) {
    static wiremeter::Host host(fake_host());
    static Plugin plugin(host);
    Worker* workers[] = {worker};
    wiremeter::JsonWriter json;
    plugin.write_json(workers, json);
    if (!valid_utf8(json.str().data(), json.str().size())) __builtin_trap();
    for (const char* path : {"calls", "streams"}) {
      wiremeter::JsonWriter v;
      if (plugin.query(workers, path, wiremeter::Query("sort=start&size=5"), v) != 200) {
        __builtin_trap();
      }
      if (!valid_utf8(v.str().data(), v.str().size())) __builtin_trap();
    }
    // The graphs: a second passes, and the first call's detail (its Call-ID percent-encoded
    // byte by byte, as any text may be in it) is looked at.
    plugin.on_tick(workers, clock);
    Plugin::Snapshot snap = Plugin::snapshot(workers);
    if (!snap.calls.empty()) {
      std::string path = "calls/";
      for (char c : snap.calls.front().call.call_id.view()) {
        char hex[4];
        std::snprintf(hex, sizeof hex, "%%%02X", static_cast<unsigned char>(c));
        path += hex;
      }
      wiremeter::JsonWriter v;
      if (plugin.query(workers, path, wiremeter::Query(""), v) != 200) __builtin_trap();
      if (!valid_utf8(v.str().data(), v.str().size())) __builtin_trap();
    }
    wm_metric_sink raw{nullptr, &NullSink::sample, &NullSink::histogram};
    wiremeter::MetricSink sink(&raw);
    plugin.collect(workers, sink);
  }
  return 0;
}

#endif  // WM_FUZZER_CORPUS_MAIN

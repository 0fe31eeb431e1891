// Loads a capture file into memory for the benchmarks, so that they time wiremeter and not the
// disk or libpcap.
//
// Header-only and shared by the decode and pipeline benchmarks. Not thread-safe; load before the
// timed loops start.
#pragma once

#include <pcap/pcap.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "wiremeter/core/decode.hpp"

namespace wiremeter::bench {

struct Frame {
  size_t offset;  // into Capture::bytes
  uint32_t cap_len;
  uint32_t wire_len;
};

struct Capture {
  std::string path;
  core::LinkType link = core::LinkType::kEthernet;
  std::vector<uint8_t> bytes;  // all frames back to back, each starting on a 64-byte boundary
  std::vector<Frame> frames;
  uint32_t max_cap_len = 0;

  const uint8_t* data(const Frame& f) const { return bytes.data() + f.offset; }
};

// The capture named by `env_var`, or `fallback` when it is unset or empty.
inline std::string capture_path(const char* env_var, const char* fallback) {
  const char* v = std::getenv(env_var);
  return v && *v ? std::string(v) : std::string(fallback);
}

// Reads every frame of `path`. Returns false with a one-line reason in `error`.
inline bool load_capture(const std::string& path, Capture& out, std::string& error) {
  char err[PCAP_ERRBUF_SIZE] = {};
  pcap_t* p = pcap_open_offline(path.c_str(), err);
  if (!p) {
    error = "cannot read capture " + path + ": " + err;
    return false;
  }
  out = Capture{};
  out.path = path;
  int dlt = pcap_datalink(p);
  if (!core::link_type_from_dlt(dlt, out.link)) {
    pcap_close(p);
    error = "capture " + path + ": unsupported link type " + std::to_string(dlt);
    return false;
  }
  pcap_pkthdr* h;
  const u_char* d;
  while (pcap_next_ex(p, &h, &d) == 1) {
    // Cache-line aligned like mbuf data, so frame placement does not skew the decode cost.
    size_t offset = (out.bytes.size() + 63) & ~size_t{63};
    out.bytes.resize(offset + h->caplen);
    std::copy(d, d + h->caplen, out.bytes.begin() + static_cast<ptrdiff_t>(offset));
    out.frames.push_back({offset, h->caplen, h->len});
    if (h->caplen > out.max_cap_len) out.max_cap_len = h->caplen;
  }
  pcap_close(p);
  if (out.frames.empty()) {
    error = "capture " + path + " has no packets";
    return false;
  }
  return true;
}

}  // namespace wiremeter::bench

// Seed corpora for the fuzz targets, cut from capture files: the frame loop, deduplication and
// the file writing that every corpus tool shares. Each tool decides what a seed is.
#pragma once

#include <pcap/pcap.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <set>
#include <string>

#include "wiremeter/core/decode.hpp"

namespace wiremeter::fuzz {

inline constexpr size_t kMaxSeeds = 2000;

// Writes distinct seeds (by `key`, e.g. a prefix that matters to the target) to OUT_DIR.
class SeedWriter {
 public:
  explicit SeedWriter(std::string dir) : dir_(std::move(dir)) {}
  bool full() const { return written_ >= kMaxSeeds; }
  void add(const std::string& seed, const std::string& key) {
    if (full() || !seen_.insert(std::hash<std::string>{}(key)).second) return;
    std::ofstream f(dir_ + "/seed-" + std::to_string(written_++), std::ios::binary);
    f.write(seed.data(), static_cast<std::streamsize>(seed.size()));
  }
  size_t written() const { return written_; }

 private:
  std::string dir_;
  std::set<size_t> seen_;
  size_t written_ = 0;
};

// Calls visit(link, data, caplen, wire_len) for each frame of argv[2..] until `writer` is full;
// captures of unsupported link types are skipped. Prints the usage or error and returns the exit
// status of a corpus tool named `tool`.
template <typename Visit>
int for_each_frame(const char* tool, int argc, char** argv, SeedWriter*& writer, Visit&& visit) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s OUT_DIR FILE.pcap...\n", tool);
    return 2;
  }
  static SeedWriter w(argv[1]);
  writer = &w;
  for (int i = 2; i < argc && !w.full(); ++i) {
    char err[PCAP_ERRBUF_SIZE];
    pcap_t* p = pcap_open_offline(argv[i], err);
    if (!p) {
      std::fprintf(stderr, "%s: %s\n", tool, err);
      return 1;
    }
    core::LinkType lt;
    if (core::link_type_from_dlt(pcap_datalink(p), lt)) {
      pcap_pkthdr* h;
      const u_char* d;
      while (!w.full() && pcap_next_ex(p, &h, &d) == 1) visit(lt, d, h->caplen, h->len);
    }
    pcap_close(p);
  }
  std::printf("%zu seeds\n", w.written());
  return 0;
}

// for_each_frame for the frames with an L4 payload, after the core's decoder: visit(view, payload)
// with `payload` at the view's payload_off (payload_len bytes captured).
template <typename Visit>
int for_each_payload(const char* tool, int argc, char** argv, SeedWriter*& writer, Visit&& visit) {
  return for_each_frame(tool, argc, argv, writer,
                        [&](core::LinkType lt, const u_char* d, uint32_t caplen, uint32_t len) {
                          wm_packet v{};
                          core::decode_packet(d, caplen, len, lt, v);
                          if (!(v.flags & WM_PKT_L4) || v.payload_len == 0) return;
                          visit(v, static_cast<const uint8_t*>(d) + v.payload_off);
                        });
}

// A seed that is one control byte, then `len` bytes of `data`.
inline std::string seed_of(uint8_t control, const uint8_t* data, size_t len) {
  std::string seed(1, static_cast<char>(control));
  seed.append(reinterpret_cast<const char*>(data), len);
  return seed;
}

}  // namespace wiremeter::fuzz

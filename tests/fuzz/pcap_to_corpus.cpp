// Writes the frames of pcap files as a libFuzzer seed corpus: one file per distinct frame,
// prefixed with the decoder's link-type byte. Usage: pcap_to_corpus OUT_DIR FILE.pcap...
#include <pcap/pcap.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <set>
#include <string>

#include "wiremeter/core/decode.hpp"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: pcap_to_corpus OUT_DIR FILE.pcap...\n");
    return 2;
  }
  std::string out = argv[1];
  std::set<size_t> seen;
  size_t written = 0;
  for (int i = 2; i < argc; ++i) {
    char err[PCAP_ERRBUF_SIZE];
    pcap_t* p = pcap_open_offline(argv[i], err);
    if (!p) {
      std::fprintf(stderr, "pcap_to_corpus: %s\n", err);
      return 1;
    }
    wiremeter::core::LinkType lt;
    if (!wiremeter::core::link_type_from_dlt(pcap_datalink(p), lt)) {
      pcap_close(p);
      continue;
    }
    pcap_pkthdr* h;
    const u_char* d;
    // Frames that share their first 96 bytes add nothing to a decoder corpus.
    while (pcap_next_ex(p, &h, &d) == 1 && written < 2000) {
      std::string frame(reinterpret_cast<const char*>(d), h->caplen);
      if (!seen.insert(std::hash<std::string>{}(frame.substr(0, 96))).second) continue;
      std::ofstream f(out + "/seed-" + std::to_string(written++), std::ios::binary);
      f.put(static_cast<char>(lt));
      f.write(frame.data(), static_cast<std::streamsize>(frame.size()));
    }
    pcap_close(p);
  }
  std::printf("%zu seeds\n", written);
  return 0;
}

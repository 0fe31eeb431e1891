// Writes the frames of pcap files as a libFuzzer seed corpus: one file per distinct frame,
// prefixed with the decoder's link-type byte. Usage: pcap_to_corpus OUT_DIR FILE.pcap...
#include <string>

#include "seed_corpus.hpp"

int main(int argc, char** argv) {
  wiremeter::fuzz::SeedWriter* out = nullptr;
  return wiremeter::fuzz::for_each_frame(
      "pcap_to_corpus", argc, argv, out,
      [&](wiremeter::core::LinkType lt, const u_char* d, uint32_t caplen, uint32_t) {
        std::string frame(reinterpret_cast<const char*>(d), caplen);
        // Frames that share their first 96 bytes add nothing to a decoder corpus.
        out->add(std::string(1, static_cast<char>(lt)) + frame, frame.substr(0, 96));
      });
}

// Checks the fuzz targets apply to what a parser hands back, beyond ASan's and UBSan's.
#pragma once

#include <cstddef>
#include <cstdint>

namespace wiremeter::fuzz {

// Parsers promise valid UTF-8 for text that goes into JSON as it is (names, headers, URIs).
inline bool valid_utf8(const char* s, size_t n) {
  const auto* p = reinterpret_cast<const uint8_t*>(s);
  for (size_t i = 0; i < n;) {
    uint8_t b = p[i];
    size_t len = b < 0x80                 ? 1
                 : b >= 0xc2 && b <= 0xdf ? 2
                 : b >= 0xe0 && b <= 0xef ? 3
                 : b >= 0xf0 && b <= 0xf4 ? 4
                                          : 0;
    if (len == 0 || i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xc0) != 0x80) return false;
    }
    i += len;
  }
  return true;
}

}  // namespace wiremeter::fuzz

// libFuzzer target for the packet decoder. The first input byte picks the link type, the rest
// is the frame. Built with clang's -fsanitize=fuzzer,address,undefined, so any out-of-bounds
// read or undefined behaviour stops the run.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

#include "wiremeter/core/decode.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  auto link = static_cast<wiremeter::core::LinkType>(data[0] % 5);
  size_t len = size - 1;
  // A heap copy of exactly the frame length, so ASan sees a read one byte past the end.
  std::unique_ptr<uint8_t[]> frame(new uint8_t[len ? len : 1]);
  if (len) std::memcpy(frame.get(), data + 1, len);
  wm_packet view{};
  auto err = wiremeter::core::decode_packet(frame.get(), static_cast<uint32_t>(len),
                                            static_cast<uint32_t>(len), link, view);
  // Whatever the verdict, every offset the view hands to plugins stays inside the frame.
  if (view.payload_len && static_cast<size_t>(view.payload_off) + view.payload_len > len) {
    __builtin_trap();
  }
  if ((view.flags & WM_PKT_L4) && view.l4_off > len) __builtin_trap();
  if (err == wiremeter::core::DecodeError::kNone && (view.flags & WM_PKT_MALFORMED)) {
    __builtin_trap();
  }
  return 0;
}

// decode_event on any bytes taken as one ring buffer record: the size and
// type in the header are not to be trusted, nor any length inside.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>

#include "events.h"
#include "shimwatch/decode.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const shimwatch::ClockOffset clock{1'700'000'000'000'000'000};
  // Exactly size bytes on the heap, 8-byte aligned as ring buffer records are,
  // so that any read past the end is caught.
  auto record = std::make_unique<std::byte[]>(size);
  if (size > 0)
    std::memcpy(record.get(), data, size);
  std::span<const std::byte> raw(record.get(), size);
  (void)shimwatch::decode_event(raw, clock);

  // The same bytes with a header that tells the truth about the size, so that
  // the fuzzer reaches the fields past the size check.
  if (size >= sizeof(sw_event_header)) {
    auto *header = reinterpret_cast<sw_event_header *>(record.get());
    header->size = static_cast<__u32>(size);
    (void)shimwatch::decode_event(raw, clock);
  }
  return 0;
}

// decode: raw ring buffer records -> Event.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "shimwatch/event.hpp"
#include "shimwatch/result.hpp"

namespace shimwatch {

// Turns the probes' CLOCK_BOOTTIME stamps into Unix time.
struct ClockOffset {
  int64_t boot_to_realtime_ns = 0;

  // Reads both clocks now; call again from time to time to follow clock steps.
  static ClockOffset now();
};

// Decodes one ring buffer record. Never trusts the bytes: sizes and type are
// checked, strings are bounded; a bad record gives an Error, never a crash.
Result<Event> decode_event(std::span<const std::byte> raw, const ClockOffset &clock);

} // namespace shimwatch

// Timestamps as every output writes them: RFC 3339, UTC, microseconds
// ("2026-11-25T14:19:51.542864Z").
#pragma once

#include <cstdint>
#include <string>

namespace shimwatch {

std::string format_rfc3339(int64_t unix_micros);

// Nanoseconds since the epoch, cut (not rounded) to the microsecond.
inline std::string format_timestamp(int64_t unix_ns) {
  int64_t micros = unix_ns / 1000;
  if (unix_ns % 1000 < 0)
    --micros;
  return format_rfc3339(micros);
}

} // namespace shimwatch

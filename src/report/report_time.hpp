// Times in the report: microseconds since the Unix epoch, UTC.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "shimwatch/timestamp.hpp"

namespace shimwatch::report {

using Micros = std::int64_t;

// RFC 3339 as the agent writes it ("2026-11-25T14:28:41.121836Z"); any
// fraction length and a numeric offset are accepted too.
std::optional<Micros> parse_rfc3339(std::string_view text);

// --since / --until: RFC 3339, a date ("2026-11-25", midnight UTC), or an age
// before now ("36h", "7d", "90m", "45s").
std::optional<Micros> parse_time_bound(std::string_view text, Micros now);

// "2026-11-25T14:28:41.121836Z": the agent's own formatter.
using shimwatch::format_rfc3339;

Micros now_micros();

} // namespace shimwatch::report

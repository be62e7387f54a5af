// Names and text every stage writes the same way: the host, the clock,
// errno names, command lines, and UTF-8 made safe for a line-oriented log.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace shimwatch {

struct HostInfo {
  std::string name;
  static HostInfo local();
};

// The wall clock, nanoseconds since the Unix epoch.
int64_t unix_now_ns();
// ENOENT, ECONNREFUSED ...; "E<number>" for values the C library does not name.
std::string errno_name(int error);
// The C library's text for error, or for -error (as libbpf returns it).
std::string errno_text(int error);
// What follows the last slash ("a//b": "b"; "docker": "docker").
std::string_view basename_of(std::string_view path);
// argv joined by spaces, shell-quoted where an argument needs it.
std::string command_line(const std::vector<std::string> &args);

namespace utf8 {
bool valid(std::string_view text);
// Every byte that is not part of a valid UTF-8 sequence becomes U+FFFD.
std::string sanitize(std::string_view text, bool *replaced = nullptr);
// text made safe for a terminal or a line-oriented log: C0 controls (line
// breaks, escape sequences), DEL, C1 controls, the bidirectional overrides
// and isolates, and the line and paragraph separators become "\n", "\r",
// "\t", "\xNN" (a byte) or "\u{NNNN}" (a code point); so do bytes that
// are not UTF-8.
// Nothing a workload names can start a line of its own or rewrite one.
std::string escape_controls(std::string_view text);
} // namespace utf8

} // namespace shimwatch

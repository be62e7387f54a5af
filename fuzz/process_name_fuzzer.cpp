// Names a process chooses (its comm, its executable's path, its argv) on any
// bytes: the /proc/<pid>/stat line they end up in is parsed, and they are
// escaped for the agent's log and terminal outputs. The escaped text must
// be valid UTF-8 with no control character left: nothing a process names
// may break or rewrite a line.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "attribute/process_table.hpp"
#include "shimwatch/text.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char *>(data), size);
  // As comm inside a stat line, and as a whole line.
  const std::string line = "1234 (" + std::string(bytes) +
                           ") S 1 1 1 0 -1 4194560 0 0 0 0 0 0 0 0 "
                           "20 0 1 0 987654 0 0";
  (void)shimwatch::ProcessTable::parse_start_ticks(line);
  (void)shimwatch::ProcessTable::parse_start_ticks(bytes);
  const std::string escaped = shimwatch::utf8::escape_controls(bytes);
  if (!shimwatch::utf8::valid(escaped))
    std::abort();
  for (unsigned char c : escaped)
    if (c < 0x20 || c == 0x7f)
      std::abort();
  // No C1 control, bidirectional control or line separator survives.
  for (const char *hidden :
       {"\xC2\x85", "\xC2\x9B", "\xE2\x80\xAE", "\xE2\x80\xA8", "\xE2\x81\xA6", "\xE2\x80\x8F"})
    if (escaped.find(hidden) != std::string::npos)
      std::abort();
  return 0;
}

// One line of an audit log as `shimwatch report` reads it: the logs it is
// given may be torn, mixed with other tools' lines or written by anyone.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "report/line_parser.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static shimwatch::report::ParsedRecord record; // reused from line to line, as the reader does
  std::string_view line(reinterpret_cast<const char *>(data), size);
  shimwatch::report::strip_kubectl_prefix(line);
  std::string why;
  record.clear();
  (void)shimwatch::report::parse_line(line, record, &why);
  return 0;
}

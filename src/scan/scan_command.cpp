#include <cstdio>

#include "shimwatch/scan.hpp"

namespace shimwatch {

int run_scan_command(const std::vector<std::string> &) {
  std::fputs("shimwatch scan: not built yet\n", stderr);
  return 2;
}

} // namespace shimwatch

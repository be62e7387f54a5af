#include <cstdio>

#include "shimwatch/report.hpp"

namespace shimwatch {

int run_report_command(const std::vector<std::string> &) {
  std::fputs("shimwatch report: not built yet\n", stderr);
  return 2;
}

} // namespace shimwatch

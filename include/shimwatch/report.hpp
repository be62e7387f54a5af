// `shimwatch report`: audit logs from many nodes -> a migration checklist.
#pragma once

#include <string>
#include <vector>

namespace shimwatch {

// args excludes "shimwatch report". Returns the process exit code.
int run_report_command(const std::vector<std::string> &args);

} // namespace shimwatch

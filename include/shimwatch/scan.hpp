// `shimwatch scan`: Docker dependencies in workload specs (cluster or manifests).
#pragma once

#include <string>
#include <vector>

namespace shimwatch {

// args excludes "shimwatch scan". Returns the process exit code.
int run_scan_command(const std::vector<std::string> &args);

} // namespace shimwatch

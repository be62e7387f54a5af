// check: preflight of everything the agent needs from the node.
#pragma once

#include <string>
#include <vector>

#include "shimwatch/config.hpp"

namespace shimwatch {

struct CheckResult {
  std::string name;
  bool ok = false;
  std::string detail; // what was found
  std::string fix;    // what to do, when !ok
};

// Runs every check, in order; the attach test loads and attaches the real
// programs with config's filters, then detaches.
std::vector<CheckResult> run_checks(const Config &config);

// "[ ok ] name: detail" / "[FAIL] name: detail\n       fix: ..."
std::string format_check(const CheckResult &result);

// Capability check shared with `run`: empty when the process may load and
// attach the probes, else what is missing.
std::string missing_privileges();

} // namespace shimwatch

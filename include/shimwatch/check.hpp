// check: preflight of everything the agent needs from the node.
#pragma once

#include <optional>
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

// Whether this kernel can run the agent at all. has_ring_buffer: whether
// a BPF ring buffer map could be created (nullopt: not probed, e.g. no
// privileges; the release decides). Returns the one line that `check`
// prints and `run` exits with when it cannot, nullopt when it can.
std::optional<std::string> unsupported_kernel(const std::string &release,
                                              std::optional<bool> has_ring_buffer);
// The same for the running kernel (probes for ring buffers when it may).
std::optional<std::string> unsupported_kernel();

// Capability check shared with `run`: empty when the process may load and
// attach the probes, else what is missing.
std::string missing_privileges();

} // namespace shimwatch

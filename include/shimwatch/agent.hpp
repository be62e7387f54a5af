// agent: the `run` command, wiring probe -> decode -> classify -> sinks.
#pragma once

#include <stdexcept>

#include "shimwatch/config.hpp"

namespace shimwatch {

// Runs until SIGINT/SIGTERM. Returns the process exit code; start-up
// failures are thrown as StartupError.
int run_agent(const CliRequest &request);

struct StartupError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

} // namespace shimwatch

// What each stage is given, from the config (the config stage's job).
#pragma once

#include "shimwatch/config.hpp"
#include "shimwatch/probe.hpp"

namespace shimwatch {

// What the config asks the kernel to watch.
ProbeOptions probe_options(const Config &config);

} // namespace shimwatch

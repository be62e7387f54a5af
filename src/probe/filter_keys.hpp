// Keys of the kernel-side filter maps, built exactly as the BPF programs build them.
#pragma once

#include <string_view>

#include "events.h"

namespace shimwatch {

// "docker" -> {"docker", zero padded}; longer names cut to comm length (15).
sw_exec_name exec_filter_key(std::string_view basename);

// "/var/run/docker.sock" -> {len 20, path zero padded};
// "@name" -> abstract {len 1 + size of name, "\0name"}.
sw_unix_addr unix_filter_key(std::string_view address);

} // namespace shimwatch

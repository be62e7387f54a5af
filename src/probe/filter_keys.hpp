// Keys of the kernel-side filter maps, built exactly as the BPF programs build them.
#pragma once

#include <cstdint>
#include <string_view>

#include "events.h"

namespace shimwatch {

// "docker" -> {"docker", zero padded}; longer names cut to comm length (15).
sw_exec_name exec_filter_key(std::string_view basename);

// "/var/run/docker.sock" -> {len 20, path zero padded};
// "@name" -> abstract {len 1 + size of name, "\0name"}.
sw_unix_addr unix_filter_key(std::string_view address);

// A stat() device and inode as the kernel keys them (dev: major << 20 | minor).
sw_inode_key inode_filter_key(uint64_t dev, uint64_t ino);

} // namespace shimwatch

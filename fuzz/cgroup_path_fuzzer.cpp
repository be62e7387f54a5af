// parse_cgroup_path on any bytes: a cgroup path comes from /proc/<pid>/cgroup
// or is rebuilt from names the kernel handed the probe, and any process on the
// node chooses its cgroup names.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "shimwatch/attribute.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view path(reinterpret_cast<const char *>(data), size);
  shimwatch::CgroupOrigin origin = shimwatch::parse_cgroup_path(path);
  (void)origin;
  return 0;
}

#include "probe/filter_keys.hpp"

#include <algorithm>
#include <cstring>

namespace shimwatch {

sw_exec_name exec_filter_key(std::string_view basename) {
  sw_exec_name key{};
  size_t n = std::min(basename.size(), sizeof(key.name) - 1);
  std::memcpy(key.name, basename.data(), n);
  return key;
}

sw_unix_addr unix_filter_key(std::string_view address) {
  sw_unix_addr key{};
  if (!address.empty() && address[0] == '@') {
    std::string_view name = address.substr(1);
    size_t n = std::min(name.size(), sizeof(key.path) - 1);
    key.abstract = 1;
    key.path[0] = '\0';
    std::memcpy(key.path + 1, name.data(), n);
    key.len = static_cast<__u32>(n + 1);
    return key;
  }
  size_t n = std::min(address.size(), sizeof(key.path));
  std::memcpy(key.path, address.data(), n);
  key.len = static_cast<__u32>(n);
  return key;
}

} // namespace shimwatch

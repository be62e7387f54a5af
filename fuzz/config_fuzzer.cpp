// A config file on top of the defaults, then validation, then the effective
// config written back and read again: the agent reads the file an operator
// (or a broken ConfigMap) gives it.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "shimwatch/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const shimwatch::Config defaults = shimwatch::default_config();
  std::string_view text(reinterpret_cast<const char *>(data), size);
  auto applied = shimwatch::apply_config_json(text, defaults);
  if (!applied)
    return 0;
  if (!shimwatch::validate_config(*applied))
    return 0;
  // A valid config survives its own rendering.
  std::string rendered = shimwatch::config_to_json(*applied);
  auto again = shimwatch::apply_config_json(rendered, defaults);
  if (!again)
    __builtin_trap();
  return 0;
}

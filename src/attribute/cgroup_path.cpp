#include "shimwatch/attribute.hpp"

namespace shimwatch {

std::string_view origin_type_name(OriginType type) {
  switch (type) {
  case OriginType::host:
    return "host";
  case OriginType::pod:
    return "pod";
  case OriginType::container:
    return "container";
  case OriginType::systemd_unit:
    return "systemd_unit";
  case OriginType::user_session:
    return "user_session";
  }
  return "host";
}

CgroupOrigin parse_cgroup_path(std::string_view) { return {}; }

} // namespace shimwatch

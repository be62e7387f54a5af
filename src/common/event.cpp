#include "shimwatch/event.hpp"

namespace shimwatch {

std::string_view action_name(Action action) {
  switch (action) {
  case Action::docker_cli_exec:
    return "docker-cli-exec";
  case Action::docker_socket_connect:
    return "docker-socket-connect";
  case Action::docker_service_control:
    return "docker-service-control";
  case Action::runtime_socket_connect:
    return "runtime-socket-connect";
  case Action::docker_api_tcp_connect:
    return "docker-api-tcp-connect";
  case Action::docker_config_read:
    return "docker-config-read";
  case Action::docker_config_write:
    return "docker-config-write";
  }
  return "unknown";
}

} // namespace shimwatch

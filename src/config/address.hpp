// host:port for listeners.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "shimwatch/result.hpp"

namespace shimwatch {

struct ListenAddress {
  std::string host; // an IPv4 or IPv6 literal (without brackets), or a name
  uint16_t port = 0;
};

// Accepts "127.0.0.1:9464", "[::1]:9464", "localhost:9464".
Result<ListenAddress> parse_listen_address(std::string_view text);

} // namespace shimwatch

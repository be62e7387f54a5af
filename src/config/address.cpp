#include "config/address.hpp"

#include <charconv>

namespace shimwatch {

Result<ListenAddress> parse_listen_address(std::string_view text) {
  const std::string shown = "'" + std::string(text) + "'";
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos)
    return Error{shown + " is not HOST:PORT (e.g. 127.0.0.1:9464 or [::1]:9464)"};
  std::string_view host = text.substr(0, colon);
  std::string_view port_text = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  else if (host.find(':') != std::string_view::npos)
    return Error{shown + ": IPv6 addresses go in brackets, e.g. [::1]:9464"};
  if (host.empty())
    return Error{shown + " has no host (use 0.0.0.0:PORT to listen on every address)"};
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc{} || end != port_text.data() + port_text.size() || port == 0 || port > 65535)
    return Error{shown + ": port must be a number from 1 to 65535"};
  return ListenAddress{std::string(host), static_cast<uint16_t>(port)};
}

} // namespace shimwatch

#include <algorithm>
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include "shimwatch/classify.hpp"

namespace shimwatch {

LocalAddresses::LocalAddresses() {
  refresh();
}

LocalAddresses::LocalAddresses(std::vector<std::string> addresses)
    : addresses_(std::move(addresses)) {}

void LocalAddresses::refresh() {
  ifaddrs *list = nullptr;
  if (getifaddrs(&list) != 0)
    return; // keep what was known
  std::vector<std::string> fresh;
  for (ifaddrs *i = list; i; i = i->ifa_next) {
    if (!i->ifa_addr)
      continue;
    char text[INET6_ADDRSTRLEN] = {};
    if (i->ifa_addr->sa_family == AF_INET)
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in *>(i->ifa_addr)->sin_addr, text,
                sizeof(text));
    else if (i->ifa_addr->sa_family == AF_INET6)
      inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6 *>(i->ifa_addr)->sin6_addr, text,
                sizeof(text));
    else
      continue;
    fresh.emplace_back(text);
  }
  freeifaddrs(list);
  addresses_ = std::move(fresh);
}

bool LocalAddresses::contains(const std::string &text) const {
  in_addr v4{};
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) {
    uint32_t host = ntohl(v4.s_addr);
    // 127.0.0.0/8, and 0.0.0.0, which connect() takes as this host.
    if ((host >> 24) == 127 || host == 0)
      return true;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, text.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6) || IN6_IS_ADDR_UNSPECIFIED(&v6))
      return true;
    // An IPv4-mapped address counts as the IPv4 one.
    if (IN6_IS_ADDR_V4MAPPED(&v6)) {
      char mapped[INET_ADDRSTRLEN] = {};
      inet_ntop(AF_INET, &v6.s6_addr[12], mapped, sizeof(mapped));
      return contains(mapped);
    }
  }
  return std::find(addresses_.begin(), addresses_.end(), text) != addresses_.end();
}

} // namespace shimwatch

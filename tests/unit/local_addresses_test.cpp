// LocalAddresses: which TCP destinations count as "this node's Docker
// Engine" (watch.tcp_destinations local): loopback, the unspecified address,
// IPv4-mapped forms of those, and the node's own interface addresses.
#include <gtest/gtest.h>

#include <algorithm>
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <vector>

#include "shimwatch/classify.hpp"

using shimwatch::LocalAddresses;

namespace {

// Every address getifaddrs reports, as inet_ntop writes it; read here
// independently of LocalAddresses::refresh.
std::vector<std::string> interface_addresses() {
  std::vector<std::string> found;
  ifaddrs *list = nullptr;
  if (getifaddrs(&list) != 0)
    return found;
  for (ifaddrs *i = list; i; i = i->ifa_next) {
    if (!i->ifa_addr)
      continue;
    char text[INET6_ADDRSTRLEN] = {};
    const void *where = nullptr;
    int family = i->ifa_addr->sa_family;
    if (family == AF_INET)
      where = &reinterpret_cast<const sockaddr_in *>(i->ifa_addr)->sin_addr;
    else if (family == AF_INET6)
      where = &reinterpret_cast<const sockaddr_in6 *>(i->ifa_addr)->sin6_addr;
    else
      continue;
    if (inet_ntop(family, where, text, sizeof(text)))
      found.emplace_back(text);
  }
  freeifaddrs(list);
  return found;
}

LocalAddresses fixed() {
  return LocalAddresses(std::vector<std::string>{"10.0.0.5", "fe80::1"});
}

} // namespace

TEST(LocalAddresses, LoopbackAndUnspecifiedAlwaysCount) {
  LocalAddresses local = fixed();
  for (const char *text : {"127.0.0.1", "127.5.5.5", "127.255.255.254", "0.0.0.0", "::1", "::"})
    EXPECT_TRUE(local.contains(text)) << text;
}

TEST(LocalAddresses, TheGivenAddressesCount) {
  LocalAddresses local = fixed();
  EXPECT_TRUE(local.contains("10.0.0.5"));
  EXPECT_TRUE(local.contains("fe80::1"));
}

TEST(LocalAddresses, Ipv4MappedAddressesCountAsTheirIpv4Address) {
  LocalAddresses local = fixed();
  EXPECT_TRUE(local.contains("::ffff:127.0.0.1"));
  EXPECT_TRUE(local.contains("::ffff:127.9.8.7"));
  EXPECT_TRUE(local.contains("::ffff:0.0.0.0"));
  EXPECT_TRUE(local.contains("::ffff:10.0.0.5"));
  EXPECT_FALSE(local.contains("::ffff:8.8.8.8"));
  EXPECT_FALSE(local.contains("::ffff:10.0.0.6"));
}

TEST(LocalAddresses, OtherAddressesDoNot) {
  LocalAddresses local = fixed();
  for (const char *text : {"10.0.0.6", "10.0.0.50", "8.8.8.8", "128.0.0.1", "126.255.255.255",
                           "2001:db8::1", "fe80::2", "::2"})
    EXPECT_FALSE(local.contains(text)) << text;
}

TEST(LocalAddresses, TextThatIsNoAddressDoesNot) {
  LocalAddresses local = fixed();
  for (const char *text : {"", "garbage", "localhost", "127.0.0.1:2375", "[::1]", "127.0.0"})
    EXPECT_FALSE(local.contains(text)) << "'" << text << "'";
}

TEST(LocalAddresses, AnEmptyListStillHasLoopback) {
  LocalAddresses local(std::vector<std::string>{});
  EXPECT_TRUE(local.contains("127.0.0.1"));
  EXPECT_TRUE(local.contains("::1"));
  EXPECT_FALSE(local.contains("10.0.0.5"));
  EXPECT_FALSE(local.contains("fe80::1"));
}

TEST(LocalAddresses, DefaultHoldsEveryInterfaceAddress) {
  LocalAddresses local;
  EXPECT_TRUE(local.contains("127.0.0.1"));
  EXPECT_TRUE(local.contains("::1"));
  auto addresses = interface_addresses();
  ASSERT_FALSE(addresses.empty()) << "getifaddrs reported nothing (not even lo)";
  for (const auto &text : addresses)
    EXPECT_TRUE(local.contains(text)) << text;
  // Addresses on no interface of this machine do not.
  for (const std::string text : {"198.51.100.77", "2001:db8::77"}) {
    ASSERT_EQ(std::find(addresses.begin(), addresses.end(), text), addresses.end()) << text;
    EXPECT_FALSE(local.contains(text)) << text;
  }
}

TEST(LocalAddresses, RefreshKeepsTheInterfaceAddresses) {
  LocalAddresses local;
  local.refresh();
  auto addresses = interface_addresses();
  for (const auto &text : addresses)
    EXPECT_TRUE(local.contains(text)) << text;
  EXPECT_FALSE(local.contains("198.51.100.77"));
}

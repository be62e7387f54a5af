// Keys of the kernel filter maps: a byte off and the map lookup never matches.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include "events.h"
#include "probe/filter_keys.hpp"
#include "shimwatch/probe.hpp"
#include "shimwatch/decode.hpp"

using namespace std::string_view_literals;
using shimwatch::exec_filter_key;
using shimwatch::unix_filter_key;

namespace {

// Map lookups compare every byte, padding included.
template <typename T> bool same_bytes(const T &a, const T &b) {
  return std::memcmp(&a, &b, sizeof(T)) == 0;
}

template <typename T> bool all_zero_from(const T &value, size_t offset) {
  const auto *bytes = reinterpret_cast<const unsigned char *>(&value);
  for (size_t i = offset; i < sizeof(T); ++i)
    if (bytes[i] != 0)
      return false;
  return true;
}

TEST(ExecFilterKey, ZeroPaddedToCommLength) {
  sw_exec_name key = exec_filter_key("docker");
  EXPECT_EQ(std::string_view(key.name, 6), "docker");
  EXPECT_TRUE(all_zero_from(key, 6));
}

TEST(ExecFilterKey, FifteenBytesFitWithTheirNul) {
  sw_exec_name key = exec_filter_key("docker-compose1");
  EXPECT_EQ(std::string_view(key.name, 15), "docker-compose1");
  EXPECT_EQ(key.name[15], '\0');
}

TEST(ExecFilterKey, LongerNamesAreCutToFifteenBytes) {
  // exec() leaves only the first 15 bytes of the basename in task->comm.
  sw_exec_name key = exec_filter_key("docker-credential-helper");
  EXPECT_EQ(std::string_view(key.name, 15), "docker-credenti");
  EXPECT_EQ(key.name[15], '\0');
  EXPECT_TRUE(same_bytes(key, exec_filter_key("docker-credenti")));
  EXPECT_TRUE(
      same_bytes(key, exec_filter_key(std::string(16, 'x').replace(0, 15, "docker-credenti"))));
}

TEST(ExecFilterKey, EmptyNameIsAllZero) {
  EXPECT_TRUE(all_zero_from(exec_filter_key(""), 0));
}

TEST(UnixFilterKey, FilesystemPath) {
  sw_unix_addr key = unix_filter_key("/var/run/docker.sock");
  EXPECT_EQ(key.len, 20u);
  EXPECT_EQ(key.abstract, 0);
  EXPECT_EQ(key.pad[0], 0);
  EXPECT_EQ(key.pad[1], 0);
  EXPECT_EQ(key.pad[2], 0);
  EXPECT_EQ(std::string_view(key.path, 20), "/var/run/docker.sock");
  EXPECT_TRUE(all_zero_from(key, offsetof(sw_unix_addr, path) + 20));
}

TEST(UnixFilterKey, AbstractName) {
  sw_unix_addr key = unix_filter_key("@name");
  EXPECT_EQ(key.abstract, 1);
  EXPECT_EQ(key.len, 5u);
  EXPECT_EQ(std::string_view(key.path, 5), "\0name"sv);
  EXPECT_TRUE(all_zero_from(key, offsetof(sw_unix_addr, path) + 5));
}

TEST(UnixFilterKey, AbstractNeverEqualsAFilesystemPath) {
  sw_unix_addr abstract = unix_filter_key("@name");
  EXPECT_FALSE(same_bytes(abstract, unix_filter_key("/name")));
  EXPECT_FALSE(same_bytes(abstract, unix_filter_key("name")));
  EXPECT_FALSE(same_bytes(abstract, unix_filter_key("@nam")));
  EXPECT_FALSE(same_bytes(abstract, unix_filter_key("@name2")));
  EXPECT_TRUE(same_bytes(abstract, unix_filter_key("@name")));
}

TEST(UnixFilterKey, LongPathsAreBoundedBySunPath) {
  std::string full = "/" + std::string(SW_UNIX_PATH_MAX - 1, 'p');
  sw_unix_addr key = unix_filter_key(full);
  EXPECT_EQ(key.len, static_cast<__u32>(SW_UNIX_PATH_MAX));
  EXPECT_EQ(std::string_view(key.path, SW_UNIX_PATH_MAX), full);

  sw_unix_addr longer = unix_filter_key(full + "xyz");
  EXPECT_EQ(longer.len, static_cast<__u32>(SW_UNIX_PATH_MAX));

  std::string abstract_name(SW_UNIX_PATH_MAX - 1, 'a');
  sw_unix_addr abstract = unix_filter_key("@" + abstract_name);
  EXPECT_EQ(abstract.len, static_cast<__u32>(SW_UNIX_PATH_MAX));
  EXPECT_EQ(abstract.path[0], '\0');
  EXPECT_EQ(std::string_view(abstract.path + 1, SW_UNIX_PATH_MAX - 1), abstract_name);

  sw_unix_addr abstract_longer = unix_filter_key("@" + abstract_name + "xyz");
  EXPECT_EQ(abstract_longer.len, static_cast<__u32>(SW_UNIX_PATH_MAX));
}

// A watched address, recorded by the probe as its key and decoded, must come
// back as the same string: that is what users grep the audit log for.
TEST(UnixFilterKey, DecodeGivesBackTheWatchedAddress) {
  for (const char *address : {"/var/run/docker.sock", "@name", "@docker.sock"}) {
    auto rec = std::make_unique<sw_event>();
    rec->hdr.type = SW_EVENT_CONNECT;
    rec->hdr.size = offsetof(sw_event, args);
    rec->addr = unix_filter_key(address);
    auto event = shimwatch::decode_event(
        std::span<const std::byte>(reinterpret_cast<const std::byte *>(rec.get()),
                                   offsetof(sw_event, args)),
        shimwatch::ClockOffset{});
    ASSERT_TRUE(event.ok()) << event.error().message;
    EXPECT_EQ(event->socket_path, address);
    EXPECT_EQ(event->socket_abstract, address[0] == '@');
  }
}

} // namespace

TEST(FilterKeys, InodeKeyUsesTheKernelDeviceEncoding) {
  sw_inode_key key = shimwatch::inode_filter_key(makedev(259, 1), 42);
  EXPECT_EQ(key.ino, 42u);
  EXPECT_EQ(key.dev, (259u << 20) | 1u);
  EXPECT_EQ(key.pad, 0u);
}

TEST(FilterKeys, SocketIdentitiesKeepOnlySocketsThatExist) {
  char dir_template[] = "/tmp/sw-identity-XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  std::string dir = dir_template;
  std::string sock_path = dir + "/real.sock";
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, sock_path.c_str());
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(symlink(sock_path.c_str(), (dir + "/link.sock").c_str()), 0);
  std::string plain = dir + "/plain";
  close(open(plain.c_str(), O_CREAT | O_WRONLY, 0600));

  auto ids = shimwatch::resolve_socket_identities(
      {sock_path, dir + "/link.sock", dir + "/missing.sock", plain, "@abstract", "relative.sock"});
  struct stat st {};
  ASSERT_EQ(stat(sock_path.c_str(), &st), 0);
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_EQ(ids[0].second, sock_path);
  EXPECT_EQ(ids[1].second, dir + "/link.sock");
  EXPECT_EQ(ids[0].first, (shimwatch::SocketIdentity{st.st_dev, st.st_ino}));
  EXPECT_EQ(ids[1].first, ids[0].first); // a symlink stands for its target

  close(fd);
  unlink((dir + "/link.sock").c_str());
  unlink(sock_path.c_str());
  unlink(plain.c_str());
  rmdir(dir.c_str());
}

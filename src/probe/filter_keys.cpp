#include "probe/filter_keys.hpp"

#include <algorithm>
#include <cstring>
#include <optional>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "shimwatch/probe.hpp"

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

namespace shimwatch {

sw_inode_key inode_filter_key(uint64_t dev, uint64_t ino) {
  sw_inode_key key{};
  key.ino = ino;
  key.dev = static_cast<__u32>((major(dev) << 20) | minor(dev));
  return key;
}

std::string node_path(const std::string &path) {
  // In a container (a DaemonSet pod with hostPID) the node's files are under
  // PID 1's root; on the node itself the namespaces are the same.
  static const bool in_other_mount_namespace = [] {
    struct stat own {
    }, node{};
    return ::stat("/proc/self/ns/mnt", &own) == 0 && ::stat("/proc/1/ns/mnt", &node) == 0 &&
           own.st_ino != node.st_ino && ::access("/proc/1/root/", X_OK) == 0;
  }();
  if (!in_other_mount_namespace || path.empty() || path[0] != '/')
    return path;
  return "/proc/1/root" + path;
}

namespace {

// The identity and file type of an absolute path that exists on the node
// (stat follows symlinks).
std::optional<std::pair<FileIdentity, mode_t>> identity_of(const std::string &path) {
  struct stat st {};
  if (path.empty() || path[0] != '/' || stat(node_path(path).c_str(), &st) != 0)
    return std::nullopt;
  return std::pair{FileIdentity{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)},
                   static_cast<mode_t>(st.st_mode & S_IFMT)};
}

std::vector<std::pair<FileIdentity, std::string>>
resolve_identities(const std::vector<std::string> &paths, mode_t type) {
  std::vector<std::pair<FileIdentity, std::string>> out;
  for (const auto &path : paths)
    if (auto found = identity_of(path); found && found->second == type)
      out.emplace_back(found->first, path);
  return out;
}

} // namespace

std::vector<std::pair<SocketIdentity, std::string>>
resolve_socket_identities(const std::vector<std::string> &paths) {
  return resolve_identities(paths, S_IFSOCK);
}

std::vector<std::tuple<FileIdentity, std::string, bool>>
resolve_config_identities(const std::vector<std::string> &paths) {
  std::vector<std::tuple<FileIdentity, std::string, bool>> out;
  for (const auto &path : paths)
    if (auto found = identity_of(path);
        found && (found->second == S_IFDIR || found->second == S_IFREG))
      out.emplace_back(found->first, path, found->second == S_IFDIR);
  return out;
}

std::vector<std::pair<FileIdentity, std::string>>
resolve_executable_identities(const std::vector<std::string> &paths) {
  return resolve_identities(paths, S_IFREG);
}

} // namespace shimwatch

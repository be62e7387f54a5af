#include "pipeline/renamed_binaries.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "shimwatch/fd.hpp"

namespace shimwatch {
namespace {

// Bounds: a node has a handful of docker builds; anything beyond these is
// someone feeding the agent binaries, and is not remembered.
constexpr size_t kMaxKnownBuildIds = 512;
constexpr size_t kMaxRemembered = 4096;
constexpr int kReadTries = 3;

uint32_t namespace_inode(const char *path) {
  struct stat st {};
  return ::stat(path, &st) == 0 ? static_cast<uint32_t>(st.st_ino) : 0;
}

// The binary the event's process runs, opened so that it cannot be another
// file: through /proc/<pid>/exe while the process lives, else by its path
// when it lives in the host's mount namespace; checked against the identity
// the kernel reported.
Fd open_binary(const Event &event, uint32_t own_mnt_ns, uint32_t host_mnt_ns) {
  std::vector<std::string> candidates = {"/proc/" + std::to_string(event.process.pid) + "/exe"};
  const std::string &path = event.process.executable;
  if (!path.empty() && path[0] == '/' && !event.process.executable_truncated) {
    if (own_mnt_ns != 0 && event.mnt_ns == own_mnt_ns)
      candidates.push_back(path);
    else if (host_mnt_ns != 0 && event.mnt_ns == host_mnt_ns)
      candidates.push_back("/proc/1/root" + path); // the agent in a container
  }
  for (const auto &path : candidates) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    struct stat st {};
    if (fd && ::fstat(fd.get(), &st) == 0 && S_ISREG(st.st_mode) && st.st_ino == event.exe_ino &&
        st.st_dev == event.exe_dev)
      return fd;
  }
  return Fd();
}

FileIdentity identity_of(const Event &event) {
  return FileIdentity{event.exe_dev, event.exe_ino};
}

} // namespace

RenamedBinaries::RenamedBinaries(const std::vector<std::string> &configured,
                                 const std::vector<std::string> &names)
    : learn_names_(names.begin(), names.end()), own_mnt_ns_(namespace_inode("/proc/self/ns/mnt")),
      host_mnt_ns_(namespace_inode("/proc/1/ns/mnt")) {
  for (const auto &id : configured)
    known_.insert("gnu:" + id);
}

void RenamedBinaries::set_watched_binaries(
    const std::vector<std::pair<FileIdentity, std::string>> &binaries) {
  for (const auto &[identity, path] : binaries) {
    if (watched_.count(identity) || watched_.size() >= kMaxRemembered)
      continue;
    auto id = read_build_id(node_path(path));
    watched_[identity] = id ? id->value : "";
    if (id && known_.size() < kMaxKnownBuildIds && known_.insert(id->value).second)
      spdlog::debug("build-id {} of {}: its renamed copies count too", id->value, path);
  }
}

bool RenamedBinaries::wants_to_learn(const Event &event) {
  // The file itself is named docker (not a link to some other tool).
  const std::string &exe = event.process.executable;
  if (!learn_names_.count(exe.substr(exe.rfind('/') + 1)))
    return false;
  return event.exe_ino != 0 && known_.size() < kMaxKnownBuildIds &&
         learned_from_.size() < kMaxRemembered && learned_from_.insert(identity_of(event)).second;
}

void RenamedBinaries::learn(const Event &event, const BinaryChecker::Read &read) {
  if (!read.readable) {
    learned_from_.erase(identity_of(event)); // gone already: learn at its next run
    return;
  }
  // Only a Go binary: the docker CLI and its plugins are, while a script's
  // interpreter or a test stand-in named docker is not.
  const auto &id = read.build_id;
  if (id && id->go_toolchain && known_.size() < kMaxKnownBuildIds &&
      known_.insert(id->value).second)
    spdlog::debug("build-id {} of {} (pid {}): its renamed copies count too", id->value,
                  event.process.executable, event.process.pid);
}

BinaryChecker::Read RenamedBinaries::read(const Event &event) const {
  BinaryChecker::Read out;
  Fd fd = open_binary(event, own_mnt_ns_, host_mnt_ns_);
  out.readable = static_cast<bool>(fd);
  if (out.readable)
    out.build_id = read_build_id(fd.get());
  return out;
}

RenamedBinaries::Verdict RenamedBinaries::check(Event &event, const BinaryChecker::Read &read) {
  if (!read.readable)
    return Verdict::unreadable;
  const auto &id = read.build_id;
  if (!id || !known_.count(id->value))
    return Verdict::other;
  event.exec_matched_by_identity = true;
  event.exec_matched_by_build_id = true;
  event.exec_build_id = id->value;
  if (found_.size() < kMaxRemembered)
    found_.insert(identity_of(event));
  return Verdict::docker;
}

bool RenamedBinaries::retry(const Event &event) {
  if (tries_.size() >= kMaxRemembered)
    tries_.clear();
  return ++tries_[identity_of(event)] < kReadTries;
}

} // namespace shimwatch

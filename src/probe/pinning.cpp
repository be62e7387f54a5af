#include "probe/pinning.hpp"

#include <bpf/bpf.h>
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <thread>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <linux/magic.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "events.h"
#include "shimwatch/fd.hpp"
#include "shimwatch/text.hpp"

namespace shimwatch::pinning {

namespace {

// Per-CPU scratch space and the per-process context cache are private to
// each copy of the programs; libbpf's own maps (.rodata, .bss) hold each
// copy's settings.
bool shared(const bpf_map *map) {
  const char *name = bpf_map__name(map);
  return !bpf_map__is_internal(map) && std::strcmp(name, "scratch") != 0 &&
         std::strcmp(name, "scratch_context") != 0 && std::strcmp(name, "process_context") != 0;
}

std::string map_path(const std::string &dir, const bpf_map *map) {
  return dir + "/" + bpf_map__name(map);
}

std::string links_dir(const std::string &dir) {
  return dir + "/links";
}

bool exists(const std::string &path) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0;
}

// The pinned agent_state entry, if there is one.
bool read_state(const std::string &dir, sw_agent_state &state) {
  Fd fd(bpf_obj_get((dir + "/agent_state").c_str()));
  if (!fd)
    return false;
  __u32 zero = 0;
  return bpf_map_lookup_elem(fd.get(), &zero, &state) == 0;
}

// Why the pinned map at path cannot stand in for map, or "" when it can.
std::string mismatch(const std::string &path, const bpf_map *map) {
  Fd fd(bpf_obj_get(path.c_str()));
  if (!fd)
    return std::string(bpf_map__name(map)) + " is not pinned";
  bpf_map_info info{};
  __u32 len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd.get(), &info, &len) != 0)
    return std::string(bpf_map__name(map)) + ": " + errno_text(errno);
  if (info.type != static_cast<__u32>(bpf_map__type(map)) ||
      info.key_size != bpf_map__key_size(map) || info.value_size != bpf_map__value_size(map) ||
      info.max_entries != bpf_map__max_entries(map) || info.map_flags != bpf_map__map_flags(map))
    return std::string(bpf_map__name(map)) + " has another layout or size (max entries " +
           std::to_string(info.max_entries) + ", here " +
           std::to_string(bpf_map__max_entries(map)) + ")";
  return "";
}

std::vector<std::string> entries(const std::string &dir) {
  std::vector<std::string> names;
  DIR *d = opendir(dir.c_str());
  if (!d)
    return names;
  while (dirent *entry = readdir(d)) {
    std::string name = entry->d_name;
    if (name != "." && name != "..")
      names.push_back(name);
  }
  closedir(d);
  return names;
}

Status make_dir(const std::string &path) {
  if (mkdir(path.c_str(), 0700) != 0 && errno != EEXIST)
    return Error{"creating " + path + " failed: " + errno_text(errno), errno};
  return Ok{};
}

bool is_bpffs(const std::string &path) {
  struct statfs fs {};
  return statfs(path.c_str(), &fs) == 0 && fs.f_type == BPF_FS_MAGIC;
}

// Whether the mount on path propagates to other mount namespaces (its
// mountinfo line has a "shared:N" field): the topmost mount there counts.
bool shared_mount(const std::string &path) {
  std::ifstream mountinfo("/proc/self/mountinfo");
  std::string line;
  bool shared = false;
  while (std::getline(mountinfo, line)) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, point, options, optional;
    fields >> id >> parent >> dev >> root >> point >> options;
    if (point != path)
      continue;
    shared = false;
    while (fields >> optional && optional != "-")
      shared = shared || optional.rfind("shared:", 0) == 0;
  }
  return shared;
}

// Whether this process shares the mount namespace of pid 1 (the node's,
// for an agent with the host's PID namespace).
bool in_init_mount_namespace() {
  char self[64] = {}, init[64] = {};
  return readlink("/proc/self/ns/mnt", self, sizeof(self) - 1) > 0 &&
         readlink("/proc/1/ns/mnt", init, sizeof(init) - 1) > 0 && std::strcmp(self, init) == 0;
}

bool empty_directory(const std::string &path) {
  std::error_code ec;
  return std::filesystem::is_directory(path, ec) && std::filesystem::is_empty(path, ec) && !ec;
}

} // namespace

Status ensure_bpffs(const std::string &dir) {
  const std::string parent = std::filesystem::path(dir).parent_path().string();
  if (is_bpffs(parent))
    return Ok{};
  const std::string how = "mount it (mount -t bpf bpf " + parent +
                          "; in a pod, mount the node's /sys/fs/bpf with "
                          "mountPropagation: Bidirectional), or run with --no-pin";
  // Only where the kernel keeps a place for it: mounting elsewhere, or over
  // a directory that holds anything, would hide what is there.
  if (parent != "/sys/fs/bpf" || !empty_directory(parent))
    return Error{"--pin-path " + dir + ": " + parent + " is not a BPF filesystem: " + how, ENOTDIR};
  if (mount("bpf", parent.c_str(), "bpf", 0, "mode=0700") != 0)
    return Error{"--pin-path " + dir + ": " + parent +
                     " is not a BPF filesystem and mounting one there failed (" +
                     errno_text(errno) + "): " + how,
                 errno};
  spdlog::info("mounted a BPF filesystem on {} (it was not mounted)", parent);
  // In a pod, a mount that does not reach the node goes with the pod, and
  // the pins with it.
  if (!in_init_mount_namespace() && !shared_mount(parent))
    spdlog::warn("the BPF filesystem mounted on {} is private to this mount namespace: the "
                 "pinned probes go when it does (in a pod: mount the node's /sys/fs/bpf with "
                 "mountPropagation: Bidirectional, or mount a bpffs on the node)",
                 parent);
  return Ok{};
}

Result<Fd> lock(const std::string &dir, std::chrono::milliseconds wait) {
  if (auto mounted = ensure_bpffs(dir); !mounted)
    return mounted.error();
  if (auto made = make_dir(dir); !made)
    return made.error();
  // What is pinned there is trusted as the agent's own: the ring buffer it
  // reads, the filters it fills. A directory someone else made (or may
  // write) could hold maps of theirs.
  for (const std::string &path : {dir, links_dir(dir)}) {
    if (auto made = make_dir(path); !made)
      return made.error();
    struct stat st {};
    if (lstat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
        (st.st_mode & 0077) != 0)
      return Error{"--pin-path " + dir + ": " + path +
                       " is not a directory of the agent's own that only it may use (mode 0700, "
                       "owner uid " +
                       std::to_string(geteuid()) + "): remove it, or give another --pin-path",
                   EPERM};
  }
  Fd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd)
    return Error{"opening " + dir + " failed: " + errno_text(errno), errno};
  const auto deadline = std::chrono::steady_clock::now() + wait;
  bool told = false;
  while (flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK || std::chrono::steady_clock::now() >= deadline) {
      int err = errno;
      return Error{"another shimwatch agent runs with --pin-path " + dir +
                       " (it holds the lock on it): stop it, or give this one another "
                       "--pin-path, or --no-pin",
                   err == EWOULDBLOCK ? EBUSY : err};
    }
    if (!told) {
      spdlog::info("waiting up to {} s for the agent that holds {} to stop",
                   std::chrono::duration_cast<std::chrono::seconds>(wait).count(), dir);
      told = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return fd;
}

Result<Previous> inspect(const std::string &dir, bpf_object *object) {
  Previous previous;
  bpf_map *map;
  bpf_object__for_each_map(map, object) {
    if (shared(map) && exists(map_path(dir, map)))
      previous.found = true;
  }
  if (!previous.found)
    return previous;
  sw_agent_state state{};
  if (!read_state(dir, state)) {
    previous.why_not = "agent_state is missing or unreadable";
    return previous;
  }
  previous.generation = state.generation;
  // Maps of a start that failed before it attached anything: replaced
  // without a word.
  if (state.abi == 0 && state.generation == 0)
    return previous;
  if (state.abi != SW_ABI_VERSION) {
    previous.why_not = "it was written by a version with record layout " +
                       std::to_string(state.abi) + " (this one: " + std::to_string(SW_ABI_VERSION) +
                       ")";
    return previous;
  }
  bpf_object__for_each_map(map, object) {
    if (!shared(map))
      continue;
    if (std::string why = mismatch(map_path(dir, map), map); !why.empty()) {
      previous.why_not = why;
      return previous;
    }
  }
  previous.compatible = true;
  return previous;
}

Status prepare(const std::string &dir, bpf_object *object, const Previous &previous) {
  bpf_map *map;
  if (previous.found && !previous.compatible) {
    // Unpinned, the old maps live on for the old programs until their
    // links go; this agent creates its own.
    bpf_object__for_each_map(map, object) {
      if (shared(map))
        (void)unlink(map_path(dir, map).c_str());
    }
  }
  bpf_object__for_each_map(map, object) {
    if (!shared(map))
      continue;
    if (int err = bpf_map__set_pin_path(map, map_path(dir, map).c_str()))
      return Error{"setting the pin path of " + std::string(bpf_map__name(map)) +
                       " failed: " + errno_text(err),
                   -err};
  }
  return Ok{};
}

std::vector<std::pair<std::string, Fd>> take_links(const std::string &dir) {
  std::vector<std::pair<std::string, Fd>> fds;
  for (const auto &name : entries(links_dir(dir))) {
    const std::string path = links_dir(dir) + "/" + name;
    Fd fd(bpf_obj_get(path.c_str()));
    if (!fd) {
      spdlog::warn("pinned link {} cannot be opened: {}; removed", path, errno_text(errno));
    } else {
      fds.emplace_back(path, std::move(fd));
    }
    (void)unlink(path.c_str());
  }
  return fds;
}

Status pin_links(const std::string &dir,
                 const std::vector<std::pair<std::string, bpf_link *>> &links) {
  for (const auto &[name, link] : links) {
    const std::string path = links_dir(dir) + "/" + name;
    (void)unlink(path.c_str());
    if (int err = bpf_link__pin(link, path.c_str()))
      return Error{"pinning the link of " + name + " at " + path + " failed: " + errno_text(err),
                   -err};
    // Closing a tracepoint link through libbpf disables its perf event, even
    // while the pin holds the link: from here on only the pin owns it.
    bpf_link__disconnect(link);
  }
  return Ok{};
}

Status activate(bpf_object *object, uint32_t generation) {
  bpf_map *map = bpf_object__find_map_by_name(object, "agent_state");
  if (!map)
    return Error{"the BPF object has no agent_state map"};
  sw_agent_state state{};
  __u32 zero = 0;
  // What the agent before noted about losses stays for this one to read.
  (void)bpf_map__lookup_elem(map, &zero, sizeof(zero), &state, sizeof(state), 0);
  state.generation = generation;
  state.abi = SW_ABI_VERSION;
  if (bpf_map__update_elem(map, &zero, sizeof(zero), &state, sizeof(state), BPF_ANY) != 0)
    return Error{"activating the programs failed: " + errno_text(errno), errno};
  return Ok{};
}

Result<std::vector<std::string>> remove_all(const std::string &dir) {
  std::vector<std::string> removed;
  if (!exists(dir))
    return removed;
  // Links first: the programs stop before the maps they write to go.
  for (const auto &name : entries(links_dir(dir))) {
    const std::string path = links_dir(dir) + "/" + name;
    if (unlink(path.c_str()) != 0)
      return Error{"removing " + path + " failed: " + errno_text(errno), errno};
    removed.push_back(path);
  }
  if (rmdir(links_dir(dir).c_str()) != 0 && errno != ENOENT)
    return Error{"removing " + links_dir(dir) + " failed: " + errno_text(errno), errno};
  for (const auto &name : entries(dir)) {
    const std::string path = dir + "/" + name;
    if (unlink(path.c_str()) != 0)
      return Error{"removing " + path + " failed: " + errno_text(errno), errno};
    removed.push_back(path);
  }
  if (rmdir(dir.c_str()) != 0)
    return Error{"removing " + dir + " failed: " + errno_text(errno), errno};
  return removed;
}

Summary summarize(const std::string &dir) {
  Summary summary;
  sw_agent_state state{};
  if (!read_state(dir, state))
    return summary;
  summary.present = true;
  if (Fd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)); fd)
    summary.in_use = flock(fd.get(), LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  summary.generation = state.generation;
  summary.abi = state.abi;
  summary.links = entries(links_dir(dir)).size();
  return summary;
}

} // namespace shimwatch::pinning

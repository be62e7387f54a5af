// probe: loads the BPF programs, fills the filters, attaches, reads records.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "shimwatch/result.hpp"

namespace shimwatch {

struct ProbeOptions {
  std::vector<std::string> watch_exec;    // basenames
  std::vector<std::string> watch_sockets; // absolute paths or @abstract
  uint32_t ring_buffer_bytes = 8 * 1024 * 1024;
  // Also report connects that reach a watched socket under another path
  // (identities set with set_watched_sockets). Costs a table entry per unix
  // connect in flight.
  bool match_socket_identity = true;
  // Also report exec of a file with a watched identity (set with
  // set_watched_executables) whatever its name. Costs a few reads and a map
  // lookup per exec on the node.
  bool match_exec_identity = true;
  // Send the first exec of every binary not matched otherwise (one per
  // inode, device and size, remembered in an LRU table) for a build-id check.
  bool check_new_binaries = false;
  // Watched configuration paths: renames to an absolute path are filtered
  // by their first 16 bytes (the first 16 paths).
  std::vector<std::string> config_rename_prefixes;
  // Report opens of watched configuration (set with set_watched_config).
  bool watch_config_opens = false;
  // TCP ports whose connect() is reported (IPv4 and IPv6, any destination:
  // which destinations count is decided in user space).
  std::vector<uint16_t> watch_tcp_ports;
};

struct Config;
// What the config asks the kernel to watch.
ProbeOptions probe_options(const Config &config);

// A file's identity, as stat() reports it.
struct FileIdentity {
  uint64_t dev = 0;
  uint64_t ino = 0;
  bool operator==(const FileIdentity &) const = default;
  auto operator<=>(const FileIdentity &) const = default;
};
using SocketIdentity = FileIdentity;

// The identity of each path that is a socket now (stat follows symlinks);
// abstract names and paths that are missing or not sockets are left out.
std::vector<std::pair<SocketIdentity, std::string>>
resolve_socket_identities(const std::vector<std::string> &paths);
// Existing files and directories, each with whether it is a directory.
std::vector<std::tuple<FileIdentity, std::string, bool>>
resolve_config_identities(const std::vector<std::string> &paths);
// The same for regular files (the watched binaries).
std::vector<std::pair<FileIdentity, std::string>>
resolve_executable_identities(const std::vector<std::string> &paths);

// path as this process can open the node's file of that name: through
// /proc/1/root when the agent runs in a mount namespace of its own (a pod).
std::string node_path(const std::string &path);

// An ELF binary's build-id: "gnu:<hex>" from its NT_GNU_BUILD_ID note, else
// "go:<id>" from the Go linker's note; nullopt for anything else (a script,
// a binary without either, an unreadable file).
struct BuildId {
  std::string value;
  bool go_toolchain = false; // has the Go linker's note (the docker CLI does)
};
std::optional<BuildId> read_build_id(int fd);
std::optional<BuildId> read_build_id(const std::string &path);

// Summed over CPUs from the kernel's per-CPU counters map.
struct KernelCounters {
  uint64_t emitted = 0;
  uint64_t dropped_ring_buffer_full = 0;
  uint64_t dropped_pending_full = 0;
  uint64_t args_unreadable = 0;
  uint64_t dropped_address_unreadable = 0; // connect address not resident even at exit
};

class Probe {
public:
  using RecordHandler = std::function<void(std::span<const std::byte>)>;

  // open -> configure -> load -> fill filter maps -> attach -> ring buffer.
  // Each failure says which step failed and what to do about it.
  static Result<std::unique_ptr<Probe>> start(const ProbeOptions &options, RecordHandler handler);

  ~Probe();
  Probe(const Probe &) = delete;
  Probe &operator=(const Probe &) = delete;

  // Waits up to timeout_ms and hands every record to the handler. Returns the
  // number of records, or -errno (-EINTR is normal when a signal arrives).
  int poll(int timeout_ms);

  // Detaches the programs; the ring buffer stays readable for a final drain.
  void detach();

  KernelCounters counters() const;

  // Replaces the identities a connect is matched by (see
  // ProbeOptions::match_socket_identity). Sockets are re-created when their
  // server restarts, so the agent calls this again from time to time.
  Status set_watched_sockets(const std::vector<SocketIdentity> &identities);
  // The same for the watched binaries (package upgrades replace them).
  Status set_watched_executables(const std::vector<FileIdentity> &identities);
  // A binary whose first exec could not be checked (it exited before user
  // space looked) is sent again at its next exec.
  void forget_binary(const FileIdentity &identity, uint64_t size);
  // Configuration files and directories (a directory's tree counts), and
  // the parent directories of watched files (renames into them).
  Status set_watched_config(const std::vector<FileIdentity> &files,
                            const std::vector<FileIdentity> &directories,
                            const std::vector<FileIdentity> &parents = {});
  // Attach points in use, e.g. "tracepoint/syscalls/sys_enter_connect".
  const std::vector<std::string> &attach_points() const { return attach_points_; }

private:
  struct State;
  explicit Probe(std::unique_ptr<State> state);

  std::unique_ptr<State> state_;
  std::vector<FileIdentity> watched_identities_;
  std::vector<FileIdentity> watched_executables_;
  std::vector<FileIdentity> watched_config_;
  std::vector<std::string> attach_points_;
};

// Makes sure tracefs is reachable (mounts it on /sys/kernel/tracing if not).
Status ensure_tracefs();

// Routes libbpf's messages to the log; debug ones only when verbose.
void route_libbpf_logs(bool verbose);

} // namespace shimwatch

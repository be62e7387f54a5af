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

// Which kernel hooks carry the probes.
enum class HookChoice {
  automatic,      // connect, open and rename on kernel functions (fentry/fexit)
                  // where the kernel allows it, each on its syscall
                  // tracepoints where not; exec on the BTF raw tracepoint
                  // where allowed; raw tracepoints where links must be pinned
                  // and the kernel cannot pin a classic tracepoint's
  functions,      // kernel functions for connect, open and rename, or no start
  tracepoints,    // classic tracepoints only
  raw_tracepoints // raw tracepoints only (exec on the BTF one where allowed)
};

struct ProbeOptions {
  std::vector<std::string> watch_exec;    // basenames
  std::vector<std::string> watch_sockets; // absolute paths or @abstract
  uint32_t ring_buffer_bytes = 8 * 1024 * 1024;
  // Bytes that may wait in the ring buffer before a record wakes poll();
  // 0, or less than one record: every record wakes it once it has caught
  // up (the kernel's default). Exec records always do.
  uint32_t wakeup_bytes = 0;
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
  // bpffs directory the maps and links are pinned under, so that a restarted
  // agent takes over without a gap; empty: nothing is pinned and the
  // programs detach when the agent stops.
  std::string pin_path;
  // The links must be pinnable (pin_path set, or a trial load for it).
  bool pin_links = false;
  HookChoice hooks = HookChoice::automatic;
};

// What a pinned start did.
struct PinReport {
  std::string path;             // empty: not pinned
  uint32_t generation = 0;      // of the programs now recording
  bool took_over = false;       // the maps of the agent before were reused
  std::string replaced_because; // a pinned state that did not fit, replaced
  size_t previous_links = 0;    // links of the agent before, detached
};

// What the kernel's verifier said of one program: instructions it
// processed (its budget is 1,000,000 on every kernel since 5.2).
struct VerifierStats {
  std::string program;
  uint64_t instructions = 0;
};
constexpr uint64_t verifier_instruction_budget = 1000000;

struct Config;

// A file's identity, as stat() reports it.
struct FileIdentity {
  uint64_t dev = 0;
  uint64_t ino = 0;
  bool operator==(const FileIdentity &) const = default;
  // clang-tidy 14 takes the 0 a defaulted <=> compares with for a null pointer.
  auto operator<=>(const FileIdentity &) const = default; // NOLINT(modernize-use-nullptr)
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
  // Unix connects whose address was readable only after the call and then
  // matched nothing: the caller may have changed it meanwhile.
  uint64_t addresses_read_late = 0;
};

// The kernel's losses already reported in gap records, and when they were
// last checked (unix ns, 0: never); kept with the pinned maps, so that an
// agent reports exactly what was lost while none was running.
struct LossMark {
  int64_t checked_ns = 0;
  KernelCounters reported; // the drop counters only
};

// The kernel's filter maps that user space keeps up to date, as the files
// they name come and go: Probe writes them; the pipeline's tests record the
// writes instead.
class WatchMaps {
public:
  virtual ~WatchMaps() = default;
  // Replaces the identities a connect is matched by (see
  // ProbeOptions::match_socket_identity). Sockets are re-created when their
  // server restarts, so the agent calls this again from time to time.
  virtual Status set_watched_sockets(const std::vector<SocketIdentity> &identities) = 0;
  // The same for the watched binaries (package upgrades replace them).
  virtual Status set_watched_executables(const std::vector<FileIdentity> &identities) = 0;
  // A binary whose first exec could not be checked (it exited before user
  // space looked) is sent again at its next exec.
  virtual void forget_binary(const FileIdentity &identity, uint64_t size) = 0;
  // Configuration files and directories (a directory's tree counts), and
  // the parent directories of watched files (renames into them).
  virtual Status set_watched_config(const std::vector<FileIdentity> &files,
                                    const std::vector<FileIdentity> &directories,
                                    const std::vector<FileIdentity> &parents) = 0;
};

class Probe final : public WatchMaps {
public:
  using RecordHandler = std::function<void(std::span<const std::byte>)>;

  // open -> configure -> load -> fill filter maps -> attach -> ring buffer.
  // Each failure says which step failed and what to do about it.
  static Result<std::unique_ptr<Probe>> start(const ProbeOptions &options,
                                              const RecordHandler &handler);

  ~Probe() override;
  Probe(const Probe &) = delete;
  Probe &operator=(const Probe &) = delete;

  // Waits up to timeout_ms and hands every record to the handler, those
  // waiting below the wake-up threshold too. Returns the number of records,
  // or -errno (-EINTR is normal when a signal arrives).
  int poll(int timeout_ms);

  // Detaches the programs; the ring buffer stays readable for a final drain.
  // Pinned programs stay attached.
  void detach();

  // Since the maps were created: across restarts when they are pinned.
  KernelCounters counters() const;
  LossMark loss_mark() const;
  void set_loss_mark(const LossMark &mark);

  Status set_watched_sockets(const std::vector<SocketIdentity> &identities) override;
  Status set_watched_executables(const std::vector<FileIdentity> &identities) override;
  void forget_binary(const FileIdentity &identity, uint64_t size) override;
  Status set_watched_config(const std::vector<FileIdentity> &files,
                            const std::vector<FileIdentity> &directories,
                            const std::vector<FileIdentity> &parents) override;
  // Attach points in use, e.g. "tracepoint/syscalls/sys_enter_connect".
  const std::vector<std::string> &attach_points() const { return attach_points_; }
  const PinReport &pin_report() const { return pin_report_; }
  // Which hooks carry connect, open and rename, and why: kernel functions,
  // or syscall tracepoints (classic or raw) and the reason.
  const std::string &hooks_note() const { return hooks_note_; }
  // Per loaded program, as the verifier reported it.
  const std::vector<VerifierStats> &verifier_stats() const { return verifier_stats_; }

private:
  struct State;
  explicit Probe(std::unique_ptr<State> state);
  // Which programs carry the probes.
  // The families that can move from syscall tracepoints to kernel functions.
  enum class Family { connect, open, rename };
  struct HookPlan {
    bool exec_btf = false; // exec on tp_btf, else on the classic or raw tracepoint
    bool raw = false;      // syscalls, TCP state and exec on raw tracepoints
    std::string why_raw;
    // Per Family: on kernel functions, else why not ("" while undecided).
    bool functions[3] = {false, false, false};
    std::string why_not_functions[3];
  };
  // A hook of the plan that failed to load or attach, for the next try to
  // leave out.
  struct FailedHook {
    bool exec_btf = false;
    std::optional<Family> family;
    std::string why;
  };
  static std::string hooks_note(const HookPlan &plan, bool config);
  static Result<std::unique_ptr<Probe>> start_with(const ProbeOptions &options,
                                                   const RecordHandler &handler,
                                                   const HookPlan &plan, FailedHook &failed);

  std::unique_ptr<State> state_;
  std::vector<FileIdentity> watched_identities_;
  std::vector<FileIdentity> watched_executables_;
  std::vector<FileIdentity> watched_config_;
  std::vector<std::string> attach_points_;
  PinReport pin_report_;
  std::vector<VerifierStats> verifier_stats_;
  std::string hooks_note_;
};

// `shimwatch cleanup`: unpins the links (the programs detach) and the maps
// under pin_path and removes the directory; the paths removed.
Result<std::vector<std::string>> remove_pinned_state(const std::string &pin_path);

// What is pinned under pin_path, for `shimwatch check`.
struct PinnedStateSummary {
  bool present = false;
  bool in_use = false; // a running agent holds it
  uint32_t generation = 0;
  uint32_t abi = 0;
  size_t links = 0;
};
PinnedStateSummary pinned_state(const std::string &pin_path);

// Whether the kernel can pin a classic tracepoint's link (BPF perf-event
// links, Linux 5.15); raw tracepoints' links can be pinned on every kernel
// with BPF ring buffers.
// Why connect, open and rename cannot all go on kernel functions
// (fentry/fexit) on this kernel; "" when they can.
std::string kernel_functions_refusal();

bool kernel_pins_tracepoint_links();

// Makes sure tracefs is reachable (mounts it on /sys/kernel/tracing if not).
Status ensure_tracefs();

// Makes sure a BPF filesystem holds pin_path's parent (mounts one on
// /sys/fs/bpf if nothing is mounted there).
Status ensure_bpffs(const std::string &pin_path);

// Where probes are pinned when a pin path is asked for without one (the
// DaemonSet's): `cleanup` and `check` look there by default.
inline constexpr const char *default_pin_path = "/sys/fs/bpf/shimwatch";

// Routes libbpf's messages to the log; debug ones only when verbose.
void route_libbpf_logs(bool verbose);

} // namespace shimwatch

#include "shimwatch/probe.hpp"
#include "shimwatch/fd.hpp"
#include "shimwatch/text.hpp"

#include <algorithm>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <spdlog/spdlog.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "probe/filter_keys.hpp"
#include "probe/function_hooks.hpp"
#include "probe/pinning.hpp"
#include "shimwatch.skel.h"

namespace shimwatch {

namespace {

struct SkeletonDeleter {
  void operator()(shimwatch_bpf *skel) const { shimwatch_bpf__destroy(skel); }
};
using Skeleton = std::unique_ptr<shimwatch_bpf, SkeletonDeleter>;

struct RingBufferDeleter {
  void operator()(ring_buffer *rb) const { ring_buffer__free(rb); }
};
using RingBuffer = std::unique_ptr<ring_buffer, RingBufferDeleter>;

bool verbose_libbpf = false;

int libbpf_print(enum libbpf_print_level level, const char *format, va_list args) {
  if (level == LIBBPF_DEBUG && !verbose_libbpf)
    return 0;
  char buf[1024];
  int n = vsnprintf(buf, sizeof(buf), format, args);
  std::string_view line(buf, n > 0 ? std::min<size_t>(n, sizeof(buf) - 1) : 0);
  while (!line.empty() && line.back() == '\n')
    line.remove_suffix(1);
  switch (level) {
  case LIBBPF_WARN:
    spdlog::warn("libbpf: {}", line);
    break;
  case LIBBPF_INFO:
    spdlog::info("libbpf: {}", line);
    break;
  default:
    spdlog::debug("libbpf: {}", line);
  }
  return 0;
}

// What to do when loading fails with err, in one sentence.
std::string load_hint(int err) {
  if (err == -EPERM || err == -EACCES)
    return "run as root (needs CAP_BPF, CAP_PERFMON and CAP_SYS_RESOURCE, or CAP_SYS_ADMIN); "
           "`shimwatch check` lists what is missing";
  if (err == -ENOMEM)
    return "raise the locked-memory limit (ulimit -l unlimited) or lower --ring-buffer-kib";
  if (err == -EINVAL || err == -ENOTSUP || err == -ESRCH)
    return "the kernel needs BTF (/sys/kernel/btf/vmlinux) and BPF ring buffers (Linux 5.8+); "
           "run `shimwatch check -v` for libbpf's details";
  return "run `shimwatch check -v` for details";
}

// The verifier's log of each program at level 4 (statistics, and errors):
// how many instructions it processed, and why it refused one.
class VerifierLogs {
public:
  // SHIMWATCH_VERIFIER_LOG=DIR (a debugging aid, for when a kernel refuses
  // a program): each program's whole log, every instruction the verifier
  // walked, is written to DIR/<program>.log.
  void attach(bpf_object *object) {
    const char *dir = std::getenv("SHIMWATCH_VERIFIER_LOG");
    full_log_dir_ = dir ? dir : "";
    const size_t size = full_log_dir_.empty() ? 64 * 1024 : 8 * 1024 * 1024;
    bpf_program *program;
    bpf_object__for_each_program(program, object) {
      if (!bpf_program__autoload(program))
        continue;
      auto &log = logs_.emplace_back(bpf_program__name(program), std::string(size, '\0'));
      bpf_program__set_log_buf(program, log.second.data(), log.second.size());
      bpf_program__set_log_level(program, full_log_dir_.empty() ? 4 : 1 | 4);
    }
  }

  ~VerifierLogs() {
    for (const auto &[name, log] : logs_) {
      if (full_log_dir_.empty() || log[0] == '\0')
        continue;
      if (FILE *f = std::fopen((full_log_dir_ + "/" + name + ".log").c_str(), "w")) {
        std::fputs(log.c_str(), f);
        std::fclose(f);
      }
    }
  }

  std::vector<VerifierStats> stats() const {
    std::vector<VerifierStats> out;
    for (const auto &[name, log] : logs_)
      if (auto n = processed(log))
        out.push_back({name, *n});
    return out;
  }

  // The program the kernel refused and what it said, e.g. "program X: BPF
  // program is too large. Processed 1000001 insn (after 1000001
  // instructions)"; "" if none is known. A program that passed has only
  // statistics in its log.
  std::string refusal() const {
    for (const auto &[name, log] : logs_) {
      std::string verdict = last_message(log);
      if (verdict.empty())
        continue;
      if (auto n = processed(log))
        verdict += " (after " + std::to_string(*n) + " instructions)";
      return "program " + name + ": " + verdict;
    }
    return "";
  }

  // The name of the program the kernel refused; "" if none is known.
  std::string refused_program() const {
    for (const auto &[name, log] : logs_)
      if (!last_message(log).empty())
        return name;
    return "";
  }

private:
  // The verifier writes into a buffer of its own size: the log ends at the
  // first NUL.
  static std::string up_to_nul(const std::string &buffer) {
    return buffer.substr(0, buffer.find('\0'));
  }

  // "processed 1234 insns (limit 1000000) ..." on success.
  static std::optional<uint64_t> processed(const std::string &log) {
    const std::string text = up_to_nul(log);
    const std::string marker = "processed ";
    size_t at = text.rfind(marker);
    if (at == std::string::npos || text.find(" insns", at) == std::string::npos)
      return std::nullopt;
    return std::strtoull(text.c_str() + at + marker.size(), nullptr, 10);
  }

  // The log's last line that is not one of the statistics lines.
  static std::string last_message(const std::string &log) {
    const std::string text = up_to_nul(log);
    std::string last;
    size_t start = 0;
    while (start < text.size()) {
      size_t end = text.find('\n', start);
      if (end == std::string::npos)
        end = text.size();
      const std::string line = text.substr(start, end - start);
      if (!line.empty() && line.rfind("processed ", 0) != 0 &&
          line.rfind("verification time", 0) != 0 && line.rfind("stack depth", 0) != 0)
        last = line;
      start = end + 1;
    }
    return last;
  }

  std::vector<std::pair<std::string, std::string>> logs_;
  std::string full_log_dir_;
};

bool is_dir(const char *path) {
  struct stat st {};
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

// Removes the keys of map that are not in wanted (a map taken over from the
// agent before holds what that agent's config asked for).
template <typename Key> void keep_only(bpf_map *map, const std::vector<Key> &wanted) {
  std::vector<Key> stale;
  Key key{}, next{};
  const Key *previous = nullptr;
  while (bpf_map__get_next_key(map, previous, &next, sizeof(Key)) == 0) {
    bool kept = false;
    for (const auto &w : wanted)
      kept = kept || std::memcmp(&w, &next, sizeof(Key)) == 0;
    if (!kept)
      stale.push_back(next);
    key = next;
    previous = &key;
  }
  for (const auto &k : stale)
    (void)bpf_map__delete_elem(map, &k, sizeof(k), 0);
}

// The identities a map taken over already holds (the kernel's device
// encoding back to stat()'s).
std::vector<FileIdentity> identities_in(bpf_map *map) {
  std::vector<FileIdentity> out;
  sw_inode_key key{}, next{};
  const sw_inode_key *previous = nullptr;
  while (bpf_map__get_next_key(map, previous, &next, sizeof(next)) == 0) {
    out.push_back({static_cast<uint64_t>(makedev(next.dev >> 20, next.dev & 0xfffff)), next.ino});
    key = next;
    previous = &key;
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Pinned links of the agent before, held open (so still attached) while
// this one attaches its own; put back where they were if the start fails.
class PreviousLinks {
public:
  explicit PreviousLinks(std::string dir) : dir_(std::move(dir)) {}
  ~PreviousLinks() {
    if (!released_)
      for (const auto &[path, fd] : links_)
        (void)bpf_obj_pin(fd.get(), path.c_str());
  }
  void take() { links_ = pinning::take_links(dir_); }
  // Closing them detaches the old programs.
  void release() { released_ = true; }
  size_t size() const { return links_.size(); }

private:
  std::string dir_;
  std::vector<std::pair<std::string, Fd>> links_; // closed when this goes
  bool released_ = false;
};

} // namespace

struct Probe::State {
  Fd pin_lock; // held while this agent uses its pin directory; released last (declared first)
  Skeleton skeleton;
  RingBuffer ring_buffer;
  RecordHandler handler;
  uint64_t handler_errors = 0;
};

Probe::Probe(std::unique_ptr<State> state) : state_(std::move(state)) {}
Probe::~Probe() = default; // ring buffer first, then the skeleton detaches and closes

void route_libbpf_logs(bool verbose) {
  verbose_libbpf = verbose;
  libbpf_set_print(libbpf_print);
}

Status ensure_tracefs() {
  // libbpf finds tracepoint ids under either of these.
  if (is_dir("/sys/kernel/tracing/events") || is_dir("/sys/kernel/debug/tracing/events"))
    return Ok{};
  if (mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, nullptr) != 0)
    return Error{std::string("tracefs is not mounted and mounting it on /sys/kernel/tracing "
                             "failed: ") +
                     std::strerror(errno) +
                     " (mount it yourself: mount -t tracefs tracefs /sys/kernel/tracing; "
                     "in a container, mount /sys/kernel/tracing from the host)",
                 errno};
  spdlog::info("mounted tracefs on /sys/kernel/tracing");
  return Ok{};
}

bool kernel_pins_tracepoint_links() {
  // As libbpf probes it: linking a program that returns 0 to no perf event
  // at all says EBADF where BPF perf-event links exist, EINVAL where not.
  bpf_insn insns[2] = {};
  insns[0].code = BPF_ALU64 | BPF_MOV | BPF_K; // r0 = 0
  insns[1].code = BPF_JMP | BPF_EXIT;
  Fd program(bpf_prog_load(BPF_PROG_TYPE_TRACEPOINT, nullptr, "GPL", insns, 2, nullptr));
  if (!program)
    return false;
  Fd link(bpf_link_create(program.get(), -1, BPF_PERF_EVENT, nullptr));
  const int err = errno;
  return !link && err == EBADF;
}

namespace {

constexpr const char *family_names[] = {"connect", "open", "rename"};

// What the programs of bpf/functions.bpf.h are attached to, per family.
const function_hooks::KernelFunction kernel_functions[] = {
    {"__sys_connect_file", 4, {{0, "file"}}},
    {"do_filp_open", 3, {{1, "filename"}}},
    {"do_renameat2", 5, {{1, "filename"}, {3, "filename"}}},
};

// The family a fentry/fexit program belongs to, by its name.
std::optional<size_t> function_family(const std::string &program) {
  for (size_t family = 0; family < std::size(kernel_functions); ++family)
    if (program.find(kernel_functions[family].name) != std::string::npos)
      return family;
  return std::nullopt;
}

bool is_function_program(const std::string &name) {
  return name.rfind("fentry__", 0) == 0 || name.rfind("fexit__", 0) == 0;
}

} // namespace

std::string kernel_functions_refusal() {
  for (const auto &why : function_hooks::refusals(kernel_functions))
    if (!why.empty())
      return why;
  return "";
}

std::string Probe::hooks_note(const HookPlan &plan, bool config) {
  // "connect, open, rename on kernel functions (fentry/fexit)", then the
  // families on syscall tracepoints grouped by why.
  std::string on_functions;
  std::vector<std::pair<std::string, std::string>> on_tracepoints; // why -> families
  for (size_t family = 0; family < std::size(kernel_functions); ++family) {
    if (family != static_cast<size_t>(Family::connect) && !config)
      continue;
    if (plan.functions[family]) {
      on_functions += std::string(on_functions.empty() ? "" : ", ") + family_names[family];
      continue;
    }
    auto same = std::find_if(on_tracepoints.begin(), on_tracepoints.end(), [&](const auto &p) {
      return p.first == plan.why_not_functions[family];
    });
    if (same == on_tracepoints.end())
      on_tracepoints.emplace_back(plan.why_not_functions[family], family_names[family]);
    else
      same->second += std::string(", ") + family_names[family];
  }
  std::string note =
      on_functions.empty() ? "" : on_functions + " on kernel functions (fentry/fexit)";
  for (const auto &[why, families] : on_tracepoints)
    note += (note.empty() ? "" : "; ") + families + " on " + (plan.raw ? "raw " : "") +
            "syscall tracepoints: " + why;
  if (plan.raw && !plan.why_raw.empty())
    note += "; raw tracepoints: " + plan.why_raw;
  // Any syscall tracepoint moves every task of the node to the slower
  // syscall path: that is what kernel functions save.
  note += on_tracepoints.empty() ? "; no syscall tracepoint attached"
                                 : "; syscall tax: every syscall on the node takes the slower path";
  return note;
}

Result<std::unique_ptr<Probe>> Probe::start(const ProbeOptions &options,
                                            const RecordHandler &handler) {
  const bool pin = options.pin_links || !options.pin_path.empty();
  HookPlan plan;
  if (options.hooks == HookChoice::raw_tracepoints) {
    plan.raw = true;
    plan.why_raw = "asked for (--hooks raw-tracepoints)";
  } else if (pin && !kernel_pins_tracepoint_links()) {
    const std::string why = "this kernel cannot pin a classic tracepoint's link (BPF perf-event "
                            "links need Linux 5.15), and the probes must stay attached across "
                            "restarts";
    if (options.hooks == HookChoice::tracepoints)
      return Error{"--hooks tracepoints: " + why +
                       "; use --hooks auto (raw tracepoints, pinnable), or --no-pin",
                   EOPNOTSUPP};
    plan.raw = true;
    plan.why_raw = why + ": raw tracepoints' links can be pinned (the syscall probes run for "
                         "every syscall and leave at once for all but the watched ones)";
  }
  // Kernel functions first, family by family: no syscall tracepoint for a
  // family that has them.
  const bool functions_wanted =
      options.hooks == HookChoice::automatic || options.hooks == HookChoice::functions;
  const std::vector<std::string> refusals =
      functions_wanted ? function_hooks::refusals(kernel_functions) : std::vector<std::string>();
  for (size_t family = 0; family < std::size(kernel_functions); ++family) {
    if (!functions_wanted) {
      plan.why_not_functions[family] = options.hooks == HookChoice::tracepoints
                                           ? "asked for (--hooks tracepoints)"
                                           : "asked for (--hooks raw-tracepoints)";
      continue;
    }
    plan.why_not_functions[family] = refusals[family];
    plan.functions[family] = plan.why_not_functions[family].empty();
    if (!plan.functions[family] && options.hooks == HookChoice::functions)
      return Error{std::string("--hooks functions: ") + family_names[family] + " cannot go on " +
                       kernel_functions[family].name + ": " + plan.why_not_functions[family] +
                       "; use --hooks auto (syscall tracepoints where functions are refused)",
                   EOPNOTSUPP};
  }
  plan.exec_btf = options.hooks != HookChoice::tracepoints;
  // A hook that fails to load or attach goes, and the rest is tried again:
  // each family falls back to its syscall tracepoints on its own.
  for (;;) {
    FailedHook failed;
    auto probe = start_with(options, handler, plan, failed);
    if (probe || !(failed.exec_btf || failed.family))
      return probe;
    if (failed.exec_btf) {
      // A kernel that refuses BTF raw tracepoints: the classic (or raw) one
      // always works.
      spdlog::info("tp_btf/sched_process_exec is not available here ({}); using {}",
                   probe.error().message,
                   plan.raw ? "raw_tp/sched_process_exec" : "tracepoint/sched/sched_process_exec");
      plan.exec_btf = false;
      continue;
    }
    const auto family = static_cast<size_t>(*failed.family);
    if (options.hooks == HookChoice::functions)
      return probe;
    spdlog::info("{} on kernel functions failed ({}); using syscall tracepoints for it",
                 family_names[family], probe.error().message);
    plan.functions[family] = false;
    plan.why_not_functions[family] = failed.why;
  }
}

Result<std::unique_ptr<Probe>> Probe::start_with(const ProbeOptions &options,
                                                 const RecordHandler &handler, const HookPlan &plan,
                                                 FailedHook &failed) {
  const bool fast = plan.exec_btf;
  const bool connect_fn = plan.functions[static_cast<size_t>(Family::connect)];
  const bool open_fn = plan.functions[static_cast<size_t>(Family::open)];
  const bool rename_fn = plan.functions[static_cast<size_t>(Family::rename)];
  auto state = std::make_unique<State>();
  state->handler = handler;

  state->skeleton.reset(shimwatch_bpf__open());
  if (!state->skeleton)
    return Error{"opening the BPF object failed: " + errno_text(errno), errno};
  shimwatch_bpf *skel = state->skeleton.get();

  // Only the set of the plan is loaded: exec on the BTF raw tracepoint, or
  // on the classic or raw one; connect, open and rename on kernel functions,
  // or on the classic or raw tracepoints.
  bpf_program *program;
  bpf_object__for_each_program(program, skel->obj) {
    const std::string name = bpf_program__name(program);
    if (is_function_program(name)) {
      const auto family = function_family(name);
      bpf_program__set_autoload(program, family && plan.functions[*family]);
      continue;
    }
    bool wanted = name.rfind("tp_btf__", 0) == 0             ? fast
                  : name.rfind("raw_tp__sched_", 0) == 0     ? plan.raw && !fast
                  : name.rfind("raw_tp__", 0) == 0           ? plan.raw
                  : name.rfind("tracepoint__sched_", 0) == 0 ? !plan.raw && !fast
                                                             : !plan.raw;
    bpf_program__set_autoload(program, wanted);
  }
  // The raw syscall programs see every syscall: these are the watched ones
  // (a family on kernel functions is left to them).
  if (!connect_fn)
    skel->rodata->nr_connect = SYS_connect;
  if (!open_fn) {
    skel->rodata->nr_openat = SYS_openat;
#ifdef SYS_open
    skel->rodata->nr_open = SYS_open;
#endif
#ifdef SYS_openat2
    skel->rodata->nr_openat2 = SYS_openat2;
#endif
  }
  if (!rename_fn) {
#ifdef SYS_rename
    skel->rodata->nr_rename = SYS_rename;
#endif
    skel->rodata->nr_renameat = SYS_renameat;
#ifdef SYS_renameat2
    skel->rodata->nr_renameat2 = SYS_renameat2;
#endif
  }

  if (int err = bpf_map__set_max_entries(skel->maps.events, options.ring_buffer_bytes))
    return Error{"setting the ring buffer size failed: " + errno_text(err), -err};

  // A pinned state: the maps of the agent before are taken over (the ring
  // buffer with what queued while no agent read it), or replaced when they
  // do not fit this version; this copy of the programs gets the next
  // generation and starts recording once it is attached.
  const bool pin = !options.pin_path.empty();
  pinning::Previous previous;
  uint32_t generation = 0;
  if (pin) {
    auto locked = pinning::lock(options.pin_path, std::chrono::seconds(15));
    if (!locked)
      return locked.error();
    state->pin_lock = std::move(*locked);
    auto inspected = pinning::inspect(options.pin_path, skel->obj);
    if (!inspected)
      return inspected.error();
    previous = *inspected;
    if (auto prepared = pinning::prepare(options.pin_path, skel->obj, previous); !prepared)
      return prepared.error();
    generation = previous.compatible ? previous.generation + 1 : 1;
    if (generation == 0)
      generation = 1;
  }
  skel->rodata->generation = generation;
  skel->rodata->wakeup_bytes =
      options.wakeup_bytes >= sizeof(struct sw_event) ? options.wakeup_bytes : 0;
  skel->rodata->watching_inodes = options.match_socket_identity;
  skel->rodata->watching_exec_inodes = options.match_exec_identity;
  skel->rodata->watching_build_ids = options.check_new_binaries;
  skel->rodata->watching_config = options.watch_config_opens;
  skel->rodata->watching_tcp = !options.watch_tcp_ports.empty();

  VerifierLogs verifier_logs;
  verifier_logs.attach(skel->obj);
  if (int err = shimwatch_bpf__load(skel)) {
    const std::string refusal = verifier_logs.refusal();
    // The program refused says which hook to leave out next time; without
    // one, the newest hooks go first.
    const std::string refused = verifier_logs.refused_program();
    if (auto family = function_family(refused); family && is_function_program(refused)) {
      failed.family = static_cast<Family>(*family);
    } else if (refused.empty() && (connect_fn || open_fn || rename_fn)) {
      failed.family = connect_fn ? Family::connect : open_fn ? Family::open : Family::rename;
    } else {
      failed.exec_btf = fast;
    }
    const std::string message = "loading the BPF programs failed: " + errno_text(err) +
                                (refusal.empty() ? "" : " (" + refusal + ")");
    failed.why = message;
    return Error{message + "; " + load_hint(err), -err};
  }

  // Fill the filters before attaching, so no call slips through unfiltered.
  // Taken-over filters keep serving the old programs meanwhile: new keys go
  // in first, then what this config no longer asks for goes.
  const __u8 present = 1;
  for (const auto &name : options.watch_exec) {
    sw_exec_name key = exec_filter_key(name);
    if (bpf_map__update_elem(skel->maps.watched_exec, &key, sizeof(key), &present, sizeof(present),
                             BPF_ANY) != 0)
      return Error{"adding watched executable '" + name + "' failed: " + errno_text(errno), errno};
  }
  for (const auto &path : options.watch_sockets) {
    sw_unix_addr key = unix_filter_key(path);
    if (bpf_map__update_elem(skel->maps.watched_unix, &key, sizeof(key), &present, sizeof(present),
                             BPF_ANY) != 0)
      return Error{"adding watched socket '" + path + "' failed: " + errno_text(errno), errno};
  }

  for (uint16_t port : options.watch_tcp_ports) {
    __u16 key = port;
    if (bpf_map__update_elem(skel->maps.watched_tcp_port, &key, sizeof(key), &present,
                             sizeof(present), BPF_ANY) != 0)
      return Error{"adding watched TCP port " + std::to_string(port) +
                       " failed: " + errno_text(errno),
                   errno};
  }

  // Renames to an absolute path are filtered in the kernel by the first 16
  // bytes of the watched paths; the agent compares the whole path.
  __u32 prefix_index = 0;
  for (const auto &path : options.config_rename_prefixes) {
    if (path.empty() || prefix_index >= SW_CONFIG_PREFIXES)
      continue;
    sw_config_prefix prefix{};
    unsigned char word[16] = {}, mask[16] = {};
    const size_t used = std::min(path.size(), sizeof(word));
    std::copy_n(path.begin(), used, word); // a prefix of bytes, not a string
    std::memset(mask, 0xff, used);
    std::memcpy(prefix.word, word, sizeof(word));
    std::memcpy(prefix.mask, mask, sizeof(mask));
    if (bpf_map__update_elem(skel->maps.config_prefix, &prefix_index, sizeof(prefix_index), &prefix,
                             sizeof(prefix), BPF_ANY) != 0)
      return Error{"adding watched config path '" + path + "' failed: " + errno_text(errno), errno};
    ++prefix_index;
  }
  for (__u32 unused = prefix_index; unused < SW_CONFIG_PREFIXES; ++unused) {
    const sw_config_prefix none{};
    (void)bpf_map__update_elem(skel->maps.config_prefix, &unused, sizeof(unused), &none,
                               sizeof(none), BPF_ANY);
  }
  if (previous.compatible) {
    std::vector<sw_exec_name> names;
    for (const auto &name : options.watch_exec)
      names.push_back(exec_filter_key(name));
    keep_only(skel->maps.watched_exec, names);
    std::vector<sw_unix_addr> sockets;
    for (const auto &path : options.watch_sockets)
      sockets.push_back(unix_filter_key(path));
    keep_only(skel->maps.watched_unix, sockets);
    std::vector<__u16> ports(options.watch_tcp_ports.begin(), options.watch_tcp_ports.end());
    keep_only(skel->maps.watched_tcp_port, ports);
  }
  if (options.config_rename_prefixes.size() > SW_CONFIG_PREFIXES)
    spdlog::warn("renames to an absolute path are matched for the first {} config paths only",
                 SW_CONFIG_PREFIXES);

  if (auto tracefs = ensure_tracefs(); !tracefs)
    return tracefs.error();

  const bool tcp = !options.watch_tcp_ports.empty();
  const bool config = options.watch_config_opens;
  // The families still on syscall tracepoints.
  const bool connect_tp = !connect_fn;
  const bool open_tp = config && !open_fn;
  const bool rename_tp = config && !rename_fn;
  struct Attachment {
    bpf_program *program;
    bpf_link **link;
    const char *point;
    bool wanted;
    bool optional; // a kernel without this tracepoint still runs the rest
    std::optional<Family> family = std::nullopt; // a kernel function's
  } attachments[] = {
      {skel->progs.fexit__sys_connect_file, &skel->links.fexit__sys_connect_file,
       "fexit/__sys_connect_file", connect_fn, false, Family::connect},
      {skel->progs.fentry__sys_connect_file, &skel->links.fentry__sys_connect_file,
       "fentry/__sys_connect_file", connect_fn && tcp, false, Family::connect},
      {skel->progs.fexit__do_filp_open, &skel->links.fexit__do_filp_open, "fexit/do_filp_open",
       open_fn && config, false, Family::open},
      {skel->progs.fexit__do_renameat2, &skel->links.fexit__do_renameat2, "fexit/do_renameat2",
       rename_fn && config, false, Family::rename},
      {skel->progs.fentry__do_renameat2, &skel->links.fentry__do_renameat2, "fentry/do_renameat2",
       rename_fn && config, false, Family::rename},
      {skel->progs.tracepoint__sock__inet_sock_set_state,
       &skel->links.tracepoint__sock__inet_sock_set_state, "tracepoint/sock/inet_sock_set_state",
       !plan.raw && tcp, false},
      {skel->progs.tracepoint__syscalls__sys_exit_openat,
       &skel->links.tracepoint__syscalls__sys_exit_openat, "tracepoint/syscalls/sys_exit_openat",
       !plan.raw && open_tp, false},
      {skel->progs.tracepoint__syscalls__sys_exit_open,
       &skel->links.tracepoint__syscalls__sys_exit_open, "tracepoint/syscalls/sys_exit_open",
       !plan.raw && open_tp, true},
      {skel->progs.tracepoint__syscalls__sys_exit_openat2,
       &skel->links.tracepoint__syscalls__sys_exit_openat2, "tracepoint/syscalls/sys_exit_openat2",
       !plan.raw && open_tp, true},
      {skel->progs.tracepoint__syscalls__sys_exit_rename,
       &skel->links.tracepoint__syscalls__sys_exit_rename, "tracepoint/syscalls/sys_exit_rename",
       !plan.raw && rename_tp, true},
      {skel->progs.tracepoint__syscalls__sys_exit_renameat,
       &skel->links.tracepoint__syscalls__sys_exit_renameat,
       "tracepoint/syscalls/sys_exit_renameat", !plan.raw && rename_tp, true},
      {skel->progs.tracepoint__syscalls__sys_exit_renameat2,
       &skel->links.tracepoint__syscalls__sys_exit_renameat2,
       "tracepoint/syscalls/sys_exit_renameat2", !plan.raw && rename_tp, true},
      {skel->progs.tracepoint__syscalls__sys_enter_rename,
       &skel->links.tracepoint__syscalls__sys_enter_rename, "tracepoint/syscalls/sys_enter_rename",
       !plan.raw && rename_tp, true},
      {skel->progs.tracepoint__syscalls__sys_enter_renameat,
       &skel->links.tracepoint__syscalls__sys_enter_renameat,
       "tracepoint/syscalls/sys_enter_renameat", !plan.raw && rename_tp, true},
      {skel->progs.tracepoint__syscalls__sys_enter_renameat2,
       &skel->links.tracepoint__syscalls__sys_enter_renameat2,
       "tracepoint/syscalls/sys_enter_renameat2", !plan.raw && rename_tp, true},
      {skel->progs.tracepoint__sched__sched_process_exec,
       &skel->links.tracepoint__sched__sched_process_exec, "tracepoint/sched/sched_process_exec",
       !plan.raw && !fast, false},
      {skel->progs.tracepoint__syscalls__sys_exit_connect,
       &skel->links.tracepoint__syscalls__sys_exit_connect, "tracepoint/syscalls/sys_exit_connect",
       !plan.raw && connect_tp, false},
      {skel->progs.tracepoint__syscalls__sys_enter_connect,
       &skel->links.tracepoint__syscalls__sys_enter_connect,
       "tracepoint/syscalls/sys_enter_connect", !plan.raw && connect_tp, false},
      {skel->progs.tp_btf__sched__sched_process_exec,
       &skel->links.tp_btf__sched__sched_process_exec, "tp_btf/sched_process_exec", fast, false},
      {skel->progs.raw_tp__sys_exit, &skel->links.raw_tp__sys_exit, "raw_tp/sys_exit",
       plan.raw && (connect_tp || open_tp || rename_tp), false},
      {skel->progs.raw_tp__sys_enter, &skel->links.raw_tp__sys_enter, "raw_tp/sys_enter",
       plan.raw && (connect_tp || rename_tp), false},
      {skel->progs.raw_tp__inet_sock_set_state, &skel->links.raw_tp__inet_sock_set_state,
       "raw_tp/inet_sock_set_state", plan.raw && tcp, false},
      {skel->progs.raw_tp__sched_process_exec, &skel->links.raw_tp__sched_process_exec,
       "raw_tp/sched_process_exec", plan.raw && !fast, false},
  };
  // Exit before enter: an enter without its exit would leave an in-flight
  // entry that a later call of the same thread could be mistaken for.
  std::vector<std::string> points;
  std::vector<std::pair<std::string, bpf_link *>> attached;
  PreviousLinks previous_links(options.pin_path);
  if (pin)
    previous_links.take();
  for (auto &a : attachments) {
    if (!a.wanted)
      continue;
    *a.link = bpf_program__attach(a.program);
    if (!*a.link) {
      int err = errno;
      if (a.optional && err == ENOENT) {
        spdlog::debug("{} does not exist on this kernel; skipped", a.point);
        continue;
      }
      if (a.family)
        failed.family = a.family;
      else
        failed.exec_btf = fast && std::string_view(a.point).rfind("tp_btf/", 0) == 0;
      failed.why = std::string("attaching ") + a.point + " failed: " + errno_text(err);
      return Error{std::string("attaching ") + a.point + " failed: " + errno_text(err) +
                       (err == ENOENT ? " (the kernel lacks this tracepoint; is "
                                        "CONFIG_FTRACE_SYSCALLS set?)"
                                      : "; " + load_hint(-err)),
                   err};
    }
    points.emplace_back(a.point);
    attached.emplace_back(bpf_program__name(a.program), *a.link);
  }

  PinReport report;
  if (pin) {
    // One write hands recording over from the old programs to these; then
    // the old links can go, and these are pinned in their place.
    if (auto active = pinning::activate(skel->obj, generation); !active)
      return active.error();
    previous_links.release();
    report.path = options.pin_path;
    report.generation = generation;
    report.took_over = previous.compatible;
    report.replaced_because = previous.found && !previous.compatible ? previous.why_not : "";
    report.previous_links = previous_links.size();
    if (auto pinned = pinning::pin_links(options.pin_path, attached); !pinned)
      return pinned.error();
  }

  auto on_record = [](void *ctx, void *data, size_t size) -> int {
    auto *st = static_cast<State *>(ctx);
    // An exception must not cross libbpf's C frames: count it, go on.
    try {
      st->handler(std::span<const std::byte>(static_cast<const std::byte *>(data), size));
    } catch (const std::exception &e) {
      if (st->handler_errors++ == 0)
        spdlog::error("handling a record failed: {} (such records are dropped)", e.what());
    }
    return 0;
  };
  state->ring_buffer.reset(
      ring_buffer__new(bpf_map__fd(skel->maps.events), on_record, state.get(), nullptr));
  if (!state->ring_buffer)
    return Error{"setting up the ring buffer reader failed: " + errno_text(errno), errno};

  std::unique_ptr<Probe> probe(new Probe(std::move(state)));
  probe->attach_points_ = std::move(points);
  probe->pin_report_ = std::move(report);
  probe->verifier_stats_ = verifier_logs.stats();
  probe->hooks_note_ = hooks_note(plan, config);
  if (previous.compatible) {
    probe->watched_identities_ = identities_in(skel->maps.watched_unix_inode);
    probe->watched_executables_ = identities_in(skel->maps.watched_exec_inode);
    probe->watched_config_ = identities_in(skel->maps.watched_config_inode);
  }
  return probe;
}

namespace {

// Makes map hold exactly wanted (identity -> value), with current as the
// identities it holds now.
Status update_identity_map(bpf_map *map, std::vector<FileIdentity> &current,
                           std::vector<std::pair<FileIdentity, __u8>> wanted) {
  std::sort(wanted.begin(), wanted.end());
  std::vector<FileIdentity> ids;
  for (const auto &[id, value] : wanted)
    if (ids.empty() || ids.back() != id)
      ids.push_back(id);
  // Add the new ones before removing stale ones: no moment without a match.
  std::vector<FileIdentity> added;
  for (const auto &[id, value] : wanted) {
    if (std::binary_search(current.begin(), current.end(), id))
      continue;
    sw_inode_key key = inode_filter_key(id.dev, id.ino);
    if (bpf_map__update_elem(map, &key, sizeof(key), &value, sizeof(value), BPF_ANY) != 0) {
      int err = errno;
      // What went in is tracked, so that a later call takes it out again.
      current.insert(current.end(), added.begin(), added.end());
      std::sort(current.begin(), current.end());
      return Error{std::string("adding to ") + bpf_map__name(map) + " failed: " + errno_text(err),
                   err};
    }
    added.push_back(id);
  }
  for (const auto &id : current) {
    if (std::binary_search(ids.begin(), ids.end(), id))
      continue;
    sw_inode_key key = inode_filter_key(id.dev, id.ino);
    bpf_map__delete_elem(map, &key, sizeof(key), 0);
  }
  current = std::move(ids);
  return Ok{};
}

// Every identity with the value 1 (present).
std::vector<std::pair<FileIdentity, __u8>> present(const std::vector<FileIdentity> &ids) {
  std::vector<std::pair<FileIdentity, __u8>> out;
  out.reserve(ids.size());
  for (const auto &id : ids)
    out.emplace_back(id, __u8{1});
  return out;
}

} // namespace

Status Probe::set_watched_sockets(const std::vector<SocketIdentity> &identities) {
  return update_identity_map(state_->skeleton->maps.watched_unix_inode, watched_identities_,
                             present(identities));
}

Status Probe::set_watched_config(const std::vector<FileIdentity> &files,
                                 const std::vector<FileIdentity> &directories,
                                 const std::vector<FileIdentity> &parents) {
  // Kinds as the BPF program knows them: 1 a file, 2 a directory's tree,
  // 3 the parent of a watched file. One identity, one kind: the strongest.
  std::vector<std::pair<FileIdentity, __u8>> wanted;
  wanted.reserve(files.size() + directories.size() + parents.size());
  for (const auto &id : files)
    wanted.emplace_back(id, __u8{1});
  for (const auto &id : directories)
    wanted.emplace_back(id, __u8{2});
  for (const auto &id : parents)
    if (std::find(directories.begin(), directories.end(), id) == directories.end())
      wanted.emplace_back(id, __u8{3});
  return update_identity_map(state_->skeleton->maps.watched_config_inode, watched_config_,
                             std::move(wanted));
}

Status Probe::set_watched_executables(const std::vector<FileIdentity> &identities) {
  return update_identity_map(state_->skeleton->maps.watched_exec_inode, watched_executables_,
                             present(identities));
}

void Probe::forget_binary(const FileIdentity &identity, uint64_t size) {
  const sw_inode_key id = inode_filter_key(identity.dev, identity.ino);
  sw_binary_key key{};
  key.ino = id.ino;
  key.dev = id.dev;
  key.size = size;
  (void)bpf_map__delete_elem(state_->skeleton->maps.seen_binary, &key, sizeof(key), 0);
  // No CPU may skip it as the binary it saw last.
  const int cpus = libbpf_num_possible_cpus();
  if (cpus > 0) {
    std::vector<sw_binary_key> none(static_cast<size_t>(cpus));
    const __u32 zero = 0;
    (void)bpf_map__update_elem(state_->skeleton->maps.last_seen_binary, &zero, sizeof(zero),
                               none.data(), none.size() * sizeof(sw_binary_key), BPF_ANY);
  }
}

void Probe::detach() {
  // Pinned programs stay: the next agent drains what they queue meanwhile.
  if (pin_report_.path.empty())
    shimwatch_bpf__detach(state_->skeleton.get());
}

Status ensure_bpffs(const std::string &pin_path) {
  return pinning::ensure_bpffs(pin_path);
}

Result<std::vector<std::string>> remove_pinned_state(const std::string &pin_path) {
  return pinning::remove_all(pin_path);
}

PinnedStateSummary pinned_state(const std::string &pin_path) {
  auto summary = pinning::summarize(pin_path);
  return {summary.present, summary.in_use, summary.generation, summary.abi, summary.links};
}

int Probe::poll(int timeout_ms) {
  int woken = ring_buffer__poll(state_->ring_buffer.get(), timeout_ms);
  if (woken < 0)
    return woken;
  // Records below the wake-up threshold do not wake the poll: read them too.
  int waiting = ring_buffer__consume(state_->ring_buffer.get());
  return waiting < 0 ? waiting : woken + waiting;
}

static_assert(SW_COUNTER__MAX <= sizeof(sw_agent_state::losses_reported) / sizeof(__u64),
              "agent_state has a slot for every counter");

LossMark Probe::loss_mark() const {
  LossMark mark;
  sw_agent_state state{};
  __u32 zero = 0;
  if (bpf_map__lookup_elem(state_->skeleton->maps.agent_state, &zero, sizeof(zero), &state,
                           sizeof(state), 0) != 0)
    return mark;
  mark.checked_ns = static_cast<int64_t>(state.losses_checked_ns);
  mark.reported.dropped_ring_buffer_full = state.losses_reported[SW_COUNTER_DROP_RINGBUF];
  mark.reported.dropped_pending_full = state.losses_reported[SW_COUNTER_DROP_PENDING];
  mark.reported.dropped_address_unreadable = state.losses_reported[SW_COUNTER_ADDR_UNREADABLE];
  return mark;
}

void Probe::set_loss_mark(const LossMark &mark) {
  bpf_map *map = state_->skeleton->maps.agent_state;
  sw_agent_state state{};
  __u32 zero = 0;
  if (bpf_map__lookup_elem(map, &zero, sizeof(zero), &state, sizeof(state), 0) != 0)
    return;
  state.losses_checked_ns = static_cast<__u64>(mark.checked_ns);
  state.losses_reported[SW_COUNTER_DROP_RINGBUF] = mark.reported.dropped_ring_buffer_full;
  state.losses_reported[SW_COUNTER_DROP_PENDING] = mark.reported.dropped_pending_full;
  state.losses_reported[SW_COUNTER_ADDR_UNREADABLE] = mark.reported.dropped_address_unreadable;
  // The programs read only the generation, which this write keeps.
  (void)bpf_map__update_elem(map, &zero, sizeof(zero), &state, sizeof(state), BPF_ANY);
}

KernelCounters Probe::counters() const {
  KernelCounters out;
  int ncpus = libbpf_num_possible_cpus();
  if (ncpus <= 0)
    return out;
  std::vector<__u64> values(static_cast<size_t>(ncpus));
  auto sum = [&](__u32 index) -> uint64_t {
    if (bpf_map__lookup_elem(state_->skeleton->maps.counters, &index, sizeof(index), values.data(),
                             values.size() * sizeof(__u64), 0) != 0)
      return 0;
    uint64_t total = 0;
    for (auto v : values)
      total += v;
    return total;
  };
  out.emitted = sum(SW_COUNTER_EMITTED);
  out.dropped_ring_buffer_full = sum(SW_COUNTER_DROP_RINGBUF);
  out.dropped_pending_full = sum(SW_COUNTER_DROP_PENDING);
  out.args_unreadable = sum(SW_COUNTER_ARGS_UNREADABLE);
  out.dropped_address_unreadable = sum(SW_COUNTER_ADDR_UNREADABLE);
  out.addresses_read_late = sum(SW_COUNTER_ADDR_LATE);
  return out;
}

} // namespace shimwatch

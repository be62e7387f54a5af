#include "shimwatch/classify.hpp"

#include <algorithm>
#include <fnmatch.h>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

#include "shimwatch/probe.hpp"
#include "shimwatch/text.hpp"

namespace shimwatch {

namespace {
// TASK_COMM_LEN - 1: what the kernel keeps of a basename in comm.
constexpr size_t comm_bytes = 15;

// Where a script's own argv starts: a script run through its #! line has
// argv rewritten by the kernel to [interpreter, (interpreter argument),
// script path, arguments...], so the program is looked for among the first
// three entries, by basename; argv[0] otherwise.
constexpr size_t script_argv_search = 3;

// /dev/fd/N, /proc/self/fd/N, /proc/<pid>/fd/N: what execveat(fd, "",
// AT_EMPTY_PATH) and fexecve() pass as the program's path.
bool is_fd_path(std::string_view path) {
  auto slash = path.rfind('/');
  if (slash == std::string_view::npos || slash + 1 == path.size())
    return false;
  for (char c : path.substr(slash + 1))
    if (c < '0' || c > '9')
      return false;
  std::string_view dir = path.substr(0, slash);
  return dir == "/dev/fd" || (dir.starts_with("/proc/") && dir.ends_with("/fd"));
}

bool contains(const std::vector<std::string> &list, std::string_view item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

// Shell glob match, as the agent rules do it; an empty value matches nothing.
bool glob_match(const std::string &pattern, const std::string &value) {
  return !value.empty() && fnmatch(pattern.c_str(), value.c_str(), 0) == 0;
}

// The first pattern that matches value, or nullptr.
const std::string *first_match(const std::vector<std::string> &patterns, const std::string &value) {
  for (const auto &p : patterns)
    if (glob_match(p, value))
      return &p;
  return nullptr;
}

// The index of the program's own argv[0] in args: the first of the first
// few entries whose basename is name (see script_argv_search), else 0.
size_t program_index(const std::vector<std::string> &args, std::string_view name) {
  for (size_t i = 0; i < std::min(args.size(), script_argv_search); ++i)
    if (basename_of(args[i]) == name)
      return i;
  return 0;
}

// systemctl's options that take a value as the next argument when not given
// as --opt=VALUE (systemctl(1)); any other option stands alone.
bool systemctl_long_takes_value(std::string_view option) {
  static constexpr std::string_view with_value[] = {"--type",
                                                    "--property",
                                                    "--signal",
                                                    "--host",
                                                    "--machine",
                                                    "--lines",
                                                    "--output",
                                                    "--kill-whom",
                                                    "--kill-value",
                                                    "--root",
                                                    "--image",
                                                    "--image-policy",
                                                    "--job-mode",
                                                    "--what",
                                                    "--state",
                                                    "--timestamp",
                                                    "--preset-mode",
                                                    "--message",
                                                    "--boot-loader-entry",
                                                    "--boot-loader-menu",
                                                    "--reboot-argument",
                                                    "--check-inhibitors",
                                                    "--when",
                                                    "--drop-in",
                                                    "--legend",
                                                    "--capsule"};
  return std::find(std::begin(with_value), std::end(with_value), option) != std::end(with_value);
}

// -t TYPE, -p PROP, -P PROP, -s SIGNAL, -H HOST, -M MACHINE, -n N, -o MODE, -C CAPSULE.
bool systemctl_short_takes_value(char option) {
  return std::string_view("tpPsHMnoC").find(option) != std::string_view::npos;
}

// The positional arguments of `systemctl [OPTIONS...] VERB [UNIT...]`, in
// order; options (wherever they are, as getopt permutes them) and their
// values are left out, "--" ends them.
std::vector<std::string> systemctl_positionals(const std::vector<std::string> &args, size_t first) {
  std::vector<std::string> out;
  bool options_done = false;
  for (size_t i = first; i < args.size(); ++i) {
    const std::string &a = args[i];
    if (options_done || a.size() < 2 || a[0] != '-') {
      out.push_back(a);
      continue;
    }
    if (a == "--") {
      options_done = true;
      continue;
    }
    if (a[1] == '-') {
      if (a.find('=') == std::string::npos && systemctl_long_takes_value(a))
        ++i; // its value
      continue;
    }
    // A cluster of short options, e.g. -qs HUP or -sHUP: the first one that
    // takes a value takes the rest of the cluster, or the next argument.
    for (size_t j = 1; j < a.size(); ++j)
      if (systemctl_short_takes_value(a[j])) {
        if (j + 1 == a.size())
          ++i;
        break;
      }
  }
  return out;
}

} // namespace

SelfIdentity SelfIdentity::current() {
  SelfIdentity self;
  self.pid = static_cast<uint32_t>(getpid());
  // NSpid's first entry is the pid in the pid namespace of this /proc: the
  // initial one on the host or with hostPID, as the probes report pids.
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.starts_with("NSpid:")) {
      std::istringstream fields(line.substr(6));
      uint64_t pid = 0;
      if (fields >> pid && pid > 0 && pid <= UINT32_MAX)
        self.pid = static_cast<uint32_t>(pid);
      break;
    }
  struct stat st {};
  if (stat("/proc/self/ns/pid", &st) == 0)
    self.pid_ns = static_cast<uint32_t>(st.st_ino);
  if (stat("/proc/self/ns/mnt", &st) == 0)
    self.mnt_ns = static_cast<uint32_t>(st.st_ino);
  // The node's mount namespace: pid 1's (needs ptrace access to pid 1).
  if (stat("/proc/1/ns/mnt", &st) == 0)
    self.node_mnt_ns = static_cast<uint32_t>(st.st_ino);
  char exe[4096];
  if (ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe)); n > 0 && n < ssize_t(sizeof(exe)))
    self.executable.assign(exe, static_cast<size_t>(n));
  return self;
}

bool only_root_can_replace(const std::string &path) {
  if (path.empty() || path[0] != '/' || path.find("/../") != std::string::npos ||
      path.find("/./") != std::string::npos)
    return false;
  // Group or others may write: anyone in them could have put the file there.
  auto only_root_writes = [](const struct stat &st) {
    return st.st_uid == 0 && (st.st_mode & (S_IWGRP | S_IWOTH)) == 0;
  };
  // "" on the node, "/proc/1/root" in a pod.
  std::string prefix = node_path("/");
  prefix.pop_back();
  struct stat st {};
  if (stat((prefix + "/").c_str(), &st) != 0 || !only_root_writes(st))
    return false;
  // Top down: each directory is judged before anything inside it is read.
  size_t from = 1;
  while (from <= path.size()) {
    size_t end = path.find('/', from);
    if (end == std::string::npos)
      end = path.size();
    prefix += "/" + path.substr(from, end - from);
    // lstat: a symbolic link in the way could point anywhere.
    if (lstat(prefix.c_str(), &st) != 0 || !only_root_writes(st))
      return false;
    if (end == path.size())
      return S_ISREG(st.st_mode);
    if (!S_ISDIR(st.st_mode))
      return false;
    from = end + 1;
  }
  return false;
}

Classifier::Classifier(const Config &config) : Classifier(config, SelfIdentity::current()) {}

Classifier::Classifier(const Config &config, SelfIdentity self, ExecutableTrust trust)
    : exec_names_(config.watch_exec.begin(), config.watch_exec.end()),
      docker_sockets_(config.watch_sockets.begin(), config.watch_sockets.end()),
      service_(config.service_control), exclude_(config.exclude), self_(std::move(self)),
      trust_(std::move(trust)) {
  for (const auto &name : config.watch_exec)
    exec_comm_keys_.insert(name.substr(0, comm_bytes));
  for (const auto &socket : config.runtime_sockets)
    if (socket.enabled)
      runtime_sockets_.emplace(socket.path, socket.runtime); // the first entry of a path wins
  std::vector<AgentRule> rules = config.agent_rules;
  if (config.builtin_agents) {
    // Checked by a unit test; cannot fail at run time.
    if (auto builtin = parse_agent_rules(builtin_agent_rules_json()))
      rules.insert(rules.end(), builtin->begin(), builtin->end());
  }
  agents_ = AgentMatcher(std::move(rules));
}

void Classifier::tag_agent(Event &event) const {
  event.origin.agent = agents_.match(event);
}

Verdict Classifier::accept(Event &event) const {
  // A config open: the kernel matched the file's identity, nothing to add.
  bool wanted = is_config_open(event.action) ? true
                : is_connect(event.action)   ? classify_connect(event)
                                             : classify_exec(event);
  if (!wanted)
    return {Verdict::Kind::filtered, ""};
  if (std::string rule = excluded_by(event); !rule.empty())
    return {Verdict::Kind::excluded, std::move(rule)};
  event.impersonates = impersonated(event);
  return {Verdict::Kind::accepted, ""};
}

bool Classifier::classify_connect(Event &event) const {
  // A TCP connect to a Docker API port: the kernel matched the port, which
  // is all there is to match.
  if (event.action == Action::docker_api_tcp_connect)
    return true;
  const std::string &matched =
      event.socket_watched.empty() ? event.socket_path : event.socket_watched;
  event.runtime.clear();
  if (docker_sockets_.count(matched) > 0) {
    event.action = Action::docker_socket_connect;
    return true;
  }
  if (auto it = runtime_sockets_.find(matched); it != runtime_sockets_.end()) {
    event.action = Action::runtime_socket_connect;
    event.runtime = it->second;
    return true;
  }
  return false;
}

bool Classifier::classify_exec(Event &event) const {
  const std::vector<std::string> &args = event.process.args;
  event.service_verb.clear();
  event.service_unit.clear();
  event.service_manager.clear();
  // The path names no file (fexecve: /dev/fd/3), or is lost: comm, which
  // exec set from the file, is what the kernel matched.
  const bool path_usable =
      !event.exec_path.empty() && !event.exec_path_truncated && !is_fd_path(event.exec_path);
  const std::string name(path_usable ? basename_of(event.exec_path)
                                     : std::string_view(event.process.name));
  // comm is the basename cut to 15 bytes.
  auto is_name = [&](std::string_view watched) {
    return path_usable ? name == watched : name == watched.substr(0, comm_bytes);
  };
  auto service_control = [&](std::string manager, std::string verb, std::string unit) {
    event.action = Action::docker_service_control;
    event.service_manager = std::move(manager);
    event.service_verb = std::move(verb);
    event.service_unit = std::move(unit);
    return true;
  };

  // An init script, by its path: /etc/init.d/docker VERB. Never the docker
  // CLI, even though it is named docker.
  for (const auto &script : service_.init_scripts) {
    if (event.exec_path != script && event.process.executable != script)
      continue;
    if (!service_.enabled)
      return false;
    std::string_view base = basename_of(script);
    size_t at = args.size();
    for (size_t i = 0; i < std::min(args.size(), script_argv_search) && at == args.size(); ++i)
      if (args[i] == script || args[i] == event.exec_path)
        at = i;
    if (at == args.size())
      at = program_index(args, base);
    if (at + 1 < args.size() && contains(service_.verbs, args[at + 1]))
      return service_control("init-script", args[at + 1], std::string(base));
    return false;
  }

  if (service_.enabled) {
    for (const auto &manager : service_.managers) {
      if (!is_name(manager))
        continue;
      size_t first = program_index(args, manager) + 1;
      if (manager == "systemctl") {
        // systemctl [OPTIONS] VERB UNIT...: the first watched unit.
        auto positionals = systemctl_positionals(args, first);
        if (positionals.size() >= 2 && contains(service_.verbs, positionals[0]))
          for (size_t i = 1; i < positionals.size(); ++i)
            if (contains(service_.units, positionals[i]))
              return service_control(manager, positionals[0], positionals[i]);
      } else {
        // service [OPTIONS] SCRIPT VERB (service, invoke-rc.d, rc-service ...).
        size_t i = first;
        while (i < args.size() && args[i].starts_with("-"))
          ++i;
        if (i + 1 < args.size() && contains(service_.units, args[i])) {
          std::string verb = args[i + 1] == "--full-restart" ? "restart" : args[i + 1];
          if (contains(service_.verbs, verb))
            return service_control(manager, verb, args[i]);
        }
      }
      return false; // a manager, but not acting on Docker
    }
  }

  event.action = Action::docker_cli_exec;
  // The kernel found the file to be a watched binary: a link or a copy by
  // another name is still the docker CLI.
  if (event.exec_matched_by_identity)
    return true;
  if (path_usable)
    return exec_names_.count(name) > 0;
  return exec_comm_keys_.count(name) > 0;
}

bool Classifier::is_self(const Event &event) const {
  if (self_.pid == 0 || event.pid_ns != self_.pid_ns)
    return false;
  if (event.process.pid == self_.pid)
    return true;
  return self_.mnt_ns != 0 && event.mnt_ns == self_.mnt_ns && !self_.executable.empty() &&
         event.process.executable == self_.executable;
}

const std::string *Classifier::executable_pattern(const Event &event) const {
  const std::string &exe = event.process.executable;
  if (exe.empty())
    return nullptr;
  std::string base(basename_of(exe));
  for (const auto &pattern : exclude_.executables)
    if (glob_match(pattern, exe) || glob_match(pattern, base))
      return &pattern;
  return nullptr;
}

bool Classifier::trusted(const Event &event) const {
  if (trust_)
    return trust_(event);
  // Another mount namespace (a container, a user's own) can show any file
  // under any name: only the node's, or the agent's own (the same as the
  // node's outside a pod), is believed.
  if (event.mnt_ns == 0 || (event.mnt_ns != self_.node_mnt_ns && event.mnt_ns != self_.mnt_ns))
    return false;
  const std::string &exe = event.process.executable;
  const auto now = std::chrono::steady_clock::now();
  if (auto it = trusted_paths_.find(exe);
      it != trusted_paths_.end() && now - it->second.second < std::chrono::seconds(30))
    return it->second.first;
  if (trusted_paths_.size() >= 256)
    trusted_paths_.clear();
  const bool verdict = only_root_can_replace(exe);
  trusted_paths_[exe] = {verdict, now};
  return verdict;
}

std::string Classifier::impersonated(const Event &event) const {
  const std::string *pattern = executable_pattern(event);
  return pattern && !trusted(event) ? *pattern : "";
}

std::string Classifier::excluded_by(const Event &event) const {
  if (exclude_.self && is_self(event))
    return "self";
  if (const std::string *pattern = executable_pattern(event); pattern && trusted(event))
    return "executable:" + *pattern;
  if (const std::string *p = first_match(exclude_.comms, event.process.name))
    return "comm:" + *p;
  if (!exclude_.units.empty()) {
    // The pipeline places the event (Attributor::place) before it is
    // classified: the unit is known from the cgroup path by then.
    if (const std::string *p = first_match(exclude_.units, event.origin.cgroup.unit))
      return "unit:" + *p;
  }
  return "";
}

} // namespace shimwatch

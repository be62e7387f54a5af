#include "shimwatch/classify.hpp"

namespace shimwatch {

std::string_view basename_of(std::string_view path) {
  auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

namespace {
// TASK_COMM_LEN - 1: what the kernel keeps of a basename in comm.
constexpr size_t comm_bytes = 15;

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
} // namespace

Classifier::Classifier(const Config &config)
    : exec_names_(config.watch_exec.begin(), config.watch_exec.end()) {
  for (const auto &name : config.watch_exec)
    exec_comm_keys_.insert(name.substr(0, comm_bytes));
  agent_rules_ = config.agent_rules;
  if (config.builtin_agents) {
    // Checked by a unit test; cannot fail at run time.
    if (auto builtin = parse_agent_rules(builtin_agent_rules_json()))
      agent_rules_.insert(agent_rules_.end(), builtin->begin(), builtin->end());
  }
}

void Classifier::tag_agent(Event &event) const {
  event.origin.agent = match_agent(agent_rules_, event);
}

bool Classifier::accept(const Event &event) const {
  if (event.action != Action::docker_cli_exec)
    return true;
  if (exec_names_.count(std::string(basename_of(event.exec_path))) > 0)
    return true;
  // The path names no file (fexecve: /dev/fd/3), or is lost: comm, which
  // exec set from the file, is what the kernel matched.
  if (event.exec_path.empty() || event.exec_path_truncated || is_fd_path(event.exec_path))
    return exec_comm_keys_.count(event.process.name) > 0;
  return false;
}

} // namespace shimwatch

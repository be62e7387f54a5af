// Starting a program with its output where the caller wants it: how the
// integration tests and the agent benchmark start the agent.
#pragma once

#include <fcntl.h>
#include <spawn.h>
#include <string>
#include <sys/types.h>
#include <unistd.h>
#include <vector>

extern char **environ;

namespace swtest {

// Starts argv (argv[0] looked up in PATH unless it holds a '/') with its
// stdout on stdout_fd and its stderr written to stderr_path (created or
// emptied, mode 0600). posix_spawn, not fork: the caller may have threads.
// 0 with the child's pid in pid, or the error number.
inline int spawn_process(const std::vector<std::string> &argv, int stdout_fd,
                         const std::string &stderr_path, pid_t &pid) {
  std::vector<char *> c_argv;
  for (const auto &arg : argv)
    c_argv.push_back(const_cast<char *>(arg.c_str()));
  c_argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, stdout_fd, STDOUT_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, stderr_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  const int err = posix_spawnp(&pid, c_argv[0], &actions, nullptr, c_argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  return err;
}

} // namespace swtest

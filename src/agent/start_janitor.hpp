// What a start that fails must undo, done by a helper that keeps the
// privileges the agent gives up: the agent drops to its own user before its
// outputs open (their threads must start without root), and a failure there
// must still not leave probes pinned, which only root may remove from bpffs.
#pragma once

#include <string>
#include <sys/types.h>

#include "shimwatch/fd.hpp"

namespace shimwatch {

class StartJanitor {
public:
  StartJanitor() = default;
  // Ends as a failed start, unless ready() was called.
  ~StartJanitor();
  StartJanitor(const StartJanitor &) = delete;
  StartJanitor &operator=(const StartJanitor &) = delete;

  // Forks the helper (before any other thread starts): it waits, holding
  // nothing but a pipe, and removes the state pinned under pin_path unless
  // the agent says it is ready. An agent that dies on the way (killed,
  // crashed) counts as a failed start too. Without it (fork failed) the
  // agent removes the state itself, as far as its privileges let it.
  void watch(const std::string &pin_path);

  // Started: the helper leaves the pins and exits.
  void ready();

private:
  void finish(char verdict);

  std::string pin_path_;
  pid_t helper_ = -1;
  Fd pipe_; // its write end: the verdict, or EOF if the agent dies
};

} // namespace shimwatch

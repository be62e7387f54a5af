#include "agent/start_janitor.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include <spdlog/spdlog.h>

#include "shimwatch/probe.hpp"

namespace shimwatch {
namespace {

constexpr char kReady = 'r';
constexpr char kFailed = 'f';

} // namespace

void StartJanitor::watch(const std::string &pin_path) {
  pin_path_ = pin_path;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0)
    return;
  const pid_t pid = fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return;
  }
  if (pid == 0) {
    ::close(fds[1]);
    char verdict = kFailed;
    ssize_t n;
    do
      n = ::read(fds[0], &verdict, 1);
    while (n < 0 && errno == EINTR);
    if (n != 1 || verdict != kReady)
      (void)remove_pinned_state(pin_path);
    _exit(0);
  }
  ::close(fds[0]);
  helper_ = pid;
  pipe_ = fds[1];
}

void StartJanitor::finish(char verdict) {
  if (helper_ < 0) {
    if (verdict == kFailed && !pin_path_.empty())
      (void)remove_pinned_state(pin_path_);
    pin_path_.clear();
    return;
  }
  ssize_t n;
  do
    n = ::write(pipe_, &verdict, 1);
  while (n < 0 && errno == EINTR);
  ::close(pipe_);
  while (waitpid(helper_, nullptr, 0) < 0 && errno == EINTR) {
  }
  helper_ = -1;
  pipe_ = -1;
  pin_path_.clear();
}

void StartJanitor::ready() {
  finish(kReady);
}

StartJanitor::~StartJanitor() {
  finish(kFailed);
}

} // namespace shimwatch

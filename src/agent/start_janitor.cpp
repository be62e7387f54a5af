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
  Fd read_end(fds[0]), write_end(fds[1]);
  const pid_t pid = fork();
  if (pid < 0)
    return;
  if (pid == 0) {
    write_end.reset(); // or the agent's death would not end the read
    char verdict = kFailed;
    ssize_t n;
    do
      n = ::read(read_end.get(), &verdict, 1);
    while (n < 0 && errno == EINTR);
    if (n != 1 || verdict != kReady)
      (void)remove_pinned_state(pin_path);
    _exit(0);
  }
  helper_ = pid;
  pipe_ = std::move(write_end);
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
    n = ::write(pipe_.get(), &verdict, 1);
  while (n < 0 && errno == EINTR);
  pipe_.reset();
  while (waitpid(helper_, nullptr, 0) < 0 && errno == EINTR) {
  }
  helper_ = -1;
  pin_path_.clear();
}

void StartJanitor::ready() {
  finish(kReady);
}

StartJanitor::~StartJanitor() {
  finish(kFailed);
}

} // namespace shimwatch

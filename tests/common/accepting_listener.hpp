// A unix socket server that accepts and closes as fast as it can, on a
// thread of its own, so that a storm's connects never wait on a full
// backlog: a test or benchmark loads the agent, not the listener.
#pragma once

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <poll.h>
#include <stdexcept>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>

namespace swtest {

class AcceptingListener {
public:
  explicit AcceptingListener(std::string path) : path_(std::move(path)) {
    ::unlink(path_.c_str());
    // Non-blocking: the acceptor drains the backlog, then polls for its stop flag.
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::snprintf(address.sun_path, sizeof address.sun_path, "%s", path_.c_str());
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr *>(&address), sizeof address) != 0 ||
        listen(fd_, 4096) != 0) {
      const std::string error = std::strerror(errno);
      if (fd_ >= 0)
        close(fd_);
      throw std::runtime_error("listening on " + path_ + ": " + error);
    }
    acceptor_ = std::thread([this] { accept_until_stopped(); });
  }
  ~AcceptingListener() {
    stopping_ = true;
    acceptor_.join();
    close(fd_);
    ::unlink(path_.c_str());
  }
  AcceptingListener(const AcceptingListener &) = delete;
  AcceptingListener &operator=(const AcceptingListener &) = delete;
  const std::string &path() const { return path_; }

private:
  void accept_until_stopped() {
    pollfd waiting{fd_, POLLIN, 0};
    while (!stopping_) {
      if (poll(&waiting, 1, 50) <= 0)
        continue;
      // The whole backlog per wake-up: fewer polls under a storm.
      for (int client; (client = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC)) >= 0;)
        close(client);
    }
  }

  std::string path_;
  int fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
};

} // namespace swtest

// How long one call takes, for the kernel-hooks benchmark
// (bench/kernel_hooks_bench.py): COUNT calls of one kind in a loop, the
// median of 5 runs printed as "ns_per_call N".
//   syscall_cost getpid COUNT     the syscall tax: a call no probe matches
//   syscall_cost open COUNT       open + close of a file nobody watches
//   syscall_cost connect COUNT    socket + connect + close to an unwatched
//                                 unix socket (a listener of its own)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <thread>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>
#include <vector>

namespace {

// The calls only, each kind in a loop of its own: nothing but the call is
// timed.
template <typename Call> double timed(long count, Call call) {
  const auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < count; ++i)
    call();
  const std::chrono::duration<double, std::nano> took = std::chrono::steady_clock::now() - start;
  return took.count() / static_cast<double>(count);
}

double run(const std::string &kind, long count, const sockaddr_un &address) {
  if (kind == "getpid")
    return timed(count, [] { syscall(SYS_getpid); });
  if (kind == "open")
    return timed(count, [] {
      const int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
      if (fd >= 0)
        close(fd);
    });
  return timed(count, [&address] {
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    (void)connect(fd, reinterpret_cast<const sockaddr *>(&address), sizeof(address));
    close(fd);
  });
}

} // namespace

int main(int argc, char **argv) {
  if (argc != 3 || (std::strcmp(argv[1], "getpid") != 0 && std::strcmp(argv[1], "open") != 0 &&
                    std::strcmp(argv[1], "connect") != 0)) {
    std::fprintf(stderr, "usage: %s getpid|open|connect COUNT\n", argv[0]);
    return 2;
  }
  const std::string kind = argv[1];
  const long count = std::strtol(argv[2], nullptr, 10);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::snprintf(address.sun_path, sizeof(address.sun_path), "/tmp/syscall-cost-%d.sock",
                static_cast<int>(getpid()));
  // A listener of its own, emptied by a thread, so that no connect waits
  // for room in its backlog.
  int listener = -1;
  if (kind == "connect") {
    listener = socket(AF_UNIX, SOCK_STREAM, 0);
    unlink(address.sun_path);
    if (bind(listener, reinterpret_cast<const sockaddr *>(&address), sizeof(address)) != 0 ||
        listen(listener, 4096) != 0) {
      std::perror("listen");
      return 1;
    }
    std::thread([listener] {
      for (;;) {
        const int fd = accept(listener, nullptr, nullptr);
        if (fd >= 0)
          close(fd);
      }
    }).detach();
  }
  std::vector<double> runs;
  for (int i = 0; i < 5; ++i)
    runs.push_back(run(kind, count, address));
  std::sort(runs.begin(), runs.end());
  std::printf("ns_per_call %.1f\n", runs[runs.size() / 2]);
  if (listener >= 0)
    unlink(address.sun_path);
  std::fflush(stdout);
  _exit(0); // the accepting thread is still blocked in accept()
}

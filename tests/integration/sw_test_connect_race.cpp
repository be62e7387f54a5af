// Test helper: connect() to a unix socket from an address the probe cannot
// read when the call starts (a page this process never touched), and,
// while the call is blocked (the listener's backlog is full), rewrite that
// address from another thread, so that whoever reads it again after the
// call sees something else.
//   sw_test_connect_race SOCKET inet|PATH
// "inet" rewrites it into an AF_INET address (port 80); PATH into another
// unix path. Prints "rewritten" once done, then the connect's outcome: "ok"
// or the errno name.
#include <arpa/inet.h>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <string>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>

namespace {

// Whether thread tid of this process is inside connect() now.
bool in_connect(pid_t tid) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", tid);
  FILE *f = std::fopen(path, "r");
  if (!f)
    return false;
  long nr = -1;
  bool ok = std::fscanf(f, "%ld", &nr) == 1;
  std::fclose(f);
  return ok && nr == SYS_connect;
}

} // namespace

int main(int argc, char **argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: sw_test_connect_race SOCKET inet|PATH\n");
    return 2;
  }
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, argv[1], sizeof(address.sun_path) - 1);
  // Written through a descriptor, mapped and not touched: the page is only
  // made when connect() copies the address in.
  char file[] = "/tmp/sw-race-XXXXXX";
  int fd = mkstemp(file);
  if (fd < 0 || write(fd, &address, sizeof(address)) != static_cast<ssize_t>(sizeof(address)))
    return 3;
  unlink(file);
  void *page = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  if (page == MAP_FAILED)
    return 3;
  const pid_t self = static_cast<pid_t>(syscall(SYS_gettid));
  const std::string target = argv[2];
  std::thread rewriter([&] {
    while (!in_connect(self))
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    // The kernel took its copy of the address; the call now waits for room
    // in the backlog. What the caller's memory says from now on is a lie.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (target == "inet") {
      sockaddr_in inet{};
      inet.sin_family = AF_INET;
      inet.sin_port = htons(80);
      inet.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      std::memcpy(page, &inet, sizeof(inet));
    } else {
      auto *unix_address = static_cast<sockaddr_un *>(page);
      std::memset(unix_address->sun_path, 0, sizeof(unix_address->sun_path));
      std::strncpy(unix_address->sun_path, target.c_str(), sizeof(unix_address->sun_path) - 1);
    }
    std::printf("rewritten\n");
    std::fflush(stdout);
  });
  int sock = socket(AF_UNIX, SOCK_STREAM, 0);
  int rc = connect(sock, static_cast<const sockaddr *>(page), sizeof(sockaddr_un));
  int err = errno;
  rewriter.join();
  std::printf("%s\n", rc == 0 ? "ok" : strerrorname_np(err));
  return 0;
}

// Test helper: connect() to a unix socket and exit at once, so the process is
// gone long before user space could read /proc. Prints the errno name or "ok".
//   sw_test_connect PATH [ARGS...]          filesystem path
//   sw_test_connect @NAME [ARGS...]         abstract name
//   sw_test_connect --cold PATH [ARGS...]   the address lives in a file page
//                                           this process never touched, so
//                                           a probe cannot read it at entry
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv) {
  bool cold = argc > 1 && std::strcmp(argv[1], "--cold") == 0;
  if (argc < 2 + (cold ? 1 : 0)) {
    std::fprintf(stderr, "usage: sw_test_connect [--cold] PATH|@NAME [IGNORED...]\n");
    return 2;
  }
  const char *target = argv[cold ? 2 : 1];
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  socklen_t len;
  if (target[0] == '@') {
    size_t n = std::strlen(target + 1);
    if (n + 1 > sizeof(addr.sun_path))
      return 2;
    std::memcpy(addr.sun_path + 1, target + 1, n);
    len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + n);
  } else {
    size_t n = std::strlen(target);
    if (n >= sizeof(addr.sun_path))
      return 2;
    std::memcpy(addr.sun_path, target, n);
    len = sizeof(addr);
  }
  const sockaddr *where = reinterpret_cast<const sockaddr *>(&addr);
  if (cold) {
    // Written through a file descriptor, then mapped and never read here: the
    // page table entry is only made when connect() copies the address in.
    char file[] = "/tmp/sw-cold-XXXXXX";
    int fd = mkstemp(file);
    if (fd < 0 || write(fd, &addr, sizeof(addr)) != static_cast<ssize_t>(sizeof(addr)))
      return 3;
    unlink(file);
    void *page = mmap(nullptr, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
    if (page == MAP_FAILED)
      return 3;
    where = static_cast<const sockaddr *>(page);
  }
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0)
    return 3;
  int rc = connect(fd, where, len);
  int err = errno;
  std::printf("%s\n", rc == 0 ? "ok" : strerrorname_np(err));
  return rc == 0 ? 0 : 1;
}

// Test helper: connect() to a unix socket and exit at once, so the process is
// gone long before user space could read /proc. Prints the errno name or "ok".
//   sw_test_connect PATH        filesystem path
//   sw_test_connect @NAME       abstract name
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: sw_test_connect PATH|@NAME [IGNORED...]\n");
    return 2;
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const char *target = argv[1];
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
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0)
    return 3;
  int rc = connect(fd, reinterpret_cast<sockaddr *>(&addr), len);
  int err = errno;
  std::printf("%s\n", rc == 0 ? "ok" : strerrorname_np(err));
  return rc == 0 ? 0 : 1;
}

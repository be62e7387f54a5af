// Calls that do not go through the 64-bit syscall table: through io_uring,
// and as a 32-bit process makes them (int $0x80). Prints "ok" or the errno
// name of the call's result, one line.
//
//   sw_test_other_paths uring-connect SOCKET [async]   IORING_OP_CONNECT
//   sw_test_other_paths uring-open FILE [write] [async] IORING_OP_OPENAT
//   sw_test_other_paths compat-connect SOCKET          i386 connect (362)
//   sw_test_other_paths compat-socketcall SOCKET       i386 socketcall(SYS_CONNECT)
//   sw_test_other_paths compat-open FILE               i386 open (5)
//
// "async" asks io_uring to run the request in a worker thread of this
// process (IOSQE_ASYNC) rather than inline first.
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <string>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

namespace {

int report(long result) {
  if (result >= 0) {
    std::puts("ok");
    return 0;
  }
  const char *name = strerrorname_np(static_cast<int>(-result));
  std::puts(name ? name : std::to_string(-result).c_str());
  return 0;
}

sockaddr_un unix_address(const char *path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path, sizeof(address.sun_path) - 1);
  return address;
}

// One request through a ring of its own, waited for; its result.
long uring_run(const io_uring_sqe &request) {
  io_uring_params params{};
  const int ring = static_cast<int>(syscall(__NR_io_uring_setup, 4, &params));
  if (ring < 0)
    return -errno;
  const size_t sq_size = params.sq_off.array + params.sq_entries * sizeof(unsigned);
  const size_t cq_size = params.cq_off.cqes + params.cq_entries * sizeof(io_uring_cqe);
  auto *sq = static_cast<char *>(
      mmap(nullptr, sq_size, PROT_READ | PROT_WRITE, MAP_SHARED, ring, IORING_OFF_SQ_RING));
  auto *cq = static_cast<char *>(
      mmap(nullptr, cq_size, PROT_READ | PROT_WRITE, MAP_SHARED, ring, IORING_OFF_CQ_RING));
  auto *sqes =
      static_cast<io_uring_sqe *>(mmap(nullptr, params.sq_entries * sizeof(io_uring_sqe),
                                       PROT_READ | PROT_WRITE, MAP_SHARED, ring, IORING_OFF_SQES));
  if (sq == MAP_FAILED || cq == MAP_FAILED || sqes == MAP_FAILED)
    return -errno;
  auto *tail = reinterpret_cast<std::atomic<unsigned> *>(sq + params.sq_off.tail);
  const unsigned mask = *reinterpret_cast<unsigned *>(sq + params.sq_off.ring_mask);
  auto *array = reinterpret_cast<unsigned *>(sq + params.sq_off.array);
  const unsigned index = tail->load(std::memory_order_relaxed) & mask;
  sqes[index] = request;
  array[index] = index;
  tail->store(tail->load(std::memory_order_relaxed) + 1, std::memory_order_release);
  if (syscall(__NR_io_uring_enter, ring, 1, 1, IORING_ENTER_GETEVENTS, nullptr, 0) < 0)
    return -errno;
  auto *cq_head = reinterpret_cast<std::atomic<unsigned> *>(cq + params.cq_off.head);
  const unsigned cq_mask = *reinterpret_cast<unsigned *>(cq + params.cq_off.ring_mask);
  auto *cqes = reinterpret_cast<io_uring_cqe *>(cq + params.cq_off.cqes);
  const long result = cqes[cq_head->load(std::memory_order_acquire) & cq_mask].res;
  close(ring);
  return result;
}

// A 32-bit system call: what a 32-bit process on this kernel does. Its
// pointer arguments must lie below 4 GiB.
long compat_syscall(long number, long a, long b, long c) {
#if defined(__x86_64__)
  long result;
  asm volatile("int $0x80"
               : "=a"(result)
               : "a"(number), "b"(a), "c"(b), "d"(c)
               : "memory", "r8", "r9", "r10", "r11");
  return result;
#else
  (void)number, (void)a, (void)b, (void)c;
  return -ENOSYS;
#endif
}

// Memory below 4 GiB, for a 32-bit call's arguments.
void *low_memory(size_t size) {
  void *p =
      mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 3) {
    std::fprintf(stderr,
                 "usage: %s uring-connect|uring-open|compat-connect|compat-socketcall|"
                 "compat-open PATH [write] [async]\n",
                 argv[0]);
    return 2;
  }
  const std::string mode = argv[1];
  const char *path = argv[2];
  bool async = false, write = false;
  for (int i = 3; i < argc; ++i) {
    async = async || std::strcmp(argv[i], "async") == 0;
    write = write || std::strcmp(argv[i], "write") == 0;
  }
  if (mode == "uring-connect") {
    const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    static sockaddr_un address = unix_address(path);
    io_uring_sqe request{};
    request.opcode = IORING_OP_CONNECT;
    request.fd = fd;
    request.addr = reinterpret_cast<uint64_t>(&address);
    request.off = sizeof(address);
    request.flags = async ? IOSQE_ASYNC : 0;
    return report(uring_run(request));
  }
  if (mode == "uring-open") {
    io_uring_sqe request{};
    request.opcode = IORING_OP_OPENAT;
    request.fd = AT_FDCWD;
    request.addr = reinterpret_cast<uint64_t>(path);
    request.open_flags = write ? O_WRONLY | O_APPEND : O_RDONLY;
    request.flags = async ? IOSQE_ASYNC : 0;
    return report(uring_run(request));
  }
  if (mode == "compat-connect" || mode == "compat-socketcall") {
    const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    auto *address = static_cast<sockaddr_un *>(low_memory(4096));
    if (fd < 0 || !address)
      return report(-errno);
    *address = unix_address(path);
    const long low = static_cast<long>(reinterpret_cast<uintptr_t>(address));
    if (mode == "compat-connect")
      return report(compat_syscall(362, fd, low, sizeof(sockaddr_un))); // i386 connect
    // socketcall(SYS_CONNECT, args): args are three 32-bit words.
    auto *args = reinterpret_cast<uint32_t *>(reinterpret_cast<char *>(address) + 2048);
    args[0] = static_cast<uint32_t>(fd);
    args[1] = static_cast<uint32_t>(low);
    args[2] = sizeof(sockaddr_un);
    return report(compat_syscall(102, 3, static_cast<long>(reinterpret_cast<uintptr_t>(args)), 0));
  }
  if (mode == "compat-open") {
    auto *name = static_cast<char *>(low_memory(4096));
    if (!name)
      return report(-errno);
    std::strncpy(name, path, 4095);
    return report(
        compat_syscall(5, static_cast<long>(reinterpret_cast<uintptr_t>(name)), O_RDONLY, 0));
  }
  std::fprintf(stderr, "%s: unknown mode %s\n", argv[0], mode.c_str());
  return 2;
}

// Test helper: a FUSE file system whose files can be run but then never
// read again: the first open of each file (the exec's) is served, every
// later one waits until the file system is unmounted. What a workload can
// do to whoever reads the binaries it runs.
//   sw_test_stuck_fuse MOUNTPOINT SOURCE COUNT
// serves COUNT copies of SOURCE as /bin0 ... /bin<COUNT-1>, mode 0755, each
// a file of its own (its own inode). Runs in the foreground until unmounted.
#define FUSE_USE_VERSION 31
#include <fuse3/fuse.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <sys/stat.h>
#include <thread>
#include <vector>

namespace {

std::string content;
int count = 0;
std::vector<std::atomic<int>> *opens = nullptr;

// "/bin7" -> 7; -1 for anything else.
int file_index(const char *path) {
  if (std::strncmp(path, "/bin", 4) != 0)
    return -1;
  char *end = nullptr;
  long n = std::strtol(path + 4, &end, 10);
  return end != path + 4 && *end == 0 && n >= 0 && n < count ? static_cast<int>(n) : -1;
}

int get_attributes(const char *path, struct stat *st, fuse_file_info *) {
  std::memset(st, 0, sizeof(*st));
  if (std::strcmp(path, "/") == 0) {
    st->st_mode = S_IFDIR | 0755;
    st->st_nlink = 2;
    return 0;
  }
  int i = file_index(path);
  if (i < 0)
    return -ENOENT;
  st->st_mode = S_IFREG | 0755;
  st->st_nlink = 1;
  st->st_ino = 100 + static_cast<ino_t>(i);
  st->st_size = static_cast<off_t>(content.size());
  return 0;
}

int list(const char *path, void *buffer, fuse_fill_dir_t fill, off_t, fuse_file_info *,
         fuse_readdir_flags) {
  if (std::strcmp(path, "/") != 0)
    return -ENOENT;
  fill(buffer, ".", nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
  fill(buffer, "..", nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
  for (int i = 0; i < count; ++i)
    fill(buffer, ("bin" + std::to_string(i)).c_str(), nullptr, 0,
         static_cast<fuse_fill_dir_flags>(0));
  return 0;
}

int open_file(const char *path, fuse_file_info *info) {
  int i = file_index(path);
  if (i < 0)
    return -ENOENT;
  // The exec's open is served; any later one waits for ever (until the
  // file system goes and the kernel gives up on the request).
  if ((*opens)[i]++ > 0)
    for (;;)
      std::this_thread::sleep_for(std::chrono::hours(1));
  info->keep_cache = 1;
  return 0;
}

int read_file(const char *path, char *buffer, size_t size, off_t offset, fuse_file_info *) {
  if (file_index(path) < 0)
    return -ENOENT;
  if (offset >= static_cast<off_t>(content.size()))
    return 0;
  size_t n = std::min(size, content.size() - static_cast<size_t>(offset));
  std::memcpy(buffer, content.data() + offset, n);
  return static_cast<int>(n);
}

} // namespace

int main(int argc, char **argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: sw_test_stuck_fuse MOUNTPOINT SOURCE COUNT\n");
    return 2;
  }
  std::ifstream in(argv[2], std::ios::binary);
  content.assign(std::istreambuf_iterator<char>(in), {});
  count = std::atoi(argv[3]);
  if (content.empty() || count <= 0)
    return 2;
  std::vector<std::atomic<int>> counters(static_cast<size_t>(count));
  opens = &counters;
  fuse_operations operations{};
  operations.getattr = get_attributes;
  operations.readdir = list;
  operations.open = open_file;
  operations.read = read_file;
  // Foreground, several threads (a held open must not hold the rest);
  // open to every user, as the agent runs as one of its own.
  char *fuse_argv[] = {argv[0],
                       const_cast<char *>("-f"),
                       const_cast<char *>("-o"),
                       const_cast<char *>("allow_other"),
                       argv[1],
                       nullptr};
  return fuse_main(5, fuse_argv, &operations, nullptr);
}

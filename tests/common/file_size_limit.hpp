// A file size limit (RLIMIT_FSIZE) for a test: writing past it fails with
// EFBIG, as a full disk's write fails, without a device or a mount.
#pragma once

#include <csignal>
#include <cstdint>
#include <sys/resource.h>

namespace swtest {

// Writing to a file whose size limit (RLIMIT_FSIZE) is reached fails with
// EFBIG, or is cut short at the limit, instead of the process getting
// SIGXFSZ; the limit and the signal's disposition are put back at the end.
class FileSizeLimit {
public:
  FileSizeLimit() {
    getrlimit(RLIMIT_FSIZE, &saved_);
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    sigaction(SIGXFSZ, &ignore, &saved_action_);
  }
  ~FileSizeLimit() {
    setrlimit(RLIMIT_FSIZE, &saved_);
    sigaction(SIGXFSZ, &saved_action_, nullptr);
  }
  FileSizeLimit(const FileSizeLimit &) = delete;
  FileSizeLimit &operator=(const FileSizeLimit &) = delete;

  bool set(uint64_t bytes) {
    rlimit limit = saved_;
    limit.rlim_cur = bytes;
    return setrlimit(RLIMIT_FSIZE, &limit) == 0;
  }
  bool lift() { return setrlimit(RLIMIT_FSIZE, &saved_) == 0; }

private:
  rlimit saved_{};
  struct sigaction saved_action_ {};
};

} // namespace swtest

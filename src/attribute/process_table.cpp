#include "attribute/process_table.hpp"

#include "shimwatch/fd.hpp"

#include <charconv>
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

namespace shimwatch {

ProcessTable::ProcessTable(size_t capacity, std::string proc_root,
                           std::chrono::nanoseconds unknown_retry, size_t max_bytes)
    : capacity_(capacity == 0 ? 1 : capacity), max_bytes_(max_bytes),
      proc_root_(std::move(proc_root)), unknown_retry_(unknown_retry) {}

uint64_t ProcessTable::ticks_from_ns(uint64_t ns) {
  static const uint64_t ns_per_tick =
      1'000'000'000ULL / static_cast<uint64_t>(sysconf(_SC_CLK_TCK));
  return ns / ns_per_tick;
}

uint64_t ProcessTable::read_start_ticks(uint32_t pid) const {
  // Read on every miss of an event's ancestry: plain syscalls, no streams.
  std::string path = proc_root_ + "/" + std::to_string(pid) + "/stat";
  Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd)
    return 0;
  char stat[1024];
  ssize_t n = read(fd.get(), stat, sizeof stat);
  if (n <= 0)
    return 0;
  return parse_start_ticks(std::string_view(stat, static_cast<size_t>(n)));
}

uint64_t ProcessTable::parse_start_ticks(std::string_view stat) {
  // comm (field 2) may hold spaces and parentheses: fields resume after the last ')'.
  auto close = stat.rfind(')');
  if (close == std::string_view::npos)
    return 0;
  size_t i = close + 1;
  // Field 3 (state) is the first after comm; starttime is field 22.
  for (int field = 3;; ++field) {
    while (i < stat.size() && stat[i] == ' ')
      ++i;
    size_t end = stat.find(' ', i);
    if (end == std::string_view::npos)
      end = stat.size();
    if (i >= end)
      return 0;
    if (field == 22) {
      uint64_t ticks = 0;
      std::from_chars(stat.data() + i, stat.data() + end, ticks);
      return ticks;
    }
    i = end;
  }
}

std::string ProcessTable::read_executable(uint32_t pid) const {
  char buf[4096];
  std::string link = proc_root_ + "/" + std::to_string(pid) + "/exe";
  ssize_t n = readlink(link.c_str(), buf, sizeof(buf) - 1);
  if (n <= 0)
    return "";
  return std::string(buf, static_cast<size_t>(n));
}

void ProcessTable::insert(Key key, std::string executable, TimePoint retry_at) {
  if (auto it = entries_.find(key); it != entries_.end()) {
    bytes_ -= footprint(it->second->executable);
    it->second->executable = std::move(executable);
    it->second->retry_at = retry_at;
    bytes_ += footprint(it->second->executable);
    lru_.splice(lru_.begin(), lru_, it->second);
  } else {
    bytes_ += footprint(executable);
    lru_.push_front(Entry{key, std::move(executable), retry_at});
    entries_[key] = lru_.begin();
  }
  // The newest entry stays even when it alone is over the bound.
  while (lru_.size() > 1 && (entries_.size() > capacity_ || bytes_ > max_bytes_)) {
    bytes_ -= footprint(lru_.back().executable);
    entries_.erase(lru_.back().key);
    lru_.pop_back();
  }
}

void ProcessTable::remember(uint32_t pid, uint64_t start_boottime_ns, std::string executable) {
  insert(Key{pid, ticks_from_ns(start_boottime_ns)}, std::move(executable), TimePoint{});
}

void ProcessTable::scan() {
  DIR *dir = opendir(proc_root_.c_str());
  if (!dir)
    return;
  while (dirent *d = readdir(dir)) {
    if (full())
      break;
    uint32_t pid = 0;
    const char *end = d->d_name + std::char_traits<char>::length(d->d_name);
    auto [ptr, ec] = std::from_chars(d->d_name, end, pid);
    if (ec != std::errc{} || ptr != end || pid == 0)
      continue;
    uint64_t ticks = read_start_ticks(pid);
    std::string exe = read_executable(pid);
    if (ticks != 0 && !exe.empty())
      insert(Key{pid, ticks}, std::move(exe), TimePoint{});
  }
  closedir(dir);
}

std::string ProcessTable::executable(uint32_t pid, uint64_t start_boottime_ns) {
  Key key{pid, ticks_from_ns(start_boottime_ns)};
  const auto now = std::chrono::steady_clock::now();
  if (auto it = entries_.find(key); it != entries_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second);
    if (it->second->retry_at == TimePoint{} || now < it->second->retry_at)
      return it->second->executable;
  }
  ++misses_;
  // Only trust /proc when the pid still belongs to the same process.
  std::string exe = read_start_ticks(pid) == key.start_ticks ? read_executable(pid) : "";
  // Unknown is remembered too, for a while: every event of a busy process
  // would otherwise read /proc again for an ancestor that is gone, or whose
  // executable cannot be read (pid 1 in some sandboxes, kernel threads).
  insert(key, exe, exe.empty() ? now + unknown_retry_ : TimePoint{});
  return exe;
}

} // namespace shimwatch

#include "attribute/process_table.hpp"

#include <charconv>
#include <dirent.h>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace shimwatch {

ProcessTable::ProcessTable(size_t capacity, std::string proc_root)
    : capacity_(capacity == 0 ? 1 : capacity), proc_root_(std::move(proc_root)) {}

uint64_t ProcessTable::ticks_from_ns(uint64_t ns) {
  static const uint64_t ns_per_tick =
      1'000'000'000ULL / static_cast<uint64_t>(sysconf(_SC_CLK_TCK));
  return ns / ns_per_tick;
}

uint64_t ProcessTable::read_start_ticks(uint32_t pid) const {
  std::ifstream in(proc_root_ + "/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // comm (field 2) may hold spaces and parentheses: fields resume after the last ')'.
  auto close = stat.rfind(')');
  if (close == std::string::npos)
    return 0;
  std::istringstream fields(stat.substr(close + 1));
  std::string field;
  // Field 3 (state) is the first after comm; starttime is field 22.
  for (int i = 3; i <= 22; ++i)
    if (!(fields >> field))
      return 0;
  uint64_t ticks = 0;
  std::from_chars(field.data(), field.data() + field.size(), ticks);
  return ticks;
}

std::string ProcessTable::read_executable(uint32_t pid) const {
  char buf[4096];
  std::string link = proc_root_ + "/" + std::to_string(pid) + "/exe";
  ssize_t n = readlink(link.c_str(), buf, sizeof(buf) - 1);
  if (n <= 0)
    return "";
  return std::string(buf, static_cast<size_t>(n));
}

void ProcessTable::insert(Key key, std::string executable) {
  if (auto it = entries_.find(key); it != entries_.end()) {
    it->second->executable = std::move(executable);
    lru_.splice(lru_.begin(), lru_, it->second);
    return;
  }
  lru_.push_front(Entry{key, std::move(executable)});
  entries_[key] = lru_.begin();
  while (entries_.size() > capacity_) {
    entries_.erase(lru_.back().key);
    lru_.pop_back();
  }
}

void ProcessTable::remember(uint32_t pid, uint64_t start_boottime_ns, std::string executable) {
  insert(Key{pid, ticks_from_ns(start_boottime_ns)}, std::move(executable));
}

void ProcessTable::scan() {
  DIR *dir = opendir(proc_root_.c_str());
  if (!dir)
    return;
  while (dirent *d = readdir(dir)) {
    if (entries_.size() >= capacity_)
      break;
    uint32_t pid = 0;
    const char *end = d->d_name + std::char_traits<char>::length(d->d_name);
    auto [ptr, ec] = std::from_chars(d->d_name, end, pid);
    if (ec != std::errc{} || ptr != end || pid == 0)
      continue;
    uint64_t ticks = read_start_ticks(pid);
    std::string exe = read_executable(pid);
    if (ticks != 0 && !exe.empty())
      insert(Key{pid, ticks}, std::move(exe));
  }
  closedir(dir);
}

std::string ProcessTable::executable(uint32_t pid, uint64_t start_boottime_ns) {
  Key key{pid, ticks_from_ns(start_boottime_ns)};
  if (auto it = entries_.find(key); it != entries_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second);
    return it->second->executable;
  }
  ++misses_;
  // Only trust /proc when the pid still belongs to the same process.
  if (read_start_ticks(pid) != key.start_ticks)
    return "";
  std::string exe = read_executable(pid);
  if (!exe.empty())
    insert(key, exe);
  return exe;
}

} // namespace shimwatch

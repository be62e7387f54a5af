// A bounded table of processes seen on the node: (pid, start time) -> executable.
#pragma once

#include <chrono>
#include <cstdint>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>

namespace shimwatch {

class ProcessTable {
public:
  // A workload picks its executable's path (up to PATH_MAX): without a bound
  // in bytes, 16k processes run from deep directories would hold 64 MiB.
  static constexpr size_t default_max_bytes = size_t{8} << 20;

  // capacity, max_bytes: most entries kept, and the memory they may hold;
  // the least recently used go first.
  // unknown_retry: how long a process whose executable could not be found
  // stays unknown before /proc is asked again.
  explicit ProcessTable(size_t capacity, std::string proc_root = "/proc",
                        std::chrono::nanoseconds unknown_retry = std::chrono::seconds(5),
                        size_t max_bytes = default_max_bytes);

  // One pass over /proc at start, up to capacity entries.
  void scan();

  // The executable of the process that started at start_boottime_ns with this
  // pid; on a miss, read from /proc if that pid is still the same process.
  // Empty when it is gone and was never seen, or its executable cannot be
  // read (asked again after unknown_retry).
  std::string executable(uint32_t pid, uint64_t start_boottime_ns);

  void remember(uint32_t pid, uint64_t start_boottime_ns, std::string executable);

  size_t size() const { return entries_.size(); }
  size_t capacity() const { return capacity_; }
  // The memory the entries hold, as counted against max_bytes.
  size_t bytes() const { return bytes_; }
  uint64_t misses() const { return misses_; }

  // Clock ticks since boot, as /proc/<pid>/stat field 22 gives the start time.
  static uint64_t ticks_from_ns(uint64_t ns);
  // Field 22 of a /proc/<pid>/stat line, or 0 when it has none.
  static uint64_t parse_start_ticks(std::string_view stat);

private:
  struct Key {
    uint32_t pid;
    uint64_t start_ticks;
    bool operator==(const Key &) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key &k) const {
      return std::hash<uint64_t>()(k.start_ticks * 4194304 + k.pid);
    }
  };
  using TimePoint = std::chrono::steady_clock::time_point;
  struct Entry {
    Key key;
    std::string executable;
    TimePoint retry_at; // unknown until then; the epoch for a known one
  };

  void insert(Key key, std::string executable, TimePoint retry_at);
  // An entry's share: its path plus the list node and the index's slot.
  static size_t footprint(const std::string &executable) { return executable.size() + 128; }
  bool full() const { return entries_.size() >= capacity_ || bytes_ >= max_bytes_; }
  // The start time in ticks of /proc/<pid>, or 0 when it cannot be read.
  uint64_t read_start_ticks(uint32_t pid) const;
  std::string read_executable(uint32_t pid) const;

  size_t capacity_;
  size_t max_bytes_;
  size_t bytes_ = 0;
  std::string proc_root_;
  std::chrono::nanoseconds unknown_retry_;
  std::list<Entry> lru_; // most recently used first
  std::unordered_map<Key, std::list<Entry>::iterator, KeyHash> entries_;
  uint64_t misses_ = 0;
};

} // namespace shimwatch

// Bounded heavy-hitter counting (the Space-Saving algorithm, Metwally et al. 2005).
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace shimwatch::report {

// Counts at most `capacity` distinct keys. While no more than `capacity`
// distinct keys were seen, every count is exact. Beyond that, a new key takes
// the slot of the smallest count and inherits it: every key seen more than
// total/capacity times is guaranteed to be kept, and a kept count is too high
// by at most its `overestimate`. Memory: capacity keys, whatever the stream.
class TopCounter {
public:
  struct Entry {
    std::string key;
    std::uint64_t count = 0;
    std::uint64_t overestimate = 0;
  };

  explicit TopCounter(std::size_t capacity = 64) : capacity_(std::max<std::size_t>(capacity, 1)) {}

  void add(std::string_view key, std::uint64_t count = 1) {
    if (key.empty() || count == 0)
      return;
    total_ += count;
    auto found = index_.find(std::string(key));
    if (found != index_.end()) {
      entries_[found->second].count += count;
      return;
    }
    ++distinct_seen_;
    if (entries_.size() < capacity_) {
      index_.emplace(std::string(key), entries_.size());
      entries_.push_back({std::string(key), count, 0});
      return;
    }
    evicted_ = true;
    std::size_t smallest = 0;
    for (std::size_t i = 1; i < entries_.size(); ++i)
      if (entries_[i].count < entries_[smallest].count)
        smallest = i;
    Entry &slot = entries_[smallest];
    index_.erase(slot.key);
    const std::uint64_t inherited = slot.count;
    slot = {std::string(key), inherited + count, inherited};
    index_.emplace(slot.key, smallest);
  }

  // The n largest, largest first; ties by key so that output is stable.
  std::vector<Entry> top(std::size_t n) const {
    std::vector<Entry> sorted = entries_;
    std::sort(sorted.begin(), sorted.end(), [](const Entry &a, const Entry &b) {
      return a.count != b.count ? a.count > b.count : a.key < b.key;
    });
    if (sorted.size() > n)
      sorted.resize(n);
    return sorted;
  }

  std::uint64_t total() const { return total_; }
  std::size_t size() const { return entries_.size(); }
  std::size_t capacity() const { return capacity_; }
  // Whether some key lost its slot, i.e. counts may be approximate.
  bool approximate() const { return evicted_; }
  // Distinct keys seen, exact while !approximate(); a lower bound is not
  // kept beyond (an evicted key seen again counts again).
  std::uint64_t distinct_seen() const { return distinct_seen_; }

private:
  std::size_t capacity_;
  std::vector<Entry> entries_;
  std::unordered_map<std::string, std::size_t> index_;
  std::uint64_t total_ = 0;
  std::uint64_t distinct_seen_ = 0;
  bool evicted_ = false;
};

} // namespace shimwatch::report

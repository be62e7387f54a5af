// aggregate: folds repeats of the same call from the same origin into
// periodic summaries, so a monitoring agent polling the socket every 10 s does
// not write 60k identical lines a week. Counters stay exact: only the written
// records are folded.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "shimwatch/event.hpp"

namespace shimwatch {

// Who did what to what: origin, action, outcome, target and command line.
std::string dedupe_key(const Event &event);

struct RepeatSummary {
  Event sample;              // the first event of the window, as it was written
  uint64_t repeats = 0;      // events folded after it in the window
  int64_t first_seen_ns = 0; // the first folded event's time
  int64_t last_seen_ns = 0;  // the last folded event's time
};

class Deduplicator {
public:
  // window_ns: how long repeats are folded before a summary goes out.
  // max_keys, max_bytes: distinct keys tracked at once, and the memory
  // their samples hold (approximate_bytes); beyond either, events pass
  // unfolded (counted), never dropped.
  static constexpr size_t default_max_bytes = size_t{32} << 20;
  Deduplicator(int64_t window_ns, size_t max_keys, size_t max_bytes = default_max_bytes);

  // True when the event is to be written in full (the first of its key in
  // the current window, or no room to track it); false when folded.
  bool admit(const Event &event);

  // Summaries of windows that ended by now_ns (all of them when final is set,
  // at shutdown); keys without repeats expire silently.
  std::vector<RepeatSummary> due(int64_t now_ns, bool final = false);

  size_t tracked() const { return entries_.size(); }
  size_t tracked_bytes() const { return bytes_; }
  uint64_t untracked() const { return untracked_; }

private:
  struct Entry {
    int64_t window_end_ns;
    RepeatSummary summary;
    size_t bytes = 0; // counted in bytes_ while tracked
  };

  int64_t window_ns_;
  size_t max_keys_;
  size_t max_bytes_;
  size_t bytes_ = 0;
  std::unordered_map<std::string, Entry> entries_;
  std::multimap<int64_t, std::string> by_window_end_;
  uint64_t untracked_ = 0;
};

} // namespace shimwatch

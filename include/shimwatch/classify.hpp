// classify: decides whether a decoded event is one the config asked for.
#pragma once

#include <string>
#include <string_view>
#include <unordered_set>

#include "shimwatch/config.hpp"
#include "shimwatch/event.hpp"

namespace shimwatch {

class Classifier {
public:
  explicit Classifier(const Config &config);

  // The kernel matches exec on comm, the basename cut to 15 bytes. Here the
  // whole basename of the path passed to execve() must be a watched name.
  // Without a usable path (unreadable, or cut short) the event is kept when
  // comm is what the kernel matched: better reported than silently lost.
  bool accept(const Event &event) const;

private:
  std::unordered_set<std::string> exec_names_;
  std::unordered_set<std::string> exec_comm_keys_; // watched names cut to 15 bytes
};

std::string_view basename_of(std::string_view path);

} // namespace shimwatch

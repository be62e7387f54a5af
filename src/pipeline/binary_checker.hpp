// Reads of files a workload controls, off the event thread: the build-id of
// a binary run for the first time (a renamed docker CLI?). Such a read may
// block for ever (a binary on a FUSE mount whose server never answers): it
// holds a worker, never the loop that reads the kernel's records. Workers
// are added while the others are held, up to a cap; past it the checker
// says it is stalled (the agent's /healthz then fails) and refuses new work,
// which is counted.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "shimwatch/event.hpp"
#include "shimwatch/probe.hpp"

namespace shimwatch {

class BinaryChecker {
public:
  enum class Purpose {
    check, // the first exec of a binary nothing else matched
    learn, // a docker CLI run under its own name: learn its build-id
  };
  struct Read {
    bool readable = false; // the file could be opened (the process may be gone)
    std::optional<BuildId> build_id;
  };
  struct Done {
    Purpose purpose;
    Event event;
    Read read;
  };
  using ReadFn = std::function<Read(const Event &)>;

  struct Options {
    size_t queue_limit = 256;
    size_t max_workers = 8;
    // A worker busy this long on one read counts as held.
    std::chrono::milliseconds held_after{2000};
  };

  BinaryChecker(ReadFn read, Options options);
  // Workers held in a read are left to finish on their own.
  ~BinaryChecker();
  BinaryChecker(const BinaryChecker &) = delete;
  BinaryChecker &operator=(const BinaryChecker &) = delete;

  // Queues the event; false when refused (queue full, every worker held).
  bool submit(Purpose purpose, Event event);
  // What the workers finished since the last call.
  std::vector<Done> take();
  // Every worker, up to the cap, is held in a read.
  bool stalled() const;
  // Jobs queued or being read.
  size_t outstanding() const;
  uint64_t refused() const;
  size_t held_workers() const;

  struct State;

private:
  static void work(const std::shared_ptr<State> &state, std::atomic<int64_t> &busy_since);
  std::shared_ptr<State> state_;
};

} // namespace shimwatch

#include "pipeline/binary_checker.hpp"

#include <condition_variable>
#include <csignal>
#include <deque>
#include <mutex>
#include <pthread.h>
#include <thread>
#include <utility>

namespace shimwatch {

namespace {

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

} // namespace

// Shared with the workers, so that one still held in a read when the
// checker goes finds it alive.
struct BinaryChecker::State {
  ReadFn read;
  Options options;
  std::mutex mutex;
  std::condition_variable wake;
  std::deque<std::pair<Purpose, Event>> queue;
  std::vector<Done> done;
  // When each worker started its current read; 0 when idle.
  std::vector<std::unique_ptr<std::atomic<int64_t>>> busy_since;
  std::atomic<uint64_t> refused{0};
  bool stopping = false;

  size_t held(int64_t now) const {
    size_t n = 0;
    const int64_t limit =
        std::chrono::duration_cast<std::chrono::nanoseconds>(options.held_after).count();
    for (const auto &since : busy_since) {
      int64_t started = since->load();
      n += started != 0 && now - started >= limit;
    }
    return n;
  }
};

BinaryChecker::BinaryChecker(ReadFn read, Options options) : state_(std::make_shared<State>()) {
  state_->read = std::move(read);
  state_->options = options;
}

BinaryChecker::~BinaryChecker() {
  {
    std::lock_guard lock(state_->mutex);
    state_->stopping = true;
  }
  state_->wake.notify_all();
}

bool BinaryChecker::submit(Purpose purpose, Event event) {
  State &s = *state_;
  std::unique_lock lock(s.mutex);
  const int64_t now = now_ns();
  size_t idle = 0;
  for (const auto &since : s.busy_since)
    idle += since->load() == 0;
  // One more worker when none is idle and those there are all held.
  if (idle == 0 && s.held(now) == s.busy_since.size() &&
      s.busy_since.size() < s.options.max_workers) {
    s.busy_since.push_back(std::make_unique<std::atomic<int64_t>>(0));
    std::atomic<int64_t> &slot = *s.busy_since.back();
    std::thread([state = state_, &slot] { work(state, slot); }).detach();
  }
  if (s.queue.size() >= s.options.queue_limit ||
      (s.busy_since.size() == s.options.max_workers && s.held(now) == s.options.max_workers)) {
    s.refused++;
    return false;
  }
  s.queue.emplace_back(purpose, std::move(event));
  lock.unlock();
  s.wake.notify_one();
  return true;
}

std::vector<BinaryChecker::Done> BinaryChecker::take() {
  std::lock_guard lock(state_->mutex);
  return std::exchange(state_->done, {});
}

bool BinaryChecker::stalled() const {
  std::lock_guard lock(state_->mutex);
  return state_->busy_since.size() == state_->options.max_workers &&
         state_->held(now_ns()) == state_->options.max_workers;
}

size_t BinaryChecker::outstanding() const {
  std::lock_guard lock(state_->mutex);
  size_t busy = 0;
  for (const auto &since : state_->busy_since)
    busy += since->load() != 0;
  return state_->queue.size() + busy;
}

uint64_t BinaryChecker::refused() const {
  return state_->refused.load();
}

size_t BinaryChecker::held_workers() const {
  std::lock_guard lock(state_->mutex);
  return state_->held(now_ns());
}

void BinaryChecker::work(const std::shared_ptr<State> &state, std::atomic<int64_t> &busy_since) {
  // Signals are the loop's business (SIGHUP, SIGTERM): none here.
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
  std::unique_lock lock(state->mutex);
  for (;;) {
    state->wake.wait(lock, [&] { return state->stopping || !state->queue.empty(); });
    if (state->stopping)
      return;
    auto [purpose, event] = std::move(state->queue.front());
    state->queue.pop_front();
    busy_since = now_ns();
    lock.unlock();
    BinaryChecker::Read read = state->read(event);
    lock.lock();
    busy_since = 0;
    state->done.push_back({purpose, std::move(event), std::move(read)});
  }
}

} // namespace shimwatch

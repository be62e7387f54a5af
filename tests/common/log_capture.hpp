// Captures spdlog output in tests, to assert on what the agent logs.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>
#include <string>
#include <utility>
#include <vector>

namespace swtest {

// Collects log lines while alive; restores the previous default logger.
class LogCapture {
public:
  LogCapture() : previous_(spdlog::default_logger()), sink_(std::make_shared<Sink>()) {
    auto logger = std::make_shared<spdlog::logger>("capture", sink_);
    logger->set_level(spdlog::level::debug);
    spdlog::set_default_logger(logger);
  }
  ~LogCapture() {
    spdlog::set_default_logger(previous_);
    if (std::getenv("SHIMWATCH_TEST_LOG")) // the client's debug lines, for diagnosis
      for (const auto &[level, text] : sink_->lines)
        std::fprintf(stderr, "  captured %s: %s\n", spdlog::level::to_string_view(level).data(),
                     text.c_str());
  }
  std::vector<std::string> lines(spdlog::level::level_enum level) const {
    std::lock_guard lock(sink_->lines_mutex);
    std::vector<std::string> out;
    for (const auto &[l, text] : sink_->lines)
      if (l == level)
        out.push_back(text);
    return out;
  }
  bool contains(const std::string &needle) const {
    std::lock_guard lock(sink_->lines_mutex);
    for (const auto &entry : sink_->lines)
      if (entry.second.find(needle) != std::string::npos)
        return true;
    return false;
  }

private:
  struct Sink : spdlog::sinks::base_sink<std::mutex> {
    mutable std::mutex lines_mutex;
    std::vector<std::pair<spdlog::level::level_enum, std::string>> lines;
    void sink_it_(const spdlog::details::log_msg &msg) override {
      std::lock_guard lock(lines_mutex);
      lines.emplace_back(msg.level, std::string(msg.payload.data(), msg.payload.size()));
    }
    void flush_() override {}
  };
  std::shared_ptr<spdlog::logger> previous_;
  std::shared_ptr<Sink> sink_;
};

} // namespace swtest

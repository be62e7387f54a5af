#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include "shimwatch/fd.hpp"
#include "shimwatch/sink.hpp"

namespace shimwatch {

StreamSink::StreamSink(FILE *stream, OutputFormat format, HostInfo host, std::string name)
    : stream_(stream), fd_(fileno(stream)), format_(format), host_(std::move(host)),
      name_(std::move(name)) {
  // Nothing may sit in stdio's buffer ahead of what goes out through fd_.
  fflush(stream_);
}

StreamSink::~StreamSink() {
  flush();
  if (owns_stream_ && stream_)
    fclose(stream_);
}

Result<std::unique_ptr<StreamSink>> StreamSink::open_file(const std::string &path, HostInfo host) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640));
  if (!fd)
    return Error{"cannot open log file " + path + ": " + std::strerror(errno), errno};
  FILE *stream = fdopen(fd.get(), "a");
  if (!stream)
    return Error{"cannot open log file " + path + ": " + std::strerror(errno), errno};
  fd.release(); // the stream closes it
  auto sink = std::make_unique<StreamSink>(stream, OutputFormat::json, std::move(host), path);
  sink->owns_stream_ = true;
  return sink;
}

void StreamSink::put(const std::string &line, bool is_event) {
  pending_ += line;
  pending_ += '\n';
  pending_is_event_.push_back(is_event);
}

void StreamSink::write(const Event &event) {
  if (format_ == OutputFormat::text) {
    if (!header_written_) {
      put(text_header(), false);
      header_written_ = true;
    }
    put(encode_text(event), true);
    return;
  }
  put(encode_json(event, host_), true);
}

void StreamSink::write_gap(const Gap &gap) {
  if (format_ == OutputFormat::text) {
    if (!header_written_) {
      put(text_header(), false);
      header_written_ = true;
    }
    put(encode_gap_text(gap), false);
    return;
  }
  put(encode_gap_json(gap, host_), false);
}

void StreamSink::flush() {
  size_t done = 0;
  int err = 0;
  while (done < pending_.size()) {
    ssize_t n = ::write(fd_, pending_.data() + done, pending_.size() - done);
    if (n > 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && errno == EAGAIN) {
      // A non-blocking stdout that is full: wait a little for the reader.
      pollfd p{fd_, POLLOUT, 0};
      if (poll(&p, 1, 1000) > 0)
        continue;
    }
    err = n < 0 ? errno : EIO;
    break;
  }
  if (err != 0) {
    ++errors_;
    // Records already written whole stay; a record cut in the middle is
    // finished with a newline so the next one starts on its own line. Only
    // events count as lost: a header or a gap record is none.
    size_t written = 0;
    for (size_t i = 0; i < done; ++i)
      written += pending_[i] == '\n';
    for (size_t i = written; i < pending_is_event_.size(); ++i)
      lost_ += pending_is_event_[i];
    if (done > 0 && pending_[done - 1] != '\n')
      (void)!::write(fd_, "\n", 1);
    if (!failing_)
      spdlog::error("writing events to {} failed: {} (counted as lost until it works again)", name_,
                    std::strerror(err));
    failing_ = true;
  } else if (failing_ && !pending_.empty()) {
    spdlog::info("writing events to {} works again", name_);
    failing_ = false;
  }
  pending_.clear();
  pending_is_event_.clear();
}

} // namespace shimwatch

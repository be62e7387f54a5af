#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include "shimwatch/sink.hpp"

namespace shimwatch {

StreamSink::StreamSink(FILE *stream, OutputFormat format, HostInfo host, std::string name)
    : stream_(stream), format_(format), host_(std::move(host)), name_(std::move(name)) {}

StreamSink::~StreamSink() {
  if (stream_)
    fflush(stream_);
  if (owns_stream_ && stream_)
    fclose(stream_);
}

Result<std::unique_ptr<StreamSink>> StreamSink::open_file(const std::string &path, HostInfo host) {
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0)
    return Error{"cannot open log file " + path + ": " + std::strerror(errno), errno};
  FILE *stream = fdopen(fd, "a");
  if (!stream) {
    int err = errno;
    ::close(fd);
    return Error{"cannot open log file " + path + ": " + std::strerror(err), err};
  }
  auto sink = std::make_unique<StreamSink>(stream, OutputFormat::json, std::move(host), path);
  sink->owns_stream_ = true;
  return sink;
}

void StreamSink::put(const std::string &line) {
  if (fwrite(line.data(), 1, line.size(), stream_) != line.size() || fputc('\n', stream_) == EOF) {
    ++errors_;
    if (!failing_)
      spdlog::error("writing events to {} failed: {}", name_, std::strerror(errno));
    failing_ = true;
    clearerr(stream_);
    return;
  }
  if (failing_)
    spdlog::info("writing events to {} works again", name_);
  failing_ = false;
}

void StreamSink::write(const Event &event) {
  if (format_ == OutputFormat::text) {
    if (!header_written_) {
      put(text_header());
      header_written_ = true;
    }
    put(encode_text(event));
    return;
  }
  put(encode_json(event, host_));
}

void StreamSink::flush() {
  if (fflush(stream_) != 0) {
    ++errors_;
    clearerr(stream_);
  }
}

} // namespace shimwatch

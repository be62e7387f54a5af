#include "report/log_reader.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <unistd.h>
#include <vector>
#include <zlib.h>

#include "shimwatch/fd.hpp"

namespace shimwatch::report {

namespace {

// Cuts a byte stream into lines; keeps at most max_line_bytes of an unfinished one.
class LineSplitter {
public:
  LineSplitter(const LineHandler &on_line, FileReadResult &result)
      : on_line_(on_line), result_(result) {}

  void feed(const char *data, std::size_t size) {
    std::string_view rest(data, size);
    while (!rest.empty()) {
      const auto newline = rest.find('\n');
      if (newline == std::string_view::npos) {
        append(rest);
        return;
      }
      const std::string_view piece = rest.substr(0, newline);
      rest.remove_prefix(newline + 1);
      if (skipping_) {
        skipping_ = false;
        continue;
      }
      if (pending_.empty()) {
        deliver(piece);
      } else {
        append(piece);
        if (!skipping_)
          deliver(pending_);
        skipping_ = false;
        pending_.clear();
      }
    }
  }

  void finish() {
    if (!pending_.empty() && !skipping_)
      deliver(pending_);
    pending_.clear();
    skipping_ = false;
  }

private:
  void append(std::string_view piece) {
    if (skipping_)
      return;
    if (pending_.size() + piece.size() > max_line_bytes) {
      ++result_.oversize_lines;
      skipping_ = true;
      pending_.clear();
      pending_.shrink_to_fit();
      return;
    }
    pending_.append(piece);
  }

  void deliver(std::string_view line) {
    ++result_.lines;
    on_line_(line);
  }

  const LineHandler &on_line_;
  FileReadResult &result_;
  std::string pending_;
  bool skipping_ = false; // inside a line that is too long, until its end
};

struct InflateStream {
  z_stream stream{};
  bool ready = false;
  InflateStream() { ready = inflateInit2(&stream, 15 + 16) == Z_OK; } // gzip wrapper only
  ~InflateStream() {
    if (ready)
      inflateEnd(&stream);
  }
  InflateStream(const InflateStream &) = delete;
  InflateStream &operator=(const InflateStream &) = delete;
};

// Reads up to size bytes, retrying on EINTR. Returns -1 on error.
ssize_t read_some(int fd, char *buffer, std::size_t size) {
  for (;;) {
    const ssize_t n = ::read(fd, buffer, size);
    if (n >= 0 || errno != EINTR)
      return n;
  }
}

} // namespace

FileReadResult read_log_fd(int fd, const LineHandler &on_line, const ProgressHandler &on_progress) {
  FileReadResult result;
  result.opened = true;
  LineSplitter lines(on_line, result);
  std::vector<char> input(read_chunk_bytes);
  std::vector<char> output;
  std::unique_ptr<InflateStream> inflater;
  bool first_chunk = true;
  bool member_open = false; // inside a gzip member that has not ended yet

  for (;;) {
    const ssize_t got = read_some(fd, input.data(), input.size());
    if (got < 0) {
      result.error = std::string("read failed: ") + std::strerror(errno);
      break;
    }
    if (got == 0)
      break;
    if (on_progress)
      on_progress(static_cast<std::uint64_t>(got));
    if (first_chunk) {
      first_chunk = false;
      result.gzip = got >= 2 && static_cast<unsigned char>(input[0]) == 0x1f &&
                    static_cast<unsigned char>(input[1]) == 0x8b;
      if (result.gzip) {
        inflater = std::make_unique<InflateStream>();
        output.resize(read_chunk_bytes);
        if (!inflater->ready) {
          result.error = "zlib could not start";
          return result;
        }
      }
    }
    if (!result.gzip) {
      lines.feed(input.data(), static_cast<std::size_t>(got));
      continue;
    }
    if (result.corrupt_gzip)
      continue; // count the bytes, skip the rest of the file
    z_stream &z = inflater->stream;
    z.next_in = reinterpret_cast<Bytef *>(input.data());
    z.avail_in = static_cast<uInt>(got);
    while (z.avail_in > 0 && !result.corrupt_gzip) {
      member_open = true;
      z.next_out = reinterpret_cast<Bytef *>(output.data());
      z.avail_out = static_cast<uInt>(output.size());
      const int rc = inflate(&z, Z_NO_FLUSH);
      lines.feed(output.data(), output.size() - z.avail_out);
      if (rc == Z_STREAM_END) {
        // Concatenated members (`cat a.gz b.gz`, rotated and appended) go on.
        ++result.gzip_members;
        member_open = false;
        inflateReset(&z);
      } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
        result.corrupt_gzip = true;
        member_open = false;
      }
    }
  }
  if (result.gzip && member_open) {
    // Drain what zlib still holds, then count the cut member.
    z_stream &z = inflater->stream;
    for (;;) {
      z.next_out = reinterpret_cast<Bytef *>(output.data());
      z.avail_out = static_cast<uInt>(output.size());
      const int rc = inflate(&z, Z_SYNC_FLUSH);
      const std::size_t produced = output.size() - z.avail_out;
      lines.feed(output.data(), produced);
      if (rc == Z_STREAM_END) {
        ++result.gzip_members;
        member_open = false;
        break;
      }
      if (produced == 0 || rc != Z_OK)
        break;
    }
    if (member_open)
      ++result.truncated_gzip_members;
  }
  lines.finish();
  return result;
}

FileReadResult read_log(const std::string &path, const LineHandler &on_line,
                        const ProgressHandler &on_progress) {
  if (path == "-")
    return read_log_fd(STDIN_FILENO, on_line, on_progress);
  const Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    FileReadResult result;
    result.error = std::strerror(errno);
    return result;
  }
  return read_log_fd(fd.get(), on_line, on_progress);
}

} // namespace shimwatch::report

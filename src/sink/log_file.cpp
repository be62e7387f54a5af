#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shimwatch/sink.hpp"

namespace shimwatch {

namespace {

// Bytes after the last newline of the file open on fd: a record cut by a crash.
Result<uint64_t> torn_tail(int fd, uint64_t size) {
  char buf[4096];
  uint64_t end = size;
  while (end > 0) {
    uint64_t chunk = std::min<uint64_t>(end, sizeof(buf));
    ssize_t n = pread(fd, buf, chunk, static_cast<off_t>(end - chunk));
    if (n != static_cast<ssize_t>(chunk))
      return Error{std::string("reading its end failed: ") + std::strerror(errno), errno};
    for (uint64_t i = chunk; i > 0; --i)
      if (buf[i - 1] == '\n')
        return size - (end - chunk + i);
    end -= chunk;
  }
  return size; // no newline at all: the whole file is one torn record
}

} // namespace

LogFile::LogFile(std::string path, HostInfo host, LogFileOptions options)
    : path_(std::move(path)), host_(std::move(host)), options_(options) {}

LogFile::~LogFile() {
  // What is pending goes out; a destructor has no one to tell that it could
  // not (flush counts and logs a failed write; only allocating may throw).
  try {
    flush();
  } catch (...) {
  }
}

Result<std::unique_ptr<LogFile>> LogFile::open(const std::string &path, HostInfo host,
                                               LogFileOptions options) {
  std::unique_ptr<LogFile> file(new LogFile(path, std::move(host), options));
  if (auto st = file->open_fd(); !st)
    return st.error();
  return file;
}

Status LogFile::open_fd() {
  // Not through a symbolic link: one planted at the path would send the
  // audit trail (and its writes as root) wherever it points.
  Fd fd(::open(path_.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK,
               0640));
  if (!fd)
    return Error{"cannot open log file " + path_ + ": " +
                     (errno == ELOOP ? std::string("it is a symbolic link (not followed)")
                                     : std::string(std::strerror(errno))),
                 errno};
  struct stat st {};
  if (fstat(fd.get(), &st) != 0) {
    int err = errno;
    return Error{"cannot stat log file " + path_ + ": " + std::strerror(err), err};
  }
  // A file someone else made there, or one others may write, would let
  // them add lines to the trail.
  if (!S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
    return Error{"log file " + path_ + " is " +
                     (!S_ISREG(st.st_mode)
                          ? std::string("not a regular file")
                          : "owned by uid " + std::to_string(st.st_uid) + ", not by the agent's") +
                     ": remove it, or give another --log-file",
                 EPERM};
  }
  if ((st.st_mode & 0022) != 0) {
    if (fchmod(fd.get(), st.st_mode & 0750) == 0)
      spdlog::warn("log file {}: others could write it (mode {:o}); now {:o}", path_,
                   st.st_mode & 0777, st.st_mode & 0750);
  }
  uint64_t size = S_ISREG(st.st_mode) ? static_cast<uint64_t>(st.st_size) : 0;
  if (size > 0) {
    auto torn = torn_tail(fd.get(), size);
    if (torn && *torn > 0) {
      if (ftruncate(fd.get(), static_cast<off_t>(size - *torn)) == 0) {
        spdlog::warn("log file {}: cut {} bytes of a record left incomplete by a crash", path_,
                     *torn);
        torn_bytes_ += *torn;
        size -= *torn;
      }
    }
  }
  fd_ = std::move(fd);
  size_ = size;
  return Ok{};
}

void LogFile::fail(const std::string &what, int err) {
  ++errors_;
  if (lost_unreported_ == 0 && pending_records_ > 0)
    lost_since_ns_ = unix_now_ns();
  if (!failing_)
    spdlog::error("log file {}: {}: {} (events are counted as lost until it works again)", path_,
                  what, std::strerror(err));
  failing_ = true;
}

void LogFile::write(const Event &event) {
  write_line(encode_json(event, host_));
}

void LogFile::write_gap(const Gap &gap) {
  pending_ += encode_gap_json(gap, host_);
  pending_ += '\n';
  pending_gaps_.push_back(gap);
}

void LogFile::write_line(const std::string &json_line) {
  pending_ += json_line;
  pending_ += '\n';
  ++pending_records_;
}

void LogFile::rotate() {
  if (options_.keep == 0) {
    // Nothing kept: start the file over.
    if (ftruncate(fd_.get(), 0) == 0)
      size_ = 0;
    ++rotations_;
    return;
  }
  for (uint32_t i = options_.keep; i > 1; --i)
    std::rename((path_ + "." + std::to_string(i - 1)).c_str(),
                (path_ + "." + std::to_string(i)).c_str());
  if (std::rename(path_.c_str(), (path_ + ".1").c_str()) != 0) {
    // Nothing is lost: the file is written on past the limit, and each
    // batch tries again. An episode of its own, logged once: as a write
    // failure it would be logged again after every write that works.
    int err = errno;
    ++errors_;
    if (!rotation_failing_)
      spdlog::error("log file {}: rotating failed: {} (written on past the size limit until it "
                    "works)",
                    path_, std::strerror(err));
    rotation_failing_ = true;
    return;
  }
  if (rotation_failing_)
    spdlog::info("log file {}: rotating works again", path_);
  rotation_failing_ = false;
  ++rotations_;
  if (auto st = open_fd(); !st) {
    // fd_ still writes to what is now PATH.1, which later rotations would
    // rename on and at last over, losing it unseen. It is let go: each batch
    // tries PATH again and is counted as lost until it opens.
    fd_.reset();
    fail("opening the new file after rotation failed", st.error().errno_value);
  }
}

void LogFile::batch_failed() {
  lost_ += pending_records_;
  lost_unreported_ += pending_records_;
  for (const Gap &gap : pending_gaps_)
    merge_into(unwritten_gaps_, gap);
  pending_.clear();
  pending_records_ = 0;
  pending_gaps_.clear();
}

void LogFile::flush() {
  if (pending_.empty())
    return;
  if (!fd_) {
    if (auto st = open_fd(); !st) {
      fail("opening failed", st.error().errno_value);
      batch_failed();
      return;
    }
  }
  if (options_.max_bytes > 0 && size_ > 0 && size_ + pending_.size() > options_.max_bytes) {
    rotate();
    if (!fd_) {
      batch_failed();
      return;
    }
  }
  if (lost_unreported_ > 0) {
    // Writing may work again: the gap record leads, and goes or fails with
    // the batch, so it is never written twice or lost without a count.
    Gap gap;
    gap.stage = "log_file";
    gap.reasons = {{"write_failed", lost_unreported_}};
    gap.first_ns = lost_since_ns_;
    gap.timestamp_ns = gap.last_ns = unix_now_ns();
    gap.destination = path_;
    pending_.insert(0, encode_gap_json(gap, host_) + "\n");
  }
  // Other stages' gap records lost with an earlier batch lead too, and go
  // back to pending_gaps_ so that a failure keeps them once, not twice.
  for (auto it = unwritten_gaps_.rbegin(); it != unwritten_gaps_.rend(); ++it) {
    it->timestamp_ns = unix_now_ns();
    pending_.insert(0, encode_gap_json(*it, host_) + "\n");
    pending_gaps_.insert(pending_gaps_.begin(), *it);
  }
  unwritten_gaps_.clear();
  // The real end, not the remembered size: the file may have been truncated
  // under us (logrotate copytruncate).
  off_t end = lseek(fd_.get(), 0, SEEK_END);
  if (end >= 0)
    size_ = static_cast<uint64_t>(end);
  // One write(2) for the whole batch: a crash can only cut its end.
  ssize_t n = ::write(fd_.get(), pending_.data(), pending_.size());
  if (n == static_cast<ssize_t>(pending_.size())) {
    size_ += pending_.size();
    lost_unreported_ = 0;
    if (failing_)
      spdlog::info("log file {}: writing works again", path_);
    failing_ = false;
  } else {
    int err = n < 0 ? errno : ENOSPC;
    if (n > 0) {
      // A partial line must not stay in the middle of the file.
      if (ftruncate(fd_.get(), static_cast<off_t>(size_)) != 0)
        err = errno;
    }
    fail("writing failed", err);
    batch_failed();
    return;
  }
  pending_.clear();
  pending_records_ = 0;
  pending_gaps_.clear();
}

void LogFile::reopen() {
  flush();
  // The old file is let go even if PATH cannot be opened (its directory
  // read-only, gone): logrotate may compress or remove it right after the
  // SIGHUP, and what went on into it would be lost unseen. Until PATH opens
  // again, each batch tries it and is counted as lost, one episode.
  fd_.reset();
  if (auto st = open_fd(); !st)
    fail("reopening failed", st.error().errno_value);
  else
    spdlog::info("log file {}: reopened", path_);
}

} // namespace shimwatch

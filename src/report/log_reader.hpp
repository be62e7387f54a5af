// Reads audit logs line by line: plain or gzip (any number of members), a
// file or stdin ("-"), in fixed-size chunks whatever the file's size.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace shimwatch::report {

inline constexpr std::size_t read_chunk_bytes = 1 << 20;
// Agent records are at most a few tens of KiB; anything longer is not one.
inline constexpr std::size_t max_line_bytes = 1 << 20;

struct FileReadResult {
  bool opened = false;
  std::string error; // why it could not be opened or read
  bool gzip = false;
  std::uint64_t lines = 0;                  // lines delivered
  std::uint64_t oversize_lines = 0;         // longer than max_line_bytes, skipped
  std::uint64_t gzip_members = 0;           // complete members
  std::uint64_t truncated_gzip_members = 0; // the data ended inside a member
  bool corrupt_gzip = false;                // not gzip data past some point; the rest skipped
};

using LineHandler = std::function<void(std::string_view line)>;
using ProgressHandler = std::function<void(std::uint64_t bytes_read)>; // bytes since last call

// Calls on_line for every line (without its '\n'; a last line without one
// too). Problems are reported in the result, never thrown.
FileReadResult read_log(const std::string &path, const LineHandler &on_line,
                        const ProgressHandler &on_progress = {});

// Same, from an open descriptor (not closed).
FileReadResult read_log_fd(int fd, const LineHandler &on_line,
                           const ProgressHandler &on_progress = {});

} // namespace shimwatch::report

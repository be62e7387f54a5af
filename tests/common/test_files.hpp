// What every test suite (and the agent benchmark) needs: temporary files and
// directories, whole files read, a free port.
#pragma once

#include <arpa/inet.h>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <netinet/in.h>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <sys/socket.h>
#include <unistd.h>

namespace swtest {

// The whole file at path, "" when it cannot be read.
inline std::string read_file(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// A field of a /proc/<pid>/status file (or a task's), as the kernel prints
// it after the colon, without the blanks around it; nullopt when absent.
inline std::optional<std::string> status_field(const std::string &status_file,
                                               const std::string &field) {
  std::istringstream in(read_file(status_file));
  for (std::string line; std::getline(in, line);)
    if (line.rfind(field + ":", 0) == 0) {
      std::string value = line.substr(field.size() + 1);
      value.erase(0, value.find_first_not_of(" \t"));
      value.erase(value.find_last_not_of(" \t") + 1);
      return value;
    }
  return std::nullopt;
}

// A fresh directory under /tmp (named prefix + six random characters),
// removed with its contents at destruction.
class TempDir {
public:
  explicit TempDir(const std::string &prefix = "shimwatch-test-") {
    std::string name = "/tmp/" + prefix + "XXXXXX";
    if (!mkdtemp(name.data()))
      throw std::runtime_error("mkdtemp: " + std::string(std::strerror(errno)));
    path_ = name;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir &) = delete;
  TempDir &operator=(const TempDir &) = delete;
  const std::string &path() const { return path_; }
  std::string file(const std::string &name) const { return path_ + "/" + name; }
  // A directory of its own inside this one (made if need be), such as the
  // agent's log wants: it runs as another user, and is given only a
  // directory that holds nothing but its log.
  std::string subdir(const std::string &name) const {
    std::string dir = file(name);
    std::filesystem::create_directories(dir);
    return dir;
  }

private:
  std::string path_;
};

// A file under /tmp holding content, removed when it goes out of scope.
class TempFile {
public:
  explicit TempFile(const std::string &content) {
    char name[] = "/tmp/shimwatch_test_XXXXXX";
    int fd = mkstemp(name);
    if (fd < 0)
      throw std::runtime_error("mkstemp failed");
    path_ = name;
    size_t done = 0;
    while (done < content.size()) {
      ssize_t n = ::write(fd, content.data() + done, content.size() - done);
      if (n <= 0)
        break;
      done += static_cast<size_t>(n);
    }
    ::close(fd);
  }
  ~TempFile() { ::unlink(path_.c_str()); }
  TempFile(const TempFile &) = delete;
  TempFile &operator=(const TempFile &) = delete;
  const std::string &path() const { return path_; }

private:
  std::string path_;
};

// A TCP port on 127.0.0.1 that was free a moment ago.
inline int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr *>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

} // namespace swtest

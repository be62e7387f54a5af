#include "harness.hpp"

#include "spawn.hpp"

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <chrono>
#include <csignal>
#include <cstring>
#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace swtest {

namespace {

std::vector<char *> c_argv(const std::vector<std::string> &args) {
  std::vector<char *> out;
  for (const auto &a : args)
    out.push_back(const_cast<char *>(a.c_str()));
  out.push_back(nullptr);
  return out;
}

int wait_exit(pid_t pid, std::chrono::seconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  int status = 0;
  while (true) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid)
      break;
    if (r < 0)
      return -1;
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      ADD_FAILURE() << "process " << pid << " did not exit within " << limit.count()
                    << " s; killed";
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (WIFEXITED(status))
    return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

} // namespace

void write_file(const std::string &path, const std::string &text, int mode) {
  std::ofstream(path, std::ios::binary) << text;
  chmod(path.c_str(), mode);
}

pid_t start_agent_with_stalled_stdout(const std::vector<std::string> &args,
                                      const std::string &err_path, int &read_end) {
  std::vector<std::string> argv = {SHIMWATCH_BINARY, "run"};
  argv.insert(argv.end(), args.begin(), args.end());
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe failed");
  pid_t pid = -1;
  const int err = spawn_process(argv, fds[1], err_path, pid);
  close(fds[1]);
  if (err != 0) {
    close(fds[0]);
    throw std::runtime_error("starting the agent: " + std::string(std::strerror(err)));
  }
  read_end = fds[0];
  return pid;
}

std::vector<std::string> fresh_node_launcher() {
  const std::string script =
      "for m in /sys/fs/bpf /sys/kernel/tracing /sys/kernel/debug/tracing /sys/kernel/debug; do "
      "while mountpoint -q $m; do umount -l $m || exit 98; done; done; exec \"$@\"";
  return {"unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh"};
}

Agent::Agent(std::vector<std::string> extra_args, bool default_output_flags,
             std::vector<std::string> launcher) {
  if (geteuid() != 0)
    throw std::runtime_error("integration tests need root (they load BPF programs)");
  std::vector<std::string> args = std::move(launcher);
  args.insert(args.end(), {SHIMWATCH_BINARY, "run"});
  if (default_output_flags) {
    // Every event in full: tests look events up by pid. Dedupe has tests of its own.
    args.insert(args.end(), {"--format", "json", "--metrics-address", "off", "--no-dedupe"});
  }
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  // Nothing is pinned by default, so no test hands probes over to another
  // or leaves them attached: only the pinning tests pin, each under its own
  // path.
  std::string out_path = dir_.file("stdout");
  std::string err_path = dir_.file("stderr");

  const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (out < 0)
    throw std::runtime_error("cannot create " + out_path + ": " + std::strerror(errno));
  const int err = spawn_process(args, out, err_path, pid_);
  close(out);
  if (err != 0) {
    pid_ = -1;
    throw std::runtime_error("starting the agent: " + std::string(std::strerror(err)));
  }
  // Ready once the probes are attached and it says so.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    if (read_file(err_path).find(" ready: ") != std::string::npos)
      return;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("agent exited during start-up: " + read_file(err_path));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  throw std::runtime_error("agent not ready after 30 s: " + read_file(err_path));
}

Agent::~Agent() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

AgentOutput Agent::stop() {
  AgentOutput out;
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    out.exit_code = wait_exit(pid_, std::chrono::seconds(15));
    pid_ = -1;
  }
  out.log = read_file(dir_.file("stderr"));
  std::istringstream lines(read_file(dir_.file("stdout")));
  for (std::string line; std::getline(lines, line);) {
    out.lines.push_back(line);
    try {
      out.events.push_back(json::parse(line));
    } catch (const json::exception &) {
      out.unparsable.push_back(line);
    }
  }
  return out;
}

namespace {

ProcessResult run_process_impl(const std::vector<std::string> &argv, bool drop_to, uid_t uid,
                               const std::string &cgroup_dir = "",
                               std::chrono::seconds wait = std::chrono::seconds(60)) {
  TempDir dir;
  chmod(dir.path().c_str(), 0777);
  std::string out_path = dir.file("out");
  ProcessResult result;
  result.pid = fork();
  if (result.pid == 0) {
    if (drop_to && (setgroups(0, nullptr) != 0 || setgid(uid) != 0 || setuid(uid) != 0))
      _exit(126);
    if (!cgroup_dir.empty() && !join_cgroup(cgroup_dir + "/cgroup.procs"))
      _exit(125);
    int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(out, STDOUT_FILENO);
    dup2(out, STDERR_FILENO);
    auto args = c_argv(argv);
    execvp(args[0], args.data());
    _exit(127);
  }
  result.exit_code = wait_exit(result.pid, wait);
  result.output = read_file(out_path);
  return result;
}

} // namespace

ProcessResult run_process(const std::vector<std::string> &argv) {
  return run_process_impl(argv, false, 0);
}

ProcessResult run_process_as(uid_t uid, const std::vector<std::string> &argv,
                             std::chrono::seconds wait) {
  return run_process_impl(argv, true, uid, "", wait);
}

std::string copy_executable(const TempDir &dir, const std::string &from, const std::string &name) {
  std::string path = dir.file(name);
  std::filesystem::copy_file(std::filesystem::canonical(from), path,
                             std::filesystem::copy_options::overwrite_existing);
  chmod(path.c_str(), 0755);
  return path;
}

std::string fake_executable(const TempDir &dir, const std::string &name) {
  return copy_executable(dir, "/bin/true", name);
}

bool join_cgroup(const std::string &procs_file) {
  const int fd = open(procs_file.c_str(), O_WRONLY | O_CLOEXEC);
  const bool joined = fd >= 0 && write(fd, "0", 1) == 1;
  if (fd >= 0)
    close(fd);
  return joined;
}

ProcessResult run_process_in_cgroup(const std::string &cgroup_dir,
                                    const std::vector<std::string> &argv) {
  return run_process_impl(argv, false, 0, cgroup_dir);
}

std::string cgroup2_root() {
  std::ifstream mounts("/proc/mounts");
  for (std::string device, dir, type, rest; mounts >> device >> dir >> type;) {
    std::getline(mounts, rest);
    if (type == "cgroup2")
      return dir;
  }
  throw std::runtime_error("no cgroup2 mount in /proc/mounts");
}

TestCgroup::TestCgroup(const std::string &relative_path) {
  std::string path = cgroup2_root();
  std::istringstream parts(relative_path);
  for (std::string part; std::getline(parts, part, '/');) {
    if (part.empty())
      continue;
    path += "/" + part;
    if (mkdir(path.c_str(), 0755) == 0)
      created_.push_back(path);
    else if (errno != EEXIST)
      throw std::runtime_error("mkdir " + path + ": " + std::strerror(errno));
  }
  path_ = path;
}

TestCgroup::~TestCgroup() {
  for (auto it = created_.rbegin(); it != created_.rend(); ++it)
    rmdir(it->c_str());
}

ProcessResult run_shimwatch(const std::vector<std::string> &args) {
  std::vector<std::string> argv = {SHIMWATCH_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv);
}

std::vector<json> events_of(const AgentOutput &out, pid_t pid, const std::string &action) {
  std::vector<json> found;
  for (const auto &e : out.events) {
    if (!e.contains("process") || e["process"].value("pid", -1) != pid)
      continue;
    if (!action.empty() && e["event"].value("action", "") != action)
      continue;
    found.push_back(e);
  }
  return found;
}

std::vector<json> events_of_container(const AgentOutput &out, const std::string &container_id) {
  std::vector<json> found;
  for (const auto &e : out.events)
    if (e.contains("container") && e["container"].value("id", "") == container_id)
      found.push_back(e);
  return found;
}

UnixListener::UnixListener(const std::string &path, bool listen_now) : path_(path) {
  fd_ = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  socklen_t len;
  if (path[0] == '@') {
    std::memcpy(addr.sun_path + 1, path.data() + 1, path.size() - 1);
    len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size());
  } else {
    unlink(path.c_str());
    std::memcpy(addr.sun_path, path.data(), path.size());
    len = sizeof(addr);
  }
  if (bind(fd_, reinterpret_cast<sockaddr *>(&addr), len) != 0)
    throw std::runtime_error("bind " + path + ": " + std::strerror(errno));
  if (listen_now && listen(fd_, 128) != 0)
    throw std::runtime_error("listen " + path + ": " + std::strerror(errno));
}

UnixListener::~UnixListener() {
  close(fd_);
  if (!path_.empty() && path_[0] != '@')
    unlink(path_.c_str());
}

TcpListener::TcpListener(int family, int port) {
  fd_ = socket(family, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  bool bound = false;
  if (family == AF_INET) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bound = bind(fd_, reinterpret_cast<sockaddr *>(&a), sizeof(a)) == 0;
  } else {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(static_cast<uint16_t>(port));
    a.sin6_addr = in6addr_loopback;
    bound = bind(fd_, reinterpret_cast<sockaddr *>(&a), sizeof(a)) == 0;
  }
  if (!bound || listen(fd_, 16) != 0)
    throw std::runtime_error("cannot listen on port " + std::to_string(port) + ": " +
                             std::strerror(errno));
  thread_ = std::thread([this] {
    for (;;) {
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0)
        return;
      close(c);
    }
  });
}

TcpListener::~TcpListener() {
  shutdown(fd_, SHUT_RDWR);
  close(fd_);
  thread_.join();
}

bool wait_for(const std::function<bool()> &condition, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition())
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return condition();
}

TrustedDir::TrustedDir() {
  static int counter = 0;
  path_ =
      "/usr/local/lib/shimwatch-test-" + std::to_string(getpid()) + "-" + std::to_string(counter++);
  std::filesystem::create_directories(path_);
  chmod(path_.c_str(), 0755);
}

TrustedDir::~TrustedDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TrustedDir::install(const std::string &from, const std::string &name) const {
  const std::string to = path_ + "/" + name;
  std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing);
  chmod(to.c_str(), 0755);
  return to;
}

bool written(const Agent &agent, pid_t pid, std::chrono::milliseconds limit) {
  return wait_for(
      [&] {
        return read_file(agent.dir() + "/stdout").find("\"pid\":" + std::to_string(pid)) !=
               std::string::npos;
      },
      limit);
}

std::string docker_image_with_connect_helper() {
  static const std::string image = "shimwatch-test/connect:1";
  TempDir rootfs;
  copy_executable(rootfs, SW_TEST_CONNECT_STATIC_BINARY, "sw_test_connect");
  // Labelled so that the image each earlier import left untagged can be pruned:
  // every test run imports the helper afresh.
  auto r = run_process({"sh", "-c",
                        "tar -C " + rootfs.path() +
                            " -c . | docker import --change 'LABEL shimwatch-test=connect' - " +
                            image + " >/dev/null"});
  if (r.exit_code != 0)
    throw std::runtime_error("docker import failed: " + r.output);
  run_process({"docker", "image", "prune", "--force", "--filter", "label=shimwatch-test=connect"});
  return image;
}

PodCgroupCleanup::~PodCgroupCleanup() {
  const std::string pod = "kubepods/burstable/pod" + pod_uid;
  std::error_code ec;
  ::rmdir(("/sys/fs/cgroup/" + pod).c_str()); // cgroup v2 alone
  for (const auto &hierarchy : std::filesystem::directory_iterator("/sys/fs/cgroup", ec))
    ::rmdir((hierarchy.path() / pod).c_str());
}

std::string trim(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
    text.pop_back();
  return text;
}

size_t count_occurrences(const std::string &text, const std::string &needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
    ++n;
  return n;
}

std::string only_socket_config(const TempDir &dir, const std::string &socket_path) {
  json config = {{"watch",
                  {{"exec", json::array()},
                   {"exec_paths", json::array()},
                   {"exec_build_id_check", false},
                   {"config_paths", json::array()},
                   {"sockets", {socket_path}},
                   {"tcp_ports", json::array()},
                   {"runtime_sockets", json::array()},
                   {"service_control", {{"enabled", false}}}}}};
  std::string path = dir.file("config.json");
  write_file(path, config.dump());
  return path;
}

sockaddr_un unix_address(const std::string &path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::snprintf(address.sun_path, sizeof address.sun_path, "%s", path.c_str());
  return address;
}

void connect_once_in_child(const sockaddr_un &address) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    _exit(4);
  (void)connect(fd, reinterpret_cast<const sockaddr *>(&address), sizeof address);
  close(fd);
}

} // namespace swtest

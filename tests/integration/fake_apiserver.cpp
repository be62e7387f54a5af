#include "fake_apiserver.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace swtest {

using nlohmann::json;

namespace {

std::string script_path() {
  return (std::filesystem::path(__FILE__).parent_path() / "fake_apiserver.py").string();
}

} // namespace

FakeApiServer::FakeApiServer(const std::string &dir, const std::string &token) {
  int out[2];
  if (pipe(out) != 0)
    throw std::runtime_error("pipe");
  pid_ = fork();
  if (pid_ == 0) {
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    close(out[1]);
    std::string script = script_path(), certs = dir + "/certs";
    execlp("python3", "python3", script.c_str(), "--token", token.c_str(), "--dir", certs.c_str(),
           static_cast<char *>(nullptr));
    _exit(127);
  }
  close(out[1]);
  // The first stdout line: {"ready": true, "port": ..., "control_port": ..., "ca_file": ...}
  std::string line;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (line.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    pollfd p{out[0], POLLIN, 0};
    if (poll(&p, 1, 100) <= 0)
      continue;
    char buf[512];
    ssize_t n = read(out[0], buf, sizeof buf);
    if (n <= 0)
      break;
    line.append(buf, static_cast<size_t>(n));
  }
  close(out[0]);
  json ready = json::parse(line, nullptr, false);
  if (!ready.is_object() || !ready.value("ready", false))
    throw std::runtime_error("fake_apiserver.py did not start: " + line);
  port_ = ready["port"];
  control_port_ = ready["control_port"];
  ca_file_ = ready["ca_file"];
}

FakeApiServer::~FakeApiServer() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
}

json FakeApiServer::control(const std::string &path, const json &body) {
  auto [status, text] = http_request(control_port_, "POST", path, body.dump());
  EXPECT_EQ(status, 200) << path << " " << body.dump() << ": " << text;
  return json::parse(text, nullptr, false);
}

void FakeApiServer::add(const json &pod) {
  control("/_control/pods", {{"op", "add"}, {"pod", pod}});
}

void FakeApiServer::modify(const json &pod) {
  control("/_control/pods", {{"op", "modify"}, {"pod", pod}});
}

void FakeApiServer::remove(const std::string &uid) {
  control("/_control/pods", {{"op", "delete"}, {"pod", {{"metadata", {{"uid", uid}}}}}});
}

void FakeApiServer::mode(const std::string &m, double delay) {
  control("/_control/mode", {{"mode", m}, {"delay", delay}});
}

json FakeApiServer::stats() {
  auto [status, text] = http_request(control_port_, "GET", "/_control/stats");
  EXPECT_EQ(status, 200) << text;
  return json::parse(text, nullptr, false);
}

} // namespace swtest

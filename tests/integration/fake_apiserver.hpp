// fake_apiserver.py (the stand-in Kubernetes API server) driven from C++ tests.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <sys/types.h>
#include <utility>

#include "http_client.hpp"

namespace swtest {

// fake_apiserver.py in a child process (HTTPS, self-made CA), stopped at destruction.
class FakeApiServer {
public:
  FakeApiServer(const std::string &dir, const std::string &token);
  ~FakeApiServer();
  FakeApiServer(const FakeApiServer &) = delete;
  FakeApiServer &operator=(const FakeApiServer &) = delete;

  std::string url() const { return "https://127.0.0.1:" + std::to_string(port_); }
  const std::string &ca_file() const { return ca_file_; }

  nlohmann::json control(const std::string &path, const nlohmann::json &body);
  void add(const nlohmann::json &pod);
  void modify(const nlohmann::json &pod);
  void remove(const std::string &uid);
  void mode(const std::string &m, double delay = 0);
  nlohmann::json stats();

private:
  pid_t pid_ = -1;
  int port_ = 0;
  int control_port_ = 0;
  std::string ca_file_;
};

} // namespace swtest

// A minimal HTTP/1.0 client for tests and the agent benchmark: one request
// to 127.0.0.1, whole answer read.
#pragma once

#include <arpa/inet.h>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <utility>

namespace swtest {

// {status, body}; status 0 (and the error text as body) when no answer came.
inline std::pair<int, std::string> http_request(int port, const std::string &method,
                                                const std::string &path,
                                                const std::string &body = "") {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return {0, std::strerror(errno)};
  // A server that stops answering fails the caller instead of holding it.
  timeval receive_timeout{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &receive_timeout, sizeof receive_timeout);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0) {
    std::string error = std::strerror(errno);
    close(fd);
    return {0, error};
  }
  std::string request =
      method + " " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n" +
      "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\n\r\n" + body;
  for (size_t sent = 0; sent < request.size();) {
    ssize_t n = send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0)
      break;
    sent += static_cast<size_t>(n);
  }
  std::string answer;
  char buf[4096];
  ssize_t n;
  while ((n = recv(fd, buf, sizeof buf, 0)) > 0)
    answer.append(buf, static_cast<size_t>(n));
  close(fd);
  int status = 0;
  if (answer.rfind("HTTP/", 0) == 0 && answer.size() > 12)
    status = std::atoi(answer.c_str() + 9);
  auto end = answer.find("\r\n\r\n");
  return {status, end == std::string::npos ? "" : answer.substr(end + 4)};
}

// GET http://127.0.0.1:port/path; the body, or "" when nothing answered.
inline std::string http_get(int port, const std::string &path) {
  auto [status, body] = http_request(port, "GET", path);
  return status == 0 ? "" : body;
}

} // namespace swtest

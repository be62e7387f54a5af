#include "rsyslog_peer.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <netinet/in.h>
#include <sstream>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace swtest {

namespace {

constexpr const char *kRsyslogd = "/usr/sbin/rsyslogd";

// A UDP port on 127.0.0.1 that is free now (free_port() is TCP's).
int free_udp_port() {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr *>(&addr), &len) != 0) {
    close(fd);
    throw std::runtime_error(std::string("rsyslog peer: no free UDP port: ") +
                             std::strerror(errno));
  }
  close(fd);
  return ntohs(addr.sin_port);
}

// Whether /proc/net/<table> has 127.0.0.1:port in state (hex, e.g. "0A").
bool bound(const std::string &table, int port, const std::string &state) {
  char local[32];
  std::snprintf(local, sizeof local, "0100007F:%04X", port);
  std::istringstream lines(read_file("/proc/net/" + table));
  std::string line;
  std::getline(lines, line); // header
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string slot, loc, rem, st;
    fields >> slot >> loc >> rem >> st;
    if (loc == local && st == state)
      return true;
  }
  return false;
}

void run_or_throw(const std::vector<std::string> &argv) {
  auto r = run_process(argv);
  if (r.exit_code != 0) {
    std::string cmd;
    for (const auto &a : argv)
      cmd += a + " ";
    throw std::runtime_error("rsyslog peer: `" + cmd + "` failed: " + r.output);
  }
}

} // namespace

RsyslogPeer::RsyslogPeer(RsyslogPeerOptions options) : options_(std::move(options)) {
  if (access(kRsyslogd, X_OK) != 0)
    throw std::runtime_error("rsyslog peer: " + std::string(kRsyslogd) +
                             " not found (apt-get install rsyslog rsyslog-gnutls)");
  if (options_.udp)
    udp_port_ = free_udp_port();
  if (options_.tcp)
    tcp_port_ = free_port();
  if (options_.tls) {
    do
      tls_port_ = free_port();
    while (tls_port_ == tcp_port_);
    make_certificates();
  }
  write_config();
  start();
}

RsyslogPeer::~RsyslogPeer() {
  stop();
}

void RsyslogPeer::make_certificates() {
  const std::string d = dir_.path() + "/";
  write_file(d + "ext.cnf", "[server]\n"
                            "basicConstraints=critical,CA:FALSE\n"
                            "keyUsage=critical,digitalSignature,keyEncipherment\n"
                            "extendedKeyUsage=serverAuth\n"
                            "subjectAltName=" +
                                options_.server_names +
                                "\n"
                                "[client]\n"
                                "basicConstraints=critical,CA:FALSE\n"
                                "keyUsage=critical,digitalSignature,keyEncipherment\n"
                                "extendedKeyUsage=clientAuth\n"
                                "subjectAltName=DNS:shimwatch-test-client\n");
  auto self_signed_ca = [&](const std::string &name, const std::string &cn) {
    run_or_throw({"openssl",
                  "req",
                  "-x509",
                  "-newkey",
                  "ec",
                  "-pkeyopt",
                  "ec_paramgen_curve:prime256v1",
                  "-nodes",
                  "-keyout",
                  d + name + ".key",
                  "-out",
                  d + name + ".pem",
                  "-days",
                  "2",
                  "-subj",
                  "/CN=" + cn,
                  "-addext",
                  "basicConstraints=critical,CA:TRUE",
                  "-addext",
                  "keyUsage=critical,keyCertSign,cRLSign"});
  };
  auto signed_by_ca = [&](const std::string &name, const std::string &cn,
                          const std::string &section) {
    run_or_throw({"openssl", "req", "-new", "-newkey", "ec", "-pkeyopt",
                  "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", d + name + ".key", "-out",
                  d + name + ".csr", "-subj", "/CN=" + cn});
    run_or_throw({"openssl", "x509", "-req", "-in", d + name + ".csr", "-CA", d + "ca.pem",
                  "-CAkey", d + "ca.key", "-CAcreateserial", "-out", d + name + ".pem", "-days",
                  "2", "-extfile", d + "ext.cnf", "-extensions", section});
  };
  self_signed_ca("ca", "shimwatch test CA");
  self_signed_ca("other-ca", "shimwatch other test CA");
  signed_by_ca("server", "shimwatch-test-rsyslog", "server");
  signed_by_ca("client", "shimwatch-test-client", "client");
}

void RsyslogPeer::write_config() {
  const std::string d = dir_.path() + "/";
  std::filesystem::create_directories(d + "work");
  std::string conf;
  conf += "global(workDirectory=\"" + d + "work\" maxMessageSize=\"64k\"";
  if (options_.tls)
    conf += " defaultNetstreamDriverCAFile=\"" + d + "ca.pem\"" +
            " defaultNetstreamDriverCertFile=\"" + d + "server.pem\"" +
            " defaultNetstreamDriverKeyFile=\"" + d + "server.key\"";
  conf += ")\n";
  // One JSON object per received message: the raw message proves it arrived
  // byte for byte, the parsed fields that rsyslog read it as RFC 5424.
  conf += R"(template(name="received" type="list" option.jsonf="on") {
  property(outname="raw" name="rawmsg" format="jsonf")
  property(outname="msg" name="msg" format="jsonf")
  property(outname="pri" name="pri" format="jsonf")
  property(outname="hostname" name="hostname" format="jsonf")
  property(outname="app" name="app-name" format="jsonf")
  property(outname="procid" name="procid" format="jsonf")
  property(outname="msgid" name="msgid" format="jsonf")
  property(outname="sd" name="structured-data" format="jsonf")
  property(outname="input" name="inputname" format="jsonf")
}
)";
  conf += "ruleset(name=\"remote\") {\n  action(type=\"omfile\" file=\"" + d +
          "received.jsonl\" template=\"received\")\n}\n";
  if (options_.udp)
    // A large receive buffer: a burst of datagrams must not overflow it
    // while rsyslog is busy writing.
    conf += "module(load=\"imudp\")\ninput(type=\"imudp\" address=\"127.0.0.1\" port=\"" +
            std::to_string(udp_port_) + "\" ruleset=\"remote\" rcvBufSize=\"8m\")\n";
  if (options_.tcp || options_.tls)
    conf += "module(load=\"imtcp\")\n";
  if (options_.tcp)
    conf += "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"" + std::to_string(tcp_port_) +
            "\" ruleset=\"remote\")\n";
  if (options_.tls)
    conf += "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"" + std::to_string(tls_port_) +
            "\" ruleset=\"remote\" streamDriver.name=\"gtls\" streamDriver.mode=\"1\"" +
            " streamDriver.authMode=\"" +
            (options_.require_client_cert ? "x509/certvalid" : "anon") + "\")\n";
  // rsyslogd's own messages: next to its stderr, for diagnostics().
  conf += "*.* action(type=\"omfile\" file=\"" + d + "rsyslogd.log\")\n";
  write_file(d + "rsyslog.conf", conf);
  auto check = run_process({kRsyslogd, "-N1", "-f", d + "rsyslog.conf"});
  if (check.exit_code != 0)
    throw std::runtime_error("rsyslog peer: config rejected: " + check.output);
}

bool RsyslogPeer::listening() const {
  return (!options_.udp || bound("udp", udp_port_, "07")) &&
         (!options_.tcp || bound("tcp", tcp_port_, "0A")) &&
         (!options_.tls || bound("tcp", tls_port_, "0A"));
}

void RsyslogPeer::start() {
  if (pid_ > 0)
    return;
  const std::string d = dir_.path() + "/";
  unlink((d + "rsyslogd.pid").c_str()); // left by a killed one, it would block the start
  pid_ = fork();
  if (pid_ < 0)
    throw std::runtime_error(std::string("rsyslog peer: fork: ") + std::strerror(errno));
  if (pid_ == 0) {
    int out = open((d + "rsyslogd.out").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    dup2(out, STDOUT_FILENO);
    dup2(out, STDERR_FILENO);
    int null = open("/dev/null", O_RDONLY);
    dup2(null, STDIN_FILENO);
    // Sockets of the test process (a sink's connection, listeners) must not
    // live on in rsyslogd.
    close_range(3, ~0U, 0);
    std::string conf = d + "rsyslog.conf", pidfile = d + "rsyslogd.pid";
    execl(kRsyslogd, "rsyslogd", "-n", "-f", conf.c_str(), "-i", pidfile.c_str(),
          static_cast<char *>(nullptr));
    _exit(127);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < deadline) {
    if (listening())
      return;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("rsyslog peer: rsyslogd exited during start-up: " + diagnostics());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stop();
  throw std::runtime_error("rsyslog peer: not listening after 15 s: " + diagnostics());
}

void RsyslogPeer::stop() {
  if (pid_ <= 0)
    return;
  kill(pid_, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  int status = 0;
  while (waitpid(pid_, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  pid_ = -1;
}

std::vector<nlohmann::json> RsyslogPeer::received() const {
  std::vector<nlohmann::json> out;
  std::istringstream lines(read_file(dir_.file("received.jsonl")));
  for (std::string line; std::getline(lines, line);) {
    if (line.empty())
      continue;
    auto parsed = nlohmann::json::parse(line, nullptr, false);
    out.push_back(parsed.is_discarded() ? nlohmann::json{{"unparsable", line}} : parsed);
  }
  return out;
}

bool RsyslogPeer::wait_for_messages(size_t n, std::chrono::milliseconds limit) const {
  return wait_for([&] { return received().size() >= n; }, limit);
}

std::string RsyslogPeer::diagnostics() const {
  return "rsyslogd output: " + read_file(dir_.file("rsyslogd.out")) +
         "\nrsyslogd log: " + read_file(dir_.file("rsyslogd.log"));
}

} // namespace swtest

// A real rsyslogd (the Debian package) as the collector in tests: its own
// config and work directory, listeners on 127.0.0.1 only, and every message
// it receives written to a file as one JSON object per line, with the raw
// message next to what rsyslog parsed out of it.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <sys/types.h>
#include <vector>

#include "harness.hpp"

namespace swtest {

struct RsyslogPeerOptions {
  bool udp = true;
  bool tcp = true;
  bool tls = false; // imtcp with the gtls netstream driver (package rsyslog-gnutls)
  // The server certificate's subjectAltName.
  std::string server_names = "DNS:localhost,IP:127.0.0.1";
  // TLS: only clients with a certificate signed by ca_file() (x509/certvalid).
  bool require_client_cert = false;
};

class RsyslogPeer {
public:
  // Makes the certificates (openssl CLI) and config, picks free ports, starts
  // rsyslogd and returns once every listener is bound. Throws on failure.
  explicit RsyslogPeer(RsyslogPeerOptions options = {});
  ~RsyslogPeer(); // stop()
  RsyslogPeer(const RsyslogPeer &) = delete;
  RsyslogPeer &operator=(const RsyslogPeer &) = delete;

  // SIGTERM and wait: rsyslogd flushes what it received to the file first.
  void stop();
  // Again, on the same ports and appending to the same file.
  void start();
  bool running() const { return pid_ > 0; }

  int udp_port() const { return udp_port_; }
  int tcp_port() const { return tcp_port_; }
  int tls_port() const { return tls_port_; }
  std::string udp_url() const { return "udp://127.0.0.1:" + std::to_string(udp_port_); }
  std::string tcp_url() const { return "tcp://127.0.0.1:" + std::to_string(tcp_port_); }
  // host: as the client names the server (the certificate is checked against it).
  std::string tls_url(const std::string &host = "localhost") const {
    return "tls://" + host + ":" + std::to_string(tls_port_);
  }

  // The CA that signed the server (and client) certificate.
  std::string ca_file() const { return dir_.file("ca.pem"); }
  // A CA that signed nothing this server has.
  std::string other_ca_file() const { return dir_.file("other-ca.pem"); }
  std::string client_cert_file() const { return dir_.file("client.pem"); }
  std::string client_key_file() const { return dir_.file("client.key"); }

  // Every message received so far, in arrival order: {"raw": the message as
  // received (without the octet count), "msg", "pri", "hostname", "app",
  // "procid", "msgid", "sd", "input"}; a line that is not JSON comes back as
  // {"unparsable": line}.
  std::vector<nlohmann::json> received() const;
  // Waits up to limit until at least n messages were received.
  bool wait_for_messages(size_t n, std::chrono::milliseconds limit) const;
  // rsyslogd's own output (errors, warnings): for failure messages.
  std::string diagnostics() const;
  const std::string &dir() const { return dir_.path(); }

private:
  void make_certificates();
  void write_config();
  bool listening() const;

  RsyslogPeerOptions options_;
  TempDir dir_;
  int udp_port_ = 0, tcp_port_ = 0, tls_port_ = 0;
  pid_t pid_ = -1;
};

} // namespace swtest

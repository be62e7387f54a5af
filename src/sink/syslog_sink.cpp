// Syslog transport: a bounded queue in front of one sender thread that speaks
// UDP, TCP or TLS to a collector.
//
// Delivery semantics (what "every event arrives once" can and cannot mean
// without application-level acknowledgements, which plain syslog lacks; RELP
// has them):
//
// - At most once for every message the kernel accepted completely. Once
//   send()/SSL_write() took the whole frame, the message is never sent again,
//   even if the connection breaks before the collector read it: re-sending
//   such messages (at-least-once) would duplicate every message that did
//   arrive, and a SIEM counting dependency uses would count them twice.
// - Re-sent, once, when it is known the message was not written completely:
//   the connection failed before or while it was written. With octet
//   counting (TCP, TLS) a receiver discards an incomplete frame at the end of
//   a connection (rsyslog: "incomplete frame at end of stream"), and a TLS
//   record cut short cannot be decrypted, so the re-sent copy is the only one
//   that arrives. A second failure drops the message (counted, and reported
//   in the next gap record): a message that breaks connections must not block
//   the queue forever.
// - Before every message the connection is checked for a close from the
//   other side (a syslog collector never sends anything, so readable means
//   EOF, an error or TLS housekeeping). This closes the common loss window: a
//   collector restarted while the link was idle would otherwise get the next
//   message written into a dead socket, accepted by the kernel and lost. What
//   remains is the race between that check and a collector dying with data
//   in flight: those messages are lost (not duplicated).
// - A new TCP/TLS connection is watched for 200 ms before the first message:
//   collectors that refuse a client accept it first and hang up right after
//   (rsyslog does so after the TLS handshake when the client certificate is
//   missing or not permitted). A connection that dies within stable_after
//   counts as a failure (warning, growing backoff), not as a restart.
// - stop() drains within its deadline and then waits, within the same
//   deadline, for the collector to close its side: it has then read every
//   byte that was sent.
//
// Queue: bounded by count and bytes. write() never waits for the sender or
// the network; a message that does not fit is dropped (the newest, so what is
// queued stays in order) and counted. Drops are remembered as a gap (count,
// earliest and latest event timestamp); once the link works, one gap record
// goes out before the next queued message, and at most one per gap_interval
// while drops go on, so a collector that is merely slow does not get a gap
// record between every two events. A gap record of another stage (the
// kernel's, the agent's queue) that does not fit or cannot be sent is no
// dropped event: its counts are kept and go out with the next gap record,
// so the losses it reports are never lost themselves.
#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nlohmann/json.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <optional>
#include <poll.h>
#include <pthread.h>
#include <random>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "shimwatch/fd.hpp"
#include "sink/syslog.hpp"

namespace shimwatch {

using Clock = SyslogConnection::Clock;

namespace {

// How long a new TCP/TLS connection is watched for a close from the
// collector before the first message goes out (see make_syslog_connector).
constexpr auto kSettle = std::chrono::milliseconds(200);

// poll() timeout for deadline: 0 when passed, at most 100 ms so that a
// deadline brought forward by stop() is seen.
int poll_timeout(const SyslogDeadline &deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline.at() - Clock::now());
  return static_cast<int>(std::clamp<int64_t>(left.count() + 1, 0, 100));
}

// Waits until fd is ready for events or deadline passes (false).
bool wait_fd(int fd, short events, const SyslogDeadline &deadline) {
  for (;;) {
    if (deadline.passed())
      return false;
    pollfd p{fd, events, 0};
    int r = ::poll(&p, 1, poll_timeout(deadline));
    if (r > 0)
      return true; // ready, or an error the next call reports
    if (r < 0 && errno != EINTR)
      return true;
  }
}

// The OpenSSL error queue of this thread as one line, and emptied.
std::string ssl_error_text() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty())
      out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown TLS error" : out;
}

bool is_ip_literal(const std::string &host) {
  in6_addr a6{};
  in_addr a4{};
  return inet_pton(AF_INET, host.c_str(), &a4) == 1 || inet_pton(AF_INET6, host.c_str(), &a6) == 1;
}

std::string address_text(const sockaddr *sa) {
  char buf[INET6_ADDRSTRLEN] = "?";
  uint16_t port = 0;
  if (sa->sa_family == AF_INET) {
    const auto *in = reinterpret_cast<const sockaddr_in *>(sa);
    inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf);
    port = ntohs(in->sin_port);
    return std::string(buf) + ":" + std::to_string(port);
  }
  if (sa->sa_family == AF_INET6) {
    const auto *in6 = reinterpret_cast<const sockaddr_in6 *>(sa);
    inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf);
    port = ntohs(in6->sin6_port);
  }
  return "[" + std::string(buf) + "]:" + std::to_string(port);
}

// Resolves the target and connects a non-blocking socket to the first address
// that answers before deadline. UDP "connects" too: send() then reports the
// ICMP errors of earlier datagrams (ECONNREFUSED) instead of staying silent.
Result<Fd> connect_socket(const SyslogTarget &target, std::chrono::milliseconds send_timeout,
                          const SyslogDeadline &deadline) {
  const bool udp = target.transport == SyslogTransport::udp;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = udp ? SOCK_DGRAM : SOCK_STREAM;
  addrinfo *list = nullptr;
  std::string port = std::to_string(target.port);
  if (int rc = getaddrinfo(target.host.c_str(), port.c_str(), &hints, &list); rc != 0)
    return Error{"cannot resolve " + target.host + ": " + gai_strerror(rc)};
  std::string errors;
  Fd connected;
  for (addrinfo *ai = list; ai && !connected; ai = ai->ai_next) {
    Fd candidate(
        ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol));
    if (!candidate) {
      errors += (errors.empty() ? "" : "; ") + std::string("socket: ") + errno_text(errno);
      continue;
    }
    const int fd = candidate.get();
    int err = 0;
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      err = errno;
      if (err == EINPROGRESS) {
        if (!wait_fd(fd, POLLOUT, deadline)) {
          err = ETIMEDOUT;
        } else {
          socklen_t len = sizeof err;
          getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        }
      }
    }
    if (err != 0) {
      errors += (errors.empty() ? "" : "; ") + std::string("connect to ") +
                address_text(ai->ai_addr) + ": " + errno_text(err);
      continue;
    }
    if (!udp) {
      // A collector host that vanished leaves written data unacknowledged
      // forever (15 min of retransmits by default): give up after
      // send_timeout, like a collector that stops reading. Keepalive finds
      // the same on an idle link.
      unsigned user_timeout = static_cast<unsigned>(std::max<int64_t>(send_timeout.count(), 1000));
      setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, sizeof user_timeout);
      int on = 1, idle = 60, interval = 10, count = 3;
      setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
      setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
      setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
      setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
    }
    connected = std::move(candidate);
  }
  freeaddrinfo(list);
  if (!connected)
    return Error{errors.empty() ? "no address for " + target.host : errors};
  return connected;
}

// Plain sockets: one datagram per message (UDP), octet-counted frames (TCP).
class SocketConnection final : public SyslogConnection {
public:
  SocketConnection(Fd fd, bool udp) : fd_(std::move(fd)), udp_(udp) {}

  SendResult send(std::string_view message, const SyslogDeadline &deadline) override {
    return udp_ ? send_datagram(message, deadline) : send_frame(message, deadline);
  }

  bool alive() override {
    if (udp_)
      return true; // no connection to lose; send() reports ICMP errors
    pollfd p{fd_.get(), POLLIN | POLLRDHUP, 0};
    if (::poll(&p, 1, 0) <= 0)
      return true;
    if (p.revents & (POLLERR | POLLHUP | POLLRDHUP | POLLNVAL))
      return false;
    // Readable: a collector has nothing to say on a syslog connection. Data
    // is discarded; EOF means it is gone.
    char buf[512];
    ssize_t n = ::recv(fd_.get(), buf, sizeof buf, MSG_DONTWAIT);
    return n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR));
  }

  void finish(const SyslogDeadline &deadline) override {
    if (udp_)
      return;
    // FIN after the last frame, then wait for the collector's EOF: it closes
    // only after reading everything, so what was sent was also received.
    ::shutdown(fd_.get(), SHUT_WR);
    char buf[512];
    while (wait_fd(fd_.get(), POLLIN, deadline)) {
      ssize_t n = ::recv(fd_.get(), buf, sizeof buf, MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
        break;
    }
  }

private:
  SendResult send_datagram(std::string_view message, const SyslogDeadline &deadline) {
    for (;;) {
      if (::send(fd_.get(), message.data(), message.size(), MSG_NOSIGNAL | MSG_DONTWAIT) >= 0)
        return {};
      int err = errno;
      if (err == EINTR)
        continue;
      if (err == EAGAIN && wait_fd(fd_.get(), POLLOUT, deadline))
        continue;
      if (err == EMSGSIZE)
        return {Outcome::rejected, "message of " + std::to_string(message.size()) +
                                       " bytes is too large for a UDP datagram"};
      return {Outcome::failed, err == EAGAIN ? "send timed out" : "send: " + errno_text(err)};
    }
  }

  // "LEN SP MSG" with writev semantics, so the message is not copied.
  SendResult send_frame(std::string_view message, const SyslogDeadline &deadline) {
    std::string prefix = std::to_string(message.size()) + ' ';
    size_t total = prefix.size() + message.size(), done = 0;
    while (done < total) {
      iovec iov[2];
      int n_iov = 0;
      if (done < prefix.size()) {
        iov[n_iov++] = {prefix.data() + done, prefix.size() - done};
        iov[n_iov++] = {const_cast<char *>(message.data()), message.size()};
      } else {
        size_t off = done - prefix.size();
        iov[n_iov++] = {const_cast<char *>(message.data()) + off, message.size() - off};
      }
      msghdr msg{};
      msg.msg_iov = iov;
      msg.msg_iovlen = static_cast<size_t>(n_iov);
      ssize_t n = ::sendmsg(fd_.get(), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n >= 0) {
        done += static_cast<size_t>(n);
        continue;
      }
      int err = errno;
      if (err == EINTR)
        continue;
      if (err == EAGAIN) {
        if (wait_fd(fd_.get(), POLLOUT, deadline))
          continue;
        return {Outcome::failed, "the collector stopped reading (send timed out)"};
      }
      return {Outcome::failed, "send: " + errno_text(err)};
    }
    return {};
  }

  Fd fd_;
  bool udp_;
};

// TLS (RFC 5425): octet-counted frames inside TLS records.
class TlsConnection final : public SyslogConnection {
public:
  TlsConnection(Fd fd, SSL *ssl, std::shared_ptr<SSL_CTX> ctx)
      : fd_(std::move(fd)), ssl_(ssl), ctx_(std::move(ctx)) {}
  ~TlsConnection() override { SSL_free(ssl_); } // before fd_ closes

  // Drives a non-blocking SSL call until it succeeds (its return value) or
  // fails or the deadline passes (<= 0, *error says why).
  template <typename Op> int drive(Op op, const SyslogDeadline &deadline, std::string *error) {
    for (;;) {
      ERR_clear_error();
      errno = 0;
      int r = op();
      if (r > 0)
        return r;
      int e = SSL_get_error(ssl_, r);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        if (wait_fd(fd_.get(), e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline))
          continue;
        *error = "timed out";
        return 0;
      }
      if (e == SSL_ERROR_ZERO_RETURN)
        *error = "the collector closed the TLS session";
      else if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
        *error = errno != 0 ? errno_text(errno) : "the collector closed the connection";
      else
        *error = ssl_error_text();
      return r;
    }
  }

  SendResult send(std::string_view message, const SyslogDeadline &deadline) override {
    // One SSL_write per frame: without SSL_MODE_ENABLE_PARTIAL_WRITE it
    // succeeds only once the whole frame is in the kernel, which is what
    // Outcome::sent promises.
    std::string frame = frame_octet_counted(message);
    std::string error;
    int r = drive([&] { return SSL_write(ssl_, frame.data(), static_cast<int>(frame.size())); },
                  deadline, &error);
    if (r > 0)
      return {};
    return {Outcome::failed, "TLS write: " + error};
  }

  bool alive() override {
    // Readable data may be TLS housekeeping (TLS 1.3 session tickets, key
    // updates) rather than a close: let OpenSSL consume it and say which.
    for (int i = 0; i < 64; ++i) {
      pollfd p{fd_.get(), POLLIN, 0};
      if (::poll(&p, 1, 0) <= 0 && SSL_pending(ssl_) == 0)
        return true;
      if (p.revents & (POLLERR | POLLNVAL))
        return false;
      ERR_clear_error();
      char buf[512];
      int n = SSL_read(ssl_, buf, sizeof buf);
      if (n > 0)
        continue; // application data from a collector: ignored
      int e = SSL_get_error(ssl_, n);
      ERR_clear_error();
      if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
        return false;
      return true;
    }
    return true;
  }

  void finish(const SyslogDeadline &deadline) override {
    // close_notify, then the collector's EOF (see SocketConnection::finish).
    ERR_clear_error();
    SSL_shutdown(ssl_);
    ERR_clear_error();
    ::shutdown(fd_.get(), SHUT_WR);
    char buf[512];
    while (wait_fd(fd_.get(), POLLIN, deadline)) {
      ssize_t n = ::recv(fd_.get(), buf, sizeof buf, MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
        break;
    }
  }

private:
  Fd fd_;
  SSL *ssl_;
  std::shared_ptr<SSL_CTX> ctx_; // outlives ssl_
};

Result<std::shared_ptr<SSL_CTX>> make_tls_context(const SyslogOptions &o) {
  std::shared_ptr<SSL_CTX> ctx(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
  if (!ctx)
    return Error{"cannot create a TLS context: " + ssl_error_text()};
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION); // RFC 5425 as updated by RFC 9662
  if (o.tls_verify) {
    int ok = o.ca_file.empty()
                 ? SSL_CTX_set_default_verify_paths(ctx.get())
                 : SSL_CTX_load_verify_locations(ctx.get(), o.ca_file.c_str(), nullptr);
    if (ok != 1)
      return Error{(o.ca_file.empty() ? std::string("cannot load the system CA certificates")
                                      : "cannot load syslog CA file " + o.ca_file) +
                   ": " + ssl_error_text()};
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  } else {
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  }
  if (!o.cert_file.empty()) {
    const std::string &key = o.key_file.empty() ? o.cert_file : o.key_file;
    if (SSL_CTX_use_certificate_chain_file(ctx.get(), o.cert_file.c_str()) != 1)
      return Error{"cannot load syslog client certificate " + o.cert_file + ": " +
                   ssl_error_text()};
    if (SSL_CTX_use_PrivateKey_file(ctx.get(), key.c_str(), SSL_FILETYPE_PEM) != 1)
      return Error{"cannot load syslog client key " + key + ": " + ssl_error_text()};
    if (SSL_CTX_check_private_key(ctx.get()) != 1)
      return Error{"syslog client key " + key + " does not match certificate " + o.cert_file};
  } else if (!o.key_file.empty()) {
    return Error{"a syslog client key without a client certificate"};
  }
  return ctx;
}

Result<std::unique_ptr<SyslogConnection>> tls_handshake(Fd fd, const SyslogTarget &target,
                                                        const std::shared_ptr<SSL_CTX> &ctx,
                                                        bool verify,
                                                        const SyslogDeadline &deadline) {
  SSL *ssl = SSL_new(ctx.get());
  if (!ssl)
    return Error{"TLS: " + ssl_error_text()};
  SSL_set_fd(ssl, fd.get());
  // The connection owns fd and ssl from here on, also on failure.
  auto conn = std::make_unique<TlsConnection>(std::move(fd), ssl, ctx);
  const bool ip = is_ip_literal(target.host);
  if (!ip) // RFC 6066: SNI carries names only
    SSL_set_tlsext_host_name(ssl, target.host.c_str());
  if (verify) {
    // The certificate must name the host of the URL (RFC 5425 section 5.2).
    if (ip)
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), target.host.c_str());
    else
      SSL_set1_host(ssl, target.host.c_str());
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  }
  std::string error;
  if (conn->drive([&] { return SSL_connect(ssl); }, deadline, &error) <= 0) {
    long verify_result = SSL_get_verify_result(ssl);
    if (verify && verify_result != X509_V_OK)
      return Error{"TLS handshake with " + target.url() + ": certificate verification failed: " +
                   X509_verify_cert_error_string(verify_result)};
    return Error{"TLS handshake with " + target.url() + ": " + error};
  }
  return std::unique_ptr<SyslogConnection>(std::move(conn));
}

} // namespace

// ---------------------------------------------------------------------------
// Connector

Result<SyslogConnector> make_syslog_connector(const SyslogOptions &options) {
  auto target = parse_syslog_url(options.url);
  if (!target)
    return target.error();
  std::shared_ptr<SSL_CTX> ctx;
  if (target->transport == SyslogTransport::tls) {
    auto made = make_tls_context(options);
    if (!made)
      return made.error();
    ctx = std::move(*made);
  } else if (!options.ca_file.empty() || !options.cert_file.empty() || !options.key_file.empty()) {
    // Almost certainly a URL typo, and sending in clear what was meant to be
    // encrypted is worse than not starting.
    return Error{"syslog CA, certificate and key files apply to tls:// only, not " + target->url()};
  }
  SyslogConnector connector =
      [target = *target, ctx, verify = options.tls_verify, send_timeout = options.send_timeout](
          const SyslogDeadline &deadline) -> Result<std::unique_ptr<SyslogConnection>> {
    auto fd = connect_socket(target, send_timeout, deadline);
    if (!fd)
      return fd.error();
    const int socket = fd->get(); // owned by the connection made next
    Result<std::unique_ptr<SyslogConnection>> made =
        target.transport == SyslogTransport::tls
            ? tls_handshake(std::move(*fd), target, ctx, verify, deadline)
            : std::unique_ptr<SyslogConnection>(std::make_unique<SocketConnection>(
                  std::move(*fd), target.transport == SyslogTransport::udp));
    if (!made || target.transport == SyslogTransport::udp)
      return made;
    // Collectors that refuse a client often accept first and close right
    // after: rsyslog completes the TLS handshake and then drops a client
    // without an acceptable certificate, and drops senders that are not
    // allowed. Whatever is written before that close is lost, so give the
    // verdict a moment to arrive before the first message.
    SyslogDeadline settle(std::min(deadline.at(), Clock::now() + kSettle));
    bool closed = false;
    while (!closed && wait_fd(socket, POLLIN, settle)) // TLS 1.3 tickets are not a close
      closed = !(*made)->alive();
    if (closed)
      return Error{"the collector at " + target.url() + " closed the connection right after " +
                   (target.transport == SyslogTransport::tls
                        ? "the TLS handshake (does it require a client certificate, or refuse "
                          "this one?)"
                        : "accepting it (is this host an allowed sender?)")};
    return made;
  };
  return connector;
}

// ---------------------------------------------------------------------------
// Gap records

void SyslogGap::add(int64_t timestamp_ns, bool queue_was_full) {
  if (dropped() == 0) {
    first_ns = last_ns = timestamp_ns;
  } else {
    first_ns = std::min(first_ns, timestamp_ns);
    last_ns = std::max(last_ns, timestamp_ns);
  }
  (queue_was_full ? queue_full : send_failed)++;
}

void SyslogGap::merge(const SyslogGap &other) {
  if (other.dropped() == 0)
    return;
  if (dropped() == 0) {
    *this = other;
    return;
  }
  first_ns = std::min(first_ns, other.first_ns);
  last_ns = std::max(last_ns, other.last_ns);
  queue_full += other.queue_full;
  send_failed += other.send_failed;
}

std::string syslog_gap_message(const SyslogGap &gap, const HostInfo &host, uint8_t facility,
                               uint32_t procid, int64_t now_ns, std::string_view destination) {
  std::string why = gap.queue_full > 0 && gap.send_failed > 0
                        ? "the queue was full or sending failed"
                    : gap.queue_full > 0 ? "the queue was full"
                                         : "sending failed";
  Gap record;
  record.stage = "syslog";
  record.reasons = {{"queue_full", gap.queue_full}, {"send_failed", gap.send_failed}};
  record.first_ns = gap.first_ns;
  record.last_ns = gap.last_ns;
  record.timestamp_ns = now_ns;
  record.destination = std::string(destination);
  record.reason = why;
  record.message = std::to_string(gap.dropped()) + " events were not forwarded to " +
                   std::string(destination) + ": " + why;
  return syslog_record_message(encode_gap_json(record, host), host, facility, procid, now_ns);
}

std::string syslog_record_message(const std::string &gap_json, const HostInfo &host,
                                  uint8_t facility, uint32_t procid, int64_t now_ns) {
  SyslogHeader header;
  header.facility = facility;
  header.severity = SyslogSeverity::warning;
  header.timestamp_ns = now_ns;
  header.hostname = host.name;
  header.procid = procid;
  header.msgid = "shimwatch-gap";
  return format_rfc5424(header, gap_json);
}

// ---------------------------------------------------------------------------
// The sink

Result<std::unique_ptr<SyslogSink>> SyslogSink::open(const SyslogOptions &options, HostInfo host) {
  auto connector = make_syslog_connector(options);
  if (!connector)
    return connector.error();
  if (!options.tls_verify && parse_syslog_url(options.url)->transport == SyslogTransport::tls)
    spdlog::warn("syslog: TLS certificate verification for {} is off: events go to whoever "
                 "answers there",
                 options.url);
  return std::make_unique<SyslogSink>(options, std::move(host), std::move(*connector));
}

Result<std::unique_ptr<SyslogOutput>> open_syslog_sink(const SyslogOptions &options,
                                                       HostInfo host) {
  auto sink = SyslogSink::open(options, std::move(host));
  if (!sink)
    return sink.error();
  return std::unique_ptr<SyslogOutput>(std::move(*sink));
}

SyslogSink::SyslogSink(SyslogOptions options, HostInfo host, SyslogConnector connector)
    : options_(std::move(options)), host_(std::move(host)),
      procid_(static_cast<uint32_t>(::getpid())), connector_(std::move(connector)) {
  auto target = parse_syslog_url(options_.url);
  destination_ = target ? target->url() : options_.url;
  options_.queue_capacity = std::max<size_t>(options_.queue_capacity, 1);
  thread_ = std::thread([this] { run(); });
}

SyslogSink::~SyslogSink() {
  stop(options_.stop_drain);
}

void SyslogSink::write(const Event &event) {
  // Formatting here keeps the sender thread's work to I/O, and the queue
  // holds finished messages: the bytes that arrive are the bytes queued.
  enqueue(syslog_message(event, host_, options_.facility, procid_), event.timestamp_ns);
}

void SyslogSink::write_gap(const Gap &gap) {
  enqueue(syslog_record_message(encode_gap_json(gap, host_), host_, options_.facility, procid_,
                                gap.timestamp_ns),
          gap.timestamp_ns, &gap);
}

uint64_t SyslogSink::errors() const {
  return send_errors_;
}

std::vector<std::pair<std::string, uint64_t>> SyslogSink::drops() const {
  return {{"queue_full", dropped_queue_full_},
          {"send_failed", dropped_send_failed_},
          {"at_stop", dropped_at_stop_}};
}

void SyslogSink::enqueue(std::string message, int64_t timestamp_ns, const Gap *gap) {
  bool warn = false;
  {
    std::lock_guard lock(mutex_);
    if (gap && (stopping_ || queue_.size() >= options_.queue_capacity ||
                queued_bytes_ + message.size() > options_.queue_max_bytes)) {
      merge_into(unsent_gaps_, *gap);
      return;
    }
    if (stopping_) {
      dropped_at_stop_++;
      return;
    }
    if (queue_.size() >= options_.queue_capacity ||
        queued_bytes_ + message.size() > options_.queue_max_bytes) {
      gap_.add(timestamp_ns, true);
      dropped_queue_full_++;
      // During an outage the outage warning already says events are being
      // queued and dropped; this one is for a collector that is up but slow.
      warn = !drop_warned_ && link_up_;
      drop_warned_ = true;
    } else {
      queued_bytes_ += message.size();
      queue_.push_back(
          Item{std::move(message), timestamp_ns, 0, gap ? std::optional<Gap>(*gap) : std::nullopt});
    }
  }
  if (warn)
    spdlog::warn("syslog: the queue for {} is full ({} events): dropping events until the "
                 "collector catches up; a gap record will report them",
                 destination_, options_.queue_capacity);
  wake_.notify_one();
}

void SyslogSink::flush() {
  wake_.notify_one();
}

void SyslogSink::stop(std::chrono::milliseconds drain) {
  std::lock_guard stop_lock(stop_mutex_);
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) {
      stopping_ = true;
      stop_deadline_ = Clock::now() + std::min<Clock::duration>(drain, std::chrono::hours(24));
      stop_by_ = stop_deadline_.time_since_epoch().count(); // cuts a send in progress short
    }
  }
  wake_.notify_all();
  if (thread_.joinable())
    thread_.join();
  size_t left = 0;
  SyslogGap gap;
  std::vector<Gap> unsent;
  {
    std::lock_guard lock(mutex_);
    for (const Item &item : queue_)
      if (item.gap)
        merge_into(unsent_gaps_, *item.gap);
      else
        ++left;
    queue_.clear();
    queued_bytes_ = 0;
    gap = gap_;
    gap_ = {};
    unsent = unsent_gaps_;
    unsent_gaps_.clear();
  }
  dropped_at_stop_ += left;
  uint64_t unsent_losses = 0;
  for (const Gap &g : unsent)
    unsent_losses += g.dropped();
  if (left > 0 || gap.dropped() > 0 || unsent_losses > 0)
    spdlog::warn("syslog: stopping with {} events not sent to {}{}{}", left, destination_,
                 gap.dropped() > 0 ? " and " + std::to_string(gap.dropped()) +
                                         " dropped events not reported in a gap record"
                                   : "",
                 unsent_losses > 0 ? "; gap records for " + std::to_string(unsent_losses) +
                                         " events lost elsewhere were not sent either"
                                   : "");
}

SyslogStats SyslogSink::stats() const {
  SyslogStats s;
  s.sent = sent_;
  s.dropped_queue_full = dropped_queue_full_;
  s.dropped_send_failed = dropped_send_failed_;
  s.dropped_at_stop = dropped_at_stop_;
  s.send_errors = send_errors_;
  s.reconnects = reconnects_;
  s.gaps_sent = gaps_sent_;
  s.connected = connected_;
  std::lock_guard lock(mutex_);
  s.queued = queue_.size();
  s.last_error = last_error_;
  return s;
}

bool SyslogSink::gap_due(Clock::time_point now) const {
  if (gap_.dropped() == 0 && unsent_gaps_.empty())
    return false;
  return stopping_ || !gap_sent_once_ || now >= last_gap_ + options_.gap_interval;
}

bool SyslogSink::wait_for_work() {
  std::unique_lock lock(mutex_);
  for (;;) {
    auto now = Clock::now();
    if (stopping_ && now >= stop_deadline_)
      return false;
    if (!queue_.empty() || gap_due(now))
      return true;
    if (stopping_)
      return false;                                  // drained
    if (gap_.dropped() > 0 || !unsent_gaps_.empty()) // a gap waits for its interval
      wake_.wait_until(lock, last_gap_ + options_.gap_interval);
    else
      wake_.wait(lock);
  }
}

bool SyslogSink::sleep_until(Clock::time_point until) {
  std::unique_lock lock(mutex_);
  return !wake_.wait_until(lock, until, [this] { return stopping_; });
}

Clock::duration SyslogSink::backoff_delay() {
  // 0 for the first retry after a stable connection broke (a collector
  // restart should cost nothing), then initial, 2x, 4x ... up to max, with
  // +-20% jitter so that the agents of a cluster do not reconnect in step.
  int n = failures_++;
  if (n == 0)
    return Clock::duration::zero();
  double delay = static_cast<double>(std::max<int64_t>(options_.backoff_initial.count(), 1));
  double max = static_cast<double>(
      std::max<int64_t>(std::max(options_.backoff_max, options_.backoff_initial).count(), 1));
  for (int i = 1; i < n && delay < max; ++i)
    delay *= 2;
  std::uniform_real_distribution<double> jitter(0.8, 1.2);
  delay = std::min(delay * jitter(rng_), max);
  return std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double, std::milli>(delay));
}

void SyslogSink::note_failure(const std::string &error) {
  send_errors_++;
  {
    std::lock_guard lock(mutex_);
    last_error_ = error;
    link_up_ = false;
  }
  if (outage_)
    return;
  outage_ = true;
  outage_since_ = Clock::now();
  spdlog::warn("syslog: cannot send to {}: {}; queueing up to {} events and retrying with backoff",
               destination_, error, options_.queue_capacity);
}

void SyslogSink::note_success(bool stable) {
  if (stable) // the backoff starts over only once the link has proved itself
    failures_ = 0;
  if (!outage_)
    return;
  outage_ = false;
  {
    std::lock_guard lock(mutex_);
    link_up_ = true;
  }
  double seconds = std::chrono::duration<double>(Clock::now() - outage_since_).count();
  spdlog::info("syslog: sending to {} again after {:.1f} s", destination_, seconds);
}

void SyslogSink::drop_front() {
  std::lock_guard lock(mutex_);
  const Item &item = queue_.front();
  if (item.gap) {
    merge_into(unsent_gaps_, *item.gap);
  } else {
    gap_.add(item.timestamp_ns, false);
    dropped_send_failed_++;
  }
  queued_bytes_ -= item.message.size();
  queue_.pop_front();
}

void SyslogSink::close_connection(bool graceful) {
  if (!connection_)
    return;
  if (graceful)
    connection_->finish(SyslogDeadline(Clock::time_point::max(), &stop_by_));
  connection_.reset();
  connected_ = false;
}

// A broken connection: the next attempt after backoff_delay().
void SyslogSink::connection_broke(const std::string &error, bool stable) {
  close_connection(false);
  // A stable link that broke (a collector restart) is retried at once and
  // only logged if that fails; any other break is a failure like a refused
  // connect.
  if (stable) {
    spdlog::debug("syslog: connection to {} lost: {}", destination_, error);
    send_errors_++;
    std::lock_guard lock(mutex_);
    last_error_ = error;
  } else {
    note_failure(error);
  }
  next_attempt_ = Clock::now() + backoff_delay();
}

void SyslogSink::run() {
  // OpenSSL writes with write(2), which raises SIGPIPE on a connection the
  // collector reset; blocked here, it stays pending on this thread and the
  // write fails with EPIPE instead of killing the process (sockets of our
  // own use MSG_NOSIGNAL).
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
  rng_.seed(std::random_device{}());

  while (wait_for_work()) {
    try {
      if (!step())
        break;
    } catch (const std::exception &e) { // bad_alloc and the like: keep the agent alive
      connection_broke(std::string("syslog sender: ") + e.what(), false);
    }
  }
  close_connection(true);
}

bool SyslogSink::stable() const {
  return carried_ && Clock::now() - connected_at_ >= options_.stable_after;
}

// One step of the sender: (re)connect, or send the gap record or the next
// message. False: give up (stopping, and the collector is unreachable).
bool SyslogSink::step() {
  bool stopping;
  {
    std::lock_guard lock(mutex_);
    stopping = stopping_;
  }

  if (connection_ && !connection_->alive()) {
    connection_broke("the collector closed the connection", stable());
    return true;
  }
  if (!connection_) {
    if (stopping) {
      // The backoff no longer matters: one last attempt, then give up
      // rather than spend the whole drain time on a collector that is down.
      if (drain_retried_)
        return false;
      drain_retried_ = true;
    } else if (Clock::now() < next_attempt_) {
      sleep_until(next_attempt_);
      return true;
    }
    auto made = connector_(SyslogDeadline(Clock::now() + options_.connect_timeout, &stop_by_));
    if (!made) {
      note_failure(made.error().message);
      failures_ = std::max(failures_, 1); // no free retry: that is for stable links
      next_attempt_ = Clock::now() + backoff_delay();
      return true;
    }
    connection_ = std::move(*made);
    connected_ = true;
    connected_at_ = Clock::now();
    carried_ = false;
    if (ever_connected_)
      reconnects_++;
    ever_connected_ = true;
  }

  SyslogDeadline send_deadline(Clock::now() + options_.send_timeout, &stop_by_);
  std::optional<Gap> carried;
  std::optional<SyslogGap> gap;
  {
    std::lock_guard lock(mutex_);
    if (gap_due(Clock::now())) {
      if (!unsent_gaps_.empty()) { // the other stages' first, one per step
        carried = unsent_gaps_.front();
        unsent_gaps_.erase(unsent_gaps_.begin());
      } else {
        gap = gap_;
        gap_ = {};
        drop_warned_ = false; // the episode is reported; the next one warns again
      }
    }
  }
  if (carried) {
    carried->timestamp_ns = unix_now_ns();
    auto result =
        connection_->send(syslog_record_message(encode_gap_json(*carried, host_), host_,
                                                options_.facility, procid_, carried->timestamp_ns),
                          send_deadline);
    if (result.outcome == SyslogConnection::Outcome::failed) {
      {
        std::lock_guard lock(mutex_);
        merge_into(unsent_gaps_, *carried); // tried again with the next one
      }
      connection_broke(result.error, stable());
      return true;
    }
    gaps_sent_++;
    carried_ = true;
    note_success(stable());
    return true;
  }
  if (gap) {
    auto result = connection_->send(
        syslog_gap_message(*gap, host_, options_.facility, procid_, unix_now_ns(), destination_),
        send_deadline);
    if (result.outcome == SyslogConnection::Outcome::failed) {
      {
        std::lock_guard lock(mutex_);
        gap_.merge(*gap); // reported with the next one
      }
      connection_broke(result.error, stable());
      return true;
    }
    // rejected cannot happen (a gap record is small); either way it is done
    gaps_sent_++;
    gap_sent_once_ = true;
    last_gap_ = Clock::now();
    carried_ = true;
    note_success(stable());
    return true; // re-check the link before the next message
  }

  Item *item = nullptr;
  {
    std::lock_guard lock(mutex_);
    if (queue_.empty())
      return true;
    // Stays valid while unlocked: only this thread pops, and push_back
    // does not move the elements of a deque.
    item = &queue_.front();
  }
  auto result = connection_->send(item->message, send_deadline);
  switch (result.outcome) {
  case SyslogConnection::Outcome::sent: {
    std::lock_guard lock(mutex_);
    (item->gap ? gaps_sent_ : sent_)++;
    queued_bytes_ -= item->message.size();
    queue_.pop_front();
    carried_ = true;
    break;
  }
  case SyslogConnection::Outcome::rejected:
    if (!rejected_warned_)
      spdlog::warn("syslog: {} refused an event: {}; such events are dropped and reported in "
                   "gap records",
                   destination_, result.error);
    rejected_warned_ = true;
    drop_front();
    return true;
  case SyslogConnection::Outcome::failed:
    if (++item->attempts >= 2)
      drop_front();
    connection_broke(result.error, stable());
    return true;
  }
  note_success(stable());
  return true;
}

} // namespace shimwatch

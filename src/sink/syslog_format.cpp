#include <arpa/inet.h>
#include <array>
#include <cctype>
#include <charconv>

#include "sink/syslog.hpp"

namespace shimwatch {

namespace {

// PRINTUSASCII (%d33-126), cut to max; NILVALUE when nothing is left.
std::string header_field(std::string_view value, size_t max) {
  std::string out;
  for (char c : value) {
    if (out.size() == max)
      break;
    if (c >= 33 && c <= 126)
      out += c;
  }
  return out.empty() ? "-" : out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char &c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

} // namespace

Result<uint8_t> syslog_facility(std::string_view name) {
  static constexpr std::array<std::string_view, 24> names = {
      "kern",   "user",   "mail",     "daemon", "auth",   "syslog",   "lpr",     "news",
      "uucp",   "cron",   "authpriv", "ftp",    "ntp",    "security", "console", "solaris-cron",
      "local0", "local1", "local2",   "local3", "local4", "local5",   "local6",  "local7"};
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == name)
      return static_cast<uint8_t>(i);
  return Error{"'" + std::string(name) +
               "' is not a syslog facility (e.g. local0..local7, auth, authpriv, daemon, user)"};
}

std::string format_rfc5424(const SyslogHeader &h, std::string_view msg) {
  unsigned pri = h.facility * 8u + static_cast<unsigned>(h.severity);
  std::string out = "<" + std::to_string(pri) + ">1 ";
  out += format_timestamp(h.timestamp_ns);
  out += ' ';
  out += header_field(h.hostname, 255);
  out += ' ';
  out += header_field(h.app_name, 48);
  out += ' ';
  out += h.procid == 0 ? "-" : std::to_string(h.procid);
  out += ' ';
  out += header_field(h.msgid, 32);
  out += " - "; // no structured data: the event is the JSON message
  out += msg;
  return out;
}

std::string frame_octet_counted(std::string_view message) {
  std::string out = std::to_string(message.size());
  out += ' ';
  out += message;
  return out;
}

SyslogSeverity event_severity(const Event &event) {
  return event.success() ? SyslogSeverity::notice : SyslogSeverity::warning;
}

std::string syslog_message(const Event &event, const HostInfo &host, uint8_t facility,
                           uint32_t procid) {
  SyslogHeader header;
  header.facility = facility;
  header.severity = event_severity(event);
  header.timestamp_ns = event.timestamp_ns;
  header.hostname = host.name;
  header.procid = procid;
  header.msgid = std::string(action_name(event.action));
  return format_rfc5424(header, encode_json(event, host));
}

// ---------------------------------------------------------------------------
// URLs

std::string_view syslog_transport_name(SyslogTransport transport) {
  switch (transport) {
  case SyslogTransport::udp:
    return "udp";
  case SyslogTransport::tcp:
    return "tcp";
  case SyslogTransport::tls:
    return "tls";
  }
  return "udp";
}

std::string SyslogTarget::url() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return std::string(syslog_transport_name(transport)) + "://" + h + ":" + std::to_string(port);
}

Result<SyslogTarget> parse_syslog_url(std::string_view url) {
  const std::string shown = "syslog URL '" + std::string(url) + "'";
  const std::string forms = "udp://HOST:PORT, tcp://HOST:PORT or tls://HOST:PORT";
  SyslogTarget target;
  auto sep = url.find("://");
  if (sep == std::string_view::npos)
    return Error{shown + " has no scheme: use " + forms};
  std::string scheme = lower(url.substr(0, sep));
  if (scheme == "udp") {
    target.transport = SyslogTransport::udp;
    target.port = 514;
  } else if (scheme == "tcp") {
    target.transport = SyslogTransport::tcp;
    target.port = 514;
  } else if (scheme == "tls") {
    target.transport = SyslogTransport::tls;
    target.port = 6514;
  } else {
    return Error{shown + ": unsupported scheme '" + scheme + "', use " + forms};
  }
  std::string_view rest = url.substr(sep + 3);
  if (!rest.empty() && rest.back() == '/')
    rest.remove_suffix(1);
  if (rest.find_first_of("/?#@") != std::string_view::npos)
    return Error{shown + ": only HOST[:PORT] may follow the scheme (no path, query or user)"};
  std::string_view host = rest, port;
  bool has_port = false;
  if (!rest.empty() && rest.front() == '[') {
    auto close = rest.find(']');
    if (close == std::string_view::npos)
      return Error{shown + ": '[' without ']'"};
    host = rest.substr(1, close - 1);
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':')
        return Error{shown + ": expected ':PORT' after ']'"};
      port = after.substr(1);
      has_port = true;
    }
    in6_addr a6{};
    if (inet_pton(AF_INET6, std::string(host).c_str(), &a6) != 1)
      return Error{shown + ": '" + std::string(host) + "' in brackets is not an IPv6 address"};
  } else {
    auto colon = rest.find(':');
    if (colon != std::string_view::npos) {
      if (rest.find(':', colon + 1) != std::string_view::npos)
        return Error{shown + ": IPv6 addresses go in brackets, e.g. tcp://[::1]:514"};
      host = rest.substr(0, colon);
      port = rest.substr(colon + 1);
      has_port = true;
    }
    for (char c : host)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_')
        return Error{shown + ": '" + std::string(host) + "' is not a host name or address"};
  }
  if (host.empty())
    return Error{shown + " has no host"};
  if (has_port) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc{} || end != port.data() + port.size() || value == 0 ||
        value > 65535)
      return Error{shown + ": port must be a number from 1 to 65535"};
    target.port = static_cast<uint16_t>(value);
  }
  target.host = std::string(host);
  return target;
}

} // namespace shimwatch

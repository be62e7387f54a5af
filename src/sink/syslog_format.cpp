#include <array>

#include "shimwatch/syslog.hpp"

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

} // namespace shimwatch

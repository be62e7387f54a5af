// Syslog forwarding: RFC 5424 messages, RFC 6587 octet-counted framing.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "shimwatch/event.hpp"
#include "shimwatch/result.hpp"
#include "shimwatch/sink.hpp"

namespace shimwatch {

enum class SyslogSeverity : uint8_t {
  emergency = 0,
  alert = 1,
  critical = 2,
  error = 3,
  warning = 4,
  notice = 5,
  informational = 6,
  debug = 7,
};

// Facility codes 0..23 (RFC 5424 section 6.2.1); names as syslog.conf spells them.
Result<uint8_t> syslog_facility(std::string_view name);

struct SyslogHeader {
  uint8_t facility = 16; // local0
  SyslogSeverity severity = SyslogSeverity::notice;
  int64_t timestamp_ns = 0;
  std::string hostname;
  std::string app_name = "shimwatch";
  uint32_t procid = 0;
  std::string msgid; // e.g. the event action
};

// One RFC 5424 message: "<PRI>1 TIMESTAMP HOST APP PROCID MSGID - MSG".
// Header fields are cut to their RFC lengths and restricted to printable
// US-ASCII ('-' when empty); msg goes as it is (UTF-8, no BOM).
std::string format_rfc5424(const SyslogHeader &header, std::string_view msg);

// RFC 6587 octet counting: "LEN SP MSG"; a message may hold newlines.
std::string frame_octet_counted(std::string_view message);

// The severity an event is sent with: failures (after a migration, the
// signature of a hidden dependency) are warnings, the rest notices.
SyslogSeverity event_severity(const Event &event);

// The whole message for an event: its JSON line as MSG, action as MSGID.
std::string syslog_message(const Event &event, const HostInfo &host, uint8_t facility,
                           uint32_t procid);

} // namespace shimwatch

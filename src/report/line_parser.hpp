// One line of an audit log -> one parsed record, or the reason it is not one.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "report/report_time.hpp"

namespace shimwatch::report {

// How the report groups origins (not the agent's OriginType: a `workload`
// groups the agent's `pod` origins, and the order is the report's).
enum class OriginGroup { workload, container, systemd_unit, user_session, host };
inline constexpr int origin_group_count = 5;

std::string_view origin_group_name(OriginGroup type);

// The fields of an agent record the report uses. Reused from line to line,
// so that parsing a line allocates as little as possible.
struct ParsedRecord {
  bool gap = false;
  Micros time = 0;         // @timestamp (the last folded call for a summary record)
  Micros first_time = 0;   // shimwatch.repeat.first_seen for a summary record, else time
  std::uint64_t calls = 1; // calls the line stands for: shimwatch.repeat.count for a summary
  std::string node;        // host.name

  // Events.
  std::string action;
  std::string outcome;
  std::string error_code;
  OriginGroup origin_type = OriginGroup::host;
  std::string origin_key; // "workload:monitoring/DaemonSet/dd-agent", "systemd_unit:cron.service" …
  std::string namespace_name;
  std::string workload_kind;
  std::string workload_name;
  std::string pod_name;
  std::string
      pod_uid; // kubernetes.pod.uid: links a pod's records from before its metadata was known
  std::string container_name;
  std::string image;
  std::string container_id;
  std::string container_runtime;
  std::string unit;
  std::string session;
  std::string login_uid; // empty when unknown
  std::string agent;     // shimwatch.origin.agent
  std::string executable;
  std::string command_line;
  std::string socket;      // "path" or "path -> peer" when it reached another name
  std::string config_file; // file.path
  std::string destination; // "ip:port" of docker-api-tcp-connect
  std::string service;     // "restart docker" for docker-service-control
  std::string runtime;     // shimwatch.runtime of runtime-socket-connect

  // Gap records.
  std::uint64_t dropped = 0;
  std::string gap_stage;
  Micros gap_first = 0;
  Micros gap_last = 0;
  std::vector<std::pair<std::string, std::uint64_t>> gap_reasons;

  void clear();
};

enum class LineKind {
  record,    // an agent event or gap record
  blank,     // empty or whitespace only
  malformed, // looks like an agent record but is not one (torn, bad JSON, missing fields)
  foreign,   // another tool's line (not JSON, or JSON without the agent's fields)
};

// Removes a `kubectl logs --prefix` tag ("[pod/NAME/CONTAINER] ") from the
// front of line. Returns whether there was one.
bool strip_kubectl_prefix(std::string_view &line);

// Parses one line (without its newline, after strip_kubectl_prefix). On
// `record`, out holds it; otherwise `why` (when given) says what was wrong.
LineKind parse_line(std::string_view line, ParsedRecord &out, std::string *why = nullptr);

} // namespace shimwatch::report

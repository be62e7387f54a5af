// Static evidence (a `shimwatch scan` JSON document) merged with the runtime
// evidence of the audit trail, per workload: what the specs expose and what
// was used during the window.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "report/aggregator.hpp"

namespace shimwatch::report {

struct ScanFinding {
  std::string rule;
  std::string severity;
  std::string reason;
  std::string field;
  std::string container;
};

struct ScanWorkload {
  std::string id;             // "namespace/Kind/name", as the scan writes it
  std::string namespace_name; // empty: a manifest without a namespace, matches any
  std::string kind;
  std::string name;
  std::string agent_kind; // agent_workload: what the agent writes for the pods
  std::string agent_name;
  bool static_pod = false;
  std::string state;
  bool docker_socket_mounted = false;
  std::string max_severity; // empty without findings
  std::vector<std::string> pods;
  std::vector<ScanFinding> findings;
};

struct ScanDocument {
  std::string path;
  std::string generated_at;
  std::vector<ScanWorkload> workloads;
};

// The scan document, or why the text is not one.
struct ScanLoadResult {
  std::optional<ScanDocument> document;
  std::string error;
};
ScanLoadResult parse_scan_document(std::string_view text, const std::string &path);
ScanLoadResult load_scan_file(const std::string &path);

enum class EvidenceKind { mounted_and_used, mounted_not_used, used_without_mount };
std::string_view evidence_kind_name(EvidenceKind kind);

// Whether the runtime origin is the scanned workload: by the agent's name for
// its pods, by the scan's own kind and name (as the agent would resolve that
// owner: a CronJob's Job becomes the CronJob), by pod name for bare pods and
// by node and pod name for static pods.
bool scan_workload_matches(const ScanWorkload &workload, const OriginStats &origin);

struct EvidenceRow {
  EvidenceKind kind = EvidenceKind::used_without_mount;
  const ScanWorkload *workload = nullptr;   // the scan's side, when the scan has it
  std::vector<const OriginStats *> origins; // the runtime side (none: not used)
  std::string note;                         // for rows without findings: why
};

struct Evidence {
  const ScanDocument *scan = nullptr;
  std::vector<EvidenceRow> rows; // mounted and used, mounted not used, used without mount
  std::map<std::string, std::size_t> row_of_origin; // origin key -> index into rows
};

Evidence merge_evidence(const ScanDocument &scan, const std::vector<const OriginStats *> &origins);

} // namespace shimwatch::report

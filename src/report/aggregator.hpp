// Streaming aggregation of parsed records into per-origin and per-node totals.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "report/line_parser.hpp"
#include "report/top_counter.hpp"

namespace shimwatch::report {

// Memory does not grow with the number of lines: every list below is bounded.
inline constexpr std::size_t max_origins = 10'000;       // beyond: folded into "(other)" per type
inline constexpr std::size_t max_kept_text = 1024;       // longer command lines etc. are cut
inline constexpr std::size_t max_timeline_buckets = 512; // then the bucket width doubles
inline constexpr std::size_t max_actions_per_origin = 16;
inline constexpr std::size_t max_known_pods = 100'000; // pod uid -> workload, for resolve_pods()

struct ReportOptions {
  std::size_t top = 10; // command lines, sockets, files … shown per origin
  std::optional<Micros> since;
  std::optional<Micros> until;
};

// Activity over time in buckets of `width` seconds; the width doubles when
// more than max_timeline_buckets would be needed.
struct Timeline {
  std::int64_t width_seconds = 3600;
  std::map<std::int64_t, std::uint64_t> buckets; // bucket start (s since epoch) -> calls
  void add(Micros time, std::uint64_t calls);
};

struct ActionStats {
  std::uint64_t calls = 0;
  std::uint64_t failures = 0;
  Micros first = 0;
  Micros last = 0;
  TopCounter error_codes{8};
};

struct OriginStats {
  explicit OriginStats(std::size_t top);

  OriginGroup type = OriginGroup::host;
  std::string key;
  // Identity, from the first record (the key fields are equal for all).
  std::string namespace_name, workload_kind, workload_name, unit, login_uid, session,
      executable_key, container_runtime, container_id;
  std::string pod_uid; // only for a pod whose metadata was not known: see resolve_pods()
  std::string agent;   // known node agent, when any record named one

  std::uint64_t calls = 0;
  std::uint64_t records = 0;
  std::uint64_t failures = 0;
  Micros first = 0;
  Micros last = 0;
  std::map<std::string, ActionStats> actions;
  TopCounter command_lines, sockets, config_files, destinations, services, runtimes;
  TopCounter pods, images, executables, sessions; // samples of who it was
  std::vector<std::uint32_t> nodes;               // indices into Aggregator::nodes(), sorted
  Timeline timeline;
};

struct NodeStats {
  std::string name;
  Micros first = 0; // first and last record of any kind: the window the trail covers
  Micros last = 0;
  std::uint64_t records = 0;
  std::uint64_t calls = 0;
  std::uint64_t dropped = 0;
  std::uint64_t gap_records = 0;
  Timeline activity; // records (of any kind) over time: silent spans show
};

struct GapStats {
  std::string node;
  std::string stage;
  std::uint64_t dropped = 0;
  std::uint64_t records = 0;
  Micros first = 0;
  Micros last = 0;
  std::map<std::string, std::uint64_t> reasons;
};

// What was read and what could not be used: never fatal, always reported.
struct InputStats {
  std::uint64_t files = 0;
  std::vector<std::string> unreadable_files; // "path: reason"
  std::uint64_t bytes = 0;                   // bytes read from the files (compressed size for gzip)
  std::uint64_t lines = 0;
  std::uint64_t records = 0;
  std::uint64_t malformed_lines = 0;
  std::uint64_t foreign_lines = 0;
  std::uint64_t blank_lines = 0;
  std::uint64_t oversize_lines = 0; // longer than the reader's line limit, skipped
  std::uint64_t kubectl_prefixed_lines = 0;
  std::uint64_t truncated_gzip_members = 0;
  std::uint64_t corrupt_gzip_streams = 0;
  std::uint64_t outside_window = 0; // records left out by --since / --until
  TopCounter malformed_reasons{16};
};

class Aggregator {
public:
  explicit Aggregator(ReportOptions options);

  // One record, already parsed; outside --since/--until it is only counted.
  void add(const ParsedRecord &record);

  // Moves the rows of pods seen before their metadata was known (keyed by
  // pod uid) into their workload's row, when a later record of the same pod
  // named it. Call once, after the last add().
  void resolve_pods();

  const ReportOptions &options() const { return options_; }
  InputStats &input() { return input_; }
  const InputStats &input() const { return input_; }
  const std::vector<NodeStats> &nodes() const { return nodes_; }
  const std::map<std::pair<std::string, std::string>, GapStats> &gaps() const { return gaps_; }
  std::uint64_t folded_records() const { return folded_records_; }

  // Origins, most calls first (then by key), for the renderers.
  std::vector<const OriginStats *> sorted_origins() const;
  // Nodes by name.
  std::vector<const NodeStats *> sorted_nodes() const;
  std::uint64_t total_calls() const;
  std::uint64_t total_dropped() const;

private:
  std::uint32_t node_index(const std::string &name);
  OriginStats &origin_for(const ParsedRecord &record);

  ReportOptions options_;
  InputStats input_;
  std::vector<NodeStats> nodes_;
  std::unordered_map<std::string, std::uint32_t> node_indices_;
  std::unordered_map<std::string, std::unique_ptr<OriginStats>> origins_;
  std::map<std::pair<std::string, std::string>, GapStats> gaps_; // (node, stage)
  std::uint64_t folded_records_ = 0; // records of origins beyond max_origins
  std::unordered_map<std::string, std::string> workload_of_pod_; // pod uid -> origin key
};

} // namespace shimwatch::report

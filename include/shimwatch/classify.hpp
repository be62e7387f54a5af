// classify: decides whether a decoded event is one the config asked for.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "shimwatch/settings.hpp"
#include "shimwatch/event.hpp"
#include "shimwatch/result.hpp"

namespace shimwatch {

// The agent's own process, as the probes see it. Its events are "self":
// - pid (the thread group id in the initial pid namespace, so every thread
//   of the agent) and pid namespace both match: the agent on the host or in
//   a pod with hostPID, where getpid() is that pid;
// - or, in a container with a pid namespace of its own (getpid() is then not
//   the pid the probes report): same pid and mount namespaces and the same
//   executable path, i.e. shimwatch itself in its own container.
struct SelfIdentity {
  uint32_t pid = 0; // 0: unknown
  uint32_t pid_ns = 0;
  uint32_t mnt_ns = 0;
  std::string executable;   // /proc/self/exe, as the probes report executables
  uint32_t node_mnt_ns = 0; // pid 1's: the node's, with hostPID; 0: unknown

  // This process, read from /proc/self; fields that cannot be read stay 0/empty.
  static SelfIdentity current();
};

// Whether only root can have put the file at path there: path lies in the
// node's mount namespace and it and every directory above it are owned by
// root and writable by no one else. Walks from / down and stops at the
// first directory that fails, before looking inside it (so a FUSE mount a
// user made, which can only lie below a directory that user owns, is never
// touched). path is as the probes report it; read through /proc/1/root in
// a pod.
bool only_root_can_replace(const std::string &path);

// Whether an excluded daemon's name on a process may be believed: its
// executable is one only root can replace, in the node's mount namespace.
// The default checks the file system (only_root_can_replace); tests pass
// their own.
using ExecutableTrust = std::function<bool(const Event &event)>;

// What Classifier::accept decided about an event.
struct Verdict {
  enum class Kind {
    accepted, // report it
    filtered, // not a watched call (count_filtered)
    excluded, // a watched call, but from the agent or a runtime (count_excluded(rule))
  };
  Kind kind = Kind::filtered;
  std::string rule; // excluded: the rule that matched, e.g. "self", "executable:dockerd"

  explicit operator bool() const { return kind == Kind::accepted; }
  bool excluded() const { return kind == Kind::excluded; }
};

// match_agent with each value's glob results remembered: an agent polls with
// the same image, unit and executables every time, and trying every rule's
// patterns on each of them was a large part of the agent's own CPU per
// event. Not thread safe.
class AgentMatcher {
public:
  explicit AgentMatcher(std::vector<AgentRule> rules = {}) : rules_(std::move(rules)) {}
  // What match_agent(rules, event) returns.
  std::string match(const Event &event);

private:
  enum Field { images, containers, workloads, units, executables, field_count };
  // Index of the first rule whose patterns for this field match value;
  // rules_.size() when none does.
  size_t first_rule(Field field, const std::string &value);

  std::vector<AgentRule> rules_;
  std::array<std::unordered_map<std::string, size_t>, field_count> remembered_;
};

class Classifier {
public:
  // self: SelfIdentity::current().
  explicit Classifier(const Config &config);
  Classifier(const Config &config, SelfIdentity self, ExecutableTrust trust = {});

  // The whole decision, before attribution: is this one of the calls the
  // config asked for, which one, and is it excluded. On an accepted event
  // it sets action (and runtime, service_*); on the others it may have set
  // them too, which means nothing.
  //
  // exec: the basename of the path passed to execve() decides. An init
  // script (watch.service_control.init_scripts, by path) or a manager
  // (systemctl, service) acting on a Docker unit with a watched verb is
  // docker_service_control; other runs of them are filtered, even when
  // watch.exec names them too. A watched exec name is docker_cli_exec.
  // Without a usable path (unreadable, cut short, /dev/fd/N) comm, which
  // the kernel matched, stands for the basename: better reported than
  // silently lost.
  //
  // connect: the configured socket it matched (socket_watched; socket_path
  // when that is empty) decides: watch.sockets -> docker_socket_connect, an
  // enabled runtime socket -> runtime_socket_connect with runtime set,
  // anything else is filtered. A TCP connect (docker_api_tcp_connect) is
  // kept as it is: the kernel matched its port.
  //
  // Then exclusion (excluded_by) on what is left; a process named like an
  // excluded executable that is not trusted (ExecutableTrust) is accepted
  // with event.impersonates set.
  Verdict accept(Event &event) const;
  Verdict accept(Event &&event) const { return accept(event); }

  // The exclusion rule that matches the process behind the event, or "":
  // "self" (the agent itself), "executable:PATTERN" (the process' executable,
  // full path or basename, and a binary only root can replace on the node:
  // anyone can name a copy of a client "kubelet"), "comm:PATTERN" and
  // "unit:PATTERN" (its systemd unit, from the cgroup path when the event
  // is not attributed yet; like comm, a name a process or a delegated
  // cgroup can pick: for the operator's own use, empty by default). Only
  // the process itself is matched, never its ancestors: every container's
  // processes descend from containerd-shim and every exec probe from the
  // kubelet, so matching ancestors would hide the very pods that use Docker.
  std::string excluded_by(const Event &event) const;
  // The exclude.executables pattern the process is named like but not
  // trusted for, or "".
  std::string impersonated(const Event &event) const;

  // Tags event.origin.agent with the first agent rule that matches.
  void tag_agent(Event &event) const;

private:
  bool classify_exec(Event &event) const;
  bool classify_connect(Event &event) const;
  bool is_self(const Event &event) const;
  // The executables pattern the event's executable matches by name, or null.
  const std::string *executable_pattern(const Event &event) const;
  bool trusted(const Event &event) const;

  mutable AgentMatcher agents_; // the config's rules, then the built-in ones
  std::unordered_set<std::string> exec_names_;
  std::unordered_set<std::string> exec_comm_keys_; // watched names cut to 15 bytes
  std::unordered_set<std::string> docker_sockets_;
  std::unordered_map<std::string, std::string> runtime_sockets_; // enabled ones: path -> runtime
  ServiceControlConfig service_;
  ExcludeConfig exclude_;
  SelfIdentity self_;
  ExecutableTrust trust_;
  // Verdicts of only_root_can_replace by path, for a while: daemons call
  // all the time. Bounded: cleared when full.
  mutable std::unordered_map<std::string, std::pair<bool, std::chrono::steady_clock::time_point>>
      trusted_paths_;
};

// Loopback and this node's own addresses: the destinations of a TCP connect
// that count as "this node's Docker Engine" (watch.tcp_destinations local).
class LocalAddresses {
public:
  LocalAddresses(); // reads the interfaces' addresses
  // Reads them again (addresses come and go with interfaces).
  void refresh();
  // text as inet_ntop writes it: "127.0.0.1", "::1", "10.0.0.5".
  bool contains(const std::string &text) const;
  // For tests: exactly these, besides loopback and unspecified addresses.
  explicit LocalAddresses(std::vector<std::string> addresses);

private:
  std::vector<std::string> addresses_;
};

// The rules shipped with shimwatch (src/classify/default_agents.json).
std::string_view builtin_agent_rules_json();
// Parses a JSON array of rules; errors name the entry and key.
Result<std::vector<AgentRule>> parse_agent_rules(std::string_view json_text);
Result<std::vector<AgentRule>> parse_agent_rules(const nlohmann::json &rules,
                                                 const std::string &where);

// First rule that matches, in order; empty when none does.
std::string match_agent(const std::vector<AgentRule> &rules, const Event &event);

} // namespace shimwatch

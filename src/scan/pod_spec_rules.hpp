// The rules: what in a pod spec ties a workload to Docker Engine.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "scan/scan_model.hpp"

namespace shimwatch::scan {

// Rule ids, as they appear in the output.
inline constexpr std::string_view kRuleSocketMount = "docker-socket-mount";
inline constexpr std::string_view kRuleSocketParentMount = "docker-socket-parent-mount";
inline constexpr std::string_view kRuleStateMount = "docker-state-mount";
inline constexpr std::string_view kRuleConfigMount = "docker-config-mount";
inline constexpr std::string_view kRuleDockerHost = "docker-host-env";
inline constexpr std::string_view kRuleImage = "docker-image";
inline constexpr std::string_view kRuleCommand = "docker-command";
inline constexpr std::string_view kRulePrivilegedHostPid = "privileged-host-pid";

// Lexically normalised absolute path: no "//", ".", "..", trailing "/".
std::string normalize_host_path(std::string_view path);

// What a hostPath (after subPath) exposes, or nothing for unrelated paths.
struct HostPathClass {
  std::string_view rule;
  Severity severity = Severity::low;
  std::string what;        // "the node's Docker socket", ...
  std::string socket_path; // the socket inside the mount, relative ("" = the mount itself)
  bool exposes_socket = false;
};
std::optional<HostPathClass> classify_host_path(std::string_view host_path);

// "docker:24-dind" -> a docker-in-docker image, and so on; nothing for others.
struct ImageClass {
  Severity severity = Severity::medium;
  std::string reason;
};
std::optional<ImageClass> classify_image(std::string_view image);

// The docker command a shell script or argv element runs ("docker ps -a"),
// or nothing. Only a command word counts: "echo docker" or "--runtime docker" do not.
std::optional<std::string> docker_command_in_script(std::string_view script);

struct PodSpecScan {
  std::vector<Finding> findings; // source, owner_chain and workload_id not filled
  std::vector<SocketMount> socket_mounts;
};

// All rules over one pod spec found at spec_path in its object
// ("spec", "spec.template.spec", "spec.jobTemplate.spec.template.spec").
PodSpecScan scan_pod_spec(const nlohmann::json &pod_spec, const std::string &spec_path);

} // namespace shimwatch::scan

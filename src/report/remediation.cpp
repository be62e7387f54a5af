#include "report/remediation.hpp"

#include <array>
#include <set>
#include <sstream>

namespace shimwatch::report {

namespace {

struct SubcommandAdvice {
  std::string_view subcommand;
  std::string_view replacement;
};

// docker CLI subcommand -> what does the same without Docker.
constexpr std::array subcommand_advice{
    SubcommandAdvice{"ps", "`crictl ps` (or `kubectl get pods`)"},
    SubcommandAdvice{"inspect",
                     "`crictl inspect` / `crictl inspectp` (or `kubectl get pod -o yaml`)"},
    SubcommandAdvice{"logs", "`crictl logs` (or `kubectl logs`)"},
    SubcommandAdvice{"exec", "`crictl exec` (or `kubectl exec`)"},
    SubcommandAdvice{"stats", "`crictl stats` (or the metrics API: `kubectl top`)"},
    SubcommandAdvice{"images", "`crictl images`"},
    SubcommandAdvice{"image", "`crictl images` / `crictl rmi`"},
    SubcommandAdvice{"pull", "`crictl pull`"},
    SubcommandAdvice{"rmi", "`crictl rmi`"},
    SubcommandAdvice{"rm", "`crictl rm` (containers of pods are removed by the kubelet)"},
    SubcommandAdvice{"stop", "`crictl stop` (or delete the pod)"},
    SubcommandAdvice{"kill", "`crictl stop` (or delete the pod)"},
    SubcommandAdvice{"info", "`crictl info`"},
    SubcommandAdvice{"version", "`crictl version`"},
    SubcommandAdvice{"system", "`crictl info` / `crictl rmi --prune`"},
    SubcommandAdvice{"events", "`crictl events` (or `kubectl get events --watch`)"},
    SubcommandAdvice{"run", "a pod, or `nerdctl run` where a plain container is really needed"},
    SubcommandAdvice{"build", "a builder that needs no Docker daemon (BuildKit, kaniko, buildah)"},
    SubcommandAdvice{"compose", "Kubernetes manifests, or `nerdctl compose`"},
    SubcommandAdvice{"login",
                     "containerd registry credentials (kubelet imagePullSecrets or hosts.toml)"},
};

// Global docker CLI options that take a value (`-H tcp://…`, `--context x`).
bool option_takes_value(std::string_view option) {
  for (std::string_view o : {"-H", "--host", "-c", "--context", "--config", "-l", "--log-level",
                             "--tlscacert", "--tlscert", "--tlskey"})
    if (option == o)
      return true;
  return false;
}

std::string join(const std::set<std::string> &items) {
  std::string out;
  for (const auto &item : items)
    out += (out.empty() ? "" : ", ") + item;
  return out;
}

std::string top_keys(const TopCounter &counter, std::size_t n) {
  std::string out;
  for (const auto &e : counter.top(n))
    out += (out.empty() ? "`" : ", `") + e.key + "`";
  return out;
}

std::string cli_advice(const OriginStats &origin) {
  std::set<std::string> advice;
  std::set<std::string> unknown;
  for (const auto &entry : origin.command_lines.top(origin.command_lines.capacity())) {
    const std::string sub = docker_subcommand(entry.key);
    if (sub.empty())
      continue;
    bool found = false;
    for (const auto &a : subcommand_advice)
      if (a.subcommand == sub) {
        advice.insert("`docker " + sub + "` -> " + std::string(a.replacement));
        found = true;
      }
    if (!found)
      unknown.insert("`docker " + sub + "`");
  }
  std::string out = "Replace the docker CLI with `crictl` on the node or the Kubernetes API "
                    "(kubectl, a client library) from workloads";
  if (!advice.empty())
    out += ": " + join(advice);
  if (!unknown.empty())
    out += "; no direct replacement known for " + join(unknown) + ", review them";
  return out + ".";
}

std::string socket_advice(const OriginStats &origin) {
  if (origin.agent == "cadvisor")
    return "cAdvisor reads container metrics through docker.sock (docker-format metrics): use "
           "the kubelet's built-in cAdvisor metrics (`/metrics/cadvisor`, container-id format) "
           "or run the standalone cAdvisor against containerd "
           "(`--containerd=/run/containerd/containerd.sock`), and update dashboards and alerts "
           "that match docker-format labels.";
  const std::string sockets = top_keys(origin.sockets, 3);
  std::string where = sockets.empty() ? "docker.sock" : sockets;
  if (!origin.agent.empty())
    return "Known agent `" + origin.agent + "` reads " + where +
           ": upgrade to a containerd-aware version and configure it for the CRI socket "
           "(`/run/containerd/containerd.sock`), then remove the docker.sock mount.";
  std::string out = "Talks to the Docker Engine API through " + where +
                    ": point it at the CRI socket (`/run/containerd/containerd.sock`, through "
                    "crictl or a CRI client) or the Kubernetes API, or use a containerd-aware "
                    "version; then remove the docker.sock mount";
  if (origin.type == OriginGroup::workload)
    out += " (hostPath volume) from the pod spec";
  return out + ".";
}

std::string config_advice(const OriginStats &origin, bool write) {
  std::string files = top_keys(origin.config_files, 3);
  std::string out = std::string(write ? "Writes" : "Reads") + " Docker's configuration" +
                    (files.empty() ? "" : " (" + files + ")") +
                    ": registry mirrors and insecure registries in daemon.json and certificates "
                    "in /etc/docker/certs.d move to containerd's "
                    "`/etc/containerd/certs.d/<registry>/hosts.toml` (config_path in "
                    "config.toml); log and storage options to containerd's config.toml and the "
                    "kubelet's settings";
  if (write)
    out += "; change the tool that writes them to manage containerd's files, or remove it";
  return out + ".";
}

std::string service_advice(const OriginStats &origin) {
  const std::string services = top_keys(origin.services, 3);
  return "Controls Docker's service" + (services.empty() ? "" : " (" + services + ")") +
         ": act on `containerd.service` instead where the step is still needed (restarting "
         "the runtime), or remove the step; after the migration docker.service is gone and "
         "the command fails.";
}

std::string runtime_advice(const OriginStats &origin) {
  const auto runtimes = origin.runtimes.top(4);
  bool goes_away = false;
  std::set<std::string> names;
  for (const auto &r : runtimes) {
    names.insert("`" + r.key + "`");
    goes_away = goes_away || r.key == "dockershim" || r.key == "cri-dockerd";
  }
  if (goes_away)
    return "Uses the " + join(names) +
           " socket, which goes away with Docker: point it at containerd's CRI socket "
           "(`/run/containerd/containerd.sock`); when it is the kubelet's runtime endpoint, "
           "change `--container-runtime-endpoint` as part of the node's migration.";
  return "Already talks to a container runtime's socket" +
         (names.empty() ? std::string() : " (" + join(names) + ")") +
         ": no Docker dependency, but check that the socket path and the runtime it expects "
         "match the nodes after the migration.";
}

} // namespace

std::string docker_subcommand(std::string_view command_line) {
  std::istringstream words{std::string(command_line)};
  std::string word;
  bool first = true;
  bool skip_value = false;
  while (words >> word) {
    if (first) {
      first = false; // the program itself
      continue;
    }
    if (skip_value) {
      skip_value = false;
      continue;
    }
    if (word.starts_with("-")) {
      skip_value = word.find('=') == std::string::npos && option_takes_value(word);
      continue;
    }
    // `docker container ls` and friends: the management command's verb decides.
    if (word == "container" || word == "image" || word == "system") {
      std::string verb;
      if (words >> verb && !verb.starts_with("-")) {
        if (word == "container" && verb == "ls")
          return "ps";
        if (word == "image" && (verb == "ls" || verb == "list"))
          return "images";
        if (word == "image" && verb == "rm")
          return "rmi";
        if (word == "system")
          return "system";
        return verb;
      }
      return word;
    }
    return word;
  }
  return {};
}

std::string remediation(std::string_view action, const OriginStats &origin) {
  if (action == "docker-cli-exec")
    return cli_advice(origin);
  if (action == "docker-socket-connect")
    return socket_advice(origin);
  if (action == "docker-api-tcp-connect") {
    const std::string where = top_keys(origin.destinations, 3);
    return "Uses the Docker Engine API over TCP" + (where.empty() ? "" : " (" + where + ")") +
           ": remove `DOCKER_HOST=tcp://…`, move to crictl or the Kubernetes API, and close "
           "ports 2375/2376 on the node.";
  }
  if (action == "docker-config-read")
    return config_advice(origin, false);
  if (action == "docker-config-write")
    return config_advice(origin, true);
  if (action == "docker-service-control")
    return service_advice(origin);
  if (action == "runtime-socket-connect")
    return runtime_advice(origin);
  return "Review: an action this version of the report does not know.";
}

} // namespace shimwatch::report

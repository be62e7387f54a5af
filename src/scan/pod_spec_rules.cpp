// The rules over one pod spec. Each finding says what ties the container to
// Docker Engine, how sure that is (severity, see scan_model.hpp) and where in
// the object it was found.
#include "scan/pod_spec_rules.hpp"
#include "shimwatch/text.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <map>
#include <set>

namespace shimwatch::scan {

namespace {

using nlohmann::json;

const json *member(const json &object, std::string_view key) {
  if (!object.is_object())
    return nullptr;
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

std::string string_member(const json &object, std::string_view key) {
  const json *value = member(object, key);
  return value && value->is_string() ? value->get<std::string>() : std::string();
}

// Kubernetes reads YAML 1.1, where yes/on are booleans as well.
bool true_member(const json &object, std::string_view key) {
  const json *value = member(object, key);
  if (!value)
    return false;
  if (value->is_boolean())
    return value->get<bool>();
  if (value->is_string()) {
    std::string text = value->get<std::string>();
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return text == "true" || text == "yes" || text == "on";
  }
  return false;
}

const json &array_member(const json &object, std::string_view key) {
  static const json empty = json::array();
  const json *value = member(object, key);
  return value && value->is_array() ? *value : empty;
}

std::string index_path(const std::string &base, std::string_view key, size_t index) {
  return base + "." + std::string(key) + "[" + std::to_string(index) + "]";
}

bool is_docker_binary(std::string_view word) {
  auto name = basename_of(word);
  return name == "docker" || name == "docker-compose";
}

std::string bounded(std::string text, size_t limit = 120) {
  if (text.size() > limit) {
    text.resize(limit);
    text += "...";
  }
  return text;
}

std::string trim(std::string_view text) {
  auto begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string_view::npos)
    return {};
  auto end = text.find_last_not_of(" \t\r\n");
  return std::string(text.substr(begin, end - begin + 1));
}

bool starts_with_path(std::string_view path, std::string_view dir) {
  return path == dir ||
         (path.size() > dir.size() && path.substr(0, dir.size()) == dir && path[dir.size()] == '/');
}

// /var/run is a symlink to /run on every current distribution: one name for both.
std::string canonical_run(std::string path) {
  if (starts_with_path(path, "/var/run"))
    path = "/run" + path.substr(std::string_view("/var/run").size());
  return path;
}

// Words that run the command after them: `sudo docker ps`, `nsenter -t 1 -m -- docker ps`.
bool is_command_prefix(std::string_view word) {
  static const std::set<std::string_view> prefixes = {
      "exec",    "sudo",   "nohup",  "env",     "command", "nice", "ionice",  "xargs",    "watch",
      "timeout", "stdbuf", "chroot", "nsenter", "setsid",  "doas", "busybox", "unbuffer", "flock"};
  return prefixes.count(basename_of(word)) > 0;
}

// Shell keywords in front of a command: `if docker info`, `then docker ps`.
bool is_shell_keyword(std::string_view word) {
  static const std::set<std::string_view> keywords = {"if",    "then",  "else", "elif", "do",
                                                      "while", "until", "!",    "time"};
  return keywords.count(word) > 0;
}

bool is_assignment(std::string_view word) {
  auto eq = word.find('=');
  if (eq == std::string_view::npos || eq == 0)
    return false;
  return std::all_of(word.begin(), word.begin() + static_cast<long>(eq), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

// An argv element that is a shell script rather than a word or a value: it
// joins commands. A value with spaces ("--title", "docker registry") is not one.
bool looks_like_script(std::string_view text) {
  return text.find_first_of("\n;|&`") != std::string_view::npos ||
         text.find("$(") != std::string_view::npos;
}

// -c, -ec, -xc, -lc: the shell flags whose next argument is a script.
bool is_shell_script_flag(std::string_view word) {
  return word.size() >= 2 && word[0] == '-' && word[1] != '-' &&
         word.find('c') != std::string_view::npos;
}

struct Scanner {
  const json &pod_spec;
  const std::string &spec_path;
  PodSpecScan out;

  void add(Severity severity, std::string_view rule, std::string reason,
           const std::string &container, const std::string &container_type, std::string field,
           std::string value) {
    Finding finding;
    finding.severity = severity;
    finding.rule = std::string(rule);
    finding.reason = std::move(reason);
    finding.container = container;
    finding.container_type = container_type;
    finding.field = std::move(field);
    finding.value = std::move(value);
    out.findings.push_back(std::move(finding));
  }

  void scan_argv(const std::vector<std::pair<std::string, std::string>> &argv,
                 bool first_is_command, const std::string &container,
                 const std::string &container_type) {
    std::string whole;
    for (const auto &[word, path] : argv)
      whole += (whole.empty() ? "" : " ") + word;
    for (size_t k = 0; k < argv.size(); ++k) {
      const auto &[word, path] = argv[k];
      std::optional<std::string> command;
      if (k == 0 && first_is_command && is_docker_binary(word))
        command = whole;
      else if (looks_like_script(word) || (k > 0 && is_shell_script_flag(argv[k - 1].first)))
        command = docker_command_in_script(word);
      if (!command)
        continue;
      add(Severity::high, kRuleCommand,
          "runs the docker CLI (`" + bounded(*command, 80) + "`), which needs a Docker Engine",
          container, container_type, path, bounded(*command));
    }
  }

  void scan_exec_handlers(const json &container, const std::string &path, const std::string &name,
                          const std::string &type) {
    static const std::array<std::string_view, 3> probes = {"livenessProbe", "readinessProbe",
                                                           "startupProbe"};
    std::vector<std::pair<const json *, std::string>> handlers;
    for (auto probe : probes)
      if (const json *p = member(container, probe))
        handlers.emplace_back(p, path + "." + std::string(probe));
    if (const json *lifecycle = member(container, "lifecycle"))
      for (std::string_view hook : {"postStart", "preStop"})
        if (const json *h = member(*lifecycle, hook))
          handlers.emplace_back(h, path + ".lifecycle." + std::string(hook));
    for (const auto &[handler, handler_path] : handlers) {
      const json *exec = member(*handler, "exec");
      if (!exec)
        continue;
      std::vector<std::pair<std::string, std::string>> argv;
      const json &command = array_member(*exec, "command");
      for (size_t i = 0; i < command.size(); ++i)
        if (command[i].is_string())
          argv.emplace_back(command[i].get<std::string>(),
                            index_path(handler_path + ".exec", "command", i));
      scan_argv(argv, true, name, type);
    }
  }

  void scan_env(const json &container, const std::string &path, const std::string &name,
                const std::string &type) {
    const json &env = array_member(container, "env");
    for (size_t i = 0; i < env.size(); ++i) {
      if (string_member(env[i], "name") != "DOCKER_HOST")
        continue;
      std::string env_path = index_path(path, "env", i);
      if (member(env[i], "valueFrom")) {
        add(Severity::medium, kRuleDockerHost,
            "DOCKER_HOST is set from a reference (valueFrom): the Docker CLI or SDK in this "
            "container talks to a Docker Engine",
            name, type, env_path + ".valueFrom", "valueFrom");
        continue;
      }
      std::string value = string_member(env[i], "value");
      if (value.empty()) {
        add(Severity::medium, kRuleDockerHost,
            "DOCKER_HOST is empty: Docker clients in this container use the default socket "
            "/var/run/docker.sock",
            name, type, env_path + ".value", value);
      } else if (value.rfind("unix://", 0) == 0 || value.front() == '/') {
        add(Severity::high, kRuleDockerHost,
            "DOCKER_HOST=" + value +
                ": Docker clients in this container talk to a Docker Engine "
                "through this socket",
            name, type, env_path + ".value", value);
      } else {
        bool local = value.find("localhost") != std::string::npos ||
                     value.find("127.0.0.1") != std::string::npos;
        bool node = local && true_member(pod_spec, "hostNetwork");
        add(node ? Severity::high : Severity::medium, kRuleDockerHost,
            "DOCKER_HOST=" + value +
                (node ? ": with hostNetwork this is the node's Docker Engine API over TCP"
                      : ": Docker clients in this container talk to a Docker Engine over the "
                        "network (the node's, or a docker-in-docker sidecar)"),
            name, type, env_path + ".value", value);
      }
    }
  }

  void scan_container(const json &container, const std::string &path, const std::string &type,
                      const std::map<std::string, std::pair<std::string, size_t>> &host_paths,
                      std::set<std::string> &mounted_volumes) {
    std::string name = string_member(container, "name");

    std::string image = string_member(container, "image");
    if (auto image_class = classify_image(image))
      add(image_class->severity, kRuleImage, image_class->reason, name, type, path + ".image",
          image);

    const json &mounts = array_member(container, "volumeMounts");
    for (size_t j = 0; j < mounts.size(); ++j) {
      std::string volume = string_member(mounts[j], "name");
      auto host = host_paths.find(volume);
      if (host == host_paths.end())
        continue;
      mounted_volumes.insert(volume);
      std::string sub_path = string_member(mounts[j], "subPath");
      std::string effective = normalize_host_path(
          sub_path.empty() ? host->second.first : host->second.first + "/" + sub_path);
      auto found = classify_host_path(effective);
      if (!found)
        continue;
      std::string mount_path = string_member(mounts[j], "mountPath");
      std::string shown =
          sub_path.empty() ? host->second.first : host->second.first + " subPath " + sub_path;
      std::string reason = "mounts " + found->what + " (hostPath " + shown + ") at " + mount_path;
      std::string socket_in_container = mount_path;
      if (found->exposes_socket && !found->socket_path.empty()) {
        socket_in_container = normalize_host_path(mount_path + "/" + found->socket_path);
        reason += "; the socket is " + socket_in_container + " inside";
      }
      if (!string_member(mounts[j], "subPathExpr").empty())
        reason += " (subPathExpr narrows it at run time)";
      add(found->severity, found->rule, reason, name, type, index_path(path, "volumeMounts", j),
          effective);
      if (found->exposes_socket)
        out.socket_mounts.push_back({name, effective, mount_path, socket_in_container});
    }

    scan_env(container, path, name, type);

    std::vector<std::pair<std::string, std::string>> argv;
    const json &command = array_member(container, "command");
    const json &args = array_member(container, "args");
    for (size_t i = 0; i < command.size(); ++i)
      if (command[i].is_string())
        argv.emplace_back(command[i].get<std::string>(), index_path(path, "command", i));
    for (size_t i = 0; i < args.size(); ++i)
      if (args[i].is_string())
        argv.emplace_back(args[i].get<std::string>(), index_path(path, "args", i));
    scan_argv(argv, !command.empty(), name, type);
    scan_exec_handlers(container, path, name, type);

    const json *security = member(container, "securityContext");
    if (security && true_member(*security, "privileged") && true_member(pod_spec, "hostPID"))
      add(Severity::low, kRulePrivilegedHostPid,
          "privileged in the node's PID namespace (hostPID): can enter the node (nsenter -t 1) "
          "and use its Docker Engine without any mount; no evidence here that it does",
          name, type, path + ".securityContext.privileged", "privileged, hostPID");
  }

  void run() {
    // volume name -> (hostPath path, index in volumes)
    std::map<std::string, std::pair<std::string, size_t>> host_paths;
    const json &volumes = array_member(pod_spec, "volumes");
    for (size_t i = 0; i < volumes.size(); ++i)
      if (const json *host_path = member(volumes[i], "hostPath"))
        host_paths.emplace(string_member(volumes[i], "name"),
                           std::pair(string_member(*host_path, "path"), i));

    std::set<std::string> mounted_volumes;
    static const std::array<std::pair<std::string_view, std::string_view>, 3> lists = {
        {{"initContainers", "initContainer"},
         {"containers", "container"},
         {"ephemeralContainers", "ephemeralContainer"}}};
    for (const auto &[key, type] : lists) {
      const json &containers = array_member(pod_spec, key);
      for (size_t i = 0; i < containers.size(); ++i)
        scan_container(containers[i], index_path(spec_path, key, i), std::string(type), host_paths,
                       mounted_volumes);
    }

    for (const auto &[volume, host] : host_paths) {
      if (mounted_volumes.count(volume))
        continue;
      auto found = classify_host_path(normalize_host_path(host.first));
      if (!found)
        continue;
      add(Severity::low, found->rule,
          "volume " + volume + " exposes " + found->what + " (hostPath " + host.first +
              ") but no container mounts it",
          "", "", index_path(spec_path, "volumes", host.second) + ".hostPath.path",
          normalize_host_path(host.first));
    }
  }
};

} // namespace

std::string_view severity_name(Severity severity) {
  switch (severity) {
  case Severity::high:
    return "high";
  case Severity::medium:
    return "medium";
  case Severity::low:
    break;
  }
  return "low";
}

std::string normalize_host_path(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string_view::npos)
      slash = path.size();
    std::string_view part = path.substr(pos, slash - pos);
    if (part == "..") {
      if (!parts.empty())
        parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    pos = slash + 1;
  }
  std::string out;
  for (auto part : parts)
    out += "/" + std::string(part);
  return out.empty() ? "/" : out;
}

std::optional<HostPathClass> classify_host_path(std::string_view host_path) {
  std::string path = canonical_run(normalize_host_path(host_path));
  if (basename_of(path) == "docker.sock")
    return HostPathClass{kRuleSocketMount, Severity::high, "the node's Docker socket", "", true};
  if (path == "/")
    return HostPathClass{kRuleSocketParentMount, Severity::medium,
                         "the node's whole file system (the Docker socket, /var/lib/docker and "
                         "/etc/docker included)",
                         "run/docker.sock", true};
  if (path == "/run")
    return HostPathClass{kRuleSocketParentMount, Severity::medium,
                         "the directory holding the node's Docker socket", "docker.sock", true};
  if (path == "/run/docker")
    return HostPathClass{kRuleSocketParentMount, Severity::medium,
                         "Docker Engine's runtime directory (its state, and on some installs "
                         "its socket)",
                         "", false};
  if (starts_with_path(path, "/var/lib/docker"))
    return HostPathClass{kRuleStateMount, Severity::medium,
                         "Docker Engine's data directory (container logs, images and layers in "
                         "Docker's layout; containerd keeps them elsewhere)",
                         "", false};
  if (path == "/var/lib" || path == "/var")
    return HostPathClass{kRuleStateMount, Severity::low,
                         "a directory that includes Docker Engine's data directory "
                         "/var/lib/docker",
                         "", false};
  if (starts_with_path(path, "/etc/docker"))
    return HostPathClass{kRuleConfigMount, Severity::medium,
                         "Docker Engine's configuration (daemon.json, certificates: settings to "
                         "redo for containerd)",
                         "", false};
  if (path == "/etc")
    return HostPathClass{kRuleConfigMount, Severity::low,
                         "the node's /etc, which includes Docker Engine's configuration "
                         "/etc/docker",
                         "", false};
  return std::nullopt;
}

std::optional<ImageClass> classify_image(std::string_view image) {
  std::string_view reference = image.substr(0, image.find('@')); // without the digest
  std::string_view repository = reference, tag;
  auto colon = reference.rfind(':');
  auto slash = reference.rfind('/');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    repository = reference.substr(0, colon);
    tag = reference.substr(colon + 1);
  }
  std::string_view name = basename_of(repository);
  bool compose =
      name == "docker-compose" || repository == "docker/compose" ||
      (repository.size() > 15 && repository.substr(repository.size() - 15) == "/docker/compose");
  if (compose)
    return ImageClass{Severity::medium,
                      "a Docker Compose image: it drives a Docker Engine (the node's, when the "
                      "socket is mounted)"};
  if (name != "docker")
    return std::nullopt;
  if (tag.find("dind") != std::string_view::npos)
    return ImageClass{Severity::medium,
                      "a docker-in-docker image: runs its own Docker Engine in the pod "
                      "(privileged); builds and jobs using it need another way (BuildKit, "
                      "kaniko, containerd)"};
  return ImageClass{Severity::medium, "a docker CLI image: it talks to a Docker Engine (the "
                                      "node's, when the socket is mounted)"};
}

std::optional<std::string> docker_command_in_script(std::string_view script) {
  // Split into simple commands at the shell's separators; a command
  // substitution $(...) or `...` is a command of its own.
  std::vector<std::string> segments(1);
  for (size_t i = 0; i < script.size(); ++i) {
    char c = script[i];
    if (std::string_view(";&|\n\r(){}`").find(c) != std::string_view::npos ||
        (c == '$' && i + 1 < script.size() && script[i + 1] == '(')) {
      if (c == '$')
        ++i;
      segments.emplace_back();
      continue;
    }
    segments.back() += c;
  }
  for (const auto &segment : segments) {
    std::vector<std::string> words;
    std::string word;
    for (char c : segment) {
      if (c == ' ' || c == '\t') {
        if (!word.empty())
          words.push_back(std::move(word));
        word.clear();
      } else if (c != '"' && c != '\'' && c != '\\') {
        word += c;
      }
    }
    if (!word.empty())
      words.push_back(std::move(word));
    size_t w = 0;
    while (w < words.size() && (is_assignment(words[w]) || is_shell_keyword(words[w])))
      ++w;
    if (w >= words.size())
      continue;
    if (is_docker_binary(words[w]))
      return trim(segment);
    if (!is_command_prefix(words[w]))
      continue;
    // After a prefix (sudo -u root, nsenter -t 1 -m --, timeout 30) the
    // command is the first word that is no flag, number, assignment, prefix
    // or user/group name.
    for (size_t k = w + 1; k < words.size(); ++k) {
      const std::string &next = words[k];
      bool flag_value = words[k - 1] == "-u" || words[k - 1] == "-g";
      if (next[0] == '-' || flag_value || is_assignment(next) || is_command_prefix(next) ||
          std::all_of(next.begin(), next.end(),
                      [](unsigned char c) { return std::isdigit(c) || c == '.'; }))
        continue;
      if (is_docker_binary(next))
        return trim(segment);
      break;
    }
  }
  return std::nullopt;
}

PodSpecScan scan_pod_spec(const nlohmann::json &pod_spec, const std::string &spec_path) {
  Scanner scanner{pod_spec, spec_path, {}};
  if (pod_spec.is_object())
    scanner.run();
  return std::move(scanner.out);
}

} // namespace shimwatch::scan

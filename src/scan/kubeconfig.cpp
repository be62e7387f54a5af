#include "scan/kubeconfig.hpp"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <fstream>
#include <sstream>

#include "shimwatch/base64.hpp"
#include "scan/manifest_loader.hpp"

namespace shimwatch::scan {

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

std::string string_member(const json &object, std::string_view key) {
  if (!object.is_object())
    return {};
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

Result<std::string> decode_base64(const std::string &text, const std::string &what) {
  auto decoded = base64_decode(text);
  if (!decoded)
    return Error{what + " is " + decoded.error().message};
  return decoded;
}

// One named entry (cluster, user, context) merged over the files: first wins.
struct NamedEntries {
  std::map<std::string, std::pair<json, fs::path>> entries; // name -> (entry, its file's dir)

  void add(const json &list, std::string_view field, const fs::path &dir) {
    if (!list.is_array())
      return;
    for (const auto &item : list) {
      std::string name = string_member(item, "name");
      auto body = item.find(field);
      if (!name.empty() && body != item.end() && body->is_object())
        entries.try_emplace(name, *body, dir);
    }
  }
};

std::string resolve_path(const std::string &path, const fs::path &dir) {
  if (path.empty() || fs::path(path).is_absolute())
    return path;
  return (dir / path).lexically_normal().string();
}

std::string read_text(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

} // namespace

Result<ClusterAccess> load_kubeconfig(const std::vector<std::string> &paths,
                                      const std::string &context_name) {
  NamedEntries clusters, users, contexts;
  std::string current;
  std::vector<std::string> read;
  for (const auto &path : paths) {
    if (path.empty())
      continue;
    std::ifstream in(path);
    if (!in) {
      if (paths.size() > 1 && errno == ENOENT)
        continue; // kubectl skips missing files of a $KUBECONFIG list
      return Error{"cannot read the kubeconfig " + path + ": " + std::strerror(errno), errno};
    }
    json config;
    try {
      config = yaml_to_json(YAML::Load(read_text(path)));
    } catch (const YAML::Exception &e) {
      return Error{"the kubeconfig " + path + " is not valid YAML (line " +
                   std::to_string(e.mark.line + 1) + "): " + e.msg};
    }
    fs::path dir = fs::absolute(fs::path(path)).parent_path();
    clusters.add(config.value("clusters", json()), "cluster", dir);
    users.add(config.value("users", json()), "user", dir);
    contexts.add(config.value("contexts", json()), "context", dir);
    if (current.empty())
      current = string_member(config, "current-context");
    read.push_back(path);
  }
  if (read.empty())
    return Error{"no kubeconfig file found"};
  std::string name = context_name.empty() ? current : context_name;
  std::string files =
      read.size() == 1 ? read.front() : "(" + std::to_string(read.size()) + " files)";
  if (name.empty())
    return Error{"the kubeconfig " + files + " has no current-context; give --context"};
  auto context = contexts.entries.find(name);
  if (context == contexts.entries.end())
    return Error{"context " + name + " is not in the kubeconfig " + files};
  std::string cluster_name = string_member(context->second.first, "cluster");
  auto cluster = clusters.entries.find(cluster_name);
  if (cluster == clusters.entries.end())
    return Error{"context " + name + " names cluster \"" + cluster_name +
                 "\", which is not in the kubeconfig " + files};

  ClusterAccess access;
  access.origin = "kubeconfig " + files + ", context " + name;
  const json &c = cluster->second.first;
  access.server = string_member(c, "server");
  if (access.server.empty())
    return Error{"cluster " + cluster_name + " in the kubeconfig has no server"};
  access.ca_file = resolve_path(string_member(c, "certificate-authority"), cluster->second.second);
  if (auto data = string_member(c, "certificate-authority-data"); !data.empty()) {
    auto pem = decode_base64(data, "certificate-authority-data of cluster " + cluster_name);
    if (!pem)
      return pem.error();
    access.ca_data = *pem;
  }
  auto insecure = c.find("insecure-skip-tls-verify");
  access.insecure_skip_tls_verify =
      insecure != c.end() && insecure->is_boolean() && insecure->get<bool>();

  std::string user_name = string_member(context->second.first, "user");
  auto user = users.entries.find(user_name);
  if (user != users.entries.end()) {
    const json &u = user->second.first;
    const fs::path &dir = user->second.second;
    if (u.contains("exec") || u.contains("auth-provider"))
      return Error{"user " + user_name +
                   " logs in through an exec or auth-provider plugin, which shimwatch scan does "
                   "not run; give a token instead: --server URL --token-file FILE --ca-file FILE"};
    access.token = string_member(u, "token");
    access.token_file = resolve_path(string_member(u, "tokenFile"), dir);
    access.client_cert_file = resolve_path(string_member(u, "client-certificate"), dir);
    access.client_key_file = resolve_path(string_member(u, "client-key"), dir);
    for (auto [field, target] : {std::pair{"client-certificate-data", &access.client_cert_data},
                                 std::pair{"client-key-data", &access.client_key_data}}) {
      if (auto data = string_member(u, field); !data.empty()) {
        auto pem = decode_base64(data, std::string(field) + " of user " + user_name);
        if (!pem)
          return pem.error();
        *target = *pem;
      }
    }
  }
  return access;
}

Result<ClusterAccess> resolve_cluster_access(const AccessRequest &request, const EnvLookup &env,
                                             const std::string &service_account_dir) {
  if (!request.server.empty()) {
    ClusterAccess access;
    access.server = request.server;
    access.token_file = request.token_file;
    access.ca_file = request.ca_file;
    access.insecure_skip_tls_verify = request.insecure_skip_tls_verify;
    access.origin = "--server " + request.server;
    return access;
  }
  auto with_overrides = [&](Result<ClusterAccess> access) -> Result<ClusterAccess> {
    if (access && !request.token_file.empty()) {
      access->token.clear();
      access->token_file = request.token_file;
    }
    if (access && !request.ca_file.empty()) {
      access->ca_data.clear();
      access->ca_file = request.ca_file;
    }
    if (access && request.insecure_skip_tls_verify)
      access->insecure_skip_tls_verify = true;
    return access;
  };
  if (!request.kubeconfig.empty())
    return with_overrides(load_kubeconfig({request.kubeconfig}, request.context));
  if (auto list = env("KUBECONFIG"); list && !list->empty()) {
    std::vector<std::string> paths;
    std::stringstream in(*list);
    for (std::string path; std::getline(in, path, ':');)
      paths.push_back(path);
    return with_overrides(load_kubeconfig(paths, request.context));
  }
  if (auto home = env("HOME"); home && !home->empty()) {
    std::string path = *home + "/.kube/config";
    std::error_code ec;
    if (fs::exists(path, ec))
      return with_overrides(load_kubeconfig({path}, request.context));
  }
  auto host = env("KUBERNETES_SERVICE_HOST");
  if (host && !host->empty()) {
    std::string port = env("KUBERNETES_SERVICE_PORT").value_or("443");
    ClusterAccess access;
    bool ipv6 = host->find(':') != std::string::npos;
    access.server = "https://" + (ipv6 ? "[" + *host + "]" : *host) + ":" + port;
    access.token_file = service_account_dir + "/token";
    access.ca_file = service_account_dir + "/ca.crt";
    access.origin = "in-cluster service account";
    return with_overrides(access);
  }
  return Error{"no cluster to scan: no --kubeconfig, no $KUBECONFIG, no ~/.kube/config and not "
               "in a pod; give -f FILE to scan manifests, or --server URL"};
}

} // namespace shimwatch::scan

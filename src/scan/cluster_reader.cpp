#include "scan/cluster_reader.hpp"

#include <nlohmann/json.hpp>

#include <chrono>

#include "scan/manifest_loader.hpp"
#include "shimwatch/http.hpp"

namespace shimwatch::scan {

namespace {

using nlohmann::json;

constexpr std::chrono::milliseconds kPageTimeout{60000};

http::Endpoint cluster_endpoint(const ClusterAccess &access) {
  http::Endpoint endpoint;
  endpoint.url = access.server;
  endpoint.token = access.token;
  endpoint.token_file = access.token_file;
  endpoint.tls_verify = !access.insecure_skip_tls_verify;
  endpoint.ca_file = access.ca_file;
  endpoint.ca_pem = access.ca_data;
  endpoint.client_cert_file = access.client_cert_file;
  endpoint.client_cert_pem = access.client_cert_data;
  endpoint.client_key_file = access.client_key_file;
  endpoint.client_key_pem = access.client_key_data;
  return endpoint;
}

} // namespace

const std::vector<ListedResource> &listed_resources() {
  static const std::vector<ListedResource> resources = {
      {"Pod", "/api/v1", "pods"},
      {"Deployment", "/apis/apps/v1", "deployments"},
      {"ReplicaSet", "/apis/apps/v1", "replicasets"},
      {"DaemonSet", "/apis/apps/v1", "daemonsets"},
      {"StatefulSet", "/apis/apps/v1", "statefulsets"},
      {"Job", "/apis/batch/v1", "jobs"},
      {"CronJob", "/apis/batch/v1", "cronjobs"},
  };
  return resources;
}

Result<std::vector<ScanObject>> list_cluster_objects(const ClusterAccess &access,
                                                     const std::string &namespace_name,
                                                     std::vector<InputError> &errors) {
  http::Client client(cluster_endpoint(access));
  std::vector<ScanObject> objects;
  size_t failed = 0;
  std::string first_error;
  for (const auto &resource : listed_resources()) {
    std::string path =
        resource.api_path +
        (namespace_name.empty() ? "" : "/namespaces/" + http::escape(namespace_name)) + "/" +
        resource.plural;
    const std::string request = "GET " + client.base_url() + path;
    std::vector<ScanObject> listed;
    http::Reply reply = client.list(
        path, kPageTimeout,
        [&](const std::string &body) -> Result<std::string> {
          json page = json::parse(body, nullptr, false);
          if (!page.is_object() || !page.contains("items"))
            return Error{request + ": the answer is not a " + resource.kind + "List"};
          // Items of a typed list carry no kind; give them theirs.
          json list = {{"kind", resource.kind + "List"}, {"items", page["items"]}};
          if (list["items"].is_null())
            list["items"] = json::array();
          add_object(std::move(list), SourceRef{}, false, listed);
          if (page.contains("metadata") && page["metadata"].is_object())
            return page["metadata"].value("continue", "");
          return std::string();
        },
        [&] { listed.clear(); });
    std::string failure;
    if (reply.failure == http::Failure::token || reply.failure == http::Failure::refused)
      failure = reply.error; // says what it is about
    else if (!reply.answered())
      failure = request + ": " + reply.error;
    else if (reply.status != 200)
      failure = request + ": " + http::status_error(reply.status, reply.body);
    if (!failure.empty()) {
      ++failed;
      if (first_error.empty())
        first_error = failure;
      errors.push_back({path, 0, 0, failure});
      continue;
    }
    for (auto &object : listed)
      objects.push_back(std::move(object));
  }
  if (failed == listed_resources().size())
    return Error{first_error};
  return objects;
}

} // namespace shimwatch::scan

// Live mode: pods and the workloads that own them, listed from the API server.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "scan/kubeconfig.hpp"
#include "scan/scan_model.hpp"
#include "shimwatch/result.hpp"

namespace shimwatch::scan {

// GET of an API path ("/api/v1/pods?limit=500") -> the body of a 200 answer,
// or an Error saying what went wrong (HTTP status and the Status message).
using ApiGet = std::function<Result<std::string>(const std::string &path)>;

// A plain, blocking GET with libcurl: bearer token (re-read from token_file),
// CA file or PEM data, client certificate and key (files or PEM data).
// KubeClient's watch machinery is built for one long-lived pod watch; a
// scan needs only a few paged lists.
ApiGet make_api_get(const ClusterAccess &access);

// The resources a scan lists, in this order.
struct ListedResource {
  std::string kind;     // "Deployment"
  std::string api_path; // "/apis/apps/v1"
  std::string plural;   // "deployments"
};
const std::vector<ListedResource> &listed_resources();

// Lists every resource (namespace_name empty: all namespaces), page by page.
// A resource that fails (403 from RBAC, an API the server lacks) is an
// InputError and the others still count; an Error when none could be listed.
Result<std::vector<ScanObject>> list_cluster_objects(const ApiGet &get,
                                                     const std::string &namespace_name,
                                                     std::vector<InputError> &errors);

} // namespace shimwatch::scan

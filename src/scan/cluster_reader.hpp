// Live mode: pods and the workloads that own them, listed from the API server.
#pragma once

#include <string>
#include <vector>

#include "scan/kubeconfig.hpp"
#include "scan/scan_model.hpp"
#include "shimwatch/result.hpp"

namespace shimwatch::scan {

// The resources a scan lists, in this order.
struct ListedResource {
  std::string kind;     // "Deployment"
  std::string api_path; // "/apis/apps/v1"
  std::string plural;   // "deployments"
};
const std::vector<ListedResource> &listed_resources();

// Lists every resource (namespace_name empty: all namespaces), page by page,
// from the server of access (bearer token given or re-read from token_file,
// CA file or PEM data, client certificate and key as files or PEM data). A resource that fails (403
// from RBAC, an API the server lacks) is an InputError and the others still count; an Error when
// none could be listed.
Result<std::vector<ScanObject>> list_cluster_objects(const ClusterAccess &access,
                                                     const std::string &namespace_name,
                                                     std::vector<InputError> &errors);

} // namespace shimwatch::scan

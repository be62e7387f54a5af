// How to reach the API server: a kubeconfig's current context, the
// in-cluster service account, or an explicit --server.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "shimwatch/result.hpp"

namespace shimwatch::scan {

struct ClusterAccess {
  std::string server; // https://HOST:PORT
  std::string ca_file;
  std::string ca_data; // PEM, from certificate-authority-data
  std::string token;
  std::string token_file;
  std::string client_cert_file;
  std::string client_cert_data; // PEM
  std::string client_key_file;
  std::string client_key_data; // PEM
  bool insecure_skip_tls_verify = false;
  std::string origin; // for messages: "kubeconfig /root/.kube/config, context kind-dev"
};

// The kubeconfig files ($KUBECONFIG may list several, joined by ':'), merged
// the way kubectl does: the first file to define a name wins. context empty:
// current-context. Relative file paths are relative to the file naming them.
Result<ClusterAccess> load_kubeconfig(const std::vector<std::string> &paths,
                                      const std::string &context);

using EnvLookup = std::function<std::optional<std::string>(const std::string &)>;

struct AccessRequest {
  std::string kubeconfig;
  std::string context;
  std::string server;
  std::string token_file;
  std::string ca_file;
  bool insecure_skip_tls_verify = false;
};

// --server (with --token-file, --ca-file), else --kubeconfig, else
// $KUBECONFIG, else ~/.kube/config when it exists, else the in-cluster
// service account (KUBERNETES_SERVICE_HOST/_PORT and its token and CA in
// service_account_dir).
Result<ClusterAccess> resolve_cluster_access(
    const AccessRequest &request, const EnvLookup &env,
    const std::string &service_account_dir = "/var/run/secrets/kubernetes.io/serviceaccount");

} // namespace shimwatch::scan

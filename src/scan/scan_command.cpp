// `shimwatch scan`: Docker dependencies in workload specs, from manifests
// (-f) or from the cluster's API server.
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>

#include "shimwatch/sink.hpp"
#include "scan/cluster_reader.hpp"
#include "scan/kubeconfig.hpp"
#include "scan/manifest_loader.hpp"
#include "scan/scan_options.hpp"
#include "scan/scan_output.hpp"
#include "scan/workload_scan.hpp"
#include "shimwatch/http.hpp"
#include "shimwatch/scan.hpp"

namespace shimwatch {

namespace scan {

namespace {

constexpr int kExitClean = 0;
constexpr int kExitFindings = 1;
constexpr int kExitUsage = 2;

std::string location(const InputError &e) {
  std::string out = e.input;
  if (e.line > 0)
    out += ":" + std::to_string(e.line);
  if (e.column > 0)
    out += ":" + std::to_string(e.column);
  return out;
}

} // namespace

std::string scan_usage() {
  return R"(Usage: shimwatch scan [OPTIONS]

Finds Docker Engine dependencies in workload specs: the Docker socket or
Docker's directories mounted from the node, DOCKER_HOST, docker and
docker-in-docker images, docker commands, privileged + hostPID containers.
Without -f it scans the cluster (pods, Deployments, ReplicaSets, DaemonSets,
StatefulSets, Jobs, CronJobs); with -f it scans manifests.

Options:
  -f, --filename PATH      manifest file, directory (recursed for *.yaml, *.yml,
                           *.json) or - for stdin; repeatable
  --kubeconfig PATH        kubeconfig (default: $KUBECONFIG, else ~/.kube/config,
                           else the in-cluster service account)
  --context NAME           kubeconfig context (default: its current-context)
  --server URL             API server, instead of a kubeconfig
  --token-file PATH        bearer token for the API server
  --ca-file PATH           CA bundle for the API server's certificate
  --insecure-skip-tls-verify  do not verify the API server's certificate
  -n, --namespace NS       scan only this namespace (default: all)
  --format table|json      output format (default: table on a terminal, else json)
  -o, --output FILE        write the result to FILE instead of stdout
  --exit-code              exit 1 when there are findings or input errors
  -h, --help               this text

Exit codes: 0 done (and, with --exit-code, nothing found); 1 findings or input
errors with --exit-code; 2 bad usage, or the cluster could not be read.

Examples:
  shimwatch scan                                  # the current kubeconfig context
  shimwatch scan -n monitoring --format json -o scan.json
  shimwatch scan -f deploy/ -f extra.yaml --exit-code
  helm template my-release ./chart | shimwatch scan -f -
  shimwatch scan -f /etc/kubernetes/manifests     # a node's static pods
)";
}

Result<ScanOptions> parse_scan_args(const std::vector<std::string> &args) {
  ScanOptions options;
  bool cluster_flag = false;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    std::optional<std::string> inline_value;
    if (arg.rfind("--", 0) == 0)
      if (auto eq = arg.find('='); eq != std::string::npos) {
        inline_value = arg.substr(eq + 1);
        arg = arg.substr(0, eq);
      }
    auto value = [&]() -> Result<std::string> {
      if (inline_value)
        return *inline_value;
      if (i + 1 >= args.size())
        return Error{arg + " needs a value"};
      return args[++i];
    };
    auto take = [&](std::string &target) -> Status {
      auto v = value();
      if (!v)
        return v.error();
      if (v->empty())
        return Error{arg + " needs a non-empty value"};
      target = *v;
      return Ok{};
    };
    Status status = Ok{};
    if (arg == "-h" || arg == "--help") {
      options.help = true;
    } else if (arg == "-f" || arg == "--filename") {
      std::string file;
      status = take(file);
      if (status)
        options.files.push_back(file);
    } else if (arg == "--kubeconfig") {
      status = take(options.kubeconfig);
      cluster_flag = true;
    } else if (arg == "--context") {
      status = take(options.context);
      cluster_flag = true;
    } else if (arg == "--server") {
      status = take(options.server);
      cluster_flag = true;
    } else if (arg == "--token-file") {
      status = take(options.token_file);
      cluster_flag = true;
    } else if (arg == "--ca-file") {
      status = take(options.ca_file);
      cluster_flag = true;
    } else if (arg == "--insecure-skip-tls-verify") {
      options.insecure_skip_tls_verify = true;
      cluster_flag = true;
    } else if (arg == "-n" || arg == "--namespace") {
      status = take(options.namespace_name);
      cluster_flag = true;
    } else if (arg == "-o" || arg == "--output") {
      status = take(options.output);
    } else if (arg == "--exit-code") {
      options.exit_code = true;
    } else if (arg == "--format") {
      std::string format;
      status = take(format);
      if (status && format == "table")
        options.format = OutputFormat::table;
      else if (status && format == "json")
        options.format = OutputFormat::json;
      else if (status)
        status = Error{"--format " + format + ": must be table or json"};
    } else {
      status = Error{"unknown argument " + args[i] + " (see shimwatch scan --help)"};
    }
    if (!status)
      return status.error();
    if (inline_value && (arg == "--exit-code" || arg == "--insecure-skip-tls-verify" ||
                         arg == "-h" || arg == "--help"))
      return Error{arg + " takes no value"};
  }
  if (!options.files.empty() && cluster_flag)
    return Error{"-f scans manifests; --kubeconfig, --context, --server, --token-file, "
                 "--ca-file, --insecure-skip-tls-verify and --namespace are for the cluster"};
  if (!options.server.empty() && (!options.kubeconfig.empty() || !options.context.empty()))
    return Error{
        "--server replaces the kubeconfig: give one of --server and --kubeconfig/--context"};
  return options;
}

int run_scan(const ScanOptions &options, std::istream &in, std::ostream &out, std::ostream &err,
             bool out_is_terminal) {
  if (options.help) {
    out << scan_usage();
    return kExitClean;
  }
  ScanReport report;
  std::vector<ScanObject> objects;
  if (!options.files.empty()) {
    LoadedManifests loaded;
    auto status = load_manifests(options.files, in, loaded);
    if (!status) {
      err << "shimwatch scan: " << status.error().message << "\n";
      return kExitUsage;
    }
    report.mode = "manifests";
    report.inputs = options.files;
    report.errors = std::move(loaded.errors);
    objects = std::move(loaded.objects);
  } else {
    AccessRequest request{options.kubeconfig, options.context, options.server,
                          options.token_file, options.ca_file, options.insecure_skip_tls_verify};
    auto access = resolve_cluster_access(request, [](const std::string &name) {
      const char *value = std::getenv(name.c_str());
      return value ? std::optional<std::string>(value) : std::nullopt;
    });
    if (!access) {
      err << "shimwatch scan: " << access.error().message << "\n";
      return kExitUsage;
    }
    if (http::is_plain_http(access->server) &&
        (!access->token.empty() || !access->token_file.empty()))
      err << "shimwatch scan: warning: " << access->server
          << " is plain HTTP: the token is not sent there (requests go without it); use "
             "https://\n";
    report.mode = "cluster";
    report.server = access->server;
    report.namespace_name = options.namespace_name;
    auto listed = list_cluster_objects(*access, options.namespace_name, report.errors);
    if (!listed) {
      err << "shimwatch scan: cannot read the cluster (" << access->origin
          << "): " << listed.error().message << "\n";
      return kExitUsage;
    }
    objects = std::move(listed).value();
  }
  // File names and YAML error messages quote the input.
  for (const auto &e : report.errors)
    err << "shimwatch scan: " << utf8::escape_controls(location(e)) << ": "
        << utf8::escape_controls(e.message) << "\n";
  report.objects = objects.size();
  scan_objects(objects, report);

  bool json_format =
      options.format == OutputFormat::json ||
      (options.format == OutputFormat::automatic && (!options.output.empty() || !out_is_terminal));
  std::string text = json_format ? scan_to_json(report).dump(2) + "\n" : scan_to_table(report);
  if (options.output.empty()) {
    out << text << std::flush;
  } else {
    std::ofstream file(options.output, std::ios::binary | std::ios::trunc);
    file << text;
    file.close();
    if (!file) {
      err << "shimwatch scan: cannot write " << options.output << "\n";
      return kExitUsage;
    }
  }
  if (options.exit_code && (!report.findings.empty() || !report.errors.empty()))
    return kExitFindings;
  return kExitClean;
}

} // namespace scan

int run_scan_command(const std::vector<std::string> &args) {
  auto options = scan::parse_scan_args(args);
  if (!options) {
    std::cerr << "shimwatch scan: " << options.error().message << "\n";
    return scan::kExitUsage;
  }
  return scan::run_scan(*options, std::cin, std::cout, std::cerr, isatty(STDOUT_FILENO) == 1);
}

} // namespace shimwatch

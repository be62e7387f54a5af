// `shimwatch scan`: Docker dependencies in workload specs, from manifests
// (-f) or from the cluster's API server.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>

#include "shimwatch/cli_args.hpp"
#include "shimwatch/text.hpp"
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
  std::string format;
  CLI::App app;
  app.set_help_flag(); // -h is ours: scan_usage, not CLI11's
  app.allow_extras();  // reported below, in our words
  auto *help = app.add_flag("-h,--help")->disable_flag_override();
  auto *exit_code = app.add_flag("--exit-code")->disable_flag_override();
  auto *files = app.add_option("-f,--filename", options.files)->expected(1);
  files->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)->allow_extra_args(false);
  auto *output = app.add_option("-o,--output", options.output);
  auto *format_option = app.add_option("--format", format);
  // What only the cluster scan takes.
  std::vector<CLI::Option *> cluster = {
      app.add_option("--kubeconfig", options.kubeconfig),
      app.add_option("--context", options.context),
      app.add_option("--server", options.server),
      app.add_option("--token-file", options.token_file),
      app.add_option("--ca-file", options.ca_file),
      app.add_option("-n,--namespace", options.namespace_name),
      app.add_flag("--insecure-skip-tls-verify", options.insecure_skip_tls_verify)
          ->disable_flag_override()};
  std::vector<CLI::Option *> values = {files, output, format_option};
  for (auto *option : cluster)
    if (option->get_items_expected_max() > 0)
      values.push_back(option);
  for (auto *option : values)
    if (option != files)
      option->expected(1)->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  try {
    app.parse(cli_args::for_cli11(app, args));
  } catch (const CLI::ParseError &e) {
    return Error{cli_args::parse_error_message(app, e, args)};
  }
  if (const auto extras = app.remaining(); !extras.empty())
    return Error{"unknown argument " + extras.front() + " (see shimwatch scan --help)"};
  options.help = help->count() > 0;
  options.exit_code = exit_code->count() > 0;
  for (auto *option : values)
    for (const auto &value : option->results())
      if (value.empty())
        return Error{cli_args::as_typed(*option, args) + " needs a non-empty value"};
  if (format_option->count() > 0) {
    if (format == "table")
      options.format = OutputFormat::table;
    else if (format == "json")
      options.format = OutputFormat::json;
    else
      return Error{"--format " + format + ": must be table or json"};
  }
  const bool cluster_flag = std::any_of(cluster.begin(), cluster.end(),
                                        [](const CLI::Option *o) { return o->count() > 0; });
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

// The `shimwatch scan` command line.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "shimwatch/result.hpp"

namespace shimwatch::scan {

enum class OutputFormat {
  automatic, // table when the output is a terminal, JSON otherwise
  table,
  json,
};

struct ScanOptions {
  std::vector<std::string> files; // -f: manifest mode when not empty
  std::string kubeconfig;         // else $KUBECONFIG, else ~/.kube/config, else in-cluster
  std::string context;            // else the kubeconfig's current-context
  std::string server;             // an explicit API server instead of a kubeconfig
  std::string token_file;
  std::string ca_file;
  bool insecure_skip_tls_verify = false;
  std::string namespace_name; // empty: all namespaces
  OutputFormat format = OutputFormat::automatic;
  bool exit_code = false; // exit 1 when findings (or input errors) exist
  std::string output;     // -o FILE; empty: stdout
  bool help = false;
};

// An Error names the bad argument; the caller prints it and exits 2.
Result<ScanOptions> parse_scan_args(const std::vector<std::string> &args);

std::string scan_usage();

// Runs a parsed command; streams are parameters so tests can run it in-process.
int run_scan(const ScanOptions &options, std::istream &in, std::ostream &out, std::ostream &err,
             bool out_is_terminal);

} // namespace shimwatch::scan

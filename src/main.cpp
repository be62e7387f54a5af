// shimwatch: entry point. Parses the command line and hands over to a command.
#include <cstdio>
#include <spdlog/spdlog.h>
#include <string>
#include <vector>

#include "shimwatch/agent.hpp"
#include "shimwatch/check.hpp"
#include "shimwatch/config.hpp"
#include "shimwatch/logging.hpp"
#include "shimwatch/probe.hpp"
#include "shimwatch/report.hpp"
#include "shimwatch/scan.hpp"
#include "shimwatch/version.hpp"

namespace {

constexpr int exit_usage = 2;

int run_check(const shimwatch::CliRequest &request) {
  bool all_ok = true;
  for (const auto &result : shimwatch::run_checks(request.config)) {
    std::printf("%s\n", shimwatch::format_check(result).c_str());
    all_ok = all_ok && result.ok;
  }
  std::printf(all_ok
                  ? "shimwatch can run on this node.\n"
                  : "shimwatch cannot run on this node until the items marked FAIL are fixed.\n");
  return all_ok ? 0 : 1;
}

// Detaches pinned probes and removes their maps: the last step of an
// uninstall (a stopped agent leaves them attached for its successor).
int run_cleanup(const shimwatch::CliRequest &request) {
  // No pin path given (the default config pins nothing): where the
  // DaemonSet pins.
  const std::string path =
      request.config.pin_path.empty() ? shimwatch::default_pin_path : request.config.pin_path;
  const bool in_use = shimwatch::pinned_state(path).in_use;
  auto removed = shimwatch::remove_pinned_state(path);
  if (!removed) {
    std::fprintf(stderr, "shimwatch cleanup: %s\n", removed.error().message.c_str());
    return 1;
  }
  if (removed->empty()) {
    std::printf("nothing pinned under %s\n", path.c_str());
    return 0;
  }
  size_t links = 0;
  for (const auto &p : *removed)
    links += p.find("/links/") != std::string::npos;
  std::printf("removed %s: %zu links (the probes are detached) and %zu maps\n", path.c_str(), links,
              removed->size() - links);
  if (in_use)
    std::printf("an agent is still running with this pin path: its probes stay attached until "
                "it stops\n");
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  // The offline tools have command lines of their own.
  if (!args.empty() && (args.front() == "report" || args.front() == "scan")) {
    const std::vector<std::string> rest(args.begin() + 1, args.end());
    try {
      return args.front() == "report" ? shimwatch::run_report_command(rest)
                                      : shimwatch::run_scan_command(rest);
    } catch (const std::exception &e) {
      std::fprintf(stderr, "shimwatch %s: unexpected error: %s\n", args.front().c_str(), e.what());
      return exit_usage;
    }
  }
  auto request = shimwatch::parse_cli(args);
  if (!request) {
    std::fprintf(stderr, "shimwatch: %s\n", request.error().message.c_str());
    return exit_usage;
  }
  try {
    shimwatch::setup_logging(request->verbose);
    shimwatch::route_libbpf_logs(request->verbose); // libbpf's messages through the same log
    switch (request->command) {
    case shimwatch::Command::help:
      std::fputs(shimwatch::usage_text().c_str(), stdout);
      return 0;
    case shimwatch::Command::version:
      std::printf("shimwatch %s\n", std::string(shimwatch::version()).c_str());
      return 0;
    case shimwatch::Command::check:
      return run_check(*request);
    case shimwatch::Command::cleanup:
      return run_cleanup(*request);
    case shimwatch::Command::run:
      return shimwatch::run_agent(*request);
    }
  } catch (const shimwatch::StartupError &e) {
    std::fprintf(stderr, "shimwatch: %s\n", e.what());
    return exit_usage;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "shimwatch: unexpected error: %s\n", e.what());
    return exit_usage;
  }
  return 0;
}
